/**
 * How callers reach a user's vault. Kept apart from the class so that the steps the vault itself runs (the connect
 * flow's last one imports integrations, which begin connect flows) can reach the vault without a module cycle.
 */
import type { UserVault } from "./user-vault";

/** The vault of one user. */
export function userVault(env: Env, userId: string): DurableObjectStub<UserVault> {
  return env.USER_VAULT.getByName(userId);
}
