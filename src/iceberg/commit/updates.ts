/**
 * Table changes as plain data (the Iceberg REST commit vocabulary) and their
 * pure application to metadata. No I/O here: a commit computes the new
 * metadata with these functions, then performs one compare-and-swap.
 */
import { LakehouseError } from "../../core/errors.ts";
import type { Snapshot, SnapshotRef, TableMetadata } from "../spec/types.ts";

export type TableUpdate =
  | { readonly action: "add-snapshot"; readonly snapshot: Snapshot }
  | {
    readonly action: "set-snapshot-ref";
    readonly "ref-name": string;
    readonly type: "branch" | "tag";
    readonly "snapshot-id": bigint;
  }
  | { readonly action: "remove-snapshots"; readonly "snapshot-ids": readonly bigint[] }
  | { readonly action: "remove-snapshot-ref"; readonly "ref-name": string }
  | { readonly action: "set-properties"; readonly updates: Readonly<Record<string, string>> }
  | { readonly action: "remove-properties"; readonly removals: readonly string[] };

export type TableRequirement =
  | { readonly type: "assert-table-uuid"; readonly uuid: string }
  | {
    readonly type: "assert-ref-snapshot-id";
    readonly ref: string;
    readonly "snapshot-id": bigint | null;
  };

/** A requirement that no longer holds: someone else committed first. */
export class RequirementFailedError extends LakehouseError {
  constructor(message: string) {
    super(message, { retriable: true });
    this.name = "RequirementFailedError";
  }
}

export function checkRequirements(
  base: TableMetadata,
  requirements: readonly TableRequirement[],
): void {
  for (const r of requirements) {
    if (r.type === "assert-table-uuid" && base["table-uuid"] !== r.uuid) {
      throw new RequirementFailedError(`table uuid is ${base["table-uuid"]}, expected ${r.uuid}`);
    }
    if (r.type === "assert-ref-snapshot-id") {
      const ref = base.refs[r.ref];
      const actual = ref?.["snapshot-id"] ?? null;
      if (actual !== r["snapshot-id"]) {
        throw new RequirementFailedError(
          `branch ${r.ref} is at snapshot ${actual ?? "none"}, expected ${
            r["snapshot-id"] ?? "none"
          }`,
        );
      }
    }
  }
}

export interface ApplyOptions {
  readonly nowMs: number;
  /** Where `base` was read from; recorded in the metadata log. */
  readonly baseLocation?: string;
  /** Entries kept in the metadata log (write.metadata.previous-versions-max). */
  readonly metadataLogMax?: number;
}

export function applyUpdates(
  base: TableMetadata,
  updates: readonly TableUpdate[],
  options: ApplyOptions,
): TableMetadata {
  let m: Mutable = { ...base, refs: { ...base.refs }, properties: { ...base.properties } };
  const lastUpdated = Math.max(options.nowMs, base["last-updated-ms"]);
  for (const u of updates) {
    switch (u.action) {
      case "add-snapshot": {
        const s = u.snapshot;
        if (m.snapshots.some((x) => x["snapshot-id"] === s["snapshot-id"])) {
          throw new LakehouseError(`snapshot ${s["snapshot-id"]} already exists`);
        }
        if (s["sequence-number"] <= m["last-sequence-number"]) {
          throw new LakehouseError(
            `snapshot sequence number ${s["sequence-number"]} must exceed the table's ${
              m["last-sequence-number"]
            }`,
          );
        }
        m.snapshots = [...m.snapshots, s];
        m["last-sequence-number"] = s["sequence-number"];
        break;
      }
      case "set-snapshot-ref": {
        const id = u["snapshot-id"];
        if (!m.snapshots.some((x) => x["snapshot-id"] === id)) {
          throw new LakehouseError(`cannot point ${u["ref-name"]} at unknown snapshot ${id}`);
        }
        const ref: SnapshotRef = {
          ...(m.refs[u["ref-name"]] ?? {}),
          "snapshot-id": id,
          type: u.type,
        };
        m.refs = { ...m.refs, [u["ref-name"]]: ref };
        if (u["ref-name"] === "main") {
          m["current-snapshot-id"] = id;
          const at = m.snapshots.find((x) => x["snapshot-id"] === id)!["timestamp-ms"];
          m["snapshot-log"] = [...m["snapshot-log"], {
            "timestamp-ms": Math.max(at, lastEntry(m)),
            "snapshot-id": id,
          }];
        }
        break;
      }
      case "remove-snapshots": {
        const gone = new Set(u["snapshot-ids"]);
        for (const [name, ref] of Object.entries(m.refs)) {
          if (gone.has(ref["snapshot-id"])) {
            throw new LakehouseError(
              `cannot remove snapshot ${ref["snapshot-id"]}: ref ${name} points to it`,
            );
          }
        }
        m.snapshots = m.snapshots.filter((s) => !gone.has(s["snapshot-id"]));
        m["snapshot-log"] = m["snapshot-log"].filter((e) => !gone.has(e["snapshot-id"]));
        break;
      }
      case "remove-snapshot-ref": {
        const refs = { ...m.refs };
        delete refs[u["ref-name"]];
        m.refs = refs;
        if (u["ref-name"] === "main") m["current-snapshot-id"] = undefined;
        break;
      }
      case "set-properties":
        m.properties = { ...m.properties, ...u.updates };
        break;
      case "remove-properties": {
        const properties = { ...m.properties };
        for (const key of u.removals) delete properties[key];
        m.properties = properties;
        break;
      }
    }
  }
  if (options.baseLocation) {
    const max = options.metadataLogMax ??
      Number(m.properties["write.metadata.previous-versions-max"] ?? 100);
    const log = [...m["metadata-log"], {
      "timestamp-ms": base["last-updated-ms"],
      "metadata-file": options.baseLocation,
    }];
    m["metadata-log"] = log.slice(Math.max(0, log.length - max));
  }
  m["last-updated-ms"] = Math.max(lastUpdated, lastEntry(m));
  m = { ...m };
  return m as TableMetadata;
}

type Mutable = { -readonly [K in keyof TableMetadata]: TableMetadata[K] };

function lastEntry(m: Mutable): number {
  return m["snapshot-log"].at(-1)?.["timestamp-ms"] ?? 0;
}
