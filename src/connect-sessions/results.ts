/**
 * The result the page shows after a flow or a disconnection. It arrives in the page's query: the callback adds
 * `status=connected&connection_id=…` or `error=…` to the page URL the flow began with, and the page's own forms add
 * `status=disconnected`. Anyone can type such a query, so a "connected" result names only an account the session's
 * user really holds, and nothing in a result changes anything.
 */
import type { ConnectionRow } from "../storage/schema";
import { accountLabel, type Offer } from "./offers";

/** The page's query parameters that carry a result. */
export interface ResultParams {
  offer?: string | undefined;
  status?: string | undefined;
  connection_id?: string | undefined;
  error?: string | undefined;
}

export type PageResult =
  | { kind: "connected"; offer: Offer; account: string; connectionId: string }
  | { kind: "scopes_missing"; offer: Offer; account: string; connectionId: string }
  | { kind: "disconnected"; offer: Offer; connectionId: string }
  | { kind: "disconnect_failed"; offer: Offer }
  | { kind: "declined"; offer: Offer }
  /** Worth one more try at once: the retry names the account a reconnection was for. */
  | { kind: "transient"; offer: Offer; error: string; retryConnectionId: string | null }
  | { kind: "untrusted"; offer: Offer; error: string }
  | { kind: "refused"; offer: Offer; error: string };

/** Failures that another attempt in a moment may well get past: the provider or the network, not the user or a check. */
const TRANSIENT_ERRORS = new Set(["exchange_failed", "identity_failed", "server_error", "temporarily_unavailable"]);
/** Our checks of the provider's answer failed: retrying is allowed, but nothing suggests it will help. */
const UNTRUSTED_ERRORS = new Set(["invalid_id_token", "issuer_mismatch"]);
/** Provider error codes are plain OAuth-style codes (the callback lets nothing else through). */
const ERROR_CODE = /^[a-z0-9_]{1,64}$/;

/**
 * The result a page query describes, or `null` when it describes none (or one that does not check out). `connection`
 * is the user's connection named by `connection_id`, looked up by the caller with the session's user id.
 */
export function readResult(params: ResultParams, offers: readonly Offer[], connection: ConnectionRow | null): PageResult | null {
  const offer = offers.find((candidate) => candidate.key === params.offer);
  if (!offer) return null;
  const ownConnection = connection?.provider === offer.providerId ? connection : null;
  if (params.error !== undefined) {
    const error = ERROR_CODE.test(params.error) ? params.error : "authorization_failed";
    if (error === "access_denied") return { kind: "declined", offer };
    if (error === "scope_not_granted" && ownConnection) {
      return { kind: "scopes_missing", offer, account: accountLabel(ownConnection), connectionId: ownConnection.id };
    }
    if (TRANSIENT_ERRORS.has(error)) return { kind: "transient", offer, error, retryConnectionId: ownConnection?.id ?? null };
    if (UNTRUSTED_ERRORS.has(error)) return { kind: "untrusted", offer, error };
    return { kind: "refused", offer, error };
  }
  switch (params.status) {
    case "connected":
      return ownConnection ? { kind: "connected", offer, account: accountLabel(ownConnection), connectionId: ownConnection.id } : null;
    case "disconnected":
      // The connection is gone by now: the id is echoed only for the opener's message, and only in its own shape.
      return params.connection_id && /^conn_[A-Za-z0-9_-]{1,64}$/.test(params.connection_id)
        ? { kind: "disconnected", offer, connectionId: params.connection_id }
        : null;
    case "disconnect_failed":
      return { kind: "disconnect_failed", offer };
    default:
      return null;
  }
}

/** What the page tells its opener (`postMessage`) about a result. */
export function openerMessage(result: PageResult): Record<string, string> {
  const offer: Record<string, string> = { provider: result.offer.providerId };
  if (result.offer.ref.kind === "integration") offer.integration = result.offer.ref.key;
  switch (result.kind) {
    case "connected":
    case "scopes_missing":
      return {
        type: "connect.connected",
        ...offer,
        connection_id: result.connectionId,
        ...(result.kind === "scopes_missing" ? { error: "scope_not_granted" } : {}),
      };
    case "disconnected":
      return { type: "connect.disconnected", ...offer, connection_id: result.connectionId };
    case "disconnect_failed":
      return { type: "connect.error", ...offer, error: "disconnect_failed" };
    case "declined":
      return { type: "connect.error", ...offer, error: "access_denied" };
    case "transient":
    case "untrusted":
    case "refused":
      return { type: "connect.error", ...offer, error: result.error };
  }
}
