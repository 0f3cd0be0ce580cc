import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DASHBOARD_CSS } from "../../src/http/dashboard.js";
import { dashboardCsp } from "../../src/http/index.js";

describe("the dashboard's CSP", () => {
  it("allows exactly its own stylesheet, by hash, and no script or other origin", async () => {
    const hash = createHash("sha256").update(DASHBOARD_CSS).digest("base64");
    const csp = await dashboardCsp();
    expect(csp).toBe(
      `default-src 'none'; style-src 'sha256-${hash}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
  });
});
