import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { activationDiagram, rentalDiagram } from "../../src/index.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("the README", () => {
  it("shows the state diagrams the transition tables generate", () => {
    expect(readme).toContain(`\`\`\`mermaid\n${activationDiagram}\n\`\`\``);
    expect(readme).toContain(`\`\`\`mermaid\n${rentalDiagram}\n\`\`\``);
  });
});
