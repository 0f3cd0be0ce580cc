import { parseArgs } from "node:util";

/** Exit codes every command uses. */
export const EXIT = {
  /** Done, nothing to report. */
  ok: 0,
  /** Done, with findings (pending migrations, incoherent money, unknown numbers, failed checks …). */
  findings: 1,
  /** Bad usage, or the database or the provider could not be reached. */
  usage: 2,
} as const;

/** Where a command writes, and what it reads from the environment. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A usage error or an unreachable dependency: printed to stderr, exit 2. */
export class CliExit extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.usage,
  ) {
    super(message);
  }
}

/** The option types `util.parseArgs` takes. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

/** Options every command shares: the database and the provider, from flags or the environment. */
export const commonOptions = {
  "database-url": { type: "string" },
  schema: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpec;

/** Options of the commands that talk to the provider. */
export const providerOptions = {
  "provider-url": { type: "string" },
  preset: { type: "string" },
  "provider-key-file": { type: "string" },
} as const satisfies OptionSpec;

/** The parsed values of an {@link OptionSpec}. */
export type OptionValues<O extends OptionSpec> = {
  -readonly [K in keyof O]?: O[K] extends { type: "boolean" } ? boolean : string;
};

/** Parses a command's arguments strictly; an unknown option or a stray argument is a usage error. */
export function parseCommand<O extends OptionSpec>(
  args: readonly string[],
  options: O,
): { values: OptionValues<O> } {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
    return { values: parsed.values as OptionValues<O> };
  } catch (e) {
    throw new CliExit(e instanceof Error ? e.message : String(e));
  }
}

/** A duration such as `30s`, `5m`, `24h`, `7d` or plain milliseconds. */
export function parseDurationMs(text: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new CliExit(`${flag} must be a duration like 30s, 5m, 24h or 7d, got ${text}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "ms"] ?? 1;
  const ms = Number(m[1]) * unit;
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new CliExit(`${flag} must be positive, got ${text}`);
  return ms;
}

/**
 * A database URL with its password replaced, for messages: the user, host and database are useful to an operator,
 * the password never appears.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    u.searchParams.delete("password");
    return u.toString();
  } catch {
    return "<unparseable URL>";
  }
}

/** Removes every occurrence of the secrets from a message (a driver may echo a connection string). */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s !== undefined && s.length >= 4) out = out.split(s).join("***");
  return out;
}

/** Writes a value as JSON (one document, newline-terminated). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
