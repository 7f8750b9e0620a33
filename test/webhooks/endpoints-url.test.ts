/** Which URLs a webhook endpoint may have (src/webhooks/endpoint-url.ts): pure, no I/O. */
import { describe, expect, it } from "vitest";
import { checkEndpointUrl } from "../../src/webhooks/endpoint-url";

const LOCAL_SERVICE = "http://localhost:8787";
const DEPLOYED_SERVICE = "https://connections.example.com";

describe("a deployed service (https PUBLIC_BASE_URL)", () => {
  it.each([
    ["an https URL", "https://app.example.com/hooks?team=1", "https://app.example.com/hooks?team=1"],
    ["an https URL with a port, host lower-cased", "https://App.Example.com:8443/h", "https://app.example.com:8443/h"],
    ["a bare origin, with the path the parser gives it", "https://app.example.com", "https://app.example.com/"],
    ["a public IPv4 address", "https://93.184.215.14/hooks", "https://93.184.215.14/hooks"],
  ])("accepts %s", (_label, value, stored) => {
    expect(checkEndpointUrl(value, DEPLOYED_SERVICE)).toEqual({ ok: true, url: stored });
  });

  it.each([
    ["not a URL", "app.example.com/hooks", "malformed"],
    ["an ftp URL", "ftp://app.example.com/hooks", "scheme"],
    ["a javascript: URL", "javascript:alert(1)", "scheme"],
    ["a data: URL", "data:text/plain,hi", "scheme"],
    ["a user name", "https://hook@app.example.com/", "credentials"],
    ["a user and password", "https://user:pass@app.example.com/", "credentials"],
    ["a fragment", "https://app.example.com/hooks#part", "fragment"],
    ["an empty fragment", "https://app.example.com/hooks#", "fragment"],
    ["http to a public host", "http://app.example.com/hooks", "http_outside_loopback"],
    ["http to loopback", "http://127.0.0.1:9000/hooks", "http_outside_loopback"],
    ["https to localhost", "https://localhost/hooks", "internal_host"],
    ["https to a localhost subdomain", "https://receiver.localhost/hooks", "internal_host"],
    ["https to 127.0.0.0/8", "https://127.1.2.3/hooks", "internal_host"],
    ["loopback written as one number", "https://2130706433/hooks", "internal_host"],
    ["loopback written in hex", "https://0x7f.0.0.1/hooks", "internal_host"],
    ["https to 10/8", "https://10.1.2.3/", "internal_host"],
    ["https to 172.16/12", "https://172.20.0.1/", "internal_host"],
    ["https to 192.168/16", "https://192.168.1.10/", "internal_host"],
    ["https to shared address space 100.64/10", "https://100.100.0.1/", "internal_host"],
    ["the cloud metadata address", "https://169.254.169.254/latest/meta-data", "internal_host"],
    ["https to 0.0.0.0", "https://0.0.0.0/", "internal_host"],
    ["IPv6 loopback", "https://[::1]/hooks", "internal_host"],
    ["the IPv6 unspecified address", "https://[::]/hooks", "internal_host"],
    ["an IPv6 unique local address", "https://[fd12:3456::1]/hooks", "internal_host"],
    ["an IPv6 link-local address", "https://[fe80::1]/hooks", "internal_host"],
    ["an IPv4-mapped private address", "https://[::ffff:10.0.0.1]/hooks", "internal_host"],
  ])("refuses %s", (_label, value, reason) => {
    expect(checkEndpointUrl(value, DEPLOYED_SERVICE)).toEqual({ ok: false, reason });
  });

  it("accepts public hosts whose addresses merely start like private ranges", () => {
    for (const host of ["172.32.0.1", "100.128.0.1", "192.169.0.1", "[2001:db8::1]", "[fec0::1]"]) {
      expect(checkEndpointUrl(`https://${host}/`, DEPLOYED_SERVICE)).toMatchObject({ ok: true });
    }
  });
});

describe("a service on loopback (local development, tests)", () => {
  it.each([
    ["http to localhost", "http://localhost:9000/hooks"],
    ["http to 127.0.0.1", "http://127.0.0.1:9000/hooks"],
    ["http to [::1]", "http://[::1]:9000/hooks"],
    ["https to a private address", "https://10.0.0.5/hooks"],
    ["https to a public host", "https://app.example.com/hooks"],
  ])("accepts %s", (_label, value) => {
    expect(checkEndpointUrl(value, LOCAL_SERVICE)).toMatchObject({ ok: true });
  });

  it.each([
    ["http to a public host", "http://app.example.com/hooks", "http_outside_loopback"],
    ["http to a private address", "http://10.0.0.5/hooks", "http_outside_loopback"],
    ["credentials on loopback", "http://user:pass@localhost:9000/", "credentials"],
    ["a ws: URL", "ws://localhost:9000/", "scheme"],
  ])("refuses %s", (_label, value, reason) => {
    expect(checkEndpointUrl(value, LOCAL_SERVICE)).toEqual({ ok: false, reason });
  });
});
