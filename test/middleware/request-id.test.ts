import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import { randomIp } from "./rate-limit-windows";

const GENERATED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A refused caller authentication: it answers a problem and writes an `auth.failed` row carrying the request id. */
async function failedAuthentication(requestId: string): Promise<{ header: string | null; body: { request_id?: string }; ip: string }> {
  const ip = randomIp();
  const forged = await authHeaders(newUserId("rid"), { secret: "a-secret-the-service-does-not-know-0123456789" });
  const response = await callWorker("/v1/connections", { headers: { ...forged, "CF-Connecting-IP": ip, "X-Request-Id": requestId } });
  expect(response.status).toBe(401);
  return { header: response.headers.get("X-Request-Id"), body: await response.json(), ip };
}

async function auditedRequestId(ip: string): Promise<string | null | undefined> {
  const row = await env.DB.prepare("SELECT request_id FROM audit_events WHERE action = 'auth.failed' AND ip = ?")
    .bind(ip)
    .first<{ request_id: string | null }>();
  return row?.request_id;
}

describe("the request id", () => {
  it.each(["client-request.42_A", "x".repeat(64), "0"])(
    "echoes the client's well-formed id %s in the response header, the problem body and the audit row",
    async (requestId) => {
      const { header, body, ip } = await failedAuthentication(requestId);
      expect(header).toBe(requestId);
      expect(body.request_id).toBe(requestId);
      expect(await auditedRequestId(ip)).toBe(requestId);
    },
  );

  it.each([
    ["longer than 64 characters", "x".repeat(65)],
    ["with a space", "two words"],
    ["with =", "id=42"],
    ["with a slash", "a/b"],
    ["with non-ASCII letters", "r\u00e9quest"],
    ["empty", ""],
  ])("replaces a client id %s with a generated one everywhere", async (_label, requestId) => {
    const { header, body, ip } = await failedAuthentication(requestId);
    expect(header).toMatch(GENERATED_ID);
    expect(body.request_id).toBe(header);
    expect(await auditedRequestId(ip)).toBe(header);
  });
});
