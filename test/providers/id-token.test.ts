import { describe, expect, it } from "vitest";
import { configuredProvider, connect, tokensOf } from "./support";

const google = () => configuredProvider("google");

/** Connects to Google with the id_token tampered as `tamper` (if any) and verifies it as the callback would. */
async function identifyTampered(tamper: string | null, now = new Date()) {
  const { request, result } = await connect(google(), tamper === null ? {} : { mock_id_token: tamper });
  return google().identify(tokensOf(result), request.nonce, now);
}

describe("id_token verification refuses", () => {
  it.each([
    ["a broken signature", "bad_signature"],
    ["a key that is not in the provider's key set", "unknown_kid"],
    ["another issuer", "wrong_iss"],
    ["another audience", "wrong_aud"],
    ["several audiences without azp", "multi_aud_without_azp"],
    ["an expired token", "expired"],
    ["a token issued long ago", "stale_iat"],
    ["another nonce", "wrong_nonce"],
    ["alg none", "alg_none"],
    ["HS256 keyed with the client secret", "alg_hs256"],
    ["ES256 from a built-in provider that only signs RS256", "es256"],
  ])("%s", async (_, tamper) => {
    expect(await identifyTampered(tamper)).toMatchObject({ ok: false, reason: "invalid_id_token" });
  });
});

describe("id_token verification accepts", () => {
  it("several audiences when azp is our client id", async () => {
    expect(await identifyTampered("multi_aud_with_azp")).toMatchObject({ ok: true });
  });

  it("a verifier clock up to five minutes behind the issuer", async () => {
    expect(await identifyTampered(null, new Date(Date.now() - 4 * 60 * 1000))).toMatchObject({ ok: true });
  });
});
