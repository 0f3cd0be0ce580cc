/**
 * The smoke scenario every example runs against its own server: create a wallet, deposit, buy, a code by
 * webhook (settled), a cancel (released), a timeout found by the sweep (released), the statement and the
 * dashboard. `upstream` is the fake `handler_api.php` server whose clock the service shares.
 */

import type { FakeSmsActivateServer } from "sms-fes/testing";
import { expect } from "vitest";

export const SMOKE = {
  webhookSecret: "hook-secret-123",
  adminToken: "admin-token-456",
  customers: new Map([["alice-token", "alice"]]),
} as const;

/** Runs the scenario against `origin` (e.g. `http://127.0.0.1:3000`). */
export async function runSmokeScenario(origin: string, upstream: FakeSmsActivateServer): Promise<void> {
  upstream.setStock("tg", "6", { price: "0.50", count: 10 });
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

  expect(
    (await call("POST", "/admin/wallets", { admin: true, body: { walletId: "alice", currency: "USD" } }))
      .status,
  ).toBe(201);
  const dep = await call("POST", "/admin/wallets/alice/deposit", {
    admin: true,
    key: "dep-1",
    body: { amountMinor: 1000, currency: "USD" },
  });
  expect(dep.status).toBe(200);

  // Buy, then the provider's webhook brings the code: the hold is settled.
  const bought = await call("POST", "/activations", { key: "buy-1", body: { service: "tg", country: "6" } });
  expect(bought.status).toBe(201);
  const first = bought.json() as { id: string; state: string };
  expect(first.state).toBe("waiting");
  expect(await balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 50 });
  const sold = upstream.activations();
  await upstream.deliverCode(sold[sold.length - 1]!.providerActivationId, "123456");
  await upstream.flushWebhooks();
  const received = (await call("GET", `/activations/${encodeURIComponent(first.id)}`)).json();
  expect(received).toMatchObject({ state: "received", codes: ["123456"] });
  expect(await balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });

  // Buy and cancel after the early-cancel window: released.
  const second = (
    await call("POST", "/activations", { key: "buy-2", body: { service: "tg", country: "6" } })
  ).json();
  const early = await call("POST", `/activations/${encodeURIComponent(String(second.id))}/cancel`);
  expect(early.status).toBe(409);
  expect(early.headers.get("retry-after")).not.toBeNull();
  upstream.clock.advance(130_000);
  const cancelled = await call("POST", `/activations/${encodeURIComponent(String(second.id))}/cancel`);
  expect(cancelled.json()).toMatchObject({ state: "cancelled" });

  // Buy and let the deadline pass: the sweep times it out and releases the money.
  const third = (
    await call("POST", "/activations", { key: "buy-3", body: { service: "tg", country: "6" } })
  ).json();
  upstream.clock.advance(21 * 60_000);
  expect((await call("POST", "/admin/sweep", { admin: true })).status).toBe(200);
  expect((await call("GET", `/activations/${encodeURIComponent(String(third.id))}`)).json()).toMatchObject({
    state: "timeout",
  });
  expect(await balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0, availableMinor: 950 });

  // The statement: the deposit and the settle.
  const statement = (await call("GET", "/wallet/statement")).json() as {
    entries: { kind: string; amountMinor: number }[];
  };
  expect(statement.entries.map((e) => [e.kind, e.amountMinor])).toEqual([
    ["deposit", 1000],
    ["settle", -50],
  ]);

  // The dashboard, behind the admin token, with its CSP.
  expect((await call("GET", "/admin")).status).toBe(403);
  const page = await call("GET", "/admin?window=24h", { admin: true });
  expect(page.status).toBe(200);
  expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  expect(page.text).toContain('<td data-k="received">1</td>');
  expect(page.text).toContain('<td data-k="cancelled">1</td>');
  expect(page.text).toContain('<td data-k="timeout">1</td>');
}
