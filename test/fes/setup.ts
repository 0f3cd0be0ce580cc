import { createFes, type FesConfig } from "../../src/index.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";

/** A service over memory storage and the fake provider, with a manual clock and one funded wallet. */
export async function setup(overrides: Partial<FesConfig> = {}, options: { balance?: string } = {}) {
  const clock = new ManualClock();
  const storage = createMemoryStorage();
  const fake = createFakeProvider({ clock, balance: options.balance ?? "100000" });
  await fake.control.setStock("tg", "6", { price: "0.50", count: 100 });
  await fake.control.setStock("wa", "0", { price: "1.25", count: 100 });
  await fake.control.setRentStock("tg", "6", { pricePerHour: "0.10", count: 10 });
  const fes = createFes({ storage, provider: fake.provider, clock, ...overrides });
  await fes.createWallet({ walletId: "alice", currency: "USD" });
  return { clock, storage, fake, fes };
}

/** Funds a wallet. */
export async function fund(
  fes: ReturnType<typeof createFes>,
  walletId: string,
  amountMinor: number,
  key = `dep-${walletId}-${amountMinor}`,
) {
  const r = await fes.deposit({ walletId, amountMinor, currency: "USD", idempotencyKey: key });
  if (r.isErr()) throw new Error(JSON.stringify(r.error));
  return r.value;
}
