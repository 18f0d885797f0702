/**
 * Iceberg v2 manifest files: the Avro files listing data or delete files with
 * their partition values and column statistics.
 */
import { Buffer } from "node:buffer";
import { LakehouseError } from "../../core/errors.ts";
import {
  type DataFile,
  EntryStatus,
  type FileContent,
  type ManifestEntry,
  type ManifestFile,
  type PartitionSpec,
  type PartitionValue,
  type Schema,
} from "../spec/types.ts";
import { AvroFormatError, readContainer, writeContainer } from "./container.ts";
import { fromAvroPartitionValue, toAvroPartitionValue } from "./partition_values.ts";
import {
  collectNamedTypes,
  FieldsById,
  isComplex,
  type NamedTypes,
  recordFields,
} from "./schema_fields.ts";
import {
  avroFieldName,
  type AvroSchema,
  manifestEntrySchema,
  type PartitionType,
} from "./schemas.ts";

export interface WriteManifestOptions {
  /** The table schema the files were written with (stored as the `schema` metadata). */
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  /** The spec's result struct: one field per spec field, same ids, same order. */
  readonly partitionType: PartitionType;
  readonly content: "data" | "deletes";
  /**
   * The snapshot committing this manifest. Written as the snapshot id of
   * entries whose `snapshotId` is null (as Java does), so a manifest can be
   * reused on a commit retry only if the snapshot id stays the same.
   */
  readonly snapshotId: bigint;
  readonly entries: readonly ManifestEntry[];
}

export interface ManifestContents {
  /** The file's key-value metadata (`schema`, `partition-spec`, `content`, ... and `avro.*`). */
  readonly metadata: Record<string, string>;
  /** Entries as stored: null sequence numbers are not yet inherited. */
  readonly entries: ManifestEntry[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function statusName(status: number): string {
  return status === EntryStatus.Existing
    ? "EXISTING"
    : status === EntryStatus.Added
    ? "ADDED"
    : "DELETED";
}

function checkEntry(entry: ManifestEntry, options: WriteManifestOptions, index: number): void {
  const file = entry.dataFile;
  const where = `manifest entry ${index} (${file.filePath})`;
  if (entry.status !== 0 && entry.status !== 1 && entry.status !== 2) {
    throw new LakehouseError(`${where}: invalid status ${entry.status}`);
  }
  const wantsDeletes = options.content === "deletes";
  if ((file.content !== 0) !== wantsDeletes) {
    throw new LakehouseError(
      `${where}: a file with content ${file.content} cannot go in a ${options.content} manifest`,
    );
  }
  if (file.partition.length !== options.partitionType.fields.length) {
    throw new LakehouseError(
      `${where}: ${file.partition.length} partition values for ` +
        `${options.partitionType.fields.length} partition fields`,
    );
  }
  if (entry.status !== EntryStatus.Added) {
    // Only ADDED entries may inherit: the manifest list's sequence number is that of the
    // snapshot writing this manifest, not of the one that first added the file.
    if (entry.sequenceNumber === null || entry.fileSequenceNumber === null) {
      throw new LakehouseError(
        `${where}: ${statusName(entry.status)} entries must carry both sequence numbers`,
      );
    }
    if (entry.status === EntryStatus.Existing && entry.snapshotId === null) {
      throw new LakehouseError(`${where}: EXISTING entries must carry their snapshot id`);
    }
  } else if (
    (entry.sequenceNumber === null || entry.fileSequenceNumber === null) &&
    entry.snapshotId !== null && entry.snapshotId !== options.snapshotId
  ) {
    throw new LakehouseError(
      `${where}: added by snapshot ${entry.snapshotId} but without sequence numbers, so it ` +
        `would inherit those of snapshot ${options.snapshotId}`,
    );
  }
}

function mapToAvro<V>(
  map: ReadonlyMap<number, V> | undefined,
  value: (v: V) => unknown,
): { key: number; value: unknown }[] | null {
  if (map === undefined) return null;
  return [...map].map(([k, v]) => ({ key: k, value: value(v) }));
}

const bytesToAvro = (v: Uint8Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Serializes a v2 manifest. Throws on entries that would be misread (see `checkEntry`). */
export function writeManifest(options: WriteManifestOptions): Uint8Array {
  const { spec, partitionType } = options;
  if (
    spec.fields.length !== partitionType.fields.length ||
    spec.fields.some((f, i) => f["field-id"] !== partitionType.fields[i].id)
  ) {
    throw new LakehouseError(
      `partition type does not match partition spec ${spec["spec-id"]}: ` +
        `fields ${partitionType.fields.map((f) => f.id).join(",") || "(none)"} vs ` +
        `${spec.fields.map((f) => f["field-id"]).join(",") || "(none)"}`,
    );
  }
  const partitionNames = partitionType.fields.map((f) => avroFieldName(f.name));
  const records = options.entries.map((entry, index) => {
    checkEntry(entry, options, index);
    const file = entry.dataFile;
    const partition: Record<string, unknown> = {};
    partitionType.fields.forEach((field, i) => {
      partition[partitionNames[i]] = toAvroPartitionValue(
        field.type,
        file.partition[i],
        `manifest entry ${index} (${file.filePath}) partition field ${field.name}`,
      );
    });
    return {
      status: entry.status,
      snapshot_id: entry.snapshotId ?? options.snapshotId,
      sequence_number: entry.sequenceNumber,
      file_sequence_number: entry.fileSequenceNumber,
      data_file: {
        content: file.content,
        file_path: file.filePath,
        file_format: file.fileFormat,
        partition,
        record_count: file.recordCount,
        file_size_in_bytes: file.fileSizeInBytes,
        column_sizes: mapToAvro(file.columnSizes, (v) => v),
        value_counts: mapToAvro(file.valueCounts, (v) => v),
        null_value_counts: mapToAvro(file.nullValueCounts, (v) => v),
        nan_value_counts: mapToAvro(file.nanValueCounts, (v) => v),
        lower_bounds: mapToAvro(file.lowerBounds, bytesToAvro),
        upper_bounds: mapToAvro(file.upperBounds, bytesToAvro),
        key_metadata: null,
        split_offsets: file.splitOffsets ? [...file.splitOffsets] : null,
        equality_ids: file.equalityIds ? [...file.equalityIds] : null,
        sort_order_id: file.sortOrderId ?? null,
        referenced_data_file: file.referencedDataFile ?? null,
      },
    };
  });
  const specFields = spec.fields.map((f) => ({
    name: f.name,
    transform: f.transform,
    "source-id": f["source-id"],
    "field-id": f["field-id"],
  }));
  return writeContainer(manifestEntrySchema(partitionType), records, {
    metadata: {
      "schema": JSON.stringify(options.schema),
      "schema-id": String(options.schema["schema-id"]),
      "partition-spec": JSON.stringify(specFields),
      "partition-spec-id": String(spec["spec-id"]),
      "format-version": "2",
      "content": options.content,
    },
  });
}

/** Reader of one int-keyed map field, whichever way the writer encoded it. */
function mapReader(type: AvroSchema, named: NamedTypes, what: string, ids: [number, number]) {
  if (isComplex(type) && type.type === "map") {
    return (value: unknown) =>
      new Map(Object.entries(value as object).map(([k, v]) => [Number(k), v]));
  }
  if (!isComplex(type) || type.type !== "array") {
    throw new AvroFormatError(`unexpected Avro schema: ${what} is not a map`);
  }
  const fields = recordFields(type.items as AvroSchema, named, `${what} entry`);
  // By the spec's key/value ids; by Java's names or position for writers that used other ids.
  const key = fields.find((f) => f.id === ids[0]) ?? fields.find((f) => f.name === "key") ??
    fields[0];
  const val = fields.find((f) => f.id === ids[1]) ?? fields.find((f) => f.name === "value") ??
    fields[1];
  if (!key || !val || key === val) {
    throw new AvroFormatError(`unexpected Avro schema: ${what} has no key/value fields`);
  }
  return (value: unknown) =>
    new Map(
      (value as Record<string, unknown>[]).map((e) => [Number(e[key.name]), e[val.name]] as const),
    );
}

function toBigInt(value: unknown): bigint {
  return typeof value === "bigint" ? value : BigInt(value as number);
}

function copyBytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Uint8Array);
}

/** Spec field ids in spec order, from the `partition-spec` metadata, when usable. */
function specOrder(metadata: Record<string, string>): number[] | undefined {
  try {
    const fields = JSON.parse(metadata["partition-spec"] ?? "null");
    if (!Array.isArray(fields)) return undefined;
    const ids = fields.map((f) => f?.["field-id"]);
    return ids.every((id) => typeof id === "number") ? ids : undefined;
  } catch {
    return undefined;
  }
}

/** Iceberg's file formats: a manifest's format is named in errors only when it is one of these. */
const FILE_FORMATS: ReadonlySet<string> = new Set(["AVRO", "ORC", "PARQUET", "PUFFIN"]);

/**
 * Parses a manifest written by this module, Java, pyiceberg or any
 * spec-conforming writer. Errors name the entry and field, never a value.
 */
export function readManifest(bytes: Uint8Array): ManifestContents {
  const { schema, metadata, records } = readContainer(bytes);
  const named = collectNamedTypes(schema);
  const entry = new FieldsById(schema, named, "manifest_entry");
  const dataFileRef = entry.required(2, "data_file");
  entry.required(0, "status");
  const df = new FieldsById(dataFileRef.type, named, "data_file");
  df.required(100, "file_path");
  df.required(103, "record_count");
  df.required(104, "file_size_in_bytes");
  let partitionFields = recordFields(df.required(102, "partition").type, named, "partition");
  const order = specOrder(metadata);
  if (
    order && order.length === partitionFields.length &&
    order.every((id) => partitionFields.some((f) => f.id === id))
  ) {
    partitionFields = order.map((id) => partitionFields.find((f) => f.id === id)!);
  }
  const maps = new Map<number, (value: unknown) => Map<number, unknown>>();
  const mapIds: [number, [number, number]][] = [
    [108, [117, 118]],
    [109, [119, 120]],
    [110, [121, 122]],
    [137, [138, 139]],
    [125, [126, 127]],
    [128, [129, 130]],
  ];
  for (const [id, kv] of mapIds) {
    const field = df.field(id);
    if (field) maps.set(id, mapReader(field.type, named, field.name, kv));
  }
  const readMap = <V>(record: Record<string, unknown>, id: number, value: (v: unknown) => V) => {
    const raw = df.get(record, id);
    if (raw === null || raw === undefined) return undefined;
    const map = maps.get(id)!(raw);
    return new Map([...map].map(([k, v]) => [k, value(v)]));
  };

  const entries = records.map((raw, index): ManifestEntry => {
    const record = raw as Record<string, unknown>;
    const d = record[dataFileRef.name] as Record<string, unknown>;
    const path = String(df.get(d, 100));
    // Errors name the entry, not what it holds (see readContainer).
    const where = `manifest entry ${index}`;
    const status = Number(entry.get(record, 0));
    if (status !== 0 && status !== 1 && status !== 2) {
      throw new AvroFormatError(`${where}: invalid status ${status}`);
    }
    const content = Number(df.get(d, 134) ?? 0);
    if (content !== 0 && content !== 1 && content !== 2) {
      throw new AvroFormatError(`${where}: invalid content ${content}`);
    }
    const format = String(df.get(d, 101) ?? "").toUpperCase();
    if (format !== "PARQUET") {
      const named = FILE_FORMATS.has(format) ? format : "of an unknown name";
      throw new LakehouseError(`${where}: file format ${named} is not supported`);
    }
    const partitionRecord = df.get(d, 102) as Record<string, unknown> | null;
    const partition: PartitionValue[] = partitionFields.map((f) =>
      fromAvroPartitionValue(f.type, partitionRecord?.[f.name], `${where} partition ${f.name}`)
    );
    const file: Mutable<DataFile> = {
      content: content as FileContent,
      filePath: path,
      fileFormat: "PARQUET",
      partition,
      recordCount: toBigInt(df.get(d, 103)),
      fileSizeInBytes: toBigInt(df.get(d, 104)),
    };
    const columnSizes = readMap(d, 108, toBigInt);
    if (columnSizes) file.columnSizes = columnSizes;
    const valueCounts = readMap(d, 109, toBigInt);
    if (valueCounts) file.valueCounts = valueCounts;
    const nullValueCounts = readMap(d, 110, toBigInt);
    if (nullValueCounts) file.nullValueCounts = nullValueCounts;
    const nanValueCounts = readMap(d, 137, toBigInt);
    if (nanValueCounts) file.nanValueCounts = nanValueCounts;
    const lowerBounds = readMap(d, 125, copyBytes);
    if (lowerBounds) file.lowerBounds = lowerBounds;
    const upperBounds = readMap(d, 128, copyBytes);
    if (upperBounds) file.upperBounds = upperBounds;
    const splitOffsets = df.get(d, 132);
    if (splitOffsets) file.splitOffsets = (splitOffsets as unknown[]).map(toBigInt);
    const equalityIds = df.get(d, 135);
    if (equalityIds) file.equalityIds = (equalityIds as unknown[]).map(Number);
    const sortOrderId = df.get(d, 140);
    if (sortOrderId !== null && sortOrderId !== undefined) file.sortOrderId = Number(sortOrderId);
    const referenced = df.get(d, 143);
    if (referenced !== null && referenced !== undefined) {
      file.referencedDataFile = String(referenced);
    }

    const optionalLong = (id: number) => {
      const value = entry.get(record, id);
      return value === null || value === undefined ? null : toBigInt(value);
    };
    return {
      status: status as EntryStatus,
      snapshotId: optionalLong(1),
      sequenceNumber: optionalLong(3),
      fileSequenceNumber: optionalLong(4),
      dataFile: file,
    };
  });
  return { metadata, entries };
}

/**
 * Fills what entries inherit from their manifest-list entry: a null snapshot
 * id becomes the manifest's `added_snapshot_id`; null sequence numbers of
 * ADDED entries become the manifest's `sequence_number`. Other entries must
 * carry their own (except in manifests upgraded from v1, sequence number 0).
 */
export function inheritSequenceNumbers(
  entries: readonly ManifestEntry[],
  manifestFile: ManifestFile,
): ManifestEntry[] {
  const inherited = manifestFile.sequenceNumber;
  return entries.map((entry, index) => {
    const mayInherit = entry.status === EntryStatus.Added || inherited === 0n;
    if (!mayInherit && (entry.sequenceNumber === null || entry.fileSequenceNumber === null)) {
      throw new AvroFormatError(
        `${manifestFile.manifestPath}: ${statusName(entry.status)} entry ${index} ` +
          "has no sequence number",
      );
    }
    return {
      ...entry,
      snapshotId: entry.snapshotId ?? manifestFile.addedSnapshotId,
      sequenceNumber: entry.sequenceNumber ?? inherited,
      fileSequenceNumber: entry.fileSequenceNumber ?? inherited,
    };
  });
}
