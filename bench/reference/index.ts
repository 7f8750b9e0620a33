/**
 * Reference Worker for `npm run bench`: one D1 point read by primary key, returned as JSON. It takes the same request
 * the service's vend endpoint takes (`POST /v1/connections/{id}/token`, same headers and body, which it ignores), so
 * the two differ only in what the Worker does with it. The breakdown Worker (bench/breakdown/) starts from the same read.
 */
interface Env {
  DB: D1Database;
}

interface ReferenceRow {
  id: string;
  provider: string;
  access_token_ciphertext: string;
  access_token_expires_at: number | null;
  scopes: string;
}

/** The reference's whole work: one prepared point read, answered as JSON (404 when there is no such row). */
export async function readConnection(db: D1Database, id: string): Promise<Response> {
  const row = await db
    .prepare("SELECT id, provider, access_token_ciphertext, access_token_expires_at, scopes FROM connections WHERE id = ?1")
    .bind(id)
    .first<ReferenceRow>();
  if (!row) return Response.json({ error: "not_found" }, { status: 404 });
  return Response.json({
    id: row.id,
    provider: row.provider,
    token: row.access_token_ciphertext,
    expires_at: row.access_token_expires_at,
    scopes: row.scopes,
  });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const id = /^\/v1\/connections\/([^/]+)\/token$/.exec(new URL(request.url).pathname)?.[1];
    if (!id) return Response.json({ error: "not_found" }, { status: 404 });
    return readConnection(env.DB, id);
  },
};
