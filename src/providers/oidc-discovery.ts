/** OpenID Connect Discovery 1.0: the provider metadata, fetched once and kept for a while per isolate. */
import { z } from "zod";
import { isAllowedEndpoint } from "../config";

/** Metadata changes rarely; an hour bounds how long an endpoint or key URL change takes to be seen. */
export const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const DISCOVERY_TIMEOUT_MS = 10_000;

const endpoint = z.string().refine(isAllowedEndpoint, "must be an https URL (or http on loopback)");

const discoverySchema = z.object({
  issuer: z.string(),
  authorization_endpoint: endpoint,
  token_endpoint: endpoint,
  jwks_uri: endpoint,
  revocation_endpoint: endpoint.optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  id_token_signing_alg_values_supported: z.array(z.string()).optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});

export type DiscoveryDocument = z.infer<typeof discoverySchema>;

/** Why discovery failed: `transient` (network, 5xx: try again later) or `invalid` (the operator must act). */
export class DiscoveryError extends Error {
  override name = "DiscoveryError";
  constructor(
    readonly transient: boolean,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Fetches `{issuer}/.well-known/openid-configuration` at most once per TTL; failures are not cached. Only a fetched
 * document is kept, never a fetch in flight: the Workers runtime cancels a request's pending work once that request
 * ends (or its client goes away), and a cancelled promise never settles, so a later request that joined it would
 * hang. Concurrent first requests may therefore each fetch the document.
 */
export function createDiscoveryCache(issuer: string, now: () => number = Date.now): () => Promise<DiscoveryDocument> {
  let cached: { document: DiscoveryDocument; fetchedAt: number } | null = null;
  return async () => {
    if (cached && now() - cached.fetchedAt < DISCOVERY_TTL_MS) return cached.document;
    const document = await fetchDiscovery(issuer);
    cached = { document, fetchedAt: now() };
    return document;
  };
}

async function fetchDiscovery(issuer: string): Promise<DiscoveryDocument> {
  // §4: the path is appended to the issuer, keeping any path component it has.
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
  } catch {
    throw new DiscoveryError(true, `discovery for ${issuer} failed: no response`);
  }
  // An outage or throttling (RFC 9110 §15.5.9, RFC 6585 §4) passes; any other status needs the operator.
  if (!response.ok) throw new DiscoveryError(isTransientStatus(response.status), `discovery for ${issuer} answered ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new DiscoveryError(false, `discovery for ${issuer} is not JSON`);
  }
  const parsed = discoverySchema.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join(".") ?? "document";
    throw new DiscoveryError(false, `discovery for ${issuer}: ${field} is missing or not allowed`);
  }
  // §4.3: the document's issuer must be exactly the one configured, or its keys could vouch for another issuer.
  if (parsed.data.issuer !== issuer) throw new DiscoveryError(false, `discovery for ${issuer} names a different issuer`);
  return parsed.data;
}

function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
