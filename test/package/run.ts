import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startThrowawayServer, type ThrowawayServer } from "../postgres/throwaway-server.js";
import { checkDocumentationSnippets } from "./docs-snippets.js";

/**
 * The package test: what users install is what is tested. Builds, packs, installs the tarball into a fresh
 * consumer project outside the repository, and runs there — from the installed package only, never from `src/` —
 * the ESM and CommonJS smoke tests, the fakes from a plain Node script with no vitest installed, the storage
 * conformance suite against the installed memory and PostgreSQL adapters, the provider conformance suite against
 * the installed fake HTTP upstream, and concurrent calls through the installed core on PostgreSQL. Prints the
 * tarball size and the runtime exports per entry.
 *
 * `npm run test:package` (add `-- --skip-build` to reuse `dist/`, `-- --keep` to keep the consumer project).
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const consumerFiles = join(root, "test/package/consumer");
const args = new Set(process.argv.slice(2));
const started = Date.now();

function step(title: string): void {
  console.log(`\n▶ ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

function run(command: string, argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(command, argv, {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
}

function show(command: string, argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  execFileSync(command, argv, { cwd, env: { ...process.env, ...env }, stdio: "inherit" });
}

/** The version of a dev dependency installed in the repository, so the consumer tests with the same tools. */
function installedVersion(name: string): string {
  // Read from node_modules directly: some packages (`@opentelemetry/api`) do not export their package.json.
  return (
    JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }
  ).version;
}

const work = mkdtempSync(join(tmpdir(), "sms-fes-package-"));
const consumer = join(work, "consumer");
let server: ThrowawayServer | undefined;
try {
  if (!args.has("--skip-build")) {
    step("build");
    run("npm", ["run", "build", "--silent"], root);
  }

  step("pack");
  const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], root)) as {
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
  }[];
  if (packed === undefined) throw new Error("npm pack produced nothing");
  const tarball = join(work, packed.filename);
  console.log(
    `tarball: ${packed.filename}: ${(packed.size / 1024).toFixed(1)} KiB packed, ` +
      `${(packed.unpackedSize / 1024).toFixed(1)} KiB unpacked, ${packed.entryCount} files`,
  );

  step("install the tarball into a fresh consumer project (no vitest, no fast-check)");
  cpSync(consumerFiles, consumer, { recursive: true });
  writeFileSync(
    join(consumer, "package.json"),
    `${JSON.stringify({ name: "sms-fes-consumer", private: true, type: "module" }, null, 2)}\n`,
  );
  const npmInstall = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];
  run("npm", [...npmInstall, tarball], consumer);

  step("smoke tests and the fakes from plain Node");
  show("node", ["smoke.mjs"], consumer);
  show("node", ["smoke.cjs"], consumer);
  show("node", ["fakes-plain.mjs"], consumer);
  step(
    "install the test tools and optional peers beside it (vitest, fast-check, pg, OpenTelemetry, Hono, typescript)",
  );
  const tools = [
    "vitest",
    "fast-check",
    "pg",
    "@opentelemetry/api",
    "hono",
    "@hono/node-server",
    "typescript",
    "@types/node",
    "@types/pg",
  ].map((name) => `${name}@${installedVersion(name)}`);
  run("npm", [...npmInstall, ...tools], consumer);
  show("node", ["outside-vitest.mjs"], consumer);
  const counts = JSON.parse(run("node", ["exports.mjs"], consumer)) as Record<
    string,
    { esm: number; cjs: number | null }
  >;
  console.log("runtime exports per entry (ESM / CJS):");
  for (const [entry, { esm, cjs }] of Object.entries(counts)) {
    console.log(`  ${entry.padEnd(20)} ${String(esm).padStart(4)} / ${cjs === null ? "ESM only" : cjs}`);
  }

  step("the installed command line");
  show("npx", ["--no-install", "sms-fes", "--help"], consumer);

  step("documentation snippets against the installed package");
  const docs = checkDocumentationSnippets(root, consumer);
  console.log(`${docs.checked} snippets compile under node16 and bundler resolution; ${docs.ran} ran`);

  step("conformance suites and races from the installed package");
  server = await startThrowawayServer();
  show("npx", ["vitest", "run", "--reporter=dot"], consumer, { FES_PACKAGE_PG_URL: server.url });

  console.log(`\npackage test passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  server?.stop();
  if (args.has("--keep")) console.log(`consumer project kept in ${consumer}`);
  else rmSync(work, { recursive: true, force: true });
}
