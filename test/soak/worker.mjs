// One soak worker: the built package as a user installs it (dist/), one service over PostgreSQL and the fake HTTP
// upstream, issuing random commands and sweeping, until the parent kills it or says stop.
import pg from "pg";
import { createFes } from "../../dist/index.js";
import { createPostgresStorage } from "../../dist/postgres.js";
import { createSmsActivateProvider, createWebhookHandler } from "../../dist/sms-activate.js";

const { DATABASE_URL, UPSTREAM_URL, UPSTREAM_KEY, WORKER_ID, WALLETS, RENTALS, WEBHOOK_SECRET } = process.env;
const pool = new pg.Pool({
  connectionString: DATABASE_URL,
  max: 4,
  application_name: `soak-worker-${WORKER_ID}`,
});
// A terminated backend surfaces as an error on an idle client: the pool drops it and the next unit reconnects.
pool.on("error", () => {});
const provider = createSmsActivateProvider({
  preset: "hero-sms",
  apiKey: UPSTREAM_KEY,
  baseUrl: UPSTREAM_URL,
  currency: "USD",
  timeoutMs: 2_000,
  retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 100 },
  // The refund window lies well past the purchase grace, as on the real provider (20 minutes against 2): a rental
  // whose answer was lost is reconciled, and given back, while it can still be refunded (even on a loaded machine).
  capabilities: { earlyCancelWindowMs: 1_000, activationLifetimeMs: 15_000, rentRefundWindowMs: 60_000 },
});
const fes = createFes({ storage: createPostgresStorage({ pool }), provider, pendingGraceMs: 5_000 });
const webhooks = createWebhookHandler({
  provider,
  secret: WEBHOOK_SECRET,
  onCode: (c) => fes.onCode({ providerActivationId: c.providerActivationId, code: c.code }),
});

const wallets = Array.from({ length: Number(WALLETS) }, (_, i) => `w${i}`);
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const mine = { activations: [], rentals: [] };
let ops = 0;
let stopping = false;
let n = 0;
const key = (what) => `${WORKER_ID}-${process.pid}-${what}-${++n}`;

async function command() {
  const w = pick(wallets);
  const r = Math.random();
  ops++;
  if (r < 0.15)
    return fes.deposit({ walletId: w, amountMinor: 500, currency: "USD", idempotencyKey: key("dep") });
  if (r < 0.2)
    return fes.withdraw({ walletId: w, amountMinor: 100, currency: "USD", idempotencyKey: key("wd") });
  if (r < 0.5) {
    const a = await fes.buyActivation({
      walletId: w,
      service: "tg",
      country: "6",
      idempotencyKey: key("buy"),
    });
    if (a.isOk()) mine.activations.push(a.value.id);
    return a;
  }
  const a = pick(mine.activations);
  if (r < 0.62 && a) return fes.pollActivation(a);
  if (r < 0.72 && a) return fes.cancelActivation({ activationId: a });
  if (r < 0.76 && a) return fes.finishActivation({ activationId: a });
  if (RENTALS === "1") {
    if (r < 0.82) {
      const b = await fes.buyRental({
        walletId: w,
        service: "tg",
        country: "6",
        hours: 4,
        idempotencyKey: key("rent"),
      });
      if (b.isOk()) mine.rentals.push(b.value.id);
      return b;
    }
    const x = pick(mine.rentals);
    if (r < 0.88 && x) return fes.extendRental({ rentalId: x, hours: 1, idempotencyKey: key("ext") });
    if (r < 0.91 && x) return fes.finishRental({ rentalId: x });
    if (r < 0.94 && x) return fes.cancelRental({ rentalId: x });
  }
  return fes.sweep();
}

process.on("message", async (m) => {
  if (m.type === "webhook") {
    const outcome = await webhooks.handle({ body: m.body, token: m.token }).catch(() => ({ status: 500 }));
    // Answered only when handled: anything else is redelivered, as a provider retries a failed webhook.
    if (outcome.status === 200 && process.connected) process.send({ type: "webhook-done", id: m.id });
  }
  if (m.type === "stop") stopping = true;
  if (m.type === "finish-rentals") {
    const { rows } = await pool.query("SELECT id FROM sms_fes.rentals WHERE state = 'active'");
    for (const { id } of rows) await fes.finishRental({ rentalId: id });
    process.send({ type: "done" });
  }
  if (m.type === "sweep") {
    const report = await fes.sweep();
    process.send({ type: "swept", ok: report.isOk() });
  }
});

const report = setInterval(() => {
  if (process.connected) process.send({ type: "ops", ops });
  ops = 0;
}, 500);

while (!stopping) {
  await command().catch((e) => {
    if (process.connected) process.send({ type: "threw", message: String(e?.stack ?? e) });
  });
}
clearInterval(report);
if (process.connected) process.send({ type: "ops", ops });
