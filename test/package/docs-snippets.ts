import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Every ```ts block of README.md and docs/*.md, type-checked against the installed package under
 * `moduleResolution` node16 and bundler with strict, exactOptionalPropertyTypes and noUncheckedIndexedAccess;
 * blocks marked `run` are executed too.
 *
 * A block may be preceded by a hidden prelude, an HTML comment right before its fence:
 *
 *     <!-- snippet: run
 *     declare const apiKey: string;
 *     -->
 *
 * The first line names the flags (`run`: execute it); the lines after it are prepended to the block, for the free
 * variables the surrounding prose defines.
 */
export interface DocSnippet {
  /** `docs/mapping.md:37`: where the block's first line is. */
  readonly where: string;
  readonly prelude: string;
  readonly code: string;
  readonly run: boolean;
}

const PRELUDE = /<!--\s*snippet:([^\n]*)\n?([\s\S]*?)-->\s*$/;

/** The ```ts blocks of one markdown file. */
export function extractSnippets(file: string, text: string): DocSnippet[] {
  const lines = text.split("\n");
  const out: DocSnippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== "```ts") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== "```") end++;
    const before = lines.slice(Math.max(0, i - 40), i).join("\n");
    // Only the comment that ends right at the fence counts.
    const match = PRELUDE.exec(before.slice(before.lastIndexOf("<!--")));
    out.push({
      where: `${file}:${start + 1}`,
      prelude: match?.[2]?.trim() ?? "",
      code: lines.slice(start, end).join("\n"),
      run: (match?.[1] ?? "").split(/\s+/).includes("run"),
    });
    i = end;
  }
  return out;
}

/** README.md and docs/*.md of the repository at `root`. */
export function documentationSnippets(root: string): DocSnippet[] {
  const files = [
    "README.md",
    ...readdirSync(join(root, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  return files.flatMap((f) => extractSnippets(f, readFileSync(join(root, f), "utf8")));
}

const strictness = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noEmit: true,
  skipLibCheck: true,
  target: "ES2022",
  lib: ["ES2023", "DOM"],
  types: ["node"],
};

/**
 * Writes the snippets into `consumer/snippets` (a project with the package, typescript and the peers installed),
 * type-checks them under both resolutions and runs the runnable ones. Throws on the first failure.
 */
export function checkDocumentationSnippets(root: string, consumer: string): { checked: number; ran: number } {
  const dir = join(consumer, "snippets");
  mkdirSync(dir, { recursive: true });
  const snippets = documentationSnippets(root);
  const names = snippets.map((s, n) => {
    const name = `${String(n).padStart(2, "0")}-${s.where.replace(/[/:.]/g, "_")}.ts`;
    const header = `// ${s.where}${s.run ? " (run)" : ""}\n`;
    writeFileSync(join(dir, name), `${header}${s.prelude}\n${s.code}\nexport {};\n`);
    return name;
  });
  const configs = {
    "tsconfig.node16.json": { module: "node16", moduleResolution: "node16" },
    "tsconfig.bundler.json": { module: "esnext", moduleResolution: "bundler" },
  };
  for (const [file, resolution] of Object.entries(configs)) {
    writeFileSync(
      join(dir, file),
      JSON.stringify({ compilerOptions: { ...strictness, ...resolution }, include: ["*.ts"] }, null, 2),
    );
    try {
      execFileSync("npx", ["tsc", "-p", file], { cwd: dir, encoding: "utf8", stdio: "pipe" });
    } catch (error) {
      const output = (error as { stdout?: string }).stdout ?? String(error);
      throw new Error(`documentation snippets do not compile (${file}):\n${output}`);
    }
  }
  const runnable = snippets.flatMap((s, n) => (s.run ? [names[n] as string] : []));
  if (runnable.length > 0) {
    const out = join(dir, "out");
    writeFileSync(
      join(dir, "tsconfig.run.json"),
      JSON.stringify({
        compilerOptions: {
          ...strictness,
          module: "node16",
          moduleResolution: "node16",
          noEmit: false,
          outDir: out,
        },
        files: runnable,
      }),
    );
    execFileSync("npx", ["tsc", "-p", "tsconfig.run.json"], { cwd: dir, stdio: "inherit" });
    for (const name of runnable) {
      try {
        execFileSync("node", [join(out, name.replace(/\.ts$/, ".js"))], {
          cwd: dir,
          encoding: "utf8",
          stdio: "pipe",
        });
      } catch (error) {
        throw new Error(
          `documentation snippet ${name} failed when run:\n${(error as { stderr?: string }).stderr}`,
        );
      }
    }
  }
  return { checked: snippets.length, ran: runnable.length };
}
