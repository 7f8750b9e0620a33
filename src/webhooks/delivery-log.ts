/** The delivery log of one subscription, as operators page through it: every attempt, newest first. */
import type { Services } from "../services";
import { pageOf, type Page, type PageRequest } from "../storage/pages";
import type { WebhookDeliveryRow } from "../storage/schema";
import { listWebhookDeliveries } from "../storage/webhook-deliveries";
import { findSubscription } from "./endpoints";

/** A page of the endpoint's attempts, or `null` when no such endpoint exists. */
export async function deliveryLogPage(services: Services, endpointId: string, page: PageRequest): Promise<Page<WebhookDeliveryRow> | null> {
  if (!(await findSubscription(services, endpointId))) return null;
  // One row more than the page tells whether another page follows.
  const rows = await listWebhookDeliveries(services.db, { endpointId, before: page.before, limit: page.limit + 1 });
  return pageOf(rows, page.limit, (row) => ({ at: row.at, id: row.id }));
}
