import { createFes, type Storage } from "../../src/index.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";

/** A service over memory storage and the fake provider, stocked, with a manual clock. */
export async function setupService(storage: Storage = createMemoryStorage()) {
  const clock = new ManualClock();
  const fake = createFakeProvider({ clock, balance: "100000" });
  await fake.control.setStock("tg", "6", { price: "0.50", count: 100 });
  await fake.control.setStock("wa", "0", { price: "1.25", count: 100 });
  await fake.control.setStock("<b>x</b>", "6", { price: "0.30", count: 100 });
  await fake.control.setRentStock("tg", "6", { pricePerHour: "0.10", count: 10 });
  const fes = createFes({ storage, provider: fake.provider, clock });
  return { clock, storage, fake, fes };
}

type Service = Awaited<ReturnType<typeof setupService>>;

/** Records of every outcome over two days: received, cancelled, timed out, and a rental. */
export async function seedActivity({ fes, fake, clock }: Service) {
  for (const w of ["alice", "bob"]) {
    await fes.createWallet({ walletId: w, currency: "USD" });
    await fes.deposit({ walletId: w, amountMinor: 100_000, currency: "USD", idempotencyKey: `dep-${w}` });
  }
  let n = 0;
  const buy = async (walletId: string, service: string, country: string) => {
    n += 1;
    const r = await fes.buyActivation({ walletId, service, country, idempotencyKey: `seed-${n}` });
    return r._unsafeUnwrap();
  };
  for (let day = 0; day < 2; day++) {
    for (let i = 0; i < 4; i++) {
      const a = await buy(i % 2 === 0 ? "alice" : "bob", "tg", "6");
      clock.advance(30_000);
      await fake.control.deliverCode(a.providerActivationId!, `${1000 + i}`);
      await fes.pollActivation(a.id);
    }
    const c = await buy("alice", "wa", "0");
    clock.advance(150_000);
    (await fes.cancelActivation({ activationId: c.id }))._unsafeUnwrap();
    const x = await buy("bob", "<b>x</b>", "6");
    clock.advance(21 * 60_000);
    await fes.sweep();
    void x;
    clock.advance(12 * 3_600_000);
  }
  (
    await fes.buyRental({
      walletId: "alice",
      service: "tg",
      country: "6",
      hours: 4,
      idempotencyKey: "rent-1",
    })
  )._unsafeUnwrap();
  clock.advance(60_000);
}
