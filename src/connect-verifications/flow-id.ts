/**
 * The flow_id of a flow held for verification: a fresh 128-bit random value made at the callback. It appears only in
 * the redirect to the application's verify URL; the service keeps and names things by its SHA-256 alone, so nothing
 * stored, logged or audited can be turned back into a flow_id that verifies.
 */
import { sha256Base64url } from "../crypto/digest";
import { randomToken } from "../crypto/random";

const FLOW_ID_BYTES = 16;

export function newFlowId(): string {
  return randomToken(FLOW_ID_BYTES);
}

/** base64url SHA-256 of the flow_id: the name of the object holding the flow. */
export function flowKeyOf(flowId: string): Promise<string> {
  return sha256Base64url(flowId);
}
