import { describe, expect, it } from "vitest";
import { documentationSnippets, extractSnippets } from "../package/docs-snippets.js";

describe("documentation snippet extraction", () => {
  it("takes the prelude and flags only from the comment right before a block", () => {
    const text = [
      "<!-- snippet: run",
      "declare const a: number;",
      "-->",
      "```ts",
      "console.log(a);",
      "```",
      "",
      "```ts",
      "const b = 1;",
      "```",
    ].join("\n");
    expect(extractSnippets("x.md", text)).toEqual([
      { where: "x.md:5", prelude: "declare const a: number;", code: "console.log(a);", run: true },
      { where: "x.md:9", prelude: "", code: "const b = 1;", run: false },
    ]);
  });

  it("finds the blocks of the README and docs, the runnable wallet and mapping ones among them", () => {
    const snippets = documentationSnippets(new URL("../..", import.meta.url).pathname);
    expect(snippets.length).toBeGreaterThan(10);
    const runnable = snippets.filter((s) => s.run).map((s) => s.where.split(":")[0]);
    expect(runnable).toEqual(expect.arrayContaining(["README.md", "docs/mapping.md", "docs/wallet.md"]));
  });
});
