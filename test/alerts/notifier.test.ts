import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createNotifier } from "../../src/alerts/notifier.js";
import {
  alertHeaders,
  callbackAlertSink,
  slackAlertSink,
  verifyAlertSignature,
  webhookAlertSink,
} from "../../src/alerts/sinks.js";
import {
  type AlertChange,
  type AlertCondition,
  type AlertStore,
  createMemoryAlertStore,
} from "../../src/alerts/store.js";
import { createPostgresAlertStore } from "../../src/postgres/index.js";
import { ManualClock } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../postgres/database.js";
import { type Receiver, startReceiver } from "./receiver.js";

const SECRET = "whsec-test-1";

const disabled: AlertCondition = {
  key: "disable:service_country:mm:0",
  kind: "disable",
  summary: "mm in 0: success 0 % of 30, upper bound 11 % below 20 %",
  details: { service: "mm", country: "0" },
};
const warned: AlertCondition = { key: "warn:service:ig:*", kind: "warn", summary: "ig: weak", details: {} };

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const stores: readonly [string, () => Promise<AlertStore>][] = [
  ["memory", async () => createMemoryAlertStore()],
  [
    "postgres",
    async () => {
      const pool = db.pool(4);
      await pool.query("TRUNCATE sms_fes.alert_states, sms_fes.alert_deliveries");
      return createPostgresAlertStore({ pool });
    },
  ],
];

describe.each(stores)("notifier on the %s store", (_name, makeStore) => {
  let receiver: Receiver;
  afterEach(async () => {
    await receiver.close();
  });

  async function setup() {
    receiver = await startReceiver();
    const clock = new ManualClock();
    const store = await makeStore();
    const make = () =>
      createNotifier({
        store,
        clock,
        sinks: [webhookAlertSink({ url: receiver.url, secret: SECRET, now: () => clock.now() })],
        retryBaseMs: 1_000,
      });
    return { clock, store, make };
  }

  const bodies = () =>
    receiver.received.map((r) => JSON.parse(r.body) as AlertChange & { deliveryId: string });

  it("delivers a change once, signed, with a delivery id; the same condition seen again is not a change", async () => {
    const { make } = await setup();
    const notifier = make();
    expect((await notifier.observe("health", [disabled])).map((c) => c.change)).toEqual(["raised"]);
    expect(await notifier.deliverDue()).toEqual({ delivered: 1, retrying: 0, gaveUp: 0 });
    expect(await notifier.observe("health", [disabled])).toEqual([]);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 0, gaveUp: 0 });
    expect(receiver.received).toHaveLength(1);
    const [r] = receiver.received;
    const headers = r!.headers;
    expect(headers[alertHeaders.deliveryId]).toBe("health:disable:service_country:mm:0:1@webhook");
    expect(
      await verifyAlertSignature(
        SECRET,
        String(headers[alertHeaders.timestamp]),
        r!.body,
        String(headers[alertHeaders.signature]),
      ),
    ).toBe(true);
    expect(
      await verifyAlertSignature(
        "other",
        String(headers[alertHeaders.timestamp]),
        r!.body,
        String(headers[alertHeaders.signature]),
      ),
    ).toBe(false);
    expect(bodies()[0]).toMatchObject({
      kind: "disable",
      change: "raised",
      summary: disabled.summary,
      version: 1,
    });
  });

  it("delivers the clear when a condition stops holding (a service re-enabled), and a new raise after it", async () => {
    const { make } = await setup();
    const notifier = make();
    await notifier.observe("health", [disabled, warned]);
    await notifier.observe("health", [warned]);
    await notifier.observe("health", [disabled, warned]);
    await notifier.deliverDue();
    expect(
      bodies()
        .map((b) => [b.key, b.change, b.version])
        .sort(),
    ).toEqual(
      [
        [disabled.key, "raised", 1],
        [disabled.key, "cleared", 2],
        [disabled.key, "raised", 3],
        [warned.key, "raised", 1],
      ].sort(),
    );
    expect(bodies().find((b) => b.change === "cleared")?.summary).toBe(`no longer: ${disabled.summary}`);
  });

  it("retries with backoff under the same delivery id, and gives up on a refusal", async () => {
    const { make, clock, store } = await setup();
    const notifier = make();
    receiver.answer(503, 500);
    await notifier.observe("health", [disabled]);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 1, gaveUp: 0 });
    clock.advance(999);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 0, gaveUp: 0 });
    clock.advance(1);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 1, gaveUp: 0 });
    clock.advance(1_999);
    expect((await notifier.deliverDue()).retrying).toBe(0);
    clock.advance(1);
    expect(await notifier.deliverDue()).toEqual({ delivered: 1, retrying: 0, gaveUp: 0 });
    const ids = new Set(receiver.received.map((r) => r.headers[alertHeaders.deliveryId]));
    expect(receiver.received).toHaveLength(3);
    expect(ids.size).toBe(1);

    receiver.answer(404);
    await notifier.observe("health", [disabled, warned]);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 0, gaveUp: 1 });
    clock.advance(3_600_000);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 0, gaveUp: 0 });
    expect((await store.listDeliveries({ state: "failed" })).map((d) => d.lastError)).toEqual(["http 404"]);
  });

  it("many workers: one change observed by all is recorded and delivered once", async () => {
    const { make } = await setup();
    const workers = [make(), make(), make()];
    const recorded = await Promise.all(workers.map((w) => w.observe("health", [disabled])));
    expect(recorded.flat()).toHaveLength(1);
    await Promise.all(workers.map((w) => w.deliverDue()));
    await Promise.all(workers.map((w) => w.deliverDue()));
    expect(receiver.received).toHaveLength(1);
  });

  it("once across restarts: a new process over the same store sends nothing already sent", async () => {
    const { make } = await setup();
    const first = make();
    await first.observe("health", [disabled]);
    await first.deliverDue();
    const restarted = make();
    expect(await restarted.observe("health", [disabled])).toEqual([]);
    expect(await restarted.deliverDue()).toEqual({ delivered: 0, retrying: 0, gaveUp: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it("at least once after a crash mid-delivery: the lease expires and the same delivery id is sent again", async () => {
    const { make, clock, store } = await setup();
    const notifier = make();
    await notifier.observe("health", [disabled]);
    // A worker claims the delivery and dies before recording the outcome (its request may or may not have landed).
    const [claimed] = await store.claimDue({ nowMs: clock.now(), leaseMs: 60_000, limit: 10 });
    expect(claimed?.id).toBe("health:disable:service_country:mm:0:1@webhook");
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 0, gaveUp: 0 });
    clock.advance(60_000);
    expect(await notifier.deliverDue()).toEqual({ delivered: 1, retrying: 0, gaveUp: 0 });
    expect(receiver.received.map((r) => r.headers[alertHeaders.deliveryId])).toEqual([claimed?.id]);
    // The dead worker's late outcome cannot overwrite the newer attempt.
    await store.fail(claimed!.id, claimed!.attempts, { nextAttemptAtMs: 0, error: "late", giveUp: true });
    expect((await store.listDeliveries()).map((d) => d.state)).toEqual(["delivered"]);
  });

  it("a slow receiver does not block observing: a round in progress is joined, not doubled", async () => {
    const { make } = await setup();
    const notifier = make();
    receiver.hold();
    await notifier.observe("health", [disabled]);
    notifier.kick();
    notifier.kick();
    expect((await notifier.observe("health", [])).map((c) => c.change)).toEqual(["cleared"]);
    for (let i = 0; i < 50 && receiver.received.length === 0; i++) await new Promise((r) => setImmediate(r));
    receiver.release();
    await notifier.idle();
    expect(receiver.received).toHaveLength(1);
    expect(await notifier.deliverDue()).toEqual({ delivered: 1, retrying: 0, gaveUp: 0 });
  });
});

describe("sinks", () => {
  it("posts a Slack-compatible payload (text and blocks) with the delivery id header", async () => {
    const receiver = await startReceiver();
    try {
      const clock = new ManualClock();
      const notifier = createNotifier({
        store: createMemoryAlertStore(),
        clock,
        sinks: [slackAlertSink({ url: receiver.url })],
      });
      await notifier.observe("health", [disabled]);
      await notifier.deliverDue();
      const body = JSON.parse(receiver.received[0]!.body) as { text: string; blocks: unknown[] };
      expect(body.text).toBe(`:rotating_light: sms-fes disable raised: ${disabled.summary}`);
      expect(body.blocks).toHaveLength(2);
      expect(receiver.received[0]!.headers[alertHeaders.deliveryId]).toBe(
        "health:disable:service_country:mm:0:1@slack",
      );
    } finally {
      await receiver.close();
    }
  });

  it("retries a callback that throws, and reports a connection failure without the URL", async () => {
    const clock = new ManualClock();
    const calls: string[] = [];
    const problems: string[] = [];
    const notifier = createNotifier({
      store: createMemoryAlertStore(),
      clock,
      retryBaseMs: 10,
      onProblem: (p) => problems.push(p.type === "delivery_failed" ? p.error : p.type),
      sinks: [
        callbackAlertSink("email", (change) => {
          calls.push(change.id);
          if (calls.length === 1) throw new Error("smtp down");
        }),
        webhookAlertSink({ url: "http://127.0.0.1:1/secret-token-path", secret: SECRET }),
      ],
    });
    await notifier.observe("health", [disabled]);
    expect(await notifier.deliverDue()).toEqual({ delivered: 0, retrying: 2, gaveUp: 0 });
    clock.advance(10);
    expect((await notifier.deliverDue()).delivered).toBe(1);
    expect(calls).toHaveLength(2);
    expect(problems[0]).toBe("smtp down");
    expect(problems.join(" ")).not.toContain("secret-token-path");
  });

  it("refuses two sinks with one name (their delivery ids would collide)", () => {
    const sink = callbackAlertSink("x", () => {});
    expect(() =>
      createNotifier({ store: createMemoryAlertStore(), clock: new ManualClock(), sinks: [sink, sink] }),
    ).toThrow(RangeError);
  });
});
