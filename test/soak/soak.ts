/**
 * The multi-process soak (`npm run soak -- --workers N --seconds S [--rentals]`): the built package in N worker
 * processes over one throwaway PostgreSQL and the fake HTTP upstream (webhooks delivered twice, random HTTP
 * faults), while the soak SIGKILLs random workers and terminates random backends, and restarts them. Then the
 * workers stop, the sweepers bring everything to rest, and the soak checks the store with its own SQL.
 * Exits non-zero on any violation.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startThrowawayServer } from "../postgres/throwaway-server.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const workers = flag("workers", 4);
const seconds = flag("seconds", 45);
const httpFaultRate = flag("http-faults", 0.02);
const rentals = args.includes("--rentals");
const WALLETS = 12;

if (!existsSync(join(root, "dist", "index.js")))
  throw new Error("dist/ is missing: run `npm run build` first");
const { migrate } = await import(join(root, "dist", "postgres.js"));
const { startFakeSmsActivateServer, ManualClock } = await import(join(root, "dist", "testing.js"));
const { createFes } = await import(join(root, "dist", "index.js"));
const { createPostgresStorage } = await import(join(root, "dist", "postgres.js"));
const { createSmsActivateProvider } = await import(join(root, "dist", "sms-activate.js"));

const started = Date.now();
const server = await startThrowawayServer();
// Whatever ends the soak, its cluster and its workers go with it.
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  server.stop();
});
const pool = new pg.Pool({ connectionString: server.url, max: 4, application_name: "soak-orchestrator" });
pool.on("error", () => {});
await migrate(pool);

// The upstream's clock follows the wall clock: the workers run on the system clock, as deployed.
const clock = new ManualClock(Date.now());
const ticking = setInterval(() => clock.set(Math.max(clock.now(), Date.now())), 20);
const alive = new Set<ChildProcess>();
// The webhook endpoint is a balancer in front of the workers: a delivery whose worker dies before it answered goes
// to another one (at least once), unless `--lossy-webhooks` (then a killed worker loses it, and a code seen by
// nobody meets the known timeout bug, see docs/simulation-testing.md).
const lossyWebhooks = args.includes("--lossy-webhooks");
type Delivery = { readonly body: string; readonly token: string | null };
const inDelivery = new Map<ChildProcess, Map<number, Delivery>>();
let deliveryId = 0;
const deliver = (delivery: Delivery) => {
  const target = [...alive][Math.floor(Math.random() * alive.size)];
  if (target === undefined || !target.connected) return;
  const id = ++deliveryId;
  if (!lossyWebhooks) {
    const pending = inDelivery.get(target) ?? new Map<number, Delivery>();
    pending.set(id, delivery);
    inDelivery.set(target, pending);
  }
  target.send({ type: "webhook", ...delivery, id }, () => {});
};
// The workers authenticate each delivery by the secret token in the webhook URL, as deployed.
const webhookSecret = `soak-${Math.random().toString(36).slice(2)}`;
const hook = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    deliver({ body, token: new URL(req.url ?? "/", "http://hook").searchParams.get("token") });
    res.end("ok");
  });
});
await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
const hookPort = (hook.address() as { port: number }).port;
// HeroSMS, the provider the protocol lives on: no order ids (a lost purchase is matched by service, country and
// time), `getStatusV2` shows a completed activation's code.
const upstream = await startFakeSmsActivateServer({
  dialect: "hero-sms",
  clock,
  earlyCancelWindowMs: 1_000,
  activationLifetimeMs: 15_000,
  rentRefundWindowMs: 60_000,
  balance: "100000000",
  webhookUrl: `http://127.0.0.1:${hookPort}/hook?token=${webhookSecret}`,
  webhookDeliveries: 2,
  ...(httpFaultRate > 0 ? { randomFaults: { rate: httpFaultRate, seed: 7 } } : {}),
});
await upstream.setStock("tg", "6", { price: "0.50", count: 1_000_000 });
await upstream.setRentStock("tg", "6", { pricePerHour: "0.10", count: 1_000_000 });

// Wallets, funded once.
const setup = createFes({
  storage: createPostgresStorage({ pool }),
  provider: createSmsActivateProvider({
    preset: "hero-sms",
    apiKey: upstream.apiKey,
    baseUrl: upstream.url,
    currency: "USD",
  }),
});
for (let i = 0; i < WALLETS; i++) {
  await setup.createWallet({ walletId: `w${i}`, currency: "USD" });
  await setup.deposit({
    walletId: `w${i}`,
    amountMinor: 100_000,
    currency: "USD",
    idempotencyKey: `seed-w${i}`,
  });
}

let operations = 0;
let kills = 0;
let backendKills = 0;
let spawned = 0;
const thrown: string[] = [];
const spawn = () => {
  const child = fork(join(here, "worker.mjs"), [], {
    env: {
      ...process.env,
      DATABASE_URL: server.url,
      UPSTREAM_URL: upstream.url,
      UPSTREAM_KEY: upstream.apiKey,
      WORKER_ID: String(++spawned),
      WALLETS: String(WALLETS),
      RENTALS: rentals ? "1" : "0",
      WEBHOOK_SECRET: webhookSecret,
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  child.on("message", (m: { type: string; ops?: number; message?: string; id?: number }) => {
    if (m.type === "ops") operations += m.ops ?? 0;
    if (m.type === "webhook-done") inDelivery.get(child)?.delete(m.id ?? 0);
    if (m.type === "threw" && thrown.length < 20) thrown.push(m.message ?? "");
  });
  // A worker killed while a message is on its way: the message is lost, as a webhook to a dead process is.
  child.on("error", () => {});
  child.on("exit", () => {
    alive.delete(child);
    const pending = inDelivery.get(child);
    inDelivery.delete(child);
    for (const delivery of pending?.values() ?? []) deliver(delivery);
  });
  alive.add(child);
  children.add(child);
  return child;
};
for (let i = 0; i < workers; i++) spawn();

// Chaos: SIGKILL a random worker (a new one starts), terminate a random backend of the workers.
const chaos = setInterval(async () => {
  if (Math.random() < 0.3 && alive.size > 0) {
    const victim = [...alive][Math.floor(Math.random() * alive.size)];
    victim?.kill("SIGKILL");
    kills++;
    setTimeout(spawn, 100);
  }
  const { rows } = await pool
    .query(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name LIKE 'soak-worker-%' ORDER BY random() LIMIT 1",
    )
    .catch(() => ({ rows: [] as { killed: boolean }[] }));
  if (rows[0]?.killed === true) backendKills++;
}, 700);

// The provider's side: codes reach most waiting numbers (each then sent to the webhook twice), at any time of
// their lifetime, up to its last moments.
let codes = 0;
const sms = setInterval(async () => {
  const waiting = upstream.activations().filter((a: { state: string }) => a.state === "waiting");
  const a = waiting[Math.floor(Math.random() * waiting.length)];
  if (a === undefined || Math.random() < 0.3) return;
  await Promise.resolve(upstream.deliverCode(a.providerActivationId, String(100_000 + ++codes)));
}, 150);

await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
clearInterval(chaos);
clearInterval(sms);
await new Promise((resolve) => setTimeout(resolve, 300));
for (const c of alive) if (c.connected) c.send({ type: "stop" }, () => {});
await new Promise((resolve) => setTimeout(resolve, 2_500));

// Rest: the remaining workers finish the rentals and sweep, until nothing is open or pending.
const ask = (child: ChildProcess, type: string, reply: string) =>
  new Promise<void>((resolve) => {
    const done = () => {
      child.off("message", on);
      child.off("exit", done);
      resolve();
    };
    const on = (m: { type: string }) => {
      if (m.type === reply) done();
    };
    child.on("message", on);
    child.once("exit", done);
    child.send({ type }, () => {});
  });
const restBy = Date.now() + 60_000;
let quiescent = false;
while (Date.now() < restBy) {
  // Every round: a purchase still in flight when the workers stopped may have become active since.
  const first = [...alive][0];
  if (first !== undefined && rentals) await ask(first, "finish-rentals", "done");
  await Promise.all([...alive].map((c) => ask(c, "sweep", "swept")));
  const { rows } = await pool.query(`SELECT
      (SELECT count(*) FROM sms_fes.holds WHERE state = 'open')::int AS open,
      (SELECT count(*) FROM sms_fes.activations WHERE state IN ('pending', 'waiting'))::int AS activations,
      (SELECT count(*) FROM sms_fes.rentals WHERE state IN ('pending', 'active'))::int AS rentals`);
  const r = rows[0] as { open: number; activations: number; rentals: number };
  if (r.open === 0 && r.activations === 0 && r.rentals === 0) {
    quiescent = true;
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
for (const c of alive) c.kill("SIGKILL");
// What did not come to rest, with its trail.
const stuck: string[] = [];
if (!quiescent) {
  const { rows } = await pool.query(
    `SELECT x.id, x.state, (SELECT string_agg(t.action || ' by ' || t.actor, ', ' ORDER BY t.seq)
       FROM sms_fes.audit_trail t WHERE t.subject_id = x.id) AS trail
     FROM (SELECT id, state FROM sms_fes.rentals WHERE state IN ('pending', 'active')
           UNION ALL SELECT id, state FROM sms_fes.activations WHERE state IN ('pending', 'waiting')) x LIMIT 5`,
  );
  for (const r of rows as { id: string; state: string; trail: string | null }[])
    stuck.push(`       ${r.id} ${r.state} [${r.trail ?? ""}]`);
}

// The checks, in the store's own SQL.
const checks: [string, string][] = [
  [
    "Σ balances = 0",
    `SELECT 1 WHERE (SELECT coalesce(sum(balance_minor), 0) FROM sms_fes.wallets)
       + (SELECT coalesce(sum(CASE WHEN credit_account_id LIKE '@%' THEN amount_minor ELSE 0 END)
                         - sum(CASE WHEN debit_account_id LIKE '@%' THEN amount_minor ELSE 0 END), 0)
          FROM sms_fes.transfers) <> 0`,
  ],
  [
    "stored balance = replay",
    `SELECT w.id FROM sms_fes.wallets w WHERE w.balance_minor <> coalesce((
       SELECT sum(CASE WHEN t.credit_account_id = w.id THEN t.amount_minor ELSE -t.amount_minor END)
       FROM sms_fes.transfers t WHERE t.wallet_id = w.id), 0)`,
  ],
  [
    "frozen = open holds",
    `SELECT w.id FROM sms_fes.wallets w WHERE w.frozen_minor <> coalesce((
       SELECT sum(h.amount_minor) FROM sms_fes.holds h WHERE h.wallet_id = w.id AND h.state = 'open'), 0)`,
  ],
  ["available ≥ 0", "SELECT id FROM sms_fes.wallets WHERE balance_minor - frozen_minor < 0"],
  [
    "each hold resolved at most once",
    `SELECT subject_id FROM sms_fes.audit_trail WHERE action IN ('hold.settle', 'hold.release')
       GROUP BY subject_id HAVING count(*) > 1
     UNION ALL SELECT hold_id FROM sms_fes.transfers WHERE hold_id IS NOT NULL GROUP BY hold_id HAVING count(*) > 1`,
  ],
  [
    "each idempotency key single-effect",
    `SELECT operation_id FROM sms_fes.transfers WHERE kind IN ('deposit', 'withdrawal')
       GROUP BY operation_id, kind HAVING count(*) > 1`,
  ],
  [
    "provider ids owned at most once",
    `SELECT provider_activation_id FROM sms_fes.activations WHERE provider_activation_id IS NOT NULL
       GROUP BY provider, provider_activation_id HAVING count(*) > 1
     UNION ALL SELECT provider_rental_id FROM sms_fes.rentals WHERE provider_rental_id IS NOT NULL
       GROUP BY provider, provider_rental_id HAVING count(*) > 1`,
  ],
  [
    "no charge without a code",
    `SELECT a.id FROM sms_fes.activations a JOIN sms_fes.holds h ON h.id = a.hold_id
       WHERE h.settled_minor > 0 AND jsonb_array_length(a.codes) = 0`,
  ],
  ["nothing open at rest", "SELECT id FROM sms_fes.holds WHERE state = 'open'"],
];
let violations = 0;
const out: string[] = [];
for (const [name, sql] of checks) {
  const { rows } = await pool.query(sql);
  violations += rows.length;
  out.push(
    `  ${rows.length === 0 ? "ok  " : "FAIL"} ${name}${rows.length === 0 ? "" : `: ${JSON.stringify(rows.slice(0, 5))}`}`,
  );
}
// Upstream purchases against billed money: every number that got a code upstream is billed once (settled), and
// nothing without a code upstream is billed.
const { rows: billed } = await pool.query(
  `SELECT a.provider_activation_id AS id, a.state, h.settled_minor AS settled FROM sms_fes.activations a
     JOIN sms_fes.holds h ON h.id = a.hold_id WHERE a.provider_activation_id IS NOT NULL`,
);
const byId = new Map(billed.map((r: { id: string; state: string; settled: string }) => [r.id, r]));
let unbilled = 0;
let wrongly = 0;
let withCode = 0;
for (const u of upstream.activations()) {
  if (u.codes.length > 0) withCode++;
  const r = byId.get(u.providerActivationId);
  if (u.codes.length > 0 && (r === undefined || Number(r.settled) === 0)) {
    unbilled++;
    if (unbilled <= 3) {
      const { rows: trail } = await pool.query(
        `SELECT t.action, t.actor FROM sms_fes.audit_trail t JOIN sms_fes.activations a ON a.id = t.subject_id
           WHERE a.provider_activation_id = $1 ORDER BY t.seq`,
        [u.providerActivationId],
      );
      out.push(
        `       ${u.providerActivationId} upstream ${u.state} codes ${u.codes.length}: ` +
          `${r === undefined ? "no record" : r.state} [${trail.map((t: { action: string; actor: string }) => `${t.action} by ${t.actor}`).join(", ")}]`,
      );
    }
  }
  if (u.codes.length === 0 && r !== undefined && Number(r.settled) > 0) wrongly++;
}
out.push(`  ${unbilled === 0 ? "ok  " : "FAIL"} every upstream code billed (${unbilled} not)`);
out.push(`  ${wrongly === 0 ? "ok  " : "FAIL"} nothing billed without an upstream code (${wrongly} were)`);
// Upstream rentals against records: every rental the provider did not refund is owned by a record (a number
// nobody owns is paid by the platform for nothing), and nothing is billed for a rental refunded upstream.
const { rows: rented } = await pool.query(
  `SELECT r.provider_rental_id AS id, r.state, coalesce((SELECT sum(h.settled_minor) FROM sms_fes.holds h
     WHERE h.owner_type = 'rental' AND h.owner_id = r.id), 0) AS settled
   FROM sms_fes.rentals r WHERE r.provider_rental_id IS NOT NULL`,
);
const rentalById = new Map(rented.map((r: { id: string; state: string; settled: string }) => [r.id, r]));
const upstreamRentals = upstream.upstream.allRentals() as readonly {
  id: string;
  state: string;
  startedAtMs: number;
}[];
let unowned = 0;
let billedRefunded = 0;
for (const u of upstreamRentals) {
  const r = rentalById.get(u.id);
  if (r === undefined && u.state !== "cancelled") {
    unowned++;
    if (unowned <= 3) {
      // The purchases reserved shortly before it was rented: the one that rented it is among them.
      const { rows: near } = await pool.query(
        `SELECT id, state, failure_reason, created_at_ms - $1::bigint AS at FROM sms_fes.rentals
           WHERE created_at_ms BETWEEN $1::bigint - 10000 AND $1::bigint + 1000 ORDER BY created_at_ms`,
        [u.startedAtMs],
      );
      out.push(
        `       upstream rental ${u.id} ${u.state}: no record owns it; reserved near it: ` +
          near
            .map(
              (x: { id: string; state: string; failure_reason: string | null; at: string }) =>
                `${x.id} ${x.state}${x.failure_reason === null ? "" : ` ${x.failure_reason}`} at ${x.at} ms`,
            )
            .join(", "),
      );
    }
  }
  if (r !== undefined && u.state === "cancelled" && Number(r.settled) > 0) billedRefunded++;
}
out.push(`  ${unowned === 0 ? "ok  " : "FAIL"} every upstream rental owned or refunded (${unowned} not)`);
out.push(
  `  ${billedRefunded === 0 ? "ok  " : "FAIL"} nothing billed for a rental refunded upstream (${billedRefunded} were)`,
);
// A soak whose workers did nothing (e.g. every worker failing at start) proves nothing.
const ran = operations > 0 && upstream.activations().length > 0 && (!rentals || upstreamRentals.length > 0);
out.push(
  `  ${ran ? "ok  " : "FAIL"} the workers ran (activations${rentals ? " and rentals" : ""} bought upstream)`,
);
violations +=
  unbilled + wrongly + unowned + billedRefunded + (ran ? 0 : 1) + thrown.length + (quiescent ? 0 : 1);

console.log(
  `soak: ${spawned} worker processes (${workers} at a time), ${kills} SIGKILLs, ${backendKills} backends terminated, ` +
    `${operations} operations, ${upstream.activations().length} upstream activations (${withCode} with a code), ` +
    `${rentals ? `rentals on (${upstreamRentals.length} upstream)` : "rentals off"}, ` +
    `http fault rate ${httpFaultRate}, quiescent ${quiescent}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
for (const line of out) console.log(line);
if (!quiescent) console.log("  FAIL quiescent: not at rest after 60 s of sweeps");
for (const line of stuck) console.log(line);
for (const t of thrown) console.log(`  THREW ${t.split("\n")[0]}`);
console.log(`violations ${violations}`);

clearInterval(ticking);
await upstream.close();
hook.close();
await pool.end();
server.stop();
process.exit(violations === 0 ? 0 : 1);
