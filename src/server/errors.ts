/**
 * The REST catalog's error model: every failure is answered with
 * `{"error": {"message", "type", "code"}}`, the type being the exception
 * name Java and Python clients map to their own exceptions (404
 * NoSuchTableException, 409 CommitFailedException, ...). Errors of the
 * lower layers are translated here by class, never by message text.
 */
import {
  AlreadyExistsError,
  CommitConflictError,
  CommitStateUnknownError,
  NamespaceNotEmptyError,
  NoSuchNamespaceError,
  NoSuchTableError,
} from "../catalog/catalog.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import {
  InvalidUpdateError,
  RequirementFailedError,
  UnsupportedUpdateError,
} from "../iceberg/commit/updates.ts";

/** An error with its HTTP status and REST error type already decided. */
export class RestError extends LakehouseError {
  readonly status: number;
  readonly type: string;

  constructor(status: number, type: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "RestError";
    this.status = status;
    this.type = type;
  }
}

/** 400: the request itself is wrong; the message names the field. */
export function badRequest(message: string): RestError {
  return new RestError(400, "BadRequestException", message);
}

export function notFound(type: string, message: string): RestError {
  return new RestError(404, type, message);
}

export interface ErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly code: number };
}

/** What a thrown error becomes on the wire. */
export function restErrorOf(error: unknown): RestError {
  if (error instanceof RestError) return error;
  const message = errorMessage(error);
  if (error instanceof NoSuchTableError) {
    return new RestError(404, "NoSuchTableException", message, { cause: error });
  }
  if (error instanceof NoSuchNamespaceError) {
    return new RestError(404, "NoSuchNamespaceException", message, { cause: error });
  }
  if (error instanceof AlreadyExistsError) {
    return new RestError(409, "AlreadyExistsException", message, { cause: error });
  }
  if (error instanceof NamespaceNotEmptyError) {
    return new RestError(409, "NamespaceNotEmptyException", message, { cause: error });
  }
  if (
    error instanceof RequirementFailedError || error instanceof CommitConflictError ||
    // Every attempt of the commit lost its swap to another writer: nothing
    // was committed, so the client may reload and try again.
    (error instanceof LakehouseError && error.cause instanceof CommitConflictError)
  ) {
    return new RestError(409, "CommitFailedException", message, { cause: error });
  }
  if (error instanceof CommitStateUnknownError) {
    // Java and Python clients read 500 on a commit as "state unknown": they
    // must not clean up files the commit may refer to.
    return new RestError(500, "CommitStateUnknownException", message, { cause: error });
  }
  if (error instanceof UnsupportedUpdateError) {
    return new RestError(406, "UnsupportedOperationException", message, { cause: error });
  }
  if (error instanceof InvalidUpdateError) {
    return new RestError(400, "BadRequestException", message, { cause: error });
  }
  if (error instanceof LakehouseError && error.retriable) {
    // Storage or the catalog database is failing for now (an outage, a lock
    // held too long, commits lost to other writers every time): try later.
    return new RestError(503, "ServiceUnavailableException", message, { cause: error });
  }
  if (error instanceof LakehouseError) {
    return new RestError(500, "ServerErrorException", message, { cause: error });
  }
  return new RestError(500, "ServerErrorException", `unexpected error: ${message}`, {
    cause: error,
  });
}

export function errorBody(error: RestError): ErrorBody {
  return { error: { message: error.message, type: error.type, code: error.status } };
}
