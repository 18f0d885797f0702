/**
 * Lossless JSON for table metadata. Snapshot ids are random 63-bit longs and
 * sequence numbers are longs, so `JSON.parse` alone would round them to the
 * nearest double and the table would point at snapshots that do not exist.
 *
 * Parsing relies on the reviver's `context.source` (the literal's exact text)
 * and writing on `JSON.rawJSON`; both are in Deno's V8 but not yet in the
 * TypeScript lib, hence the typed view below.
 */

/** Keys whose integer values are always longs, even when small. */
const LONG_KEYS: ReadonlySet<string> = new Set([
  "snapshot-id",
  "parent-snapshot-id",
  "sequence-number",
  "last-sequence-number",
  "current-snapshot-id",
]);

const INTEGER_LITERAL = /^-?(0|[1-9]\d*)$/;

interface LosslessJson {
  parse(
    text: string,
    reviver: (key: string, value: unknown, context?: { readonly source?: string }) => unknown,
  ): unknown;
  rawJSON?: (text: string) => unknown;
}

const losslessJson = JSON as unknown as LosslessJson;

/**
 * Parses metadata JSON. Integer literals of the long keys above, and any
 * integer beyond ±2^53-1, become bigint; everything else is as `JSON.parse`.
 * Throws `SyntaxError` on malformed text.
 */
export function parseMetadataJson(text: string): unknown {
  return losslessJson.parse(text, (key, value, context) => {
    if (typeof value !== "number") return value;
    const source = context?.source;
    // Without the literal text a long may already have been rounded.
    if (source === undefined) {
      throw new Error("JSON.parse does not pass the literal source to revivers on this runtime");
    }
    if (!INTEGER_LITERAL.test(source)) return value;
    if (LONG_KEYS.has(key) || !Number.isSafeInteger(value)) return BigInt(source);
    return value;
  });
}

/**
 * Serializes like `JSON.stringify`, but bigint values are written as bare
 * JSON integers. NaN and infinities throw instead of silently becoming null.
 */
export function stringifyJson(value: unknown, indent?: number): string {
  const rawJSON = losslessJson.rawJSON;
  if (rawJSON === undefined) throw new Error("JSON.rawJSON is not available on this runtime");
  const text = JSON.stringify(value, (key, v) => {
    if (typeof v === "bigint") return rawJSON(v.toString());
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new RangeError(`cannot write ${v} as JSON (key ${JSON.stringify(key)})`);
    }
    return v;
  }, indent);
  if (text === undefined) throw new TypeError(`cannot write ${typeof value} as JSON`);
  return text;
}
