/** `POST /v1/connect-sessions`: the application's backend asks for a connect link for its user. */
import { configuredProvider } from "../connect/begin";
import { allowedReturnTo } from "../connect/return-to";
import { randomToken } from "../crypto/random";
import { ProblemError } from "../errors";
import { integrationCatalogue } from "../integrations/catalogue";
import type { Services } from "../services";
import { CONNECT_SESSION_TTL_SECONDS, connectSessionId, saveConnectSession } from "../storage/connect-sessions";

export interface ConnectSessionRequest {
  userId: string;
  integrations?: string[] | undefined;
  providers?: string[] | undefined;
  returnTo?: string | undefined;
  openerOrigin?: string | undefined;
  displayName?: string | undefined;
  email?: string | undefined;
  locale?: string | undefined;
  now: number;
}

export interface CreatedConnectSession {
  /** `{PUBLIC_BASE_URL}/connect?session={secret}`: the only place the secret ever appears. */
  connectUrl: string;
  expiresAt: number;
}

/** What the page offers: the named integrations and providers, each known and configured; nothing named: every configured provider. */
function resolveOffers(services: Services, request: ConnectSessionRequest): { integrations: string[]; providers: string[] } {
  const catalogue = integrationCatalogue(services.config);
  const integrations = [...new Set(request.integrations ?? [])];
  const providers = [...new Set(request.providers ?? [])];
  const unknownIntegrations = integrations.filter((key) => !catalogue.has(key));
  const unknownProviders = providers.filter((id) => services.providers.get(id) === undefined);
  if (unknownIntegrations.length > 0 || unknownProviders.length > 0) {
    throw new ProblemError(
      "unknown-offer",
      "Offer only integrations and providers this service has (GET /v1/integrations, /v1/providers).",
      {
        extensions: { unknown_integrations: unknownIntegrations, unknown_providers: unknownProviders },
      },
    );
  }
  // A page whose buttons could only fail is worse than a clear refusal now.
  for (const providerId of [...providers, ...integrations.map((key) => catalogue.get(key)!.provider)])
    configuredProvider(services, providerId);
  if (request.integrations === undefined && request.providers === undefined) {
    return { integrations: [], providers: services.providers.list().flatMap((provider) => (provider.configured ? [provider.id] : [])) };
  }
  return { integrations, providers };
}

/** The origin the page may `postMessage` to: exactly an origin, and one the operator already trusts with the user's browser. */
function allowedOpenerOrigin(services: Services, value: string): string {
  let origin: string | null = null;
  try {
    origin = new URL(value).origin;
  } catch {
    // Not a URL at all: refused below like any other value.
  }
  const trusted = [...services.config.corsOrigins, ...services.config.returnToOrigins];
  if (origin === null || origin !== value || !trusted.includes(origin)) {
    throw new ProblemError("opener-origin-not-allowed", "opener_origin must be exactly one of the CORS_ORIGINS or RETURN_TO_ORIGINS.");
  }
  return origin;
}

/**
 * Stores a connect session for the user and answers its link. The link's secret is stored only as its SHA-256 (the
 * session id); nothing is spent until a browser presses Continue.
 */
export async function createConnectSession(services: Services, request: ConnectSessionRequest): Promise<CreatedConnectSession> {
  const offers = resolveOffers(services, request);
  let returnTo: string | null = null;
  if (request.returnTo !== undefined) {
    returnTo = allowedReturnTo(request.returnTo, services.config.returnToOrigins);
    if (returnTo === null) {
      throw new ProblemError("return-to-not-allowed", "return_to must be an absolute URL on one of the RETURN_TO_ORIGINS.");
    }
  }
  const openerOrigin = request.openerOrigin === undefined ? null : allowedOpenerOrigin(services, request.openerOrigin);
  const secret = randomToken();
  const expiresAt = request.now + CONNECT_SESSION_TTL_SECONDS * 1000;
  await saveConnectSession(services.env.AUTH_STATE, await connectSessionId(secret), {
    userId: request.userId,
    ...offers,
    returnTo,
    openerOrigin,
    displayName: request.displayName ?? null,
    email: request.email ?? null,
    locale: request.locale ?? null,
    createdAt: request.now,
    expiresAt,
  });
  const connectUrl = new URL(`${services.config.publicBaseUrl}/connect`);
  connectUrl.searchParams.set("session", secret);
  return { connectUrl: connectUrl.toString(), expiresAt };
}
