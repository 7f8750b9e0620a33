/** The callback's success path when `CONNECT_VERIFY_URL` is set: the completed authorization is held, not stored. */
import type { Services } from "../services";
import type { AuthorizationCompletion } from "../vault/authorization-completion";
import { sealFlowTokens, type HeldFlow } from "../vault/held-flow";
import { unverifiedFlow } from "../vault/unverified-flow";
import { flowKeyOf, newFlowId } from "./flow-id";

/** How long a held flow waits for its verification before it is discarded and revoked. */
const UNVERIFIED_FLOW_TTL_MS = 10 * 60 * 1000;

/**
 * Holds the completed authorization (tokens encrypted, bound to the flow) for `UNVERIFIED_FLOW_TTL_MS` and returns
 * where the browser goes next: `verifyUrl` with a fresh `flow_id`. Nothing is created until the flow's user verifies.
 */
export async function holdForVerification(
  services: Services,
  authorization: AuthorizationCompletion,
  { verifyUrl, returnTo }: { verifyUrl: string; returnTo: string | null },
): Promise<string> {
  const flowId = newFlowId();
  const flowKey = await flowKeyOf(flowId);
  const { tokens, ...rest } = authorization;
  const flow: HeldFlow = {
    flowKey,
    authorization: { ...rest, tokens: await sealFlowTokens(services.cipher, flowKey, rest.userId, tokens) },
    returnTo,
    expiresAt: authorization.now + UNVERIFIED_FLOW_TTL_MS,
  };
  await unverifiedFlow(services.env, flowKey).hold(flow);
  const redirect = new URL(verifyUrl);
  redirect.searchParams.set("flow_id", flowId);
  return redirect.toString();
}
