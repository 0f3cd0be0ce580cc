import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import {
  createSmsActivateProvider,
  type FetchLike,
  type SmsActivateProvider,
} from "../../src/provider/sms-activate/index.js";
import { type FakeSmsActivateServer, startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { ManualClock } from "../../src/testing/manual-clock.js";

/*
 * Regressions found with hostile upstream servers: each test names the bug it guards.
 */

const servers: Server[] = [];
let fake: FakeSmsActivateServer | undefined;
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  await fake?.close();
  fake = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/stubs/handler_api.php`;
}

const KEY = "secret-key-5f3a9c77";

function over(baseUrl: string, extra: Partial<Parameters<typeof createSmsActivateProvider>[0]> = {}) {
  return createSmsActivateProvider({
    baseUrl,
    apiKey: KEY,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    retry: { attempts: 1 },
    ...extra,
  });
}

/** A fetch answering every call with one status and body. */
function always(status: number, body: string): FetchLike {
  return async () => ({ status, headers: new Headers(), text: async () => body });
}

function scripted(answer: (action: string) => { status?: number; body: string }): {
  fetch: FetchLike;
  actions: string[];
} {
  const actions: string[] = [];
  return {
    actions,
    fetch: async (url) => {
      const action = new URL(url).searchParams.get("action") ?? "";
      actions.push(action);
      const r = answer(action);
      return { status: r.status ?? 200, headers: new Headers(), text: async () => r.body };
    },
  };
}

describe("bounded reads", () => {
  it("regression: a body over the bound is a lost answer with a short detail, read no further", async () => {
    let written = 0;
    const url = await serve((_req, res) => {
      res.writeHead(400, { "content-type": "text/plain" });
      const chunk = "A".repeat(64 * 1024);
      const pump = () => {
        while (written < 8 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    const r = await over(url, { maxBodyBytes: 100_000 }).getBalance();
    const f = r._unsafeUnwrapErr();
    expect(f).toMatchObject({ class: "retryable", reason: "too_large" });
    expect(JSON.stringify(f).length).toBeLessThan(300);
  });

  it("regression: a gzip bomb is bounded after decompression", async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x41));
    expect(bomb.length).toBeLessThan(100_000);
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" });
      res.end(bomb);
    });
    const f = (
      await over(url).buyActivation({ service: "tg", country: "6", orderId: "o" })
    )._unsafeUnwrapErr();
    expect(f).toMatchObject({ class: "unknown", reason: "too_large" });
  });

  it("an answer within the bound is read whole", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.end(gzipSync("ACCESS_BALANCE:12.5"));
    });
    expect((await over(url).getBalance())._unsafeUnwrap()).toBe("12.5");
  });
});

describe("redirects", () => {
  it("regression: a redirect to another origin is not followed, its answer never trusted", async () => {
    let foreignHits = 0;
    const foreign = await serve((_req, res) => {
      foreignHits += 1;
      res.end("ACCESS_BALANCE:999999");
    });
    const url = await serve((_req, res) => {
      res.writeHead(302, { location: foreign }).end();
    });
    for (const status of [301, 302, 307]) {
      const u = await serve((_req, res) => res.writeHead(status, { location: foreign }).end());
      expect((await over(u).getBalance())._unsafeUnwrapErr()).toMatchObject({ reason: "redirect" });
    }
    expect((await over(url).getBalance()).isErr()).toBe(true);
    const buy = (
      await over(url).buyActivation({ service: "tg", country: "6", orderId: "o" })
    )._unsafeUnwrapErr();
    expect(buy).toMatchObject({ class: "unknown", reason: "redirect" });
    expect(foreignHits).toBe(0);
  });
});

describe("the API key", () => {
  it("regression: an upstream that echoes the key (details, an upper-case token, a code) never gets it into a failure", async () => {
    const bodies = [
      { status: 401, body: `{"title":"BAD_KEY","details":"key ${KEY} is not valid","info":{}}` },
      { status: 200, body: KEY.toUpperCase() },
      { status: 200, body: `UNEXPECTED_${KEY.toUpperCase()}` },
      { status: 200, body: `{"status":"error","message":"NO_NUMBERS","details":"${KEY}"}` },
    ];
    for (const b of bodies) {
      const p = over("http://x.test/h", { fetch: always(b.status, b.body) });
      const f = (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr();
      const s = JSON.stringify(f);
      expect(s.toLowerCase()).not.toContain(KEY.toLowerCase());
    }
    const p = over("http://x.test/h", { fetch: always(200, `STATUS_OK:${KEY}`) });
    const s = (await p.getActivationStatus("1"))._unsafeUnwrap();
    expect(JSON.stringify(s)).not.toContain(KEY);
  });
});

describe("provider values before storage", () => {
  const garbled = [
    ["an 8 KB id", `ACCESS_NUMBER:${"1".repeat(8192)}:79991234567`],
    ["a masked number", "ACCESS_NUMBER:3912345678:79584******"],
    ["an id with letters in a text line", "ACCESS_NUMBER:12ab:79991234567"],
    ["a JSON id with a NUL", '{"activationId":"39\\u000012","phoneNumber":"79991234567","activationCost":1}'],
    ["a JSON masked number", '{"activationId":"3912345678","phoneNumber":"7958*******","activationCost":1}'],
  ] as const;
  for (const [what, body] of garbled) {
    it(`regression: a purchase answer with ${what} is a garbled (unknown) answer`, async () => {
      const p = over("http://x.test/h", { fetch: always(200, body) });
      expect(
        (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr(),
      ).toMatchObject({
        class: "unknown",
        reason: "garbled",
      });
    });
  }

  for (const [what, code] of [
    ["a NUL", "12\u000034"],
    ["a lone surrogate", "12\uD800"],
    ["8 KB", "9".repeat(8192)],
  ] as const) {
    it(`regression: a code with ${what} cannot be stored, so it is a garbled answer`, async () => {
      const p = over("http://x.test/h", { fetch: always(200, `STATUS_OK:${code}`) });
      expect((await p.getActivationStatus("1"))._unsafeUnwrapErr()).toMatchObject({
        class: "unknown",
        reason: "garbled",
      });
    });
  }

  it("a list row with a NUL in a code fails the whole list (never a partial list)", async () => {
    const p = over("http://x.test/h", {
      fetch: always(
        200,
        '{"status":"success","data":[{"activationId":"1","phoneNumber":"79********1","smsCode":["a\\u0000"]}]}',
      ),
    });
    expect((await p.listActiveActivations())._unsafeUnwrapErr()).toMatchObject({ class: "unknown" });
  });
});

describe("the active list", () => {
  it("regression: an unrecognised JSON document is an error, never 'no activations'", async () => {
    for (const body of [
      '{"error":"temporarily unavailable"}',
      '{"status":"success"}',
      '{"status":"fail","data":[]}',
      '{"status":"error","error":"SOMETHING_ELSE"}',
      "[]",
    ]) {
      const r = await over("http://x.test/h", { fetch: always(200, body) }).listActiveActivations();
      expect(r.isErr(), body).toBe(true);
    }
  });
});

describe("money-spending calls", () => {
  async function rented(dialect: "sms-activate" | "hero-sms" = "sms-activate") {
    fake = await startFakeSmsActivateServer({ dialect });
    fake.setRentStock("full", "0", { pricePerHour: "0.1", count: 3 });
    const p: SmsActivateProvider = createSmsActivateProvider({
      preset: dialect,
      baseUrl: fake.url,
      apiKey: fake.apiKey,
      clock: fake.clock,
    });
    const r = (await p.rent({ service: "full", country: "0", hours: 4, orderId: "r" }))._unsafeUnwrap();
    return { p, r, server: fake };
  }

  it("regression: an extension whose answer is lost is sent once and is unknown (it may have been charged)", async () => {
    const { p, r, server } = await rented();
    server.injectHttpFault({ action: "continueRentNumber", mode: "reset", after: true });
    expect((await p.extendRental(r.providerRentalId, 4))._unsafeUnwrapErr()).toMatchObject({
      class: "unknown",
    });
    expect(server.requests.filter((q) => q.action === "continueRentNumber")).toHaveLength(1);
    expect(server.upstream.allRentals()[0]?.endsAtMs).toBe(r.endsAtMs + 4 * 3_600_000);
  });

  it("regression: the rent list reports the provider's end, so an extension made upstream is visible", async () => {
    const { p, r, server } = await rented();
    server.upstream.extendRental(r.providerRentalId, 24)._unsafeUnwrap();
    const listed = (await p.listActiveRentals())._unsafeUnwrap();
    expect(listed).toMatchObject([
      { providerRentalId: r.providerRentalId, endsAtMs: r.endsAtMs + 24 * 3_600_000 },
    ]);
  });

  it("rent durations are capabilities: 4–1344 h to rent, 2–1344 h to extend", async () => {
    const { p } = await rented("hero-sms");
    expect(p.capabilities.rentHours).toEqual({ min: 4, max: 1344 });
    expect(p.capabilities.extendHours).toEqual({ min: 2, max: 1344 });
    const short = (
      await p.rent({ service: "full", country: "0", hours: 3, orderId: "x" })
    )._unsafeUnwrapErr();
    expect(short).toMatchObject({ class: "declined", reason: "invalid_duration" });
  });
});

describe("refusals that executed nothing", () => {
  it("a 429 and a Cloudflare 1020 page (text or HTML 403) on a purchase are retryable", async () => {
    const html =
      '<!DOCTYPE html><html><head><title>Access denied | used Cloudflare to restrict access</title></head><body><span class="cf-error-code">1020</span></body></html>';
    for (const [status, body] of [
      [429, ""],
      [403, "error code: 1020"],
      [403, html],
    ] as const) {
      const p = over("http://x.test/h", { fetch: always(status, body) });
      expect(
        (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr(),
      ).toMatchObject({
        class: "retryable",
      });
      expect(
        (await p.rent({ service: "full", country: "0", hours: 4, orderId: "o" }))._unsafeUnwrapErr(),
      ).toMatchObject({
        class: "retryable",
      });
    }
  });

  it("BAD_SERVICE and WRONG_SERVICE are unknown_service; a plain HTML 403 is not a block page", async () => {
    for (const body of ["BAD_SERVICE", '{"title":"WRONG_SERVICE","details":"x"}']) {
      const p = over("http://x.test/h", { fetch: always(200, body) });
      expect(
        (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr(),
      ).toMatchObject({
        class: "declined",
        reason: "unknown_service",
      });
    }
    const p = over("http://x.test/h", { fetch: always(403, "<html><body>Forbidden</body></html>") });
    expect(
      (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr().class,
    ).toBe("unknown");
  });
});

describe("prototype keys", () => {
  it("regression: codes named like Object.prototype members find nothing instead of throwing", async () => {
    const { fetch } = scripted((action) =>
      action === "getPrices"
        ? { body: '{"6":{"tg":{"cost":0.25,"count":3}}}' }
        : { body: '{"services":{"full":{"cost":1,"quant":2}}}' },
    );
    const p = over("http://x.test/h", { fetch });
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      expect((await p.quote({ service: name, country: "6" }))._unsafeUnwrapErr()).toMatchObject({
        reason: "service_unavailable",
      });
      expect((await p.quote({ service: "tg", country: name }))._unsafeUnwrapErr()).toMatchObject({
        reason: "service_unavailable",
      });
      expect(
        (await p.quoteRental({ service: name, country: "0", hours: 4 }))._unsafeUnwrapErr(),
      ).toMatchObject({
        reason: "service_unavailable",
      });
    }
  });
});

describe("excerpt", () => {
  it("cuts long details to whole characters and says how long the text was", async () => {
    const { excerpt } = await import("../../src/provider/sms-activate/transport.js");
    expect(excerpt("short")).toBe("short");
    const cut = excerpt(`${"a".repeat(159)}😀${"b".repeat(50)}`);
    expect(cut).toBe(`${"a".repeat(159)}… (211 chars)`);
  });
});
