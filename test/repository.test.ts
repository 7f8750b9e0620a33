/** What a clone of the repository must carry on its own. */
import { describe, expect, it } from "vitest";
import licence from "../LICENSE?raw";
import manifest from "../package.json";

describe("the repository", () => {
  it("is licensed MIT: the package says so and LICENSE holds the MIT text", () => {
    expect(manifest.license).toBe("MIT");
    expect(licence).toMatch(/^MIT License\n/);
    expect(licence).toContain("Permission is hereby granted, free of charge, to any person obtaining a copy");
  });
});
