import { brand, INVARIANT_VIOLATION, isBranded } from "./brand.js";

/** Thrown when a broken invariant is detected: a bug, never an expected outcome. Never caught by the core. */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    brand(this, INVARIANT_VIOLATION);
  }

  /** `instanceof` answers by the brand, so it holds across copies of the package (ESM and CJS, two installs). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInvariantViolation(value);
  }
}

/** Whether `value` is an {@link InvariantViolation} from any copy of this package (checked by its brand). */
export function isInvariantViolation(value: unknown): value is InvariantViolation {
  return isBranded(value, INVARIANT_VIOLATION);
}

/** Asserts an invariant; throws {@link InvariantViolation} when it does not hold. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
