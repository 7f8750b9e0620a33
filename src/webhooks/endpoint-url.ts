/**
 * Which URLs an endpoint may have: https, or http to a loopback host only while the service itself runs on loopback
 * (`PUBLIC_BASE_URL`, local development and tests). A deployed service also refuses hosts that name its own machine
 * or a private or link-local network by address (`localhost`, `10.0.0.1`, `169.254.169.254`, …), so a subscription
 * cannot point deliveries at internal services. Names are not resolved: Workers have no DNS lookup before `fetch`,
 * and Cloudflare's `fetch` does not reach private networks in any case; the check refuses the mistakes an operator
 * can make in the URL itself. Pure: the input and the public base URL in, a result out.
 */

export type EndpointUrlRefusal =
  | "malformed" // not an absolute URL
  | "scheme" // neither https nor http
  | "credentials" // user or password in the URL (RFC 9110 §4.2.4: deprecated, and would be sent to the receiver)
  | "fragment" // a fragment is never sent (RFC 9110 §7.1), so it can only be a mistake
  | "http_outside_loopback" // http, while either the endpoint or the service is not on loopback
  | "internal_host"; // a loopback, private or link-local host for a deployed service

export type EndpointUrlCheck = { ok: true; url: string } | { ok: false; reason: EndpointUrlRefusal };

/** What each refusal tells the operator (a validation message: never the URL itself). */
export const ENDPOINT_URL_REFUSALS: Record<EndpointUrlRefusal, string> = {
  malformed: "must be an absolute URL",
  scheme: "must be an https URL",
  credentials: "must not carry a user name or password",
  fragment: "must not have a fragment",
  http_outside_loopback: "must be https (http only to a loopback host while PUBLIC_BASE_URL is loopback)",
  internal_host: "must not name a loopback, private or link-local host",
};

export function checkEndpointUrl(value: string, publicBaseUrl: string): EndpointUrlCheck {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "scheme" };
  if (url.username !== "" || url.password !== "") return { ok: false, reason: "credentials" };
  if (url.hash !== "" || value.includes("#")) return { ok: false, reason: "fragment" };
  const serviceOnLoopback = isLoopbackHost(new URL(publicBaseUrl).hostname);
  if (url.protocol === "http:" && !(serviceOnLoopback && isLoopbackHost(url.hostname))) {
    return { ok: false, reason: "http_outside_loopback" };
  }
  if (!serviceOnLoopback && isInternalHost(url.hostname)) return { ok: false, reason: "internal_host" };
  // The WHATWG parser's serialisation: one spelling per URL (lower-case host, canonical IP literals, `/` path).
  return { ok: true, url: url.href };
}

/** `localhost` and its subdomains (RFC 6761 §6.3), 127.0.0.0/8 and ::1, as the WHATWG parser writes hosts. */
function isLoopbackHost(hostname: string): boolean {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) return true;
  const ipv4 = ipv4Octets(hostname);
  if (ipv4) return ipv4[0] === 127;
  return hostname === "[::1]";
}

/** Loopback, or an address of this network, a private network or a link-local one (IPv4, IPv6, IPv4-mapped IPv6). */
function isInternalHost(hostname: string): boolean {
  if (isLoopbackHost(hostname)) return true;
  const ipv4 = ipv4Octets(hostname) ?? mappedIpv4Octets(hostname);
  if (ipv4) return isInternalIpv4(ipv4);
  if (!hostname.startsWith("[")) return false;
  const first = Number.parseInt(hostname.slice(1).split(":")[0] || "0", 16);
  return (
    hostname === "[::]" ||
    // fc00::/7, unique local addresses (RFC 4193)
    (first & 0xfe00) === 0xfc00 ||
    // fe80::/10, link-local (RFC 4291 §2.5.6)
    (first & 0xffc0) === 0xfe80
  );
}

function isInternalIpv4([a, b]: readonly number[]): boolean {
  return (
    a === 0 || // "this network" (RFC 791)
    a === 10 || // RFC 1918
    a === 127 ||
    (a === 100 && b! >= 64 && b! < 128) || // shared address space (RFC 6598)
    (a === 169 && b === 254) || // link-local (RFC 3927), where cloud metadata services answer
    (a === 172 && b! >= 16 && b! < 32) || // RFC 1918
    (a === 192 && b === 168) // RFC 1918
  );
}

/** The octets of a dotted IPv4 host (the parser has already turned `0x7f.1` and the like into this form). */
function ipv4Octets(hostname: string): number[] | null {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(hostname)) return null;
  return hostname.split(".").map(Number);
}

/** The IPv4 address inside `[::ffff:a.b.c.d]`, which the parser writes as `[::ffff:hhhh:hhhh]`. */
function mappedIpv4Octets(hostname: string): number[] | null {
  const match = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(hostname);
  if (!match) return null;
  const high = Number.parseInt(match[1]!, 16);
  const low = Number.parseInt(match[2]!, 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff];
}
