/**
 * The first step of a published event in the queue: one delivery message per endpoint that receives it, each then
 * attempted and retried on its own, so an endpoint that is down delays no other.
 */
import type { Services } from "../services";
import { findWebhookEndpoint } from "../storage/webhook-endpoints";
import { endpointsSubscribedTo } from "./endpoints";
import { sendWebhookMessages, type PendingDelivery, type PublishedEvent } from "./queue-messages";

/** Queues the event's deliveries; returns how many. Endpoints are read now, so one subscribed since receives it too. */
export async function fanOut(services: Services, event: PublishedEvent): Promise<number> {
  const { endpointIds, kind: _kind, ...content } = event;
  const targeted = endpointIds !== null;
  const endpoints = targeted
    ? (await Promise.all(endpointIds.map((id) => findWebhookEndpoint(services.db, id)))).filter((endpoint) => endpoint !== null)
    : await endpointsSubscribedTo(services, event.type);
  const deliveries = endpoints.map((endpoint): PendingDelivery => ({ kind: "delivery", ...content, endpointId: endpoint.id, targeted }));
  await sendWebhookMessages(services.env, deliveries);
  return deliveries.length;
}
