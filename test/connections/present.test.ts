import { describe, expect, it } from "vitest";
import { presentConnection } from "../../src/connections/present";
import type { ConnectionRow } from "../../src/storage/schema";

describe("presentConnection", () => {
  const row = {
    id: "c1",
    provider: "notion",
    status: "active",
    statusReason: null,
    accountId: "acct",
    accountEmail: null,
    accountName: null,
    scopes: "a  b",
    accessTokenExpiresAt: null,
    createdAt: 0,
    updatedAt: 1000,
    lastRefreshedAt: null,
  } as unknown as ConnectionRow;

  it("leaves out an account's missing email and name", () => {
    expect(presentConnection(row).account).toEqual({ id: "acct" });
  });

  it("shows an account's email and name when known", () => {
    expect(presentConnection({ ...row, accountEmail: "a@example.com", accountName: "A" }).account).toEqual({
      id: "acct",
      email: "a@example.com",
      name: "A",
    });
  });

  it("shows why a connection needs re-authorization in status_reason, null while it is active", () => {
    expect(presentConnection(row).status_reason).toBeNull();
    expect(presentConnection({ ...row, status: "needs_reauth", statusReason: "key_unavailable" })).toMatchObject({
      status: "needs_reauth",
      status_reason: "key_unavailable",
    });
  });
});
