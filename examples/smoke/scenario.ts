/**
 * The smoke scenario every example runs against its own server: create a wallet, deposit, buy, a code by
 * webhook (settled), a cancel (released), a timeout found by the sweep (released), the statement and the
 * dashboard. `upstream` is the fake `handler_api.php` server whose clock the service shares. It uses only
 * `fetch` and `node:assert`, so Node, Deno and Bun all run it.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { FakeSmsActivateServer } from "sms-fes/testing";

/** The tokens the examples are configured with in their smoke tests. */
export const SMOKE = {
  webhookSecret: "hook-secret-123",
  adminToken: "admin-token-456",
  customers: new Map([["alice-token", "alice"]]),
} as const;

/** What the scenario drives of the fake upstream. */
export type SmokeUpstream = Pick<
  FakeSmsActivateServer,
  "setStock" | "setWebhookUrl" | "activations" | "deliverCode" | "flushWebhooks"
> & { readonly clock: { advance(ms: number): void } };

/** Fails unless every field of `want` equals the same field of `got`. */
function has(got: unknown, want: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(want)) deepStrictEqual((got as Record<string, unknown>)[k], v, k);
}

/**
 * Runs the scenario against `origin` (e.g. `http://127.0.0.1:3000`). With `timeTravel: false` (a service that
 * keeps its own clock) time never moves: the cancel stays refused and the sweep finds nothing due.
 */
export async function runSmokeScenario(
  origin: string,
  upstream: SmokeUpstream,
  options: { readonly timeTravel?: boolean } = {},
): Promise<void> {
  const timeTravel = options.timeTravel ?? true;
  await upstream.setStock("tg", "6", { price: "0.50", count: 10 });
  upstream.setWebhookUrl(`${origin}/api/webhook?token=${SMOKE.webhookSecret}`);
  const call = async (
    method: string,
    path: string,
    o: { admin?: boolean; key?: string; body?: unknown } = {},
  ) => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${o.admin ? SMOKE.adminToken : "alice-token"}`,
    };
    if (o.key !== undefined) headers["idempotency-key"] = o.key;
    if (o.body !== undefined) headers["content-type"] = "application/json";
    const r = await fetch(`${origin}/api${path}`, {
      method,
      headers,
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    });
    const text = await r.text();
    return {
      status: r.status,
      headers: r.headers,
      text,
      json: () => JSON.parse(text) as Record<string, unknown>,
    };
  };
  const balance = async () => (await call("GET", "/wallet")).json();
  const path = (a: Record<string, unknown>) => `/activations/${encodeURIComponent(String(a.id))}`;

  const created = await call("POST", "/admin/wallets", {
    admin: true,
    body: { walletId: "alice", currency: "USD" },
  });
  strictEqual(created.status, 201);
  const dep = await call("POST", "/admin/wallets/alice/deposit", {
    admin: true,
    key: "dep-1",
    body: { amountMinor: 1000, currency: "USD" },
  });
  strictEqual(dep.status, 200);

  // Buy, then the provider's webhook brings the code: the hold is settled.
  const bought = await call("POST", "/activations", { key: "buy-1", body: { service: "tg", country: "6" } });
  strictEqual(bought.status, 201);
  const first = bought.json();
  strictEqual(first.state, "waiting");
  has(await balance(), { balanceMinor: 1000, frozenMinor: 50 });
  const sold = await upstream.activations();
  await upstream.deliverCode(sold[sold.length - 1]?.providerActivationId ?? "", "123456");
  await upstream.flushWebhooks();
  has((await call("GET", path(first))).json(), { state: "received", codes: ["123456"] });
  has(await balance(), { balanceMinor: 950, frozenMinor: 0 });

  // Buy and cancel: refused inside the early-cancel window, released after it.
  const second = (
    await call("POST", "/activations", { key: "buy-2", body: { service: "tg", country: "6" } })
  ).json();
  const early = await call("POST", `${path(second)}/cancel`);
  strictEqual(early.status, 409);
  ok(early.headers.get("retry-after") !== null);
  if (timeTravel) {
    upstream.clock.advance(130_000);
    has((await call("POST", `${path(second)}/cancel`)).json(), { state: "cancelled" });

    // Buy and let the deadline pass: the sweep times it out and releases the money.
    const third = (
      await call("POST", "/activations", { key: "buy-3", body: { service: "tg", country: "6" } })
    ).json();
    upstream.clock.advance(21 * 60_000);
    strictEqual((await call("POST", "/admin/sweep", { admin: true })).status, 200);
    has((await call("GET", path(third))).json(), { state: "timeout" });
    has(await balance(), { balanceMinor: 950, frozenMinor: 0, availableMinor: 950 });
  } else {
    strictEqual((await call("POST", "/admin/sweep", { admin: true })).status, 200);
    has((await call("GET", path(second))).json(), { state: "waiting" });
    has(await balance(), { balanceMinor: 950, frozenMinor: 50, availableMinor: 900 });
  }

  // The statement: the deposit and the settle.
  const statement = (await call("GET", "/wallet/statement")).json() as {
    entries: { kind: string; amountMinor: number }[];
  };
  deepStrictEqual(
    statement.entries.map((e) => [e.kind, e.amountMinor]),
    [
      ["deposit", 1000],
      ["settle", -50],
    ],
  );

  // The dashboard, behind the admin token, with its CSP and the three outcomes.
  strictEqual((await call("GET", "/admin")).status, 403);
  const page = await call("GET", "/admin?window=24h", { admin: true });
  strictEqual(page.status, 200);
  ok((page.headers.get("content-security-policy") ?? "").includes("default-src 'none'"));
  for (const k of timeTravel ? ["received", "cancelled", "timeout"] : ["received", "open"]) {
    ok(page.text.includes(`<td data-k="${k}">1</td>`), k);
  }
}
