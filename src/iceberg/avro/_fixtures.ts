/** Shared test fixtures: an order-events table partitioned the ways the pipeline partitions. */
import type { DataFile, PartitionSpec, Schema } from "../spec/types.ts";
import type { AvroSchema, PartitionType } from "./schemas.ts";

export const schema: Schema = {
  type: "struct",
  "schema-id": 3,
  "identifier-field-ids": [1],
  fields: [
    { id: 1, name: "order_id", required: true, type: "string" },
    { id: 2, name: "event_timestamp", required: true, type: "timestamptz" },
    { id: 3, name: "user_id", required: false, type: "long" },
    { id: 4, name: "event_date", required: false, type: "date" },
    { id: 5, name: "amount", required: false, type: "double" },
    {
      id: 6,
      name: "items",
      required: false,
      type: {
        type: "list",
        "element-id": 7,
        element: "string",
        "element-required": true,
      },
    },
  ],
};

export const spec: PartitionSpec = {
  "spec-id": 2,
  fields: [
    { "source-id": 1, "field-id": 1000, name: "order_id_bucket", transform: "bucket[16]" },
    { "source-id": 2, "field-id": 1001, name: "event_timestamp_hour", transform: "hour" },
    { "source-id": 3, "field-id": 1002, name: "user_id", transform: "identity" },
    { "source-id": 4, "field-id": 1003, name: "event_date", transform: "identity" },
  ],
};

export const partitionType: PartitionType = {
  fields: [
    { id: 1000, name: "order_id_bucket", type: "int" },
    { id: 1001, name: "event_timestamp_hour", type: "int" },
    { id: 1002, name: "user_id", type: "long" },
    { id: 1003, name: "event_date", type: "date" },
  ],
};

export const unpartitioned: PartitionSpec = { "spec-id": 0, fields: [] };

/** Above 2^53: survives only if longs are bigint end to end. */
export const BIG_SNAPSHOT_ID = 9_007_199_254_740_993n;
export const OLD_SNAPSHOT_ID = 8_765_432_109_876_543_210n;

export function dataFile(n: number, partition: DataFile["partition"]): DataFile {
  return {
    content: 0,
    filePath: `s3://bucket/orders/data/part-${n}.parquet`,
    fileFormat: "PARQUET",
    partition,
    recordCount: 1000n + BigInt(n),
    fileSizeInBytes: 2n ** 40n + BigInt(n),
    columnSizes: new Map([[1, 100n], [2, 2n ** 54n + 1n]]),
    valueCounts: new Map([[1, 1000n], [2, 1000n]]),
    nullValueCounts: new Map([[1, 0n], [2, 3n]]),
    nanValueCounts: new Map([[5, 0n]]),
    lowerBounds: new Map([[1, new TextEncoder().encode("a")], [3, new Uint8Array(8)]]),
    upperBounds: new Map([[1, new TextEncoder().encode("z")], [3, new Uint8Array(8).fill(0xff)]]),
    splitOffsets: [4n, 2n ** 33n],
    sortOrderId: 0,
  };
}

/** Asserts Iceberg's id rules on an Avro schema: ids on every field, element ids on lists. */
export function idProblems(schema: AvroSchema, path = "$"): string[] {
  const problems: string[] = [];
  if (Array.isArray(schema)) {
    schema.forEach((branch, i) => problems.push(...idProblems(branch, `${path}|${i}`)));
    return problems;
  }
  if (typeof schema !== "object" || schema === null) return problems;
  const complex = schema as { type: unknown; [k: string]: unknown };
  if (complex.type === "record") {
    for (const field of complex.fields as { name: string; type: AvroSchema }[]) {
      const where = `${path}.${field.name}`;
      if (!Number.isInteger((field as Record<string, unknown>)["field-id"])) {
        problems.push(`${where} has no field-id`);
      }
      problems.push(...idProblems(field.type, where));
    }
  } else if (complex.type === "array") {
    // Int-keyed maps are arrays of key/value records; their ids sit on the record fields.
    if (complex.logicalType !== "map" && !Number.isInteger(complex["element-id"])) {
      problems.push(`${path} is an array without element-id`);
    }
    if (complex.logicalType === "map") {
      const items = complex.items as { type: string; fields?: unknown[] };
      if (items.type !== "record" || items.fields?.length !== 2) {
        problems.push(`${path} is a map array without a key/value record`);
      }
    }
    problems.push(...idProblems(complex.items as AvroSchema, `${path}[]`));
  } else if (typeof complex.type === "object") {
    problems.push(...idProblems(complex.type as AvroSchema, path));
  }
  return problems;
}
