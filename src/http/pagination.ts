import { z } from "@hono/zod-openapi";
import { ProblemError } from "../errors";
import { decodeCursor, type PagePosition, type PageRequest } from "../storage/pages";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 200;

export const PageQuery = z.object({
  cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .optional()
    .openapi({ description: `1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}` }),
});

/** The decoded cursor, or a bad-request problem for one we did not issue. */
function pagePosition(cursor: string | undefined): PagePosition | null {
  if (cursor === undefined) return null;
  const position = decodeCursor(cursor);
  if (!position) throw new ProblemError("bad-request", "The cursor is not one this service issued.");
  return position;
}

/** The page a list endpoint's query asks for (a bad-request problem for a cursor we did not issue). */
export function pageRequest(query: { cursor?: string | undefined; limit?: number | undefined }): PageRequest {
  return { before: pagePosition(query.cursor), limit: query.limit ?? DEFAULT_PAGE_SIZE };
}
