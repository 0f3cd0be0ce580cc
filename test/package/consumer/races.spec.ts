import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import pg from "pg";
import { createFes } from "sms-fes";
import { createFakeProvider, ManualClock } from "sms-fes/fakes";
import { createPostgresStorage, migrate } from "sms-fes/postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Concurrent calls through the installed core over the installed PostgreSQL adapter: a conflict thrown by the
// postgres entry must be recognised by the core entry (another bundle) and rerun, never surface as storage_failure.
const pool = new pg.Pool({ connectionString: process.env.FES_PACKAGE_PG_URL, max: 8 });
pool.on("error", () => {});
const schema = "races";
const storage = createPostgresStorage({ pool, schema });
const fes = createFes({
  storage,
  provider: createFakeProvider().provider,
  clock: new ManualClock(1_700_000_000_000),
});

beforeAll(() => migrate(pool, { schema }));
afterAll(() => pool.end());

/** The scope of an idempotency key as the installed package documents it on its key schema. */
function documentedKeyScope(): "platform" | "wallet" {
  const dist = dirname(createRequire(import.meta.url).resolve("sms-fes"));
  const types = readdirSync(dist)
    .filter((f) => f.endsWith(".d.ts"))
    .map((f) => readFileSync(join(dist, f), "utf8"))
    .join("\n");
  const doc = /\/\*\*([^*]|\*(?!\/))*\*\/\s*declare const idempotencyKeySchema/.exec(types)?.[0] ?? "";
  if (/per wallet|to the wallet/i.test(doc)) return "wallet";
  if (/to the platform/i.test(doc)) return "platform";
  throw new Error(
    `cannot tell the documented scope of an idempotency key from: ${doc || "(no JSDoc found)"}`,
  );
}

describe("installed core over the installed postgres adapter", () => {
  it("four concurrent createWallet calls for one id: one creates it, three replay", async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => fes.createWallet({ walletId: "same-id", currency: "USD" })),
    );
    for (const r of results)
      expect(r._unsafeUnwrap()).toMatchObject({ walletId: "same-id", balanceMinor: 0 });
    const created = (await storage.read.listAudit({ subjectId: "same-id" })).filter(
      (a) => a.action === "wallet.create",
    );
    expect(created).toHaveLength(1);
  });

  it("one idempotency key on two wallets at once follows the documented key scope", async () => {
    for (const walletId of ["pair-a", "pair-b"]) {
      expect((await fes.createWallet({ walletId, currency: "USD" })).isOk()).toBe(true);
    }
    const deposit = (walletId: string) =>
      fes.deposit({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: "shared-key" });
    const results = await Promise.all([deposit("pair-a"), deposit("pair-b")]);
    const outcomes = results.map((r) => (r.isOk() ? "ok" : r.error.type)).sort();
    if (documentedKeyScope() === "wallet") expect(outcomes).toEqual(["ok", "ok"]);
    else expect(outcomes).toEqual(["idempotency_conflict", "ok"]);
  });
});
