/**
 * Operating-system errors in words. Deno words them as
 * `Permission denied (os error 13): mkdir '/x/wh'`; messages about our own
 * actions say what was being done and take only the reason from here
 * (`cannot create warehouse directory /x/wh: permission denied`).
 */
import { errorMessage } from "./errors.ts";

const OS_ERROR = /^(.+?) \(os error \d+\)(?:: (.+))?$/s;

/** `permission denied` for an OS error; any other error's message as it is. */
export function osErrorText(error: unknown): string {
  const match = OS_ERROR.exec(errorMessage(error));
  if (!match) return errorMessage(error);
  return match[1].charAt(0).toLowerCase() + match[1].slice(1);
}

/**
 * An OS error with nothing around it (a call the program did not wrap), as
 * one line: `cannot mkdir '/x/wh': permission denied`; undefined for other errors.
 */
export function describeOsError(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = OS_ERROR.exec(error.message);
  if (!match) return undefined;
  const reason = osErrorText(error);
  return match[2] === undefined ? `system call failed: ${reason}` : `cannot ${match[2]}: ${reason}`;
}
