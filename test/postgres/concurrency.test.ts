import type { ResultAsync } from "neverthrow";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createFes } from "../../src/fes/service.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { createFakeProvider, seededRandom } from "../../src/testing/fake-provider.js";
import { ManualClock } from "../../src/testing/manual-clock.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/**
 * Many connections hammer a few hot wallets with mixed money operations through the real service (createFes)
 * on the adapter, including concurrent replays of one idempotency key and settles racing releases of one hold.
 * Afterwards the ledger is checked by SQL, not through the adapter.
 */
const CONNECTIONS = 16;
const OPS_PER_WORKER = Number(process.env.FES_PG_OPS_PER_WORKER ?? 150);
const WALLETS = ["hot-a", "hot-b", "hot-c"];

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool(CONNECTIONS);
});
afterAll(() => db.drop());

type Outcome = { ok: true; value: unknown } | { ok: false; error: { readonly type: string } };

it(`keeps money exact under ${CONNECTIONS} connections × ${OPS_PER_WORKER} mixed operations`, async () => {
  const fes = createFes({
    storage: createPostgresStorage({ pool }),
    provider: createFakeProvider().provider,
    clock: new ManualClock(1_700_000_000_000),
  });
  for (const walletId of WALLETS) {
    expect((await fes.createWallet({ walletId, currency: "USD" })).isOk()).toBe(true);
  }
  const run = async (call: () => ResultAsync<unknown, { readonly type: string }>): Promise<Outcome> => {
    const r = await call();
    return r.isOk() ? { ok: true, value: r.value } : { ok: false, error: r.error };
  };

  const counts = new Map<string, number>();
  const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);
  const errorsSeen = new Map<string, number>();
  const holds: string[] = [];
  /** Deposits and withdrawals that succeeded, per key: what the client believes moved. */
  const moved = new Map<string, { walletId: string; signedMinor: number }>();
  let races = 0;
  let raceWinners = 0;
  let replays = 0;

  const worker = async (w: number) => {
    const random = seededRandom(1000 + w);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    for (let i = 0; i < OPS_PER_WORKER; i++) {
      const walletId = pick(WALLETS);
      const key = `w${w}-${i}`;
      const roll = random();
      let outcomes: Outcome[];
      if (roll < 0.25) {
        // A deposit, sometimes sent twice at once with the same key (a client retrying on a timeout).
        const request = {
          walletId,
          amountMinor: 1 + Math.floor(random() * 500),
          currency: "USD",
          idempotencyKey: key,
        };
        const twice = random() < 0.3;
        outcomes = await Promise.all(
          Array.from({ length: twice ? 2 : 1 }, () => run(() => fes.deposit(request))),
        );
        if (twice) {
          replays++;
          expect(outcomes[1]).toEqual(outcomes[0]);
        }
        if (outcomes[0]!.ok) moved.set(key, { walletId, signedMinor: request.amountMinor });
        count("deposit");
      } else if (roll < 0.3) {
        const request = {
          walletId,
          amountMinor: 1 + Math.floor(random() * 300),
          currency: "USD",
          idempotencyKey: key,
        };
        outcomes = [await run(() => fes.withdraw(request))];
        if (outcomes[0]!.ok) moved.set(key, { walletId, signedMinor: -request.amountMinor });
        count("withdraw");
      } else if (roll < 0.6) {
        const request = {
          walletId,
          amountMinor: 1 + Math.floor(random() * 200),
          currency: "USD",
          operationId: `op-${key}`,
          idempotencyKey: key,
        };
        outcomes = [await run(() => fes.freeze(request))];
        if (outcomes[0]!.ok) holds.push((outcomes[0]!.value as { id: string }).id);
        // Replay a freeze that succeeded: the stored result, no second hold. (A business error records nothing.)
        if (outcomes[0]!.ok) {
          replays++;
          expect(await run(() => fes.freeze(request))).toEqual(outcomes[0]);
        }
        count("freeze");
      } else if (holds.length === 0) {
        continue;
      } else if (roll < 0.75) {
        const holdId = pick(holds);
        outcomes = [
          await run(() =>
            fes.settle({ holdId, amountMinor: Math.floor(random() * 50), idempotencyKey: key }),
          ),
        ];
        count("settle");
      } else if (roll < 0.88) {
        const holdId = pick(holds);
        outcomes = [await run(() => fes.release({ holdId, idempotencyKey: key }))];
        count("release");
      } else {
        // A settle racing a release of a hold nobody else touches: exactly one wins, money moves once.
        const frozen = await run(() =>
          fes.freeze({
            walletId,
            amountMinor: 1,
            currency: "USD",
            operationId: `race-${key}`,
            idempotencyKey: `${key}-f`,
          }),
        );
        if (!frozen.ok) continue;
        const holdId = (frozen.value as { id: string }).id;
        outcomes = await Promise.all([
          run(() => fes.settle({ holdId, idempotencyKey: `${key}-s` })),
          run(() => fes.release({ holdId, idempotencyKey: `${key}-r` })),
        ]);
        races++;
        raceWinners += outcomes.filter((o) => o.ok).length;
        count("race");
      }
      for (const o of outcomes)
        if (!o.ok) errorsSeen.set(o.error.type, (errorsSeen.get(o.error.type) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));

  // Only business outcomes: no storage failure leaked out of a deadlock, a retry or a conflict.
  expect(
    [...errorsSeen.keys()].filter(
      (t) => !["insufficient_funds", "hold_not_open", "settle_exceeds_hold"].includes(t),
    ),
  ).toEqual([]);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThan(CONNECTIONS * OPS_PER_WORKER * 0.8);
  expect(raceWinners).toBe(races);
  console.info(
    `concurrency: ${total} operations (${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}), ${replays} replays, ` +
      `${races} open-hold races, errors ${JSON.stringify(Object.fromEntries(errorsSeen))}`,
  );

  const q = async (text: string) => (await pool.query(text)).rows;
  // Stored balance = replay of the wallet's transfers; platform accounts and wallets sum to zero.
  expect(
    await q(`SELECT w.id, w.balance_minor, b.balance_minor AS replayed FROM sms_fes.wallets w
             LEFT JOIN sms_fes.account_balances b ON b.account_id = w.id
             WHERE w.balance_minor <> coalesce(b.balance_minor, 0)`),
  ).toEqual([]);
  expect(
    await q(`SELECT (SELECT coalesce(sum(balance_minor), 0) FROM sms_fes.wallets)
                  + (SELECT coalesce(sum(balance_minor), 0) FROM sms_fes.platform_balances) AS total`),
  ).toEqual([{ total: "0" }]);
  // No negative available; frozen = Σ open holds.
  expect(
    await q("SELECT id FROM sms_fes.wallets WHERE balance_minor - frozen_minor < 0 OR frozen_minor < 0"),
  ).toEqual([]);
  expect(
    await q(`SELECT w.id FROM sms_fes.wallets w
             LEFT JOIN (SELECT wallet_id, sum(amount_minor) AS open FROM sms_fes.holds WHERE state = 'open' GROUP BY 1) h
               ON h.wallet_id = w.id
             WHERE w.frozen_minor <> coalesce(h.open, 0)`),
  ).toEqual([]);
  // Each hold resolved once: at most one settle transfer per hold, equal to what the hold says it settled.
  expect(
    await q(`SELECT h.id FROM sms_fes.holds h
             LEFT JOIN (SELECT hold_id, count(*) AS n, sum(amount_minor) AS amount FROM sms_fes.transfers
                        WHERE kind = 'settle' GROUP BY 1) t ON t.hold_id = h.id
             WHERE coalesce(t.n, 0) > 1 OR coalesce(t.amount, 0) <> h.settled_minor`),
  ).toEqual([]);
  // Every idempotency key had one effect: the deposits and withdrawals in the ledger are exactly those the
  // clients saw succeed, once each (concurrent replays included).
  const ledger =
    await q(`SELECT wallet_id, sum(CASE WHEN kind = 'deposit' THEN amount_minor ELSE -amount_minor END) AS net
                          FROM sms_fes.transfers WHERE kind IN ('deposit', 'withdrawal') GROUP BY 1 ORDER BY 1`);
  const expected = new Map<string, number>();
  for (const m of moved.values()) expected.set(m.walletId, (expected.get(m.walletId) ?? 0) + m.signedMinor);
  expect(ledger.map((r) => [r.wallet_id, Number(r.net)])).toEqual(
    [...expected].sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const [keys] = await q(`SELECT count(*)::int AS n FROM sms_fes.idempotency_keys`);
  const [holdRows] = await q(`SELECT count(*)::int AS n FROM sms_fes.holds`);
  expect(holdRows.n).toBe(holds.length + races);
  expect(keys.n).toBeGreaterThan(0);
});
