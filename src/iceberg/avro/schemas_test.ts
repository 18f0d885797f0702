import assert from "node:assert/strict";
import { idProblems, partitionType } from "./_fixtures.ts";
import {
  avroFieldName,
  type AvroRecordSchema,
  decimalRequiredBytes,
  manifestEntrySchema,
  manifestListSchema,
  primitiveAvroType,
} from "./schemas.ts";

Deno.test("generated schemas carry Iceberg ids everywhere", () => {
  assert.deepEqual(idProblems(manifestEntrySchema(partitionType)), []);
  assert.deepEqual(idProblems(manifestEntrySchema({ fields: [] })), []);
  assert.deepEqual(idProblems(manifestListSchema()), []);
});

Deno.test("manifest entry schema follows Java's field order, names and optionality", () => {
  const entry = manifestEntrySchema(partitionType);
  assert.deepEqual(
    entry.fields.map((f) => [f.name, f["field-id"], "default" in f]),
    [
      ["status", 0, false],
      ["snapshot_id", 1, true],
      ["sequence_number", 3, true],
      ["file_sequence_number", 4, true],
      ["data_file", 2, false],
    ],
  );
  const dataFile = entry.fields[4].type as AvroRecordSchema;
  assert.equal(dataFile.name, "r2");
  assert.deepEqual(dataFile.fields.map((f) => f.name), [
    "content",
    "file_path",
    "file_format",
    "partition",
    "record_count",
    "file_size_in_bytes",
    "column_sizes",
    "value_counts",
    "null_value_counts",
    "nan_value_counts",
    "lower_bounds",
    "upper_bounds",
    "key_metadata",
    "split_offsets",
    "equality_ids",
    "sort_order_id",
    "referenced_data_file",
  ]);
  const text = JSON.stringify(entry);
  assert.ok(
    text.includes(
      `{"name":"column_sizes","type":["null",{"type":"array","items":{"type":"record",` +
        `"name":"k117_v118","fields":[{"name":"key","type":"int","field-id":117},` +
        `{"name":"value","type":"long","field-id":118}]},"logicalType":"map"}],` +
        `"default":null,"field-id":108}`,
    ),
  );
  assert.ok(
    text.includes(
      `{"name":"partition","type":{"type":"record","name":"r102","fields":[` +
        `{"name":"order_id_bucket","type":["null","int"],"default":null,"field-id":1000},`,
    ),
  );
  assert.ok(
    text.includes(
      `{"name":"event_date","type":["null",{"type":"int","logicalType":"date"}],` +
        `"default":null,"field-id":1003}`,
    ),
  );
});

Deno.test("partition result types map to Java's Avro types", () => {
  const names = new Set<string>();
  assert.deepEqual(primitiveAvroType("timestamptz", names), {
    type: "long",
    logicalType: "timestamp-micros",
    "adjust-to-utc": true,
  });
  assert.deepEqual(primitiveAvroType("decimal(38, 10)", names), {
    type: "fixed",
    name: "decimal_38_10",
    size: 16,
    logicalType: "decimal",
    precision: 38,
    scale: 10,
  });
  assert.equal(primitiveAvroType("decimal(38, 10)", names), "decimal_38_10");
  assert.equal(primitiveAvroType("binary", names), "bytes");
  assert.throws(
    () => primitiveAvroType({ type: "struct", fields: [] }, names),
    /must be primitive, got struct/,
  );
  assert.deepEqual([1, 2, 3, 9, 10, 18, 19, 38].map(decimalRequiredBytes), [
    1,
    1,
    2,
    4,
    5,
    8,
    9,
    16,
  ]);
});

Deno.test("partition field names are made Avro-compatible the way Java does", () => {
  assert.equal(avroFieldName("event_timestamp_hour"), "event_timestamp_hour");
  assert.equal(avroFieldName("1st"), "_1st");
  assert.equal(avroFieldName("a-b c"), "a_x2Db_x20c");
  assert.equal(avroFieldName("x😀"), "x_xD83D_xDE00");
});
