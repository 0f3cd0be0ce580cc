/**
 * How much sooner nested waits decide than a plain A/B split (see `docs/wait-times.md`). The question both designs
 * answer is the one the learned wait needs: for every candidate wait `w`, how many codes stopping at `w` loses
 * against waiting the whole window, `F(L) − F(w)`, known to ±`precision` at 95 %.
 *
 * - A plain split gives each candidate its own arm: arm `w` shows only "code within `w`", so the loss is the
 *   difference of two independent arms.
 * - Nested waits: an activation that waited the whole window shows its outcome for every shorter wait, and the loss
 *   is the share of those activations whose code came in `(w, L]` — a paired estimate, on every activation at once.
 */
import { wilson } from "../src/health/wilson.js";
import { seededRandom } from "../src/testing/index.js";

const MINUTE = 60_000;

/** Options of {@link decisionSpeed}. */
export interface DecisionSpeedOptions {
  readonly seed: number;
  /** Chance that a number gets a code at all. */
  readonly success: number;
  /** Draws a code's delay (ms) from a uniform draw. */
  readonly delayMs: (u: number, v: number) => number;
  readonly candidatesMs?: readonly number[];
  readonly lifetimeMs?: number;
  /** Half-width of the 95 % interval every candidate's loss must reach (default 0.02: two points). */
  readonly precision?: number;
  /** Share of activations that wait the whole window in the nested design (1 while learning, 0.1 after). */
  readonly fullShare?: number;
  readonly runs?: number;
}

/** Median activations each design needed over the runs. */
export interface DecisionSpeed {
  readonly plainSplit: number;
  readonly nested: number;
  readonly candidates: number;
}

const Z = 1.959963984540054;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Activations until every candidate's loss is known to the precision, for both designs (median over runs). */
export function decisionSpeed(options: DecisionSpeedOptions): DecisionSpeed {
  const candidates = options.candidatesMs ?? [3, 5, 8, 12].map((m) => m * MINUTE);
  const lifetimeMs = options.lifetimeMs ?? 20 * MINUTE;
  const precision = options.precision ?? 0.02;
  const fullShare = options.fullShare ?? 1;
  const random = seededRandom(options.seed);
  const draw = () =>
    random() < options.success ? options.delayMs(random(), random()) : Number.POSITIVE_INFINITY;
  const plain: number[] = [];
  const nested: number[] = [];
  for (let run = 0; run < (options.runs ?? 21); run++) {
    // Plain split: arms are the candidates and the full window, in turn.
    const arms = [...candidates, lifetimeMs];
    const codes = arms.map(() => 0);
    const seen = arms.map(() => 0);
    for (let n = 1; ; n++) {
      const i = (n - 1) % arms.length;
      seen[i]!++;
      if (draw() <= arms[i]!) codes[i]!++;
      if (n % 50 !== 0) continue;
      const full = codes[arms.length - 1]! / seen[arms.length - 1]!;
      const done = candidates.every((_, j) => {
        const f = codes[j]! / seen[j]!;
        const se = Math.sqrt((full * (1 - full)) / seen[arms.length - 1]! + (f * (1 - f)) / seen[j]!);
        return seen[j]! >= 30 && Z * se <= precision;
      });
      if (done) {
        plain.push(n);
        break;
      }
    }
    // Nested: the full-window share shows every candidate's outcome on the same activation.
    const lost = candidates.map(() => 0);
    let full = 0;
    for (let n = 1; ; n++) {
      const t = draw();
      if (random() >= fullShare) continue;
      full++;
      for (const [j, w] of candidates.entries()) if (t > w && t <= lifetimeMs) lost[j]!++;
      if (full % 10 !== 0 || full < 30) continue;
      const done = lost.every((k) => {
        const i = wilson(k, full);
        return Math.max(i.point - i.lower, i.upper - i.point) <= precision;
      });
      if (done) {
        nested.push(n);
        break;
      }
    }
  }
  return { plainSplit: median(plain), nested: median(nested), candidates: candidates.length };
}
