/**
 * Command-line options: each with its flag, environment variable, type,
 * default, help text and format rules. A command lists the options it takes
 * in a table of these (the shared ones are in common.ts), so `--help`,
 * validation and env lookup share one source, and the values it reads are
 * typed from that table (`OptionValues`). Not every setting is an option:
 * fixed ones (the rejects commit interval, the Kafka heartbeat while blocked)
 * are constants where they are used.
 */
import { UsageError } from "../core/errors.ts";

export type OptionType =
  | "string"
  | "integer"
  | "number"
  | "boolean"
  | "duration"
  | "choice"
  | "timestamp";

export interface OptionSpec {
  /** Flag name without dashes, kebab-case: `--max-in-flight`. */
  readonly name: string;
  readonly type: OptionType;
  readonly description: string;
  /** Value used when no flag, env var or config file sets it; undefined = unset. */
  readonly default?: string | number | boolean;
  /** Smallest accepted value (integer, number, duration in ms). */
  readonly min?: number;
  /** Largest accepted value. */
  readonly max?: number;
  readonly choices?: readonly string[];
  /** Placeholder shown in --help. */
  readonly placeholder?: string;
  /** Never logged or echoed back in errors. */
  readonly secret?: boolean;
  /**
   * Accepted only from the environment or the config file, never as a flag:
   * other users of the machine can read command lines in the process list.
   */
  readonly noFlag?: boolean;
  /**
   * Format rules beyond the type and range, run on every value (flag, env,
   * config file, default) once it has the option's type: returns what is
   * wrong in words ("must be HOST:PORT"), or undefined when the value is fine.
   * Pure: checks that look at the file system run after resolution.
   */
  readonly check?: (value: OptionValue) => string | undefined;
}

export type OptionValue = string | number | boolean;

/**
 * The value an option resolves to: `string` for string options, one of its
 * choices for a choice, `boolean`, else `number` (integer, number, duration in
 * ms, timestamp in epoch ms); `| undefined` unless it has a default. Declare
 * specs `as const satisfies OptionSpec` so that name, type, choices and
 * default keep their literal types.
 */
export type OptionValueOf<S extends OptionSpec> = S extends { readonly default: OptionValue }
  ? TypedValue<S>
  : TypedValue<S> | undefined;

type TypedValue<S extends OptionSpec> = S["type"] extends "string" ? string
  : S["type"] extends "boolean" ? boolean
  : S["type"] extends "choice"
    ? S extends { readonly choices: readonly (infer C extends string)[] } ? C : string
  : S["type"] extends "integer" | "number" | "duration" | "timestamp" ? number
  : OptionValue;

/** The names of a command's options. */
export type OptionName<Specs extends readonly OptionSpec[]> = Specs[number]["name"];

/**
 * A command's resolved values, typed from its option table: `{ warehouse:
 * string; catalog: string | undefined; "max-records-per-trigger": number;
 * ... }`. Renaming an option or changing its type breaks the code that reads
 * it at compile time. For a table typed only as `OptionSpec[]`, every name
 * maps to `OptionValue | undefined`.
 */
export type OptionValues<Specs extends readonly OptionSpec[]> = {
  readonly [S in Specs[number] as S["name"]]: OptionValueOf<S>;
};

/** `max-in-flight` -> `LAKEHOUSE_MAX_IN_FLIGHT`. */
export function envName(option: string): string {
  return `LAKEHOUSE_${option.toUpperCase().replaceAll("-", "_")}`;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses `250ms`, `2s`, `1.5m`, `10m`, `2h`, `1d`; a bare number means milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2] ?? "ms"];
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * How an option is named in errors: `--rate` for a flag, else with where the
 * value came from: `--rate (from LAKEHOUSE_RATE)`, `--rate (from config file
 * c.json)`, `--rate (from default)`.
 */
function optionLabel(name: string, source: string): string {
  return source === "flag" ? `--${name}` : `--${name} (from ${source})`;
}

/**
 * A value as error messages show it: `<hidden>` for a secret option, the JSON
 * type for a config-file object or array (whatever it holds stays out of the
 * message), `user:password@` of a URL masked, else the value as JSON.
 */
function showValue(spec: OptionSpec, raw: unknown): string {
  if (spec.secret) return "<hidden>";
  if (Array.isArray(raw)) return "a JSON array";
  if (raw !== null && typeof raw === "object") return "a JSON object";
  return JSON.stringify(typeof raw === "string" ? hideUserInfo(raw) : raw) ?? String(raw);
}

/** `scheme://user:password@host` -> `scheme://***@host`. */
function hideUserInfo(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}

/**
 * The usage error for a value of `spec` from `source` (as `coerceOption`
 * takes it): `--warehouse (from LAKEHOUSE_WAREHOUSE) is a regular file, not a
 * directory, got "/x"`.
 */
export function optionError(
  spec: OptionSpec,
  raw: unknown,
  source: string,
  problem: string,
): UsageError {
  return new UsageError(
    `${optionLabel(spec.name, source)} ${problem}, got ${showValue(spec, raw)}`,
  );
}

/**
 * Converts one raw value (from a flag, env var or config file) to the option's
 * type and checks its range and format (`spec.check`). `source` names where it
 * came from, so the error says e.g. `--rate (from LAKEHOUSE_RATE) must be >= 0,
 * got "-5"`.
 */
export function coerceOption(spec: OptionSpec, raw: unknown, source: string): OptionValue {
  const value = coerceType(spec, raw, source);
  const problem = spec.check?.(value);
  if (problem !== undefined) throw optionError(spec, raw, source, problem);
  return value;
}

function coerceType(spec: OptionSpec, raw: unknown, source: string): OptionValue {
  const fail = (why: string): never => {
    throw optionError(spec, raw, source, why);
  };
  const inRange = (value: number, unit = ""): number => {
    if (spec.min !== undefined && value < spec.min) fail(`must be >= ${spec.min}${unit}`);
    if (spec.max !== undefined && value > spec.max) fail(`must be <= ${spec.max}${unit}`);
    return value;
  };
  switch (spec.type) {
    case "string": {
      if (typeof raw !== "string" && typeof raw !== "number") fail("must be a string");
      const text = String(raw);
      if (text.length === 0) fail("must not be empty");
      return text;
    }
    case "boolean": {
      if (typeof raw === "boolean") return raw;
      const text = String(raw).toLowerCase();
      if (["1", "true", "yes", "on"].includes(text)) return true;
      if (["0", "false", "no", "off"].includes(text)) return false;
      return fail("must be true or false");
    }
    case "integer": {
      const value = typeof raw === "number" ? raw : Number(String(raw).replaceAll("_", ""));
      if (String(raw).trim() === "" || !Number.isSafeInteger(value)) fail("must be an integer");
      return inRange(value);
    }
    case "number": {
      const value = typeof raw === "number" ? raw : Number(String(raw));
      if (String(raw).trim() === "" || !Number.isFinite(value)) fail("must be a number");
      return inRange(value);
    }
    case "duration": {
      const value = typeof raw === "number" ? raw : parseDuration(String(raw));
      if (value === undefined || !Number.isFinite(value)) {
        fail("must be a duration such as 500ms, 2s, 10m, 1h");
      }
      return inRange(value as number, "ms");
    }
    case "choice": {
      const text = String(raw);
      if (!spec.choices?.includes(text)) fail(`must be one of ${spec.choices?.join(", ")}`);
      return text;
    }
    case "timestamp": {
      const text = String(raw);
      const value = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text);
      if (!Number.isFinite(value)) {
        fail("must be an ISO-8601 instant (2026-01-01T00:00:00Z) or epoch seconds");
      }
      return value;
    }
  }
}
