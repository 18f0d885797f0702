/**
 * The Iceberg v2 data model as plain data. Everything else in src/iceberg
 * (metadata JSON, Avro manifests, writers, commits, scans) reads and writes
 * these shapes. 64-bit ids (snapshot ids, sequence numbers, record counts in
 * manifests) are bigint end to end: they exceed 2^53.
 */

export type PrimitiveType =
  | "boolean"
  | "int"
  | "long"
  | "float"
  | "double"
  | "date"
  | "time"
  | "timestamp"
  | "timestamptz"
  | "string"
  | "uuid"
  | "binary"
  | `decimal(${number}, ${number})`
  | `fixed[${number}]`;

export interface ListType {
  readonly type: "list";
  readonly "element-id": number;
  readonly element: IcebergType;
  readonly "element-required": boolean;
}

export interface MapType {
  readonly type: "map";
  readonly "key-id": number;
  readonly key: IcebergType;
  readonly "value-id": number;
  readonly value: IcebergType;
  readonly "value-required": boolean;
}

export interface StructType {
  readonly type: "struct";
  readonly fields: readonly NestedField[];
}

export type IcebergType = PrimitiveType | ListType | MapType | StructType;

export interface NestedField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}

export interface Schema extends StructType {
  readonly "schema-id": number;
  readonly "identifier-field-ids"?: readonly number[];
}

export type Transform =
  | "identity"
  | "hour"
  | "day"
  | "month"
  | "year"
  | "void"
  | `bucket[${number}]`
  | `truncate[${number}]`;

export interface PartitionField {
  readonly "source-id": number;
  readonly "field-id": number;
  readonly name: string;
  readonly transform: Transform;
}

export interface PartitionSpec {
  readonly "spec-id": number;
  readonly fields: readonly PartitionField[];
}

export type SortDirection = "asc" | "desc";
export type NullOrder = "nulls-first" | "nulls-last";

export interface SortField {
  readonly transform: Transform;
  readonly "source-id": number;
  readonly direction: SortDirection;
  readonly "null-order": NullOrder;
}

/** Order 0 with no fields is "unsorted"; every table has it. */
export interface SortOrder {
  readonly "order-id": number;
  readonly fields: readonly SortField[];
}

export type Operation = "append" | "replace" | "overwrite" | "delete";

export interface Snapshot {
  readonly "snapshot-id": bigint;
  readonly "parent-snapshot-id"?: bigint;
  readonly "sequence-number": bigint;
  readonly "timestamp-ms": number;
  readonly "manifest-list": string;
  /** Values are strings; must contain `operation`. */
  readonly summary: Readonly<Record<string, string>> & { readonly operation: Operation };
  readonly "schema-id"?: number;
}

export interface SnapshotRef {
  readonly "snapshot-id": bigint;
  readonly type: "branch" | "tag";
  readonly "max-ref-age-ms"?: number;
  readonly "max-snapshot-age-ms"?: number;
  readonly "min-snapshots-to-keep"?: number;
}

export interface TableMetadata {
  readonly "format-version": 2;
  readonly "table-uuid": string;
  readonly location: string;
  readonly "last-sequence-number": bigint;
  readonly "last-updated-ms": number;
  readonly "last-column-id": number;
  readonly schemas: readonly Schema[];
  readonly "current-schema-id": number;
  readonly "partition-specs": readonly PartitionSpec[];
  readonly "default-spec-id": number;
  readonly "last-partition-id": number;
  readonly properties: Readonly<Record<string, string>>;
  /** Absent (written as -1) when the table has no snapshot. */
  readonly "current-snapshot-id"?: bigint;
  readonly snapshots: readonly Snapshot[];
  readonly "snapshot-log": readonly {
    readonly "timestamp-ms": number;
    readonly "snapshot-id": bigint;
  }[];
  readonly "metadata-log": readonly {
    readonly "timestamp-ms": number;
    readonly "metadata-file": string;
  }[];
  readonly "sort-orders": readonly SortOrder[];
  readonly "default-sort-order-id": number;
  readonly refs: Readonly<Record<string, SnapshotRef>>;
}

/** Partition values in spec field order; null for a null source value. */
export type PartitionValue = number | bigint | string | boolean | Uint8Array | null;

export const FileContent = { Data: 0, PositionDeletes: 1, EqualityDeletes: 2 } as const;
export type FileContent = 0 | 1 | 2;

/** Iceberg `data_file` (manifest field 2), v2 fields only. */
export interface DataFile {
  readonly content: FileContent;
  readonly filePath: string;
  readonly fileFormat: "PARQUET";
  /** One value per field of the spec the file was written with. */
  readonly partition: readonly PartitionValue[];
  readonly recordCount: bigint;
  readonly fileSizeInBytes: bigint;
  readonly columnSizes?: ReadonlyMap<number, bigint>;
  readonly valueCounts?: ReadonlyMap<number, bigint>;
  readonly nullValueCounts?: ReadonlyMap<number, bigint>;
  readonly nanValueCounts?: ReadonlyMap<number, bigint>;
  /** Single-value binary encoding (spec appendix D). */
  readonly lowerBounds?: ReadonlyMap<number, Uint8Array>;
  readonly upperBounds?: ReadonlyMap<number, Uint8Array>;
  readonly splitOffsets?: readonly bigint[];
  readonly equalityIds?: readonly number[];
  readonly sortOrderId?: number;
  /** Position delete files whose rows all target one data file. */
  readonly referencedDataFile?: string;
}

export const EntryStatus = { Existing: 0, Added: 1, Deleted: 2 } as const;
export type EntryStatus = 0 | 1 | 2;

/** A manifest entry; null sequence numbers are inherited from the manifest list on read. */
export interface ManifestEntry {
  readonly status: EntryStatus;
  readonly snapshotId: bigint | null;
  readonly sequenceNumber: bigint | null;
  readonly fileSequenceNumber: bigint | null;
  readonly dataFile: DataFile;
}

export interface FieldSummary {
  readonly containsNull: boolean;
  readonly containsNan?: boolean;
  readonly lowerBound?: Uint8Array;
  readonly upperBound?: Uint8Array;
}

export const ManifestContent = { Data: 0, Deletes: 1 } as const;
export type ManifestContent = 0 | 1;

/** An entry of a manifest list (`manifest_file`). */
export interface ManifestFile {
  readonly manifestPath: string;
  readonly manifestLength: bigint;
  readonly partitionSpecId: number;
  readonly content: ManifestContent;
  readonly sequenceNumber: bigint;
  readonly minSequenceNumber: bigint;
  readonly addedSnapshotId: bigint;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: bigint;
  readonly existingRowsCount: bigint;
  readonly deletedRowsCount: bigint;
  readonly partitions?: readonly FieldSummary[];
}

/** Reserved field ids of position delete files. */
export const POS_DELETE_FILE_PATH_ID = 2147483546;
export const POS_DELETE_POS_ID = 2147483545;
