/**
 * Where the local `oidc-provider` (./oidc-server.ts) keeps what it must remember: its signing key, its cookie keys, and
 * the records of its models (sessions, interactions, grants, codes, access and refresh tokens). In memory for the
 * tests; in one JSON file for `npm run dev:oidc`, so that restarting it ends no connection: the refresh tokens the
 * Worker holds stay valid, and its id_tokens keep verifying against the same key. Node only.
 *
 * The records follow oidc-provider's adapter interface (its own in-memory adapter, lib/adapters/memory_adapter.js,
 * does the same in an LRU): a record expires `expiresIn` seconds after it was written; revoking a grant removes
 * every token issued under it; a session is also found by its `uid`.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

/** The models whose records carry a `grantId` and go when their grant is revoked. */
const GRANT_BOUND_MODELS = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "DeviceCode", "BackchannelAuthenticationRequest"]);

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string };

const recordSchema = z.object({ payload: z.record(z.string(), z.unknown()), expiresAt: z.number().nullable() });
type StoredRecord = z.infer<typeof recordSchema>;

const stateFileSchema = z.object({
  version: z.literal(1),
  signingKey: z.record(z.string(), z.unknown()),
  cookieKeys: z.array(z.string()).min(1),
  records: z.record(z.string(), recordSchema),
});
type StateFile = z.infer<typeof stateFileSchema>;

/** The adapter oidc-provider instantiates per model (`new Adapter("Session")`). */
export interface OidcAdapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export class OidcStore {
  /** The RS256 private key that signs id_tokens, as a JWK (its public half is the issuer's JWKS). */
  readonly signingKey: Record<string, unknown>;
  /** Keys that sign the provider's cookies (session, interaction). */
  readonly cookieKeys: string[];
  readonly #records: Map<string, StoredRecord>;
  readonly #file: string | null;

  private constructor(state: Omit<StateFile, "version">, file: string | null) {
    this.signingKey = state.signingKey;
    this.cookieKeys = state.cookieKeys;
    this.#records = new Map(Object.entries(state.records));
    this.#file = file;
  }

  /** A store that lives as long as the process: fresh keys, no records. */
  static inMemory(): OidcStore {
    return new OidcStore(freshState(), null);
  }

  /** The store kept in `file`: read back when it exists (expired records dropped), created with fresh keys otherwise. */
  static inFile(file: string): OidcStore {
    if (!existsSync(file)) {
      const store = new OidcStore(freshState(), file);
      store.#save();
      return store;
    }
    const parsed = stateFileSchema.safeParse(parseJsonOrNull(readFileSync(file, "utf8")));
    if (!parsed.success) throw new Error(`${file} is not a state file of the local OpenID provider; delete it to start afresh`);
    const store = new OidcStore(parsed.data, file);
    store.#dropExpired(Date.now());
    return store;
  }

  /** oidc-provider's `adapter` setting: a class it instantiates with a model's name. */
  adapterClass(): new (model: string) => OidcAdapter {
    const store = this;
    return class {
      readonly #model: string;
      constructor(model: string) {
        this.#model = model;
      }
      async upsert(id: string, payload: Payload, expiresIn?: number) {
        store.#write(this.#key(id), payload, typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : null);
      }
      async find(id: string) {
        return store.#read(this.#key(id));
      }
      async findByUid(uid: string) {
        return store.#findWhere(this.#model, (payload) => payload.uid === uid);
      }
      async findByUserCode(userCode: string) {
        return store.#findWhere(this.#model, (payload) => payload.userCode === userCode);
      }
      async consume(id: string) {
        const record = store.#records.get(this.#key(id));
        if (!record) return;
        store.#write(this.#key(id), { ...record.payload, consumed: Math.floor(Date.now() / 1000) }, record.expiresAt);
      }
      async destroy(id: string) {
        store.#delete([this.#key(id)]);
      }
      async revokeByGrantId(grantId: string) {
        store.#delete(
          [...store.#records].flatMap(([key, { payload }]) =>
            GRANT_BOUND_MODELS.has(modelOf(key)) && payload.grantId === grantId ? [key] : [],
          ),
        );
      }
      #key(id: string): string {
        return `${this.#model}:${id}`;
      }
    };
  }

  #read(key: string): Payload | undefined {
    const record = this.#records.get(key);
    if (!record) return undefined;
    if (record.expiresAt !== null && record.expiresAt <= Date.now()) {
      this.#delete([key]);
      return undefined;
    }
    // A copy: the provider's changes to what it read must reach the store only through `upsert`.
    return structuredClone(record.payload) as Payload;
  }

  #findWhere(model: string, matches: (payload: Payload) => boolean): Payload | undefined {
    for (const [key, { payload }] of this.#records) {
      if (modelOf(key) === model && matches(payload as Payload)) return this.#read(key);
    }
    return undefined;
  }

  #write(key: string, payload: Payload, expiresAt: number | null): void {
    this.#records.set(key, { payload: structuredClone(payload), expiresAt });
    this.#changed();
  }

  #delete(keys: string[]): void {
    if (keys.length === 0) return;
    for (const key of keys) this.#records.delete(key);
    this.#changed();
  }

  /** Forgets what expired (a long test run or bench makes thousands of records), then saves. */
  #changed(): void {
    this.#dropExpired(Date.now());
    this.#save();
  }

  #dropExpired(now: number): void {
    for (const [key, { expiresAt }] of this.#records) if (expiresAt !== null && expiresAt <= now) this.#records.delete(key);
  }

  /** Writes the whole state after every change, through a rename, so a stop at any moment leaves a whole file. */
  #save(): void {
    if (this.#file === null) return;
    const state: StateFile = {
      version: 1,
      signingKey: this.signingKey,
      cookieKeys: this.cookieKeys,
      records: Object.fromEntries(this.#records),
    };
    mkdirSync(path.dirname(this.#file), { recursive: true });
    const next = `${this.#file}.next`;
    // The file holds live refresh tokens and the signing key: readable by its owner only.
    writeFileSync(next, JSON.stringify(state), { mode: 0o600 });
    renameSync(next, this.#file);
  }
}

/** The file's JSON, or null: JSON.parse's own message quotes the text around a fault, here keys and tokens. */
function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function modelOf(key: string): string {
  return key.slice(0, key.indexOf(":"));
}

function freshState(): Omit<StateFile, "version"> {
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  return {
    signingKey: { ...privateKey, kid: `rs256-${randomBytes(4).toString("hex")}`, alg: "RS256", use: "sig" },
    cookieKeys: [randomBytes(32).toString("base64url")],
    records: {},
  };
}
