import { describe, expect, it } from "vitest";
import type { ActivationRecord, ActivationState } from "../../src/core/records.js";
import {
  detectSplitStatistics,
  mappingErrors,
  normalizeRecords,
  type SplitStatisticsRecord,
} from "../../src/mapping/index.js";

function activation(serviceCode: string, countryCode: string): ActivationRecord {
  return {
    id: `a-${serviceCode}-${countryCode}`,
    walletId: "w1",
    provider: "hero-sms",
    providerActivationId: null,
    serviceCode,
    countryCode,
    service: null,
    country: null,
    state: "received",
    phone: null,
    priceMinor: 100,
    costMinor: null,
    currency: "USD",
    codes: [],
    lateCodes: [],
    holdId: "h1",
    retryOf: null,
    failureReason: null,
    createdAtMs: 0,
    issuedAtMs: null,
    firstCodeAtMs: null,
    endedAtMs: null,
    closedAtMs: null,
    deadlineAtMs: null,
    cashbackMinor: 0,
    version: 1,
  };
}

describe("normalizeRecords", () => {
  it("sets canonical ids on activation records and lists the raw codes it could not resolve", () => {
    const records = [
      activation("tg", "187"),
      activation("telegram", "12"),
      activation("tgx", "0"),
      activation("tgx", "999"),
    ];
    const { records: out, unresolved } = normalizeRecords(records);
    expect(out.map((r) => [r.id, r.service, r.country])).toEqual([
      ["a-tg-187", "telegram", "us"],
      ["a-telegram-12", "telegram", "us-virtual"],
      ["a-tgx-0", null, "ru"],
      ["a-tgx-999", null, null],
    ]);
    expect(out[0]?.walletId).toBe("w1");
    expect(unresolved).toEqual([
      {
        field: "countryCode",
        provider: "hero-sms",
        raw: "999",
        records: 1,
        error: mappingErrors.unknownCountryCode("999", "sms-activate"),
      },
      {
        field: "serviceCode",
        provider: "hero-sms",
        raw: "tgx",
        records: 2,
        error: mappingErrors.unknownServiceCode("tgx", "sms-activate"),
      },
    ]);
  });

  it("works on any object with provider, serviceCode and countryCode, per provider", () => {
    const rows = [
      { provider: "5sim", serviceCode: "telegram", countryCode: "england", extra: 1 },
      { provider: "sms-activate", serviceCode: "wb", countryCode: "16", extra: 2 },
      { provider: "unknown-shop", serviceCode: "tg", countryCode: "0", extra: 3 },
    ];
    const { records, unresolved } = normalizeRecords(rows);
    expect(records).toEqual([
      {
        provider: "5sim",
        serviceCode: "telegram",
        countryCode: "england",
        extra: 1,
        service: "telegram",
        country: "gb",
      },
      {
        provider: "sms-activate",
        serviceCode: "wb",
        countryCode: "16",
        extra: 2,
        service: "wechat",
        country: "gb",
      },
      {
        provider: "unknown-shop",
        serviceCode: "tg",
        countryCode: "0",
        extra: 3,
        service: null,
        country: null,
      },
    ]);
    expect(unresolved.map((u) => [u.field, u.raw, u.error])).toEqual([
      ["countryCode", "0", mappingErrors.unknownProvider("unknown-shop")],
      ["serviceCode", "tg", mappingErrors.unknownProvider("unknown-shop")],
    ]);
  });
});

describe("detectSplitStatistics", () => {
  const make = (
    n: number,
    serviceCode: string,
    countryCode: string,
    state: ActivationState,
    provider = "sms-activate",
  ): SplitStatisticsRecord[] =>
    Array.from({ length: n }, () => ({ provider, serviceCode, countryCode, state }));

  // Telegram recorded under its short code and its long name, with different success shares.
  const records = [
    ...make(4, "tg", "187", "received"),
    ...make(1, "tg", "187", "cancelled"),
    ...make(1, "tg", "187", "timeout"),
    ...make(1, "tg", "187", "failed"),
    ...make(1, "tg", "187", "waiting"),
    ...make(1, "tg", "12", "received", "hero-sms"),
    ...make(1, "telegram", "USA", "received"),
    ...make(2, "telegram", "USA", "timeout"),
    ...make(1, "telegram", "USA", "expired"),
    ...make(2, "wa", "187", "received"),
    ...make(1, "wa", "atlantis", "cancelled"),
  ];
  const report = detectSplitStatistics(records);

  it("reports a service recorded under two raw codes with each code's exact figures and the merged figure", () => {
    expect(report.services).toEqual([
      {
        kind: "service",
        id: "telegram",
        codes: [
          {
            code: "telegram",
            providers: ["sms-activate"],
            records: 4,
            received: 1,
            cancelled: 0,
            timeout: 2,
            expired: 1,
            failed: 0,
            open: 0,
            success: { numerator: 1, denominator: 4 },
          },
          {
            code: "tg",
            providers: ["hero-sms", "sms-activate"],
            records: 9,
            received: 5,
            cancelled: 1,
            timeout: 1,
            expired: 0,
            failed: 1,
            open: 1,
            success: { numerator: 5, denominator: 7 },
          },
        ],
        merged: {
          records: 13,
          received: 6,
          cancelled: 1,
          timeout: 3,
          expired: 1,
          failed: 1,
          open: 1,
          success: { numerator: 6, denominator: 11 },
        },
        sharesDiffer: true,
      },
    ]);
  });

  it("reports a country recorded under a provider id and a display name; two pools are not a split", () => {
    expect(
      report.countries.map((s) => [s.id, s.codes.map((c) => [c.code, c.success]), s.merged.success]),
    ).toEqual([
      [
        "us",
        [
          ["187", { numerator: 6, denominator: 8 }],
          ["USA", { numerator: 1, denominator: 4 }],
        ],
        { numerator: 7, denominator: 12 },
      ],
    ]);
  });

  it("leaves unresolved codes out of the figures and lists them", () => {
    expect(report.unresolved).toEqual([
      {
        field: "countryCode",
        provider: "sms-activate",
        raw: "atlantis",
        records: 1,
        error: mappingErrors.unknownCountryCode("atlantis", "sms-activate"),
      },
    ]);
  });

  it("says when the codes' shares are equal", () => {
    const even = detectSplitStatistics([
      ...make(1, "tg", "0", "received"),
      ...make(1, "tg", "0", "timeout"),
      ...make(2, "Telegram", "0", "received"),
      ...make(2, "Telegram", "0", "cancelled"),
    ]);
    expect(even.services.map((s) => [s.id, s.sharesDiffer, s.merged.success])).toEqual([
      ["telegram", false, { numerator: 3, denominator: 6 }],
    ]);
    expect(even.countries).toEqual([]);
  });
});
