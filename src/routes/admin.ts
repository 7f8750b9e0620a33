import { createRoute, z } from "@hono/zod-openapi";
import { requirePower } from "../middleware/caller-auth";
import { keyRotationStatus } from "../keys/rotation-status";
import { createApiRouter } from "../http/routers";
import { problem } from "../http/schemas";

const KeysResponse = z
  .object({
    current_key_id: z.string(),
    keys: z.array(
      z.object({
        key_id: z.string(),
        connections: z.number().int(),
        configured: z.boolean(),
        write_ahead_copies: z.number().int().openapi({
          description: "Connections that may hold a write-ahead copy (a refreshed token not yet in D1) under this key",
        }),
        webhook_secrets: z.number().int().openapi({
          description: "Webhook endpoints whose signing secrets (current, and previous during a secret rotation) are under this key",
        }),
      }),
    ),
    remaining_to_re_encrypt: z
      .number()
      .int()
      .openapi({ description: "Connections, write-ahead copies and webhook endpoints' secrets under other keys than the current one" }),
  })
  .openapi("KeyRotationStatus");

const keys = createRoute({
  method: "get",
  path: "/v1/admin/keys",
  tags: ["Admin"],
  summary: "Connections, write-ahead copies and webhook secrets per encryption key, for watching a rotation",
  middleware: [requirePower("admin")] as const,
  responses: {
    200: { description: "Rows per key id", content: { "application/json": { schema: KeysResponse } } },
    403: problem("The caller lacks the admin scope"),
  },
});

export const adminRoutes = createApiRouter().openapi(keys, async (c) => {
  const status = await keyRotationStatus(c.get("services"));
  return c.json(
    {
      current_key_id: status.currentKeyId,
      keys: status.keys.map((key) => ({
        key_id: key.keyId,
        connections: key.connections,
        configured: key.configured,
        write_ahead_copies: key.writeAheadCopies,
        webhook_secrets: key.webhookSecrets,
      })),
      remaining_to_re_encrypt: status.remainingToReEncrypt,
    },
    200,
  );
});
