/**
 * The vend's audit over real HTTP against `wrangler dev`, with the audit queue as wrangler.jsonc declares it (a 5 s
 * batch window): a burst of vends is in `GET /v1/audit` within 10 s of the last response, each vend once.
 */
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../test/support/api-client";
import { authHeaders } from "../test/support/caller-token";
import { newUserId } from "../test/support/users";
import { auditEvents, connectMock, sleep, vendOk } from "./support/service";

/** DESIGN.md, "Scale" and issue 9: a vend's event is visible in the audit API within 10 s. */
const VISIBLE_WITHIN_MS = 10_000;
const BURST = 60;

describe("the audit of a burst of vends", () => {
  it(`shows all ${BURST} vends in GET /v1/audit?action=token.vended within 10 s, each once`, async () => {
    const { userId, connection } = await connectMock(newUserId("audit-burst"), "google");
    const caller = await authHeaders(userId, { scope: "connections:token" });

    await Promise.all(Array.from({ length: BURST }, () => vendOk(caller, connection.id)));
    const lastResponseAt = Date.now();

    let events: AuditEvent[] = [];
    while (Date.now() - lastResponseAt < VISIBLE_WITHIN_MS) {
      events = await auditEvents(userId, "token.vended");
      if (events.length >= BURST) break;
      await sleep(250);
    }

    expect(events).toHaveLength(BURST);
    expect(new Set(events.map((event) => event.id)).size).toBe(BURST);
    expect(events.every((event) => event.connection_id === connection.id && event.outcome === "success")).toBe(true);
  });
});
