/** Thrown when a broken invariant is detected: a bug, never an expected outcome. Never caught by the core. */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
}

/** Asserts an invariant; throws {@link InvariantViolation} when it does not hold. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
