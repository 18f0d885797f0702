/**
 * Which local file-system failures may heal by themselves: permission taken
 * away and given back, a full disk or quota, an I/O error, a file system
 * remounted read-only. Writers retry those with backoff; anything else (a
 * path that does not exist, a directory where a file should be) is a
 * mistake that retrying would only hide.
 */
const TRANSIENT_CODES = new Set([
  "EACCES",
  "EPERM",
  "ENOSPC",
  "EDQUOT",
  "EIO",
  "EROFS",
  "EAGAIN",
  "EBUSY",
  "ENFILE",
  "EMFILE",
  "ETXTBSY",
]);

export function isTransientIoError(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied) return true;
  if (error instanceof Deno.errors.Busy) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TRANSIENT_CODES.has(code)) return true;
  // Deno names some errors only in the message ("No space left on device (os error 28)").
  const message = error instanceof Error ? error.message : "";
  return /\(os error (1|5|13|16|23|24|28|30|122)\)/.test(message);
}
