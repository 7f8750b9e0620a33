/** Events the user's vault records on behalf of a request carry that request's id and address. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { connectMock, expireStoredToken } from "../support/refresh-fixtures";
import { callWorker } from "../support/worker";

async function auditRows(connectionId: string, action: string): Promise<{ request_id: string | null; ip: string | null }[]> {
  const { results } = await env.DB.prepare("SELECT request_id, ip FROM audit_events WHERE connection_id = ? AND action = ?")
    .bind(connectionId, action)
    .all<{ request_id: string | null; ip: string | null }>();
  return results;
}

describe("events the user's vault records for a request", () => {
  it("carry the request id and address of the vend that refreshed and of the DELETE that removed", async () => {
    const google = await connectMock("google", "vault-trace");
    await expireStoredToken(google.connectionId);

    const vended = await callWorker(`/v1/connections/${google.connectionId}/token`, {
      method: "POST",
      headers: {
        ...(await authHeaders(google.userId, { scope: "connections:token" })),
        "Content-Type": "application/json",
        "X-Request-Id": "trace-vend-1",
        "CF-Connecting-IP": "198.51.100.7",
      },
      body: "{}",
    });
    expect(vended.status).toBe(200);
    expect(await auditRows(google.connectionId, "token.refreshed")).toEqual([{ request_id: "trace-vend-1", ip: "198.51.100.7" }]);

    const removed = await callWorker(`/v1/connections/${google.connectionId}`, {
      method: "DELETE",
      headers: { ...(await authHeaders(google.userId)), "X-Request-Id": "trace-delete-1", "CF-Connecting-IP": "198.51.100.8" },
    });
    expect(removed.status).toBe(204);
    for (const action of ["connection.removed", "token.revoked"]) {
      expect(await auditRows(google.connectionId, action)).toEqual([{ request_id: "trace-delete-1", ip: "198.51.100.8" }]);
    }
  });
});
