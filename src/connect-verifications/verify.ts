/** `POST /v1/connect-verifications`: the application releases a held flow for the user signed in on its side. */
import { ProblemError } from "../errors";
import type { Services } from "../services";
import { findConnection, type ConnectionRow } from "../storage/connections";
import { unverifiedFlow } from "../vault/unverified-flow";
import { flowKeyOf } from "./flow-id";

export interface VerifiedConnection {
  connection: ConnectionRow;
  /** The flow's `return_to`, for the application to send the browser on. */
  returnTo: string | null;
  /** Requested scopes the provider did not grant (the connection holds what was granted). */
  missingScopes: string[];
}

const notFound = () => new ProblemError("not-found", "No flow is waiting for verification under this flow_id.");

/**
 * Verifies the flow `flowId` as `userId`: its own user gets the connection (again on a repeat); another user gets
 * `403` and the flow is discarded and revoked; an unknown, expired or ended flow, or a service without
 * `CONNECT_VERIFY_URL`, answers `404`. The caller's history records the outcome, never the flow_id.
 */
export async function verifyConnectFlow(
  services: Services,
  { flowId, userId }: { flowId: string; userId: string },
): Promise<VerifiedConnection> {
  if (services.config.connectVerifyUrl === null) throw notFound();
  const answer = await unverifiedFlow(services.env, await flowKeyOf(flowId)).verify(userId, services.audit.trace());
  const record = (
    outcome: "success" | "failure",
    detail: Record<string, string | boolean>,
    extra: { provider?: string; connectionId?: string } = {},
  ) => services.audit.record({ action: "authorization.verification", outcome, detail, ...extra });
  switch (answer.kind) {
    case "verified": {
      const connection = await findConnection(services.db, { userId, id: answer.connectionId });
      // Removed since it was verified: there is no connection left to answer with.
      if (!connection) {
        record("failure", { reason: "connection_removed" }, { provider: answer.provider });
        throw notFound();
      }
      record("success", { repeated: answer.repeated }, { provider: answer.provider, connectionId: connection.id });
      return { connection, returnTo: answer.returnTo, missingScopes: answer.missingScopes };
    }
    case "other_user":
      record("failure", { reason: "other_user", discarded: answer.discarded }, { provider: answer.provider });
      throw new ProblemError("forbidden", "This flow was begun by another user; it cannot be verified with this token.");
    case "not_found":
      record("failure", { reason: answer.reason });
      throw notFound();
  }
}
