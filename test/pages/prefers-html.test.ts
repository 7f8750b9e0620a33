import { describe, expect, it } from "vitest";
import { prefersHtml } from "../../src/http/prefers-html";

describe("whether a request prefers HTML", () => {
  it.each([
    ["Chromium's navigation", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true],
    ["Firefox's navigation", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true],
    ["HTML only", "text/html", true],
    ["any text, over JSON", "text/*, application/json;q=0.5", true],
  ])("yes for %s", (_case, accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected);
  });

  it.each([
    ["no Accept", undefined],
    ["fetch's default", "*/*"],
    ["JSON", "application/json"],
    ["problem JSON and anything", "application/problem+json, */*"],
    ["JSON over HTML", "application/json, text/html;q=0.5"],
    ["equal weights", "application/json, text/html"],
    ["HTML refused", "text/html;q=0, */*"],
  ])("no for %s", (_case, accept) => {
    expect(prefersHtml(accept)).toBe(false);
  });
});
