/**
 * Calling a provider with a vended token, and recovering once when the provider refuses it: a token can be revoked or
 * expire early at the provider while the service still holds it. The refused token goes back as `rejected_token`, so
 * the service refreshes only if that is still the token it stores, and many backends reporting the same refusal
 * cause one refresh (docs/http-api.md, "Vending outcomes").
 */
import type { VendedToken, VendRequest } from "./schemas.js";

/**
 * Thrown by a `withToken` callback when the provider answered its call with 401 (RFC 6750 §3.1, `invalid_token`) and
 * the callback does not return that `Response` itself, e.g. when a provider SDK threw its own error.
 */
export class TokenRejectedError extends Error {
  override name = "TokenRejectedError";

  constructor(message = "The provider refused the access token") {
    super(message);
  }
}

type Attempt<T> = { rejected: true } | { rejected: false; value: T };

async function attempt<T>(fn: (token: string) => T | Promise<T>, token: string): Promise<Attempt<T>> {
  try {
    const value = await fn(token);
    if (value instanceof Response && value.status === 401) {
      // Unread, the body would hold its connection open until garbage collection.
      await value.body?.cancel();
      return { rejected: true };
    }
    return { rejected: false, value };
  } catch (error) {
    if (error instanceof TokenRejectedError) return { rejected: true };
    throw error;
  }
}

/**
 * Vends a token and calls `fn(token)`. When `fn` signals that the provider refused it (it returns a `Response` with
 * status 401, or throws `TokenRejectedError`), vends again with that token as `rejected_token` and calls `fn` once
 * more: a second refusal is returned or thrown as `fn` made it, never retried again.
 */
export async function callWithToken<T>(
  vend: (request: VendRequest) => Promise<VendedToken>,
  fn: (token: string) => T | Promise<T>,
  request: VendRequest,
): Promise<T> {
  const { access_token: token } = await vend(request);
  const first = await attempt(fn, token);
  if (!first.rejected) return first.value;
  // `rejected_token` refreshes by itself; a `force_refresh` beside it would only ask for a second refresh.
  const { force_refresh: _forceRefresh, ...again } = request;
  const replacement = await vend({ ...again, rejected_token: token });
  return fn(replacement.access_token);
}
