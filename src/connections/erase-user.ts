import { ProblemError } from "../errors";
import type { ConsentClient } from "../storage/consents";
import type { Services } from "../services";
import { userVault } from "../vault/user-vault";

/** Seconds a client is told to wait before repeating an erasure that storage could not finish. */
const ERASURE_RETRY_AFTER_SECONDS = 30;

/**
 * Erasure (`DELETE /v1/me`), run by the user's vault: the erasure is recorded there first (so no authorization begun
 * before it can store a connection afterwards), the pending authorizations are ended, then every connection is
 * revoked and removed and every integration activation deleted. The consent and audit history stay as the record.
 * When storage fails part-way, the answer is a `503` with `Retry-After`: the erasure is idempotent and a repeat
 * finishes it.
 */
export async function eraseUser(services: Services, { userId, client }: { userId: string; client: ConsentClient }): Promise<void> {
  const erased = await userVault(services.env, userId).erase({ userId, client }, services.audit.trace());
  services.audit.record({
    action: "user.erased",
    outcome: erased.complete ? "success" : "failure",
    detail: {
      connections: erased.connections,
      failures: erased.failures,
      pending_integrations: erased.activations,
      pending_flows: erased.pendingAuthorizations,
    },
  });
  if (!erased.complete) {
    throw new ProblemError("service-unavailable", "The erasure could not finish; repeat the request to complete it.", {
      headers: { "Retry-After": String(ERASURE_RETRY_AFTER_SECONDS) },
    });
  }
}
