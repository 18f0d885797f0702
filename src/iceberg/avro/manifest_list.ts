/**
 * Iceberg v2 manifest lists: the Avro file a snapshot points to, with one
 * entry per manifest (its counts, sequence numbers and partition summaries).
 */
import { Buffer } from "node:buffer";
import { LakehouseError } from "../../core/errors.ts";
import type { FieldSummary, ManifestContent, ManifestFile } from "../spec/types.ts";
import { AvroFormatError, readContainer, writeContainer } from "./container.ts";
import { collectNamedTypes, FieldsById, isComplex } from "./schema_fields.ts";
import { type AvroSchema, manifestListSchema } from "./schemas.ts";

export interface WriteManifestListOptions {
  readonly snapshotId: bigint;
  readonly parentSnapshotId?: bigint | null;
  /** The snapshot's sequence number. */
  readonly sequenceNumber: bigint;
  readonly manifests: readonly ManifestFile[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const toBuffer = (v: Uint8Array | undefined) =>
  v === undefined ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function checkManifest(m: ManifestFile, options: WriteManifestListOptions): void {
  const where = `manifest ${m.manifestPath}`;
  if (m.sequenceNumber > options.sequenceNumber) {
    throw new LakehouseError(
      `${where}: sequence number ${m.sequenceNumber} is beyond the snapshot's ` +
        `${options.sequenceNumber}`,
    );
  }
  if (m.minSequenceNumber > m.sequenceNumber) {
    throw new LakehouseError(
      `${where}: min sequence number ${m.minSequenceNumber} exceeds its sequence number ` +
        `${m.sequenceNumber}`,
    );
  }
  // Readers hand this sequence number to the manifest's ADDED entries; after a commit retry
  // with a new sequence number, a stale value here would mis-order deletes against data.
  if (m.addedSnapshotId === options.snapshotId && m.sequenceNumber !== options.sequenceNumber) {
    throw new LakehouseError(
      `${where}: added by snapshot ${options.snapshotId} but has sequence number ` +
        `${m.sequenceNumber} instead of the snapshot's ${options.sequenceNumber}`,
    );
  }
}

/** Serializes a v2 manifest list, with the file metadata Java writes. */
export function writeManifestList(options: WriteManifestListOptions): Uint8Array {
  const records = options.manifests.map((m) => {
    checkManifest(m, options);
    return {
      manifest_path: m.manifestPath,
      manifest_length: m.manifestLength,
      partition_spec_id: m.partitionSpecId,
      content: m.content,
      sequence_number: m.sequenceNumber,
      min_sequence_number: m.minSequenceNumber,
      added_snapshot_id: m.addedSnapshotId,
      added_files_count: m.addedFilesCount,
      existing_files_count: m.existingFilesCount,
      deleted_files_count: m.deletedFilesCount,
      added_rows_count: m.addedRowsCount,
      existing_rows_count: m.existingRowsCount,
      deleted_rows_count: m.deletedRowsCount,
      partitions: m.partitions?.map((s) => ({
        contains_null: s.containsNull,
        contains_nan: s.containsNan ?? null,
        lower_bound: toBuffer(s.lowerBound),
        upper_bound: toBuffer(s.upperBound),
      })) ?? null,
      key_metadata: null,
    };
  });
  const parent = options.parentSnapshotId;
  return writeContainer(manifestListSchema(), records, {
    metadata: {
      "snapshot-id": String(options.snapshotId),
      "parent-snapshot-id": parent === undefined || parent === null ? "null" : String(parent),
      "sequence-number": String(options.sequenceNumber),
      "format-version": "2",
    },
  });
}

function toBigInt(value: unknown, fallback: bigint): bigint {
  if (value === null || value === undefined) return fallback;
  return typeof value === "bigint" ? value : BigInt(value as number);
}

/**
 * Parses a manifest list written by any spec-conforming writer. Fields v1
 * lists lack read as v1 semantics define them: content data, sequence
 * numbers 0, unknown counts 0.
 */
export function readManifestList(bytes: Uint8Array): ManifestFile[] {
  const { schema, records } = readContainer(bytes);
  const named = collectNamedTypes(schema);
  const mf = new FieldsById(schema, named, "manifest_file");
  mf.required(500, "manifest_path");
  mf.required(501, "manifest_length");
  mf.required(502, "partition_spec_id");
  mf.required(503, "added_snapshot_id");
  const partitionsRef = mf.field(507);
  let summary: FieldsById | undefined;
  if (partitionsRef) {
    const list = partitionsRef.type;
    if (!isComplex(list) || list.type !== "array") {
      throw new AvroFormatError("unexpected Avro schema: manifest_file.partitions is not a list");
    }
    summary = new FieldsById(list.items as AvroSchema, named, "field_summary");
    summary.required(509, "contains_null");
  }
  return records.map((raw, index): ManifestFile => {
    const r = raw as Record<string, unknown>;
    const content = Number(mf.get(r, 517) ?? 0);
    if (content !== 0 && content !== 1) {
      // The entry, not its path: errors about a file we read never quote it.
      throw new AvroFormatError(`manifest list entry ${index}: invalid content ${content}`);
    }
    const out: Mutable<ManifestFile> = {
      manifestPath: String(mf.get(r, 500)),
      manifestLength: toBigInt(mf.get(r, 501), 0n),
      partitionSpecId: Number(mf.get(r, 502)),
      content: content as ManifestContent,
      sequenceNumber: toBigInt(mf.get(r, 515), 0n),
      minSequenceNumber: toBigInt(mf.get(r, 516), 0n),
      addedSnapshotId: toBigInt(mf.get(r, 503), 0n),
      addedFilesCount: Number(mf.get(r, 504) ?? 0),
      existingFilesCount: Number(mf.get(r, 505) ?? 0),
      deletedFilesCount: Number(mf.get(r, 506) ?? 0),
      addedRowsCount: toBigInt(mf.get(r, 512), 0n),
      existingRowsCount: toBigInt(mf.get(r, 513), 0n),
      deletedRowsCount: toBigInt(mf.get(r, 514), 0n),
    };
    const partitions = mf.get(r, 507);
    if (summary && Array.isArray(partitions)) {
      const s = summary;
      out.partitions = partitions.map((p: Record<string, unknown>): FieldSummary => {
        const field: Mutable<FieldSummary> = { containsNull: Boolean(s.get(p, 509)) };
        const nan = s.get(p, 518);
        if (nan !== null && nan !== undefined) field.containsNan = Boolean(nan);
        const lower = s.get(p, 510);
        if (lower !== null && lower !== undefined) {
          field.lowerBound = new Uint8Array(lower as Uint8Array);
        }
        const upper = s.get(p, 511);
        if (upper !== null && upper !== undefined) {
          field.upperBound = new Uint8Array(upper as Uint8Array);
        }
        return field;
      });
    }
    return out;
  });
}
