/**
 * Least privilege: migrations run as an owner role, the application connects as a role that `migrate` created
 * and granted. The application role runs every operation, and cannot disable or drop the append-only triggers,
 * rewrite or delete the ledger or the audit trail, delete records, or change the schema. What it can still do —
 * update a wallet's counters without a transfer, because the commit plan updates them in place — is shown here
 * too, with the ledger check that finds it.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFes } from "../../src/fes/service.js";
import { createPostgresStorage, migrate } from "../../src/postgres/index.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";
import { checkLedgerInvariants } from "../../src/wallet/invariants.js";
import { adminQuery, createTestDatabase, type TestDatabase } from "./database.js";

const OWNER = `fes_owner_${process.pid}`;
const APP = `fes_app_${process.pid}`;

let db: TestDatabase;
let ownerPool: pg.Pool;
let appPool: pg.Pool;

function urlAs(url: string, user: string, password?: string): string {
  const u = new URL(url);
  u.username = user;
  if (password !== undefined) u.password = password;
  return u.toString();
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  await adminQuery(`CREATE ROLE ${OWNER} LOGIN CREATEROLE`);
  await adminQuery(`GRANT CREATE ON DATABASE ${db.name} TO ${OWNER}`);
  ownerPool = new pg.Pool({ connectionString: urlAs(db.url, OWNER), max: 2 });
  ownerPool.on("error", () => {});
  appPool = new pg.Pool({ connectionString: urlAs(db.url, APP, "app-secret"), max: 4 });
  appPool.on("error", () => {});
});
afterAll(async () => {
  await Promise.all([ownerPool.end(), appPool.end()]);
  await db.drop();
  await adminQuery(`DROP ROLE IF EXISTS ${APP}`);
  await adminQuery(`DROP ROLE IF EXISTS ${OWNER}`);
});

/** The SQLSTATE a statement fails with as the application role, or `ok`. */
async function asApp(text: string): Promise<string> {
  return appPool.query(text).then(
    () => "ok",
    (e: { code?: string }) => e.code ?? "no code",
  );
}

describe("roles: the owner migrates, the application role gets exactly what the adapter needs", () => {
  it("migrate creates the application role and grants it, idempotently", async () => {
    const first = await migrate(ownerPool, { applicationRole: { name: APP, password: "app-secret" } });
    expect(first.applied.length).toBeGreaterThan(0);
    // Again, with the role existing: nothing to apply, the grants are renewed.
    expect((await migrate(ownerPool, { applicationRole: { name: APP } })).applied).toEqual([]);
    await expect(migrate(ownerPool, { applicationRole: { name: `${APP}_missing` } })).rejects.toThrow(
      /does not exist/,
    );
    const { rows } = await appPool.query("SELECT current_user AS u");
    expect(rows[0].u).toBe(APP);
  });

  it("the application role runs the service: money moves, reads page, health and pruning work", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const fake = createFakeProvider({ clock, balance: "1000" });
    await fake.control.setStock("tg", "6", { price: "0.50", count: 100 });
    const storage = createPostgresStorage({ pool: appPool });
    const fes = createFes({ storage, provider: fake.provider, clock });
    (await fes.createWallet({ walletId: "w1", currency: "USD" }))._unsafeUnwrap();
    (
      await fes.deposit({ walletId: "w1", amountMinor: 1000, currency: "USD", idempotencyKey: "d" })
    )._unsafeUnwrap();
    const h = (
      await fes.freeze({
        walletId: "w1",
        amountMinor: 300,
        currency: "USD",
        operationId: "o",
        idempotencyKey: "f",
      })
    )._unsafeUnwrap();
    (await fes.settle({ holdId: h.id, amountMinor: 200, idempotencyKey: "s" }))._unsafeUnwrap();
    (
      await fes.buyActivation({ walletId: "w1", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    clock.advance(30 * 60_000);
    expect((await fes.sweep())._unsafeUnwrap().errors).toBe(0);
    expect(await storage.read.getWallet("w1")).toMatchObject({ balanceMinor: 800, frozenMinor: 0 });
    expect((await storage.read.listAudit({ limit: 2 })).length).toBe(2);
    expect(
      (await storage.read.healthStats({ sinceMs: 0, untilMs: Number.POSITIVE_INFINITY })).total.timeout,
    ).toBe(1);
    expect(
      await storage.pruneIdempotency?.({ createdBeforeMs: clock.now() + 1, limit: 100 }),
    ).toBeGreaterThan(0);
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
  });

  it("cannot disable or drop the append-only triggers, or change the schema", async () => {
    expect(await asApp("ALTER TABLE sms_fes.transfers DISABLE TRIGGER USER")).toBe("42501");
    expect(await asApp("ALTER TABLE sms_fes.transfers DISABLE TRIGGER transfers_append_only")).toBe("42501");
    expect(await asApp("DROP TRIGGER transfers_append_only ON sms_fes.transfers")).toBe("42501");
    expect(await asApp("ALTER TABLE sms_fes.audit_trail DISABLE TRIGGER ALL")).toBe("42501");
    expect(await asApp("DROP TABLE sms_fes.transfers")).toBe("42501");
    expect(await asApp("ALTER TABLE sms_fes.wallets DROP CONSTRAINT wallets_available_nonnegative")).toBe(
      "42501",
    );
    expect(await asApp("CREATE TABLE sms_fes.extra (x int)")).toBe("42501");
    expect(
      await asApp(
        "CREATE OR REPLACE FUNCTION sms_fes.fes_reject_change() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
      ),
    ).toBe("42501");
    expect(await asApp("SET session_replication_role = replica")).toBe("42501");
  });

  it("cannot delete or rewrite a transfer or an audit row, or delete any record but an idempotency key", async () => {
    expect(await asApp("DELETE FROM sms_fes.transfers")).toBe("42501");
    expect(await asApp("UPDATE sms_fes.transfers SET amount_minor = 1")).toBe("42501");
    expect(await asApp("TRUNCATE sms_fes.transfers")).toBe("42501");
    expect(await asApp("DELETE FROM sms_fes.audit_trail")).toBe("42501");
    expect(await asApp("UPDATE sms_fes.audit_trail SET actor = 'x'")).toBe("42501");
    for (const table of ["wallets", "holds", "activations", "rentals", "schema_migrations"])
      expect(await asApp(`DELETE FROM sms_fes.${table}`), table).toBe("42501");
    expect(await asApp("INSERT INTO sms_fes.schema_migrations VALUES (99, 'x', 'x')")).toBe("42501");
    const { rows } = await ownerPool.query("SELECT count(*)::int AS n FROM sms_fes.transfers");
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it("can still change a balance without a transfer (not prevented), and the ledger check finds it", async () => {
    // The commit plan updates wallet counters in place, so the role holds UPDATE on wallets; nothing in the
    // database ties that update to a transfer. The replay of the transfers is what catches it.
    expect(await asApp("UPDATE sms_fes.wallets SET balance_minor = balance_minor + 1 WHERE id = 'w1'")).toBe(
      "ok",
    );
    const violations = await checkLedgerInvariants(createPostgresStorage({ pool: appPool }).read);
    expect(violations.length).toBeGreaterThan(0);
  });
});
