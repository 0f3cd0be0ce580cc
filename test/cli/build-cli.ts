import { existsSync } from "node:fs";
import { join } from "node:path";
import { build, type Options } from "tsup";
import config from "../../tsup.config.js";

/**
 * Builds the `sms-fes` bin (and the simulation it loads) from the package's own tsup entry into `outDir`, without
 * type declarations: the same bundle `npm run build` puts in `dist/`, in seconds. Returns the path of `cli.js`.
 */
export async function buildCli(outDir: string): Promise<string> {
  const entries = (Array.isArray(config) ? config : [config]) as Options[];
  const bin = entries.find((e) => typeof e.entry === "object" && e.entry !== null && "cli" in e.entry);
  if (bin === undefined) throw new Error("tsup.config.ts has no cli entry");
  await build({ ...bin, outDir, silent: true, sourcemap: false, config: false });
  const cli = join(outDir, "cli.js");
  if (!existsSync(cli)) throw new Error(`the build wrote no ${cli}`);
  return cli;
}
