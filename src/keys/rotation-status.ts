import type { Services } from "../services";
import { countConnectionsByKey, countWriteAheadCopiesByKey } from "../storage/connections";

export interface KeyStatus {
  keyId: string;
  /** Connections whose tokens are under this key. */
  connections: number;
  /**
   * Connections that may hold a write-ahead copy under this key in their user's Durable Object (a refreshed token
   * whose D1 write failed): a rotated refresh token may exist only there, so the key must stay until they are gone.
   */
  writeAheadCopies: number;
  configured: boolean;
}

export interface KeyRotationStatus {
  currentKeyId: string;
  keys: KeyStatus[];
  /** Connections and write-ahead copies still under a key other than the current one. */
  remainingToReEncrypt: number;
}

/**
 * How far a key rotation has come: rows and write-ahead copies per key id, configured or not (a removed key still
 * holding rows shows here). A key may leave the ring once nothing remains under it.
 */
export async function keyRotationStatus(services: Services): Promise<KeyRotationStatus> {
  const currentKeyId = services.cipher.currentKeyId;
  const [connections, copies] = await Promise.all([countConnectionsByKey(services.db), countWriteAheadCopiesByKey(services.db)]);
  const configured = new Set(services.config.encryptionKeys.map((key) => key.kid));
  const keyIds = [...new Set([...configured, ...connections.keys(), ...copies.keys()])];
  const keys = keyIds.map((keyId) => ({
    keyId,
    connections: connections.get(keyId) ?? 0,
    writeAheadCopies: copies.get(keyId) ?? 0,
    configured: configured.has(keyId),
  }));
  return {
    currentKeyId,
    keys,
    remainingToReEncrypt: keys
      .filter((key) => key.keyId !== currentKeyId)
      .reduce((sum, key) => sum + key.connections + key.writeAheadCopies, 0),
  };
}
