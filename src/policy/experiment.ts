import { err, ok, type Result } from "neverthrow";
import * as z from "zod";
import { errors, type InvalidInput, issuesFromZod } from "../core/errors.js";
import type { WaitTimeDecision, WaitTimePolicy, WaitTimeQuery } from "./wait-time.js";

/** One arm of a wait-time experiment: a fixed wait (`"lifetime"`: the provider's) or a policy of its own. */
export interface ExperimentArm {
  readonly name: string;
  readonly wait: number | "lifetime" | WaitTimePolicy;
}

/** Options of {@link createExperiment}. */
export interface ExperimentOptions {
  /** Recorded on every activation the experiment assigns; also salts the assignment. */
  readonly id: string;
  readonly arms: readonly ExperimentArm[];
  /** Share of activations per arm name (weights, normalised). Default: equal shares. */
  readonly allocation?: Readonly<Record<string, number>>;
  /** Which activations take part (default: all); the others get `fallback` and no experiment on their record. */
  readonly eligible?: (query: WaitTimeQuery) => boolean;
  /** The wait outside the experiment. Default: the provider's lifetime. */
  readonly fallback?: WaitTimePolicy;
}

/** A wait-time experiment: a {@link WaitTimePolicy} that assigns each activation an arm from its id. */
export interface Experiment extends WaitTimePolicy {
  readonly id: string;
  readonly arms: readonly string[];
  /** The arm of an activation id: the same in every process and after every restart. */
  assign(activationId: string): string;
}

const optionsSchema = z.object({
  id: z.string().min(1),
  arms: z
    .array(
      z.object({
        name: z.string().min(1),
        wait: z.union([
          z.number().int().positive(),
          z.literal("lifetime"),
          z.custom<WaitTimePolicy>((v) => typeof (v as WaitTimePolicy | null)?.decide === "function"),
        ]),
      }),
    )
    .min(1)
    .refine((arms) => new Set(arms.map((a) => a.name)).size === arms.length, "arm names must be unique"),
  allocation: z.record(z.string(), z.number().nonnegative().finite()).optional(),
});

/**
 * A 32-bit hash of a string, uniform enough for assignment: FNV-1a over the UTF-16 code units, then MurmurHash3's
 * finaliser so that ids differing in their last character spread over the whole range. Pure arithmetic, so the same
 * id gets the same arm in every runtime.
 */
export function assignmentHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A point in [0, 1) for an activation in an experiment: the hash of `<experiment id>:<activation id>`. */
export function assignmentPoint(experimentId: string, activationId: string): number {
  return assignmentHash(`${experimentId}:${activationId}`) / 4294967296;
}

/**
 * Creates a wait-time experiment. Each eligible activation is assigned an arm deterministically from its id (hash
 * of experiment id and activation id against the cumulative allocation), so the assignment needs no storage, is
 * stable across processes and restarts, and is independent between experiments. Its record gets the experiment id
 * and arm (`experimentId`, `experimentArm`), which {@link experimentReport} reads back.
 */
export function createExperiment(options: ExperimentOptions): Result<Experiment, InvalidInput> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) return err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
  const { id, arms } = options;
  const names = arms.map((a) => a.name);
  const allocation = options.allocation;
  if (allocation !== undefined) {
    const unknown = Object.keys(allocation).filter((k) => !names.includes(k));
    if (unknown.length > 0)
      return err(
        errors.invalidInput([{ path: "allocation", message: `unknown arms: ${unknown.join(", ")}` }]),
      );
  }
  const weights = names.map((n) => (allocation === undefined ? 1 : (allocation[n] ?? 0)));
  const total = weights.reduce((s, w) => s + w, 0);
  if (!(total > 0))
    return err(
      errors.invalidInput([{ path: "allocation", message: "at least one arm needs a positive share" }]),
    );
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cumulative.push(acc);
  }
  const assign = (activationId: string): string => {
    const u = assignmentPoint(id, activationId);
    const i = cumulative.findIndex((c) => u < c);
    // Rounding can leave the last cumulative share a hair under 1: the point then belongs to the last weighted arm.
    return names[i === -1 ? weights.findLastIndex((w) => w > 0) : i]!;
  };
  const fallback = options.fallback;
  return ok({
    id,
    arms: names,
    assign,
    decide(query: WaitTimeQuery): WaitTimeDecision {
      if (options.eligible !== undefined && !options.eligible(query))
        return fallback === undefined ? { waitMs: query.lifetimeMs } : fallback.decide(query);
      const arm = assign(query.activationId);
      const wait = arms.find((a) => a.name === arm)!.wait;
      const waitMs =
        wait === "lifetime" ? query.lifetimeMs : typeof wait === "number" ? wait : wait.decide(query).waitMs;
      return { waitMs, experiment: { id, arm } };
    },
  });
}
