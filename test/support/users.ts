/** User ids for tests, in workerd and in Node. */

/**
 * A user id of its own for each test or scenario, so tests running side by side never share a Durable Object, rows or
 * history. The label says in logs and audit rows which test the user belongs to.
 */
export function newUserId(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}
