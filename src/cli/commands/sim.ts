import type { Command } from "../command.js";

/** `sms-fes sim`: the market simulation `npm start` runs, from the simulation script bundled beside this file. */
export const simCommand: Command = {
  name: "sim",
  summary:
    "run the seeded market simulation (memory or PostgreSQL storage, in-process or HTTP fake provider)",
  help: "usage: sms-fes sim [options] — run `sms-fes sim --help` for the options",
  async run(args) {
    // The script reads `process.argv` and exits by itself; it is a separate bundle so that the other commands do
    // not load it. The specifier is computed so the bundler leaves it as a run-time import.
    process.argv = [process.argv[0] ?? "node", "sms-fes sim", ...args];
    const specifier = "./sim.js";
    await import(specifier);
    // Unreachable once the simulation exits; a run that returns leaves the exit code it set.
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  },
};
