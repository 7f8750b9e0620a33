/**
 * With `CONNECT_VERIFY_URL`, a completed flow creates nothing until its own user verifies it, and so publishes nothing
 * either: the events come with the verification, once.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newUserId } from "../support/users";
import { publishedTypes, takePublished, webhookHarness } from "../support/webhooks";
import { heldFlow, verify, VERIFY_URL } from "../connect-verifications/verifying-app";

describe("a flow held for verification", () => {
  it("publishes nothing at its callback, connection.created when its user verifies it, and nothing on a repeat", async () => {
    const userId = newUserId("ev-verify");
    const harness = await webhookHarness(userId, { ...env, CONNECT_VERIFY_URL: VERIFY_URL } as Env);

    const { flowId } = await heldFlow(userId, { app: harness.app });
    expect(publishedTypes(harness.queue)).toEqual([]);

    const verified = await verify(userId, flowId, harness.service);
    expect(verified.status).toBe(200);
    const { connection } = (await verified.json()) as { connection: { id: string } };
    expect(takePublished(harness.queue).map((event) => [event.payload.type, event.payload.data.connection?.id])).toEqual([
      ["connection.created", connection.id],
    ]);

    expect((await verify(userId, flowId, harness.service)).status).toBe(200);
    expect(publishedTypes(harness.queue)).toEqual([]);
  });

  it("publishes nothing when another user tries to verify it", async () => {
    const userId = newUserId("ev-verify-owner");
    const harness = await webhookHarness(userId, { ...env, CONNECT_VERIFY_URL: VERIFY_URL } as Env);
    const { flowId } = await heldFlow(userId, { app: harness.app });

    expect((await verify(newUserId("ev-verify-other"), flowId, harness.service)).status).toBe(403);

    expect(publishedTypes(harness.queue)).toEqual([]);
  });
});
