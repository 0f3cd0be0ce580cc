// Prints the runtime exports of every entry of the installed package, ESM and CJS, as JSON.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const manifest = JSON.parse(readFileSync(require.resolve("sms-fes/package.json"), "utf8"));
const counts = {};
for (const [key, conditions] of Object.entries(manifest.exports)) {
  if (key === "./package.json") continue;
  const name = key === "." ? "sms-fes" : `sms-fes/${key.slice(2)}`;
  const esm = Object.keys(await import(name)).length;
  const cjs = conditions.require === undefined ? null : Object.keys(require(name)).length;
  counts[name] = { esm, cjs };
}
console.log(JSON.stringify(counts));
