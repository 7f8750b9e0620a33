/**
 * Whether a request prefers HTML to JSON (RFC 9110 §12.5.1): a browser's navigation names `text/html` at full weight
 * and reaches JSON only through `*\/*` at a lower one; an API client names JSON or nothing, or accepts anything
 * (`*\/*`), and gets JSON. A tie goes to JSON, so no client that worked before is handed a page.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(",").map((part) => {
    const [range = "", ...parameters] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const q = parameters.map((parameter) => /^q=([01](?:\.\d{0,3})?)$/.exec(parameter)?.[1]).find((value) => value !== undefined);
    return { range, q: q === undefined ? 1 : Number(q) };
  });
  /** The weight of the most specific range that matches `type` (RFC 9110 §12.5.1: more specific ranges win). */
  const weight = (type: string) => {
    const [major] = type.split("/");
    for (const candidate of [type, `${major}/*`, "*/*"]) {
      const match = ranges.find((entry) => entry.range === candidate);
      if (match) return match.q;
    }
    return 0;
  };
  return weight("text/html") > weight("application/json");
}
