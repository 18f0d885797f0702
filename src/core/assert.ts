/**
 * Invariant checks for the pure core. A failure here is a bug in lakehouse,
 * not bad input: input is validated with errors that name the value instead.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(`invariant violated: ${message}`);
}
