import { createRoute, z } from "@hono/zod-openapi";
import { getTokenCipher } from "../crypto/token-cipher";
import { requirePower } from "../middleware/caller-auth";
import { countConnectionsByKey } from "../storage/connections";
import { database } from "../storage/database";
import { createRouter } from "./router";
import { AUTHENTICATED_PROBLEMS, BEARER, problem } from "./schemas";

const KeysResponse = z
  .object({
    current_key_id: z.string(),
    keys: z.array(z.object({ key_id: z.string(), connections: z.number().int(), configured: z.boolean() })),
    remaining_to_re_encrypt: z.number().int(),
  })
  .openapi("KeyRotationStatus");

const keys = createRoute({
  method: "get",
  path: "/v1/admin/keys",
  tags: ["Admin"],
  summary: "Connections per encryption key, for watching a rotation",
  security: BEARER,
  middleware: [requirePower("admin")] as const,
  responses: {
    200: { description: "Rows per key id", content: { "application/json": { schema: KeysResponse } } },
    ...AUTHENTICATED_PROBLEMS,
    403: problem("The caller lacks the admin scope"),
  },
});

export const adminRoutes = createRouter().openapi(keys, async (c) => {
  const config = c.get("config");
  const current = getTokenCipher(config.encryptionKeys).currentKeyId;
  const counts = await countConnectionsByKey(database(c.env.DB));
  const configured = new Set(config.encryptionKeys.map((key) => key.kid));
  const keyIds = [...new Set([...config.encryptionKeys.map((key) => key.kid), ...counts.keys()])];
  return c.json(
    {
      current_key_id: current,
      keys: keyIds.map((keyId) => ({ key_id: keyId, connections: counts.get(keyId) ?? 0, configured: configured.has(keyId) })),
      remaining_to_re_encrypt: [...counts].filter(([keyId]) => keyId !== current).reduce((sum, [, count]) => sum + count, 0),
    },
    200,
  );
});
