/** `POST /v1/connect-verifications`: the application verifies a flow held at its callback (`CONNECT_VERIFY_URL`). */
import { createRoute, z } from "@hono/zod-openapi";
import { verifyConnectFlow } from "../connect-verifications/verify";
import { presentConnection } from "../connections/present";
import { createApiRouter } from "../http/routers";
import { ConnectionSchema, problem } from "../http/schemas";

const VerificationRequest = z
  .strictObject({
    flow_id: z.string().min(1).max(256).openapi({ description: "The flow_id the callback put on the redirect to CONNECT_VERIFY_URL" }),
  })
  .openapi("ConnectVerificationRequest");

const VerifiedFlow = z
  .object({
    connection: ConnectionSchema,
    return_to: z.string().optional().openapi({ description: "The flow's return_to, when it had one" }),
    missing_scopes: z
      .array(z.string())
      .optional()
      .openapi({ description: "Requested scopes the provider did not grant; the connection holds what was granted" }),
  })
  .openapi("ConnectVerification");

const verify = createRoute({
  method: "post",
  path: "/v1/connect-verifications",
  tags: ["Connections"],
  summary: "Verify a connect flow for the signed-in user",
  description:
    "Only when CONNECT_VERIFY_URL is set. A completed flow is held until the application, which knows who is signed in on its side, calls this with that user's JWT and the flow_id from its verify URL: the flow's own user gets the connection (the same answer on a repeat); another user gets 403 and the flow is discarded and revoked.",
  request: { body: { content: { "application/json": { schema: VerificationRequest } }, required: true } },
  responses: {
    200: {
      description: "Verified: the connection, consent and integration activation are written",
      content: { "application/json": { schema: VerifiedFlow } },
    },
    403: problem("The flow was begun by another user (it is discarded and its grant revoked)"),
    404: problem("Unknown or expired flow, or verification is not enabled"),
  },
});

export const connectVerificationRoutes = createApiRouter().openapi(verify, async (c) => {
  const verified = await verifyConnectFlow(c.get("services"), { flowId: c.req.valid("json").flow_id, userId: c.get("caller").userId });
  return c.json(
    {
      connection: presentConnection(verified.connection),
      ...(verified.returnTo === null ? {} : { return_to: verified.returnTo }),
      ...(verified.missingScopes.length === 0 ? {} : { missing_scopes: verified.missingScopes }),
    },
    200,
  );
});
