/** A D1 binding that behaves like `db` except for the methods given, for tests of how storage failures are handled. */
export function failingDatabase(
  db: D1Database,
  overrides: Partial<Record<"prepare" | "batch", (...args: unknown[]) => unknown>>,
): D1Database {
  return new Proxy(db, {
    get(target, property) {
      const override = overrides[property as keyof typeof overrides];
      if (override) return override;
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
