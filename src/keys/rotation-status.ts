import type { Services } from "../services";
import { countConnectionsByKey } from "../storage/connections";

export interface KeyRotationStatus {
  currentKeyId: string;
  keys: { keyId: string; connections: number; configured: boolean }[];
  /** Connections whose tokens are still under a key other than the current one. */
  remainingToReEncrypt: number;
}

/** How far a key rotation has come: rows per key id, configured or not (a removed key still holding rows shows here). */
export async function keyRotationStatus(services: Services): Promise<KeyRotationStatus> {
  const currentKeyId = services.cipher.currentKeyId;
  const counts = await countConnectionsByKey(services.db);
  const configured = new Set(services.config.encryptionKeys.map((key) => key.kid));
  const keyIds = [...new Set([...configured, ...counts.keys()])];
  return {
    currentKeyId,
    keys: keyIds.map((keyId) => ({ keyId, connections: counts.get(keyId) ?? 0, configured: configured.has(keyId) })),
    remainingToReEncrypt: [...counts].filter(([keyId]) => keyId !== currentKeyId).reduce((sum, [, count]) => sum + count, 0),
  };
}
