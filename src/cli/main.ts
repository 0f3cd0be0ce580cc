/**
 * The `sms-fes` command line: migrate, doctor, worker, reconcile, health, report, coherence and sim over the
 * PostgreSQL adapter and the SMS-Activate protocol adapter. Built into `dist/cli.js` (the package's `bin`).
 */
import type { Command } from "./command.js";
import { doctorCommand } from "./commands/doctor.js";
import { coherenceCommand, healthCommand, reportCommand } from "./commands/health.js";
import { migrateCommand } from "./commands/migrate.js";
import { reconcileCommand } from "./commands/reconcile.js";
import { simCommand } from "./commands/sim.js";
import { workerCommand } from "./commands/worker.js";
import { CliExit, type CliIo, EXIT, scrub } from "./io.js";

const COMMANDS: readonly Command[] = [
  migrateCommand,
  doctorCommand,
  workerCommand,
  reconcileCommand,
  healthCommand,
  reportCommand,
  coherenceCommand,
  simCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: sms-fes <command> [options]   (sms-fes <command> --help for its options)",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Exit codes: 0 ok, 1 findings, 2 usage error or unreachable database/provider.",
  ].join("\n");
}

/** Runs one command line (the arguments after `sms-fes`); resolves to the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout(`${overview()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`sms-fes: unknown command ${name}\n\n${overview()}\n`);
    return EXIT.usage;
  }
  const secrets = [
    io.env.SMS_FES_PROVIDER_KEY,
    io.env.DATABASE_URL,
    io.env.DATABASE_OWNER_URL,
    io.env.SMS_FES_APP_ROLE_PASSWORD,
  ];
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof CliExit) {
      io.stderr(`sms-fes ${name}: ${scrub(e.message, secrets)}\n`);
      return e.code;
    }
    io.stderr(`sms-fes ${name}: ${scrub(e instanceof Error ? e.message : String(e), secrets)}\n`);
    return EXIT.usage;
  }
}

const io: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};
const code = await runCli(process.argv.slice(2), io);
process.exitCode = code;
