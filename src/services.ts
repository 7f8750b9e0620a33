/**
 * The services every entry point works with, built the same way for a request, a Durable Object call and a cron
 * task: parsed configuration, the database, the token cipher, the providers, the clock, and an audit sink and an event
 * outbox owned by that invocation. Code that decides takes `now` as a value read from `clock` at its entry point.
 */
import { AuditSink, type AuditOrigin } from "./audit/audit-sink";
import { getConfig, type Config } from "./config";
import { getTokenCipher, type TokenCipher } from "./crypto/token-cipher";
import { EventOutbox } from "./events/publish";
import { getProviderRegistry, type ProviderRegistry } from "./providers/registry";
import { database, type Database } from "./storage/database";

export interface Services {
  readonly env: Env;
  readonly config: Config;
  readonly db: Database;
  readonly cipher: TokenCipher;
  readonly providers: ProviderRegistry;
  readonly clock: () => number;
  readonly audit: AuditSink;
  /** Events for subscribed endpoints, sent when the invocation hands them over (src/events/publish.ts). */
  readonly events: EventOutbox;
}

/** Throws `ConfigError` when the environment's configuration is missing or malformed. */
export function createServices(env: Env, origin: AuditOrigin, clock: () => number = Date.now): Services {
  const config = getConfig(env);
  const db = database(env.DB);
  return {
    env,
    config,
    db,
    cipher: getTokenCipher(config.encryptionKeys),
    providers: getProviderRegistry(config),
    clock,
    audit: new AuditSink(db, env.AUDIT_QUEUE, origin, clock),
    events: new EventOutbox(env, clock),
  };
}
