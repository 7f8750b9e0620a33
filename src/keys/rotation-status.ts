import type { Services } from "../services";
import { countConnectionsByKey, countWriteAheadCopiesByKey } from "../storage/connections";
import { countWebhookEndpointsByKey } from "../storage/webhook-endpoints";

export interface KeyStatus {
  keyId: string;
  /** Connections whose tokens are under this key. */
  connections: number;
  /**
   * Connections that may hold a write-ahead copy under this key in their user's Durable Object (a refreshed token
   * whose D1 write failed): a rotated refresh token may exist only there, so the key must stay until they are gone.
   */
  writeAheadCopies: number;
  /** Webhook endpoints whose signing secrets (the current one, and a previous one during a rotation) are under this key. */
  webhookSecrets: number;
  configured: boolean;
}

export interface KeyRotationStatus {
  currentKeyId: string;
  keys: KeyStatus[];
  /** Connections, write-ahead copies and webhook endpoints' secrets still under a key other than the current one. */
  remainingToReEncrypt: number;
}

/**
 * How far a key rotation has come: rows, write-ahead copies and webhook secrets per key id, configured or not (a
 * removed key still holding rows shows here). A key may leave the ring once nothing remains under it.
 */
export async function keyRotationStatus(services: Services): Promise<KeyRotationStatus> {
  const currentKeyId = services.cipher.currentKeyId;
  const [connections, copies, webhookSecrets] = await Promise.all([
    countConnectionsByKey(services.db),
    countWriteAheadCopiesByKey(services.db),
    countWebhookEndpointsByKey(services.db),
  ]);
  const configured = new Set(services.config.encryptionKeys.map((key) => key.kid));
  const keyIds = [...new Set([...configured, ...connections.keys(), ...copies.keys(), ...webhookSecrets.keys()])];
  const keys = keyIds.map((keyId) => ({
    keyId,
    connections: connections.get(keyId) ?? 0,
    writeAheadCopies: copies.get(keyId) ?? 0,
    webhookSecrets: webhookSecrets.get(keyId) ?? 0,
    configured: configured.has(keyId),
  }));
  return {
    currentKeyId,
    keys,
    remainingToReEncrypt: keys
      .filter((key) => key.keyId !== currentKeyId)
      .reduce((sum, key) => sum + key.connections + key.writeAheadCopies + key.webhookSecrets, 0),
  };
}
