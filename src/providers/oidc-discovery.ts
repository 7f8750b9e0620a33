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

/** Fetches `{issuer}/.well-known/openid-configuration` at most once per TTL; failures are not cached. */
export function createDiscoveryCache(issuer: string, now: () => number = Date.now): () => Promise<DiscoveryDocument> {
  let cached: { document: Promise<DiscoveryDocument>; expiresAt: number } | null = null;
  return () => {
    if (cached && cached.expiresAt > now()) return cached.document;
    const document = fetchDiscovery(issuer);
    const entry = { document, expiresAt: now() + DISCOVERY_TTL_MS };
    cached = entry;
    document.catch(() => {
      if (cached === entry) cached = null;
    });
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
  if (!response.ok) throw new DiscoveryError(response.status >= 500, `discovery for ${issuer} answered ${response.status}`);
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
