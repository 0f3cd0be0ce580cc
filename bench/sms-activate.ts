/**
 * The SMS-Activate adapter's overhead per call (URL building, timeout timer, parsing, zod validation, mapping)
 * against a bare `fetch` + `text()` of the same URL on the fake server, in the same run. Both go through real
 * HTTP on 127.0.0.1, so the ratio shows what the adapter adds on top of the round trip.
 */
import { createSmsActivateProvider } from "../src/provider/sms-activate/index.js";
import { startFakeSmsActivateServer } from "../src/testing/fake-server.js";

const CALLS = 300;
const ROUNDS = 5;

async function measure(body: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await body();
  return Number(process.hrtime.bigint() - start) / CALLS / 1000;
}

/** Median µs per call of each body, rounds interleaved so that drift hits both alike. */
async function compare(bodies: readonly (() => Promise<unknown>)[]): Promise<number[]> {
  const samples: number[][] = bodies.map(() => []);
  for (const b of bodies) await measure(b);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, b] of bodies.entries()) samples[i]?.push(await measure(b));
  }
  return samples.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)] as number);
}

/** Runs the benchmark and reports the overhead ratios. */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const server = await startFakeSmsActivateServer({ dialect: "sms-activate" });
  try {
    server.setStock("tg", "6", { price: "0.25", count: 100 });
    const provider = createSmsActivateProvider({
      preset: "generic",
      baseUrl: server.url,
      apiKey: server.apiKey,
      clock: server.clock,
    });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const a = await provider.buyActivation({ service: "tg", country: "6", orderId: `b${i}` });
      ids.push(a._unsafeUnwrap().providerActivationId);
    }
    await server.deliverCode(ids[0] as string, "12:34:56");
    const id = ids[0] as string;
    const statusUrl = `${server.url}?action=getStatus&id=${id}&api_key=${server.apiKey}`;
    const listUrl = `${server.url}?action=getActiveActivations&api_key=${server.apiKey}`;
    const [bareStatus, adapterStatus, bareList, adapterList] = await compare([
      async () => (await fetch(statusUrl)).text(),
      async () => provider.getActivationStatus(id),
      async () => JSON.parse(await (await fetch(listUrl)).text()),
      async () => provider.listActiveActivations(),
    ]);
    const line = (name: string, adapter: number, bare: number) =>
      `${name}: adapter ${adapter.toFixed(1)} µs/call vs bare fetch ${bare.toFixed(1)} µs/call → ` +
      `${(adapter / bare).toFixed(2)}× (+${(adapter - bare).toFixed(1)} µs)`;
    return {
      title: "SMS-Activate adapter overhead over a bare fetch (fake server on 127.0.0.1)",
      lines: [
        line("getStatus (text token)", adapterStatus as number, bareStatus as number),
        line(
          `getActiveActivations (JSON, ${ids.length} rows, zod)`,
          adapterList as number,
          bareList as number,
        ),
        `${CALLS} calls × ${ROUNDS} rounds each, median round`,
      ],
    };
  } finally {
    await server.close();
  }
}
