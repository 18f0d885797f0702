import assert from "node:assert/strict";
import type { DataFile } from "../spec/types.ts";
import { summarizePartitions } from "./partition_summary.ts";
import { encodePartitionBound } from "./partition_values.ts";
import type { PartitionType } from "./schemas.ts";

const file = (partition: DataFile["partition"]): DataFile => ({
  content: 0,
  filePath: `s3://b/t/data/${JSON.stringify(partition, (_k, v) => String(v))}.parquet`,
  fileFormat: "PARQUET",
  partition,
  recordCount: 1n,
  fileSizeInBytes: 1n,
});

const hex = (bytes: Uint8Array | undefined) =>
  bytes && [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");

Deno.test("bounds use Iceberg's single-value encoding", () => {
  assert.equal(hex(encodePartitionBound("int", 17486)), "4e 44 00 00");
  assert.equal(hex(encodePartitionBound("date", -1)), "ff ff ff ff");
  assert.equal(
    hex(encodePartitionBound("timestamp", 1_510_871_468_000_000n)),
    "00 c3 26 2d 21 5e 05 00",
  );
  assert.equal(hex(encodePartitionBound("long", 34)), "22 00 00 00 00 00 00 00");
  assert.equal(hex(encodePartitionBound("decimal(4, 2)", 1420n)), "05 8c");
  assert.equal(hex(encodePartitionBound("decimal(4, 2)", -1n)), "ff");
  assert.equal(hex(encodePartitionBound("string", "é")), "c3 a9");
  assert.equal(hex(encodePartitionBound("boolean", true)), "01");
  assert.equal(hex(encodePartitionBound("double", 1)), "00 00 00 00 00 00 f0 3f");
  assert.equal(
    hex(encodePartitionBound("uuid", "f79c3e09-677c-4bbd-a479-3f349cb785e7")),
    "f7 9c 3e 09 67 7c 4b bd a4 79 3f 34 9c b7 85 e7",
  );
});

Deno.test("summaries compare values, not encoded bytes", () => {
  const type: PartitionType = {
    fields: [
      { id: 1000, name: "hour", type: "int" },
      { id: 1001, name: "user", type: "long" },
      { id: 1002, name: "s", type: "string" },
      { id: 1003, name: "flag", type: "boolean" },
    ],
  };
  const summaries = summarizePartitions(type, [
    file([256, 2n ** 60n, "\uffff", true]),
    file([-1, -5n, "😀", false]),
    file([1, 3n, "a", false]),
  ]);
  // Little-endian bytes of -1 sort after 256's; by value -1 is the minimum.
  assert.deepEqual(summaries[0], {
    containsNull: false,
    containsNan: false,
    lowerBound: encodePartitionBound("int", -1),
    upperBound: encodePartitionBound("int", 256),
  });
  assert.deepEqual(summaries[1].lowerBound, encodePartitionBound("long", -5n));
  assert.deepEqual(summaries[1].upperBound, encodePartitionBound("long", 2n ** 60n));
  // U+1F600 is above U+FFFF by code point although its first UTF-16 unit is lower.
  assert.deepEqual(summaries[2].lowerBound, new TextEncoder().encode("a"));
  assert.deepEqual(summaries[2].upperBound, new TextEncoder().encode("😀"));
  assert.deepEqual(summaries[3].lowerBound, new Uint8Array([0]));
  assert.deepEqual(summaries[3].upperBound, new Uint8Array([1]));
});

Deno.test("summaries record nulls and NaNs and leave bounds out when there are no values", () => {
  const type: PartitionType = {
    fields: [
      { id: 1000, name: "d", type: "double" },
      { id: 1001, name: "n", type: "int" },
    ],
  };
  const summaries = summarizePartitions(type, [
    file([NaN, null]),
    file([-0, null]),
    file([0, null]),
    file([null, null]),
  ]);
  assert.deepEqual(summaries, [
    {
      containsNull: true,
      containsNan: true,
      lowerBound: encodePartitionBound("double", -0),
      upperBound: encodePartitionBound("double", 0),
    },
    { containsNull: true, containsNan: false },
  ]);
  assert.deepEqual(summarizePartitions(type, []), [
    { containsNull: false, containsNan: false },
    { containsNull: false, containsNan: false },
  ]);
  assert.deepEqual(summarizePartitions({ fields: [] }, [file([])]), []);
});

Deno.test("summaries reject partition tuples that do not fit the partition type", () => {
  const type: PartitionType = { fields: [{ id: 1000, name: "n", type: "int" }] };
  assert.throws(() => summarizePartitions(type, [file([1, 2])]), /2 partition values for 1/);
  assert.throws(
    () => summarizePartitions(type, [file([2 ** 31])]),
    /partition field n: 2147483648 is not a valid int partition value/,
  );
});
