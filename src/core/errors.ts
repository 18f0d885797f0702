/**
 * Errors the program raises on purpose. Callers branch on the class or on
 * `retriable`, never on message text.
 */
export class LakehouseError extends Error {
  /** True when repeating the same operation later may succeed (network, throttling, conflicts). */
  readonly retriable: boolean;

  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = "LakehouseError";
    this.retriable = options.retriable ?? false;
  }
}

/**
 * A bad flag, environment variable or config value. The CLI prints only the
 * message (no stack trace) and exits with status 2.
 */
export class UsageError extends LakehouseError {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A required outside service (Kafka, S3, a database) could not be reached. */
export class ServiceUnavailableError extends LakehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, retriable: true });
    this.name = "ServiceUnavailableError";
  }
}

/**
 * Writing a batch failed because of the values of some of its rows (a
 * conversion, an overflow, a required column left NULL by a SQL file), not
 * because of the system: the same rows fail the same way every time. The
 * writers isolate such rows into the dead-letter table instead of retrying
 * or stopping.
 */
export class DataError extends LakehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, retriable: false });
    this.name = "DataError";
  }
}

/**
 * Work given up because the process is shutting down (its deadline passed):
 * nothing it did is committed, and the records it held are read again on the
 * next start.
 */
export class AbortedError extends LakehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, retriable: false });
    this.name = "AbortedError";
  }
}

/**
 * Whether `error` is, or was caused by, an AbortedError: work given up at
 * the shutdown deadline stays that when a layer wraps it with its context
 * ("cannot read table metadata ...: abandoned").
 */
export function isAborted(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof AbortedError) return true;
  }
  return false;
}

/** Renders an unknown thrown value as one line for logs and CLI output. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
