import type { CliIo } from "./io.js";

/** One `sms-fes` command. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** The configuration lines every command's help ends with. */
export const CONFIG_HELP = `
Configuration (flags win over the environment; secrets only from the environment or a file, never printed):
  --database-url URL     or DATABASE_URL          PostgreSQL connection
  --schema NAME          or SMS_FES_SCHEMA        schema (default sms_fes)
  --provider-url URL     or SMS_FES_PROVIDER_URL  handler_api.php URL (default: the preset's)
  --preset NAME          or SMS_FES_PROVIDER_PRESET  hero-sms (default), sms-activate, generic
  --provider-key-file F  or SMS_FES_PROVIDER_KEY  the provider API key
  --json                 machine-readable output
Exit codes: 0 ok, 1 findings, 2 usage error or unreachable database/provider.`;
