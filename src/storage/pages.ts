import { base64url } from "../crypto/encoding";

/** Newest-first keyset position: the (time, id) of the last item of the previous page. */
export interface PagePosition {
  at: number;
  id: string;
}

/** An opaque cursor for a page position. */
export function encodeCursor(position: PagePosition): string {
  return base64url.encode(new TextEncoder().encode(JSON.stringify([position.at, position.id])));
}

/** The position a cursor names, or null when it is not one of ours. */
export function decodeCursor(cursor: string): PagePosition | null {
  const bytes = base64url.decode(cursor);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === "string") {
      return { at: value[0] as number, id: value[1] };
    }
  } catch {
    // Not JSON: not a cursor of ours.
  }
  return null;
}

/** Where a page of a newest-first list starts (`null`: at the newest) and how many items it holds. */
export interface PageRequest {
  before: PagePosition | null;
  limit: number;
}

/** A page of a list and the cursor of the next one (null at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Splits a `limit + 1` query result into the page and the cursor of the next page (null at the end). */
export function pageOf<T>(rows: T[], limit: number, position: (row: T) => PagePosition): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(position(last)) : null };
}
