// The fakes from a plain Node script in a project without vitest or fast-check: start the fake upstream, buy a
// number over HTTP the way a dev server would, and deliver its SMS.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { recordFixtures, startFakeSmsActivateServer } from "sms-fes/fakes";

const require = createRequire(import.meta.url);
for (const name of ["vitest", "fast-check"]) {
  assert.throws(() => require.resolve(name), `${name} must not be installed for this check`);
}
const server = await startFakeSmsActivateServer({ dialect: "sms-activate" });
try {
  await server.setStock("tg", "6", { price: "0.25", count: 1 });
  const url = new URL(server.url);
  url.search = new URLSearchParams({
    api_key: server.apiKey,
    action: "getNumber",
    service: "tg",
    country: "6",
  }).toString();
  const answer = await (await fetch(url)).text();
  assert.match(answer, /^ACCESS_NUMBER:/, answer);
  assert.equal(recordFixtures.wallet("w").id, "w");
  console.log(`fakes without vitest: ok (${answer.split(":").slice(0, 2).join(":")}:…)`);
} finally {
  await server.close();
}
await import("sms-fes/testing").then(
  () => assert.fail("sms-fes/testing loads without vitest installed"),
  (e) => assert.match(String(e), /vitest|fast-check/),
);
