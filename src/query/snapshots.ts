/**
 * Time travel for `lakehouse query`: which snapshot of each table a query
 * reads. `--as-of` pins every table; a name `"TABLE@SPEC"` pins one. A SPEC
 * is a snapshot id, an ISO-8601 instant or epoch milliseconds; an integer
 * that is the id of a snapshot is taken as that snapshot, else as epoch
 * milliseconds.
 */
import { LakehouseError } from "../core/errors.ts";
import { currentSnapshot, snapshotAsOf, snapshotById } from "../iceberg/spec/metadata.ts";
import type { Snapshot, TableMetadata } from "../iceberg/spec/types.ts";

export type AsOf =
  | { readonly kind: "instant"; readonly ms: number; readonly text: string }
  /** An integer: a snapshot id where a table has one, else epoch ms (when it can be one). */
  | { readonly kind: "integer"; readonly id: bigint; readonly ms?: number; readonly text: string };

/** Epoch ms after this (year 5138) are taken for snapshot ids only. */
const EPOCH_MS_MAX = 1e14;
const LONG_MAX = 2n ** 63n - 1n;

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Parses a SPEC, or says what is wrong with it. */
export function parseAsOf(text: string): AsOf | { problem: string } {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const id = BigInt(trimmed);
    if (id > LONG_MAX) return { problem: "must be a snapshot id (at most 2^63-1)" };
    const ms = Number(trimmed);
    return { kind: "integer", id, ms: ms <= EPOCH_MS_MAX ? ms : undefined, text: trimmed };
  }
  const iso = ISO_INSTANT.exec(trimmed);
  if (iso) {
    if (iso[4] !== undefined && iso[8] === undefined) {
      return { problem: "must give the time zone of a date-time (Z or +HH:MM)" };
    }
    // Date.parse takes at most milliseconds; finer digits cannot change which snapshot was current.
    const normalized = trimmed.replace(" ", "T").replace(/(\.\d{3})\d+/, "$1");
    const ms = Date.parse(iso[4] === undefined ? `${normalized}T00:00:00Z` : normalized);
    if (Number.isFinite(ms)) return { kind: "instant", ms, text: trimmed };
  }
  return {
    problem:
      "must be a snapshot id, an ISO-8601 instant (2026-01-01T12:00:00Z, 2026-01-01) or epoch milliseconds",
  };
}

/** OptionSpec check of `--as-of`. */
export function asOfProblem(value: string | number | boolean): string | undefined {
  const parsed = parseAsOf(String(value));
  return "problem" in parsed ? parsed.problem : undefined;
}

export interface Pinned {
  /** Undefined: the table had no snapshot then (it reads as empty). */
  readonly snapshot: Snapshot | undefined;
  /** Why a table that has snapshots reads as empty (`had no snapshot at ...`). */
  readonly emptyBecause?: string;
}

/** The snapshot `m` had at `ms`, or why none. */
function at(m: TableMetadata, ms: number, integer?: string): Pinned {
  const snapshot = snapshotAsOf(m, ms);
  if (snapshot !== undefined || m.snapshots.length === 0) return { snapshot };
  return {
    snapshot,
    emptyBecause: `had no snapshot at ${new Date(ms).toISOString()}${
      integer === undefined
        ? ""
        : ` (${integer} is no snapshot id, so it was taken as epoch milliseconds)`
    }`,
  };
}

/**
 * The snapshot each table reads for `--as-of` (current when undefined). An
 * integer that is a snapshot id of one table pins that table to it and the
 * others to the snapshot each had when it was committed.
 */
export function pinTables(
  tables: ReadonlyMap<string, TableMetadata>,
  asOf: AsOf | undefined,
): Map<string, Pinned> {
  const out = new Map<string, Pinned>();
  if (asOf === undefined) {
    for (const [name, m] of tables) out.set(name, { snapshot: currentSnapshot(m) });
    return out;
  }
  let ms: number;
  if (asOf.kind === "integer") {
    const owners = [...tables].filter(([, m]) => snapshotById(m, asOf.id) !== undefined);
    if (owners.length === 1) {
      const [owner, metadata] = owners[0];
      const snapshot = snapshotById(metadata, asOf.id)!;
      for (const [name, m] of tables) {
        out.set(name, name === owner ? { snapshot } : at(m, snapshot["timestamp-ms"]));
      }
      return out;
    }
    if (owners.length > 1) {
      throw new LakehouseError(
        `--as-of ${asOf.text}: tables ${
          owners.map(([n]) => n).join(" and ")
        } both have a snapshot with this id; name one with "TABLE@${asOf.text}"`,
      );
    }
    if (asOf.ms === undefined) {
      throw new LakehouseError(
        `--as-of ${asOf.text}: no table has a snapshot with this id (it may have expired); ` +
          `the snapshots of a table are listed by SELECT * FROM shop."TABLE$snapshots"`,
      );
    }
    ms = asOf.ms;
  } else ms = asOf.ms;
  const integer = asOf.kind === "integer" ? asOf.text : undefined;
  for (const [name, m] of tables) out.set(name, at(m, ms, integer));
  return out;
}

/** The snapshot `"table@spec"` names; `label` is the table as messages show it. */
export function pinOne(metadata: TableMetadata, spec: string, label: string): Pinned {
  const asOf = parseAsOf(spec);
  if ("problem" in asOf) {
    throw new LakehouseError(`"${label}@${spec}": the part after @ ${asOf.problem}`);
  }
  if (asOf.kind === "integer") {
    const snapshot = snapshotById(metadata, asOf.id);
    if (snapshot !== undefined) return { snapshot };
    if (asOf.ms === undefined) {
      throw new LakehouseError(
        `${label} has no snapshot ${asOf.text} (it may have expired); its snapshots are listed by ` +
          `SELECT * FROM shop."${label.replace(/^shop\./, "")}$snapshots"`,
      );
    }
    return at(metadata, asOf.ms, asOf.text);
  }
  return at(metadata, asOf.ms);
}
