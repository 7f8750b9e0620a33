import { describe, expect, it } from "vitest";
import { CATALOGUE, chooseLanguage, messagesFor, type Messages } from "../../src/pages/messages";

const english = CATALOGUE.en;
const languages = Object.keys(CATALOGUE) as (keyof typeof CATALOGUE)[];

/** Distinct arguments, so a message that drops or swaps one shows it. */
const ARGUMENTS = ["«first»", "«second»"];

describe("the pages' message catalogue", () => {
  it("speaks English and at least one more language", () => {
    expect(languages[0]).toBe("en");
    expect(languages.length).toBeGreaterThanOrEqual(2);
  });

  it.each(languages)("%s has exactly the English keys", (language) => {
    expect(Object.keys(CATALOGUE[language]).sort()).toEqual(Object.keys(english).sort());
  });

  it.each(languages)("%s fills every key: non-empty text, or a function of the English parameters that uses each of them", (language) => {
    const messages: Messages = CATALOGUE[language];
    for (const [key, reference] of Object.entries(english)) {
      const message = messages[key as keyof Messages] as unknown;
      expect(typeof message, key).toBe(typeof reference);
      if (typeof reference === "string") {
        expect((message as string).trim(), key).not.toBe("");
        continue;
      }
      const parameters = (reference as (...args: string[]) => string).length;
      expect((message as (...args: string[]) => string).length, key).toBe(parameters);
      const text = (message as (...args: string[]) => string)(...ARGUMENTS.slice(0, parameters));
      for (const argument of ARGUMENTS.slice(0, parameters)) expect(text, key).toContain(argument);
    }
  });

  it("the other languages are translations, not copies of English", () => {
    for (const language of languages.filter((candidate) => candidate !== "en")) {
      const same = Object.entries(english).filter(
        ([key, text]) => typeof text === "string" && CATALOGUE[language][key as keyof Messages] === text,
      );
      expect(same.map(([key]) => key)).toEqual([]);
    }
  });
});

describe("choosing the language", () => {
  it.each([
    ["de", undefined, "de"],
    ["de-CH", "en", "de"],
    ["DE", undefined, "de"],
    ["en-GB", "de", "en"],
    [null, "de-AT,de;q=0.9,en;q=0.8", "de"],
    [null, "fr-CA, de;q=0.8, en;q=0.9", "en"],
    [null, "fr, de;q=0", "en"],
    ["fr", "de", "de"],
    ["fr", undefined, "en"],
    [null, undefined, "en"],
    [null, "*", "en"],
  ] as const)("locale %s with Accept-Language %s speaks %s", (locale, acceptLanguage, expected) => {
    expect(chooseLanguage(locale, acceptLanguage)).toBe(expected);
  });

  it("hands out each language's own messages", () => {
    expect(messagesFor("de").continue).toBe("Weiter");
    expect(messagesFor("en").continue).toBe("Continue");
  });
});
