/**
 * The whole wiring of an sms-fes service, shared by the examples: PostgreSQL storage (or memory), the
 * SMS-Activate / HeroSMS adapter, the webhook helper, the sweeper worker, health alerts and the HTTP handler.
 * Each example mounts `service.handler` in its framework; nothing here depends on one.
 */
import { type Clock, createFes, type Storage, systemClock } from "sms-fes";
import { evaluateHealthPolicies, type HealthDecision } from "sms-fes/health";
import { createFesHandler } from "sms-fes/http";
import { createMemoryStorage } from "sms-fes/memory";
import { createSmsActivateProvider, createWebhookHandler, verifyWebhookToken } from "sms-fes/sms-activate";

/** What the service needs from its environment. */
export interface ServiceConfig {
  /** Where the storage lives: a ready `Storage` (PostgreSQL in production), or memory when absent. */
  readonly storage?: Storage;
  /** The provider's `handler_api.php` URL and key. */
  readonly providerUrl: string;
  readonly providerKey: string;
  /** The token in the webhook URL the provider is configured with (`…/api/webhook?token=<secret>`). */
  readonly webhookSecret: string;
  /** The bearer token of the admin API and dashboard. */
  readonly adminToken: string;
  /** Customer bearer tokens and their wallets: stands for the platform's own sessions. */
  readonly customers: ReadonlyMap<string, string>;
  readonly clock?: Clock;
  /** Receives each health alert the worker finds (a pager, a chat webhook…). */
  readonly onAlert?: (decision: HealthDecision) => void;
}

/** The bearer token of a request, or `null`. */
function bearer(request: Request): string | null {
  const h = request.headers.get("authorization") ?? "";
  return h.startsWith("Bearer ") ? h.slice(7) : null;
}

/** Builds the service: the HTTP handler to mount, and the worker step to run every few seconds. */
export function createService(config: ServiceConfig) {
  const clock = config.clock ?? systemClock;
  const storage = config.storage ?? createMemoryStorage();
  const provider = createSmsActivateProvider({
    preset: "hero-sms",
    baseUrl: config.providerUrl,
    apiKey: config.providerKey,
    clock,
  });
  const fes = createFes({ storage, provider, clock });
  const webhook = createWebhookHandler({
    provider,
    secret: config.webhookSecret,
    clock,
    // A storage failure throws, so the webhook answers 500 and the provider delivers again.
    onCode: async (c) => {
      const r = await fes.onCode({ providerActivationId: c.providerActivationId, code: c.code });
      if (r.isErr() && r.error.type === "storage_failure") throw new Error(r.error.message);
    },
  });
  const handler = createFesHandler(fes, {
    prefix: "/api",
    authenticate: (request) => config.customers.get(bearer(request) ?? "") ?? null,
    authorizeAdmin: (request) => verifyWebhookToken(bearer(request), config.adminToken),
    storage,
    clock,
    webhook,
    dashboard: { title: "Shop: SMS activations" },
  });
  const alerted = new Set<string>();
  /** One round of the worker: sweep, then raise each new alert once. */
  const work = async () => {
    const swept = await fes.sweep();
    const policies = evaluateHealthPolicies(await storage.read.listActivations(), { nowMs: clock.now() });
    for (const d of policies.decisions) {
      const key = `${d.type}:${d.service}:${d.country}`;
      if (d.type === "alert" && !alerted.has(key)) {
        alerted.add(key);
        config.onAlert?.(d);
      }
    }
    return swept;
  };
  return { fes, handler, work, storage };
}

/** Reads the configuration from the environment (the names the READMEs list). */
export function configFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Omit<ServiceConfig, "storage"> {
  const need = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === "") throw new Error(`set ${name}`);
    return v;
  };
  const customers = new Map(
    (env.CUSTOMER_TOKENS ?? "")
      .split(",")
      .filter((p) => p.includes(":"))
      .map((p) => p.split(":", 2) as [string, string]),
  );
  return {
    providerUrl: need("PROVIDER_URL"),
    providerKey: need("PROVIDER_KEY"),
    webhookSecret: need("WEBHOOK_SECRET"),
    adminToken: need("ADMIN_TOKEN"),
    customers,
    onAlert: (d) => console.warn(`alert: ${d.reason}`),
  };
}
