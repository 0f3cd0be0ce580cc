import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createSmsActivateProvider,
  createWebhookHandler,
  type FetchLike,
  parseBody,
  type SmsActivateProvider,
} from "../../src/provider/sms-activate/index.js";
import { startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { ManualClock } from "../../src/testing/manual-clock.js";

/*
 * The wire corpus: one file per real answer of HeroSMS or the original SMS-Activate, each naming its public
 * source. The parser, the adapter and the fake server are all checked against it.
 */

interface Fixture {
  readonly file: string;
  readonly source: string;
  readonly dialect: "hero-sms" | "sms-activate";
  readonly action: string;
  readonly status: number;
  readonly body: string;
  /** What other actions answer in the same exchange (the status a V2 read follows), by action. */
  readonly answers?: Readonly<Record<string, { readonly status: number; readonly body: string }>>;
  readonly port?: { readonly call: string; readonly expect: { ok?: unknown; err?: unknown } };
  readonly fake?: { readonly scenario: string };
}

const dir = join(import.meta.dirname, "wire");
const corpus: readonly Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((file) => ({ file, ...(JSON.parse(readFileSync(join(dir, file), "utf8")) as Omit<Fixture, "file">) }));

/** An adapter whose every request gets the fixture's answer. */
function answering(f: Fixture): SmsActivateProvider {
  const fetch: FetchLike = async (url) => {
    const other = f.answers?.[new URL(url).searchParams.get("action") ?? ""];
    return {
      status: other?.status ?? f.status,
      headers: new Headers(),
      text: async () => other?.body ?? f.body,
    };
  };
  return createSmsActivateProvider({
    preset: f.dialect,
    apiKey: "k",
    fetch,
    clock: new ManualClock(Date.UTC(2026, 0, 1, 10)),
    retry: { attempts: 1 },
  });
}

async function callPort(f: Fixture, p: SmsActivateProvider): Promise<{ ok?: unknown; err?: unknown }> {
  const id = "3912345678";
  let r: { isOk(): boolean; _unsafeUnwrap(): unknown; _unsafeUnwrapErr(): unknown };
  switch (f.port?.call) {
    case "listActiveActivations":
      r = await p.listActiveActivations();
      break;
    case "buyActivation":
      r = await p.buyActivation({ service: "tg", country: "6", orderId: "o" });
      break;
    case "getActivationStatus":
      r = await p.getActivationStatus(id);
      break;
    case "cancelActivation":
      r = await p.cancelActivation(id);
      break;
    case "finishActivation":
      r = await p.finishActivation(id);
      break;
    case "quote":
      r = await p.quote({ service: "tg", country: "6" });
      break;
    case "quoteRental":
      r = await p.quoteRental({ service: "full", country: "0", hours: 4 });
      break;
    case "rent":
      r = await p.rent({ service: "full", country: "0", hours: 4, orderId: "r" });
      break;
    case "getBalance":
      r = await p.getBalance();
      break;
    case "webhook": {
      const handler = createWebhookHandler({ provider: p, onCode: () => undefined, secret: null });
      return { ok: await handler.handle({ body: f.body }) };
    }
    default:
      throw new Error(`${f.file}: unknown port call ${f.port?.call}`);
  }
  return r.isOk() ? { ok: r._unsafeUnwrap() ?? null } : { err: r._unsafeUnwrapErr() };
}

/**
 * Whether the fake's answer has the real answer's shape: every key of the real answer is there, and values
 * present on both sides have the same JSON type (`null` matches anything); arrays compare their first items.
 */
function shapeMismatch(fake: unknown, real: unknown, path = "$"): string | null {
  if (real === null || fake === null) return null;
  if (Array.isArray(real)) {
    if (!Array.isArray(fake)) return `${path}: array expected`;
    return real.length > 0 && fake.length > 0 ? shapeMismatch(fake[0], real[0], `${path}[0]`) : null;
  }
  if (typeof real === "object") {
    if (fake === null || typeof fake !== "object" || Array.isArray(fake)) return `${path}: object expected`;
    for (const k of Object.keys(real)) {
      if (!Object.hasOwn(fake, k)) return `${path}.${k}: missing`;
      const m = shapeMismatch(
        (fake as Record<string, unknown>)[k],
        (real as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (m) return m;
    }
    return null;
  }
  return typeof fake === typeof real ? null : `${path}: ${typeof real} expected, got ${typeof fake}`;
}

/** What the fake server answers for a scenario, in the fixture's dialect. */
async function fakeAnswer(f: Fixture): Promise<{ status: number; body: string }> {
  const server = await startFakeSmsActivateServer({ dialect: f.dialect });
  try {
    server.setStock("tg", "6", { price: "0.25", count: 10 });
    server.setRentStock("full", "0", { pricePerHour: "0.1", count: 3 });
    const get = async (params: Record<string, string>) => {
      const q = new URLSearchParams({ ...params, api_key: server.apiKey });
      const res = await fetch(`${server.url}?${q}`);
      return { status: res.status, body: await res.text() };
    };
    const buy = async () => {
      const r = await get({ action: "getNumber", service: "tg", country: "6" });
      return r.body.split(":")[1] ?? "";
    };
    switch (f.fake?.scenario) {
      case "none":
        return await get({ action: "getActiveActivations" });
      case "one_with_code": {
        await server.deliverCode(await buy(), "12345");
        return await get({ action: "getActiveActivations" });
      }
      case "buy":
        return await get({ action: "getNumberV2", service: "tg", country: "6" });
      case "max_price_too_low":
        return await get({ action: "getNumberV2", service: "tg", country: "6", maxPrice: "0.01" });
      case "bad_max_price":
        return await get({ action: "getNumberV2", service: "tg", country: "6", maxPrice: "abc" });
      case "unknown_id":
        return await get({ action: "getStatus", id: "1" });
      case "bad_service":
        return await get({ action: "getNumberV2", service: "T G", country: "6" });
      case "prices_bad_service":
        return await get({ action: "getPrices", service: "T G" });
      case "finish_activation": {
        const id = await buy();
        await server.deliverCode(id, "1");
        return await get({ action: "finishActivation", id });
      }
      case "completed_status_v2": {
        const id = await buy();
        await server.deliverCode(id, "12345");
        await get({ action: "setStatus", id, status: "6" });
        return await get({ action: "getStatusV2", id });
      }
      case "all_sms": {
        const id = await buy();
        await server.deliverCode(id, "12345");
        return await get({ action: "getAllSms", id });
      }
      case "rent":
        return await get({
          action: "getRentNumber",
          service: "full",
          country: "0",
          rent_time: "4",
          duration: "4",
        });
      case "rent_too_short":
        return await get({ action: "getRentNumber", service: "full", country: "0", rent_time: "1" });
      case "rent_quote":
        return await get({
          action: "getRentServicesAndCountries",
          country: "0",
          rent_time: "4",
          duration: "4",
        });
      default:
        throw new Error(`${f.file}: unknown scenario ${f.fake?.scenario}`);
    }
  } finally {
    await server.close();
  }
}

describe("wire corpus", () => {
  it("every fixture names its public source", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(20);
    for (const f of corpus) expect(f.source.length, f.file).toBeGreaterThan(20);
  });

  for (const f of corpus) {
    if (f.status === 204) continue;
    it(`${f.file}: the parser reads it as a protocol answer`, () => {
      const b = parseBody(f.body);
      if (f.file.startsWith("cloudflare")) expect(b).toEqual({ kind: "unknown", reason: "cloudflare" });
      else expect(b.kind, f.file).not.toBe("unknown");
    });
  }

  for (const f of corpus.filter((x) => x.port)) {
    it(`${f.file}: the adapter answers ${JSON.stringify(f.port?.expect)}`, async () => {
      const got = await callPort(f, answering(f));
      if (f.port?.expect.err !== undefined)
        expect(got.err, f.file).toMatchObject(f.port.expect.err as object);
      else if (f.port?.expect.ok === null) expect(got).toEqual({ ok: null });
      else expect(got.ok, f.file).toMatchObject(f.port?.expect.ok as object);
    });
  }

  for (const f of corpus.filter((x) => x.fake)) {
    it(`${f.file}: the fake server (${f.dialect}) answers in the same shape`, async () => {
      const fake = await fakeAnswer(f);
      expect(fake.status, f.file).toBe(f.status);
      const real = parseBody(f.body);
      const mine = parseBody(fake.body);
      if (real.kind === "json" || real.kind === "error") {
        expect(shapeMismatch(JSON.parse(fake.body), JSON.parse(f.body)), fake.body).toBeNull();
      } else if (real.kind === "token") {
        expect(mine).toMatchObject({ kind: "token", token: real.token });
      } else {
        expect(fake.body).toBe(f.body);
      }
    });
  }
});
