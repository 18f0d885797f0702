/**
 * Format rules of option values, as `OptionSpec.check` hooks: each returns
 * what is wrong in words, or undefined. They look at the value only (no file
 * system, no network), so they run while options are resolved; the value and
 * where it came from are added by the caller (`optionError`).
 */
import { parseBrokers } from "../kafka/client.ts";
import type { OptionValue } from "./options.ts";

/** Kafka's own limit (249) and alphabet for topic names. */
const TOPIC_CHARS_MAX = 249;
const TOPIC = /^[a-zA-Z0-9._-]+$/;

/** `HOST:PORT[,HOST:PORT...]`, parsed by the Kafka client's own parser. */
export function brokersProblem(value: OptionValue): string | undefined {
  try {
    parseBrokers(String(value));
    return undefined;
  } catch {
    return "must be HOST:PORT[,HOST:PORT...] with a port from 1 to 65535";
  }
}

/** A legal Kafka topic name: 1-249 of [a-zA-Z0-9._-], not "." or "..". */
export function topicProblem(value: OptionValue): string | undefined {
  const text = String(value);
  if (text === "." || text === "..") return 'must be a Kafka topic name other than "." and ".."';
  if (text.length > TOPIC_CHARS_MAX) {
    return `must be a Kafka topic name of at most ${TOPIC_CHARS_MAX} characters`;
  }
  if (!TOPIC.test(text)) {
    return "must be a Kafka topic name: letters, digits, '.', '_' and '-' only";
  }
  return undefined;
}

/** A consumer group id: anything but blank. */
export function groupIdProblem(value: OptionValue): string | undefined {
  return String(value).trim() === "" ? "must not be blank" : undefined;
}

const MEMORY_UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A floor, not a recommendation: measured, `lakehouse demo` fails its first
 * batch with DuckDB out of memory at 16MiB and runs at 64MiB.
 */
const MEMORY_LIMIT_MIN_BYTES = 64 * 2 ** 20;

/**
 * Bytes of a DuckDB memory size (`512MB`, `2GB`, `1.5GiB`, `2 gb`): a number
 * and one of DuckDB's units (KB/MB/GB/TB = 1000^i, KiB/MiB/GiB/TiB = 1024^i,
 * case-insensitive); undefined for anything else.
 */
export function parseMemorySize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  const unit = match ? MEMORY_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) return undefined;
  return Number(match[1]) * unit;
}

/**
 * A DuckDB memory limit. DuckDB 1.5 takes sizes only: `80%` fails there with
 * "Unknown unit", so it is refused here rather than at engine start.
 */
export function memoryLimitProblem(value: OptionValue): string | undefined {
  const text = String(value);
  if (/%\s*$/.test(text)) {
    return "must be a size such as 512MB, 2GB or 1.5GiB (DuckDB takes no percentages)";
  }
  const bytes = parseMemorySize(text);
  if (bytes === undefined) {
    return "must be a size such as 512MB, 2GB or 1.5GiB (units KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
  }
  if (bytes < MEMORY_LIMIT_MIN_BYTES) return "must be at least 64MiB";
  return undefined;
}

/** An S3 endpoint: an http(s) URL with a host, without credentials, query or fragment. */
export function s3EndpointProblem(value: OptionValue): string | undefined {
  const text = String(value);
  const expected = "must be an http:// or https:// URL with a host (e.g. http://127.0.0.1:9000)";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return expected;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return expected;
  if (url.hostname === "") return expected;
  if (url.username !== "" || url.password !== "") {
    return "must not hold user:password@ (give credentials with --s3-access-key and LAKEHOUSE_S3_SECRET_KEY)";
  }
  if (url.search !== "" || url.hash !== "") return `${expected}, without ?query or #fragment`;
  return undefined;
}

/** An S3 region name (`us-east-1`, or a custom server's name). */
export function s3RegionProblem(value: OptionValue): string | undefined {
  return /^[A-Za-z0-9._-]+$/.test(String(value))
    ? undefined
    : "must be a region name such as us-east-1 (letters, digits, '.', '_' and '-')";
}

/** `s3://`, `http://` ...: the scheme of a URI-looking value, lower-cased. */
function schemeOf(text: string): string | undefined {
  return /^([a-z][a-z0-9+.-]+):/i.exec(text)?.[1].toLowerCase();
}

/**
 * The path of a local directory value (`./wh`, `/abs/wh`, `file:///abs/wh`),
 * or the problem with it. `file://` URIs name the path literally (no
 * percent-decoding, as the file store reads them) and must be absolute and
 * normalized.
 */
export function localDirectory(text: string): { path: string } | { problem: string } {
  if (text.includes("\0")) return { problem: "must not contain a NUL character" };
  const scheme = schemeOf(text);
  if (scheme === undefined) return { path: text };
  if (scheme !== "file" || !text.toLowerCase().startsWith("file://")) {
    return {
      problem: "must be a local directory or a file:///ABSOLUTE/DIR URI " +
        "(write ./name for a relative directory whose name contains ':')",
    };
  }
  const trimmed = text.slice("file://".length).replace(/(.)\/+$/, "$1");
  if (
    !trimmed.startsWith("/") ||
    trimmed.slice(1).split("/").some((s) => s === "" || s === "." || s === "..")
  ) {
    return { problem: "must be a file:///ABSOLUTE/DIR URI with no '.', '..' or '//' in its path" };
  }
  return { path: trimmed };
}

/** The local path of a directory value `localDirectory` accepts (`./wh`, `file:///abs/wh`). */
export function localPath(text: string): string {
  const local = localDirectory(text);
  return "path" in local ? local.path : text;
}

/** S3 bucket names: 3-63 characters today; older buckets may hold capitals and '_'. */
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/;

/** A warehouse of `lakehouse run`: a local directory, `file:///DIR` or `s3://BUCKET[/PREFIX]` (s3a:// too). */
export function warehouseProblem(value: OptionValue): string | undefined {
  const text = String(value);
  const scheme = schemeOf(text);
  if (scheme === "s3" || scheme === "s3a") {
    const match = /^s3a?:\/\/([^/]*)(\/.*)?$/is.exec(text);
    if (!match) return "must be s3://BUCKET/PREFIX";
    if (!BUCKET.test(match[1])) return "must be s3://BUCKET/PREFIX with a valid bucket name";
    const prefix = (match[2] ?? "").replace(/\/+$/, "");
    const segments = prefix === "" ? [] : prefix.slice(1).split("/");
    if (segments.some((s) => s === "" || s === "." || s === "..")) {
      return "must be s3://BUCKET/PREFIX with no '.', '..' or '//' in its prefix";
    }
    return undefined;
  }
  const local = localDirectory(text);
  if ("problem" in local) {
    return scheme === undefined || scheme === "file"
      ? local.problem
      : "must be a local directory, file:///ABSOLUTE/DIR or s3://BUCKET/PREFIX";
  }
  return undefined;
}

/** A warehouse of `lakehouse demo`: local only. */
export function localWarehouseProblem(value: OptionValue): string | undefined {
  const local = localDirectory(String(value));
  if (!("problem" in local)) return undefined;
  const scheme = schemeOf(String(value));
  return scheme === "s3" || scheme === "s3a"
    ? "must be a local directory: the demo has no S3 support (use 'lakehouse run')"
    : local.problem;
}

/** The SQLite catalog option: a file path, not a URI. */
export function catalogPathProblem(value: OptionValue): string | undefined {
  const text = String(value);
  if (text.includes("\0")) return "must not contain a NUL character";
  if (schemeOf(text) !== undefined) {
    return "must be the path of the SQLite catalog file, not a URI " +
      "(write ./name for a relative path whose name contains ':')";
  }
  if (text.endsWith("/")) return "must be the path of the SQLite catalog file, not of a directory";
  return undefined;
}
