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

/** Renders an unknown thrown value as one line for logs and CLI output. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
