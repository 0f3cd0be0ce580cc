import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errors, type FesError } from "../../src/core/errors.js";
import { problemOf, problemStatuses, problemTableMarkdown } from "../../src/http/index.js";

describe("the error → HTTP status table", () => {
  it("is printed in docs/http.md as it is in code", () => {
    const doc = readFileSync(new URL("../../docs/http.md", import.meta.url), "utf8");
    expect(doc).toContain(problemTableMarkdown());
  });

  it("maps the statuses the HTTP contract names", () => {
    const status = (e: FesError) => problemOf(e).status;
    expect(status(errors.invalidInput([{ path: "a", message: "b" }]))).toBe(400);
    expect(status(errors.insufficientFunds("w", 1, 2))).toBe(402);
    expect(status(errors.idempotencyConflict("k"))).toBe(422);
    expect(problemStatuses.idempotency_in_flight.status).toBe(409);
    expect(status(errors.walletNotFound("w"))).toBe(404);
    expect(status(errors.activationNotFound("a"))).toBe(404);
    expect(status(errors.rentalNotFound("r"))).toBe(404);
    expect(status(errors.holdNotFound("h"))).toBe(404);
    expect(status(errors.transitionNotAllowed("a", "b"))).toBe(409);
    const unavailable = problemOf(errors.providerUnavailable("down", 2500));
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers["retry-after"]).toBe("3");
  });

  it("answers an unknown future type as 500 without throwing", () => {
    const p = problemOf({ type: "price_above_ceiling", detail: "secret" });
    expect(p.status).toBe(500);
    expect(p.body).toEqual({
      type: "urn:sms-fes:problem:internal_error",
      title: "Internal error",
      status: 500,
      code: "internal_error",
    });
  });

  it("puts the issues of invalid_input in the body and a detail line", () => {
    const p = problemOf(errors.invalidInput([{ path: "hours", message: "hours must be whole" }]));
    expect(p.body).toMatchObject({
      issues: [{ path: "hours", message: "hours must be whole" }],
      detail: "hours: hours must be whole",
    });
    expect(p.headers["content-type"]).toBe("application/problem+json");
  });
});
