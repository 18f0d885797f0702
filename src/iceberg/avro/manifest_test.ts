import assert from "node:assert/strict";
import type { DataFile, ManifestEntry, ManifestFile } from "../spec/types.ts";
import {
  BIG_SNAPSHOT_ID,
  dataFile,
  idProblems,
  OLD_SNAPSHOT_ID,
  partitionType,
  schema,
  spec,
  unpartitioned,
} from "./_fixtures.ts";
import { readContainer, writeContainer } from "./container.ts";
import { inheritSequenceNumbers, readManifest, writeManifest } from "./manifest.ts";
import { manifestEntrySchema } from "./schemas.ts";

const added = (file: DataFile): ManifestEntry => ({
  status: 1,
  snapshotId: BIG_SNAPSHOT_ID,
  sequenceNumber: null,
  fileSequenceNumber: null,
  dataFile: file,
});

const dataEntries: ManifestEntry[] = [
  added(dataFile(1, [9, 419686, 2n ** 60n + 7n, 17486])),
  added(dataFile(2, [null, -5, null, null])),
  {
    status: 0,
    snapshotId: OLD_SNAPSHOT_ID,
    sequenceNumber: 2n ** 53n + 11n,
    fileSequenceNumber: 2n ** 53n + 12n,
    dataFile: dataFile(3, [0, 0, -(2n ** 63n), -1]),
  },
  {
    status: 2,
    snapshotId: BIG_SNAPSHOT_ID,
    sequenceNumber: 5n,
    fileSequenceNumber: 6n,
    dataFile: { ...dataFile(4, [15, 1, 1n, 0]), equalityIds: [1, 2] },
  },
];

function writeData(entries = dataEntries) {
  return writeManifest({
    schema,
    spec,
    partitionType,
    content: "data",
    snapshotId: BIG_SNAPSHOT_ID,
    entries,
  });
}

Deno.test("data manifest round-trips entries, partition values, maps, bounds and 64-bit ids", () => {
  const { entries } = readManifest(writeData());
  assert.deepEqual(entries, dataEntries);
  assert.equal(entries[2].sequenceNumber, 9_007_199_254_741_003n);
  assert.ok(entries[0].dataFile.lowerBounds!.get(1) instanceof Uint8Array);
});

Deno.test("manifest metadata holds the six keys Iceberg readers expect", () => {
  const { metadata } = readManifest(writeData());
  assert.deepEqual(JSON.parse(metadata["schema"]), schema);
  assert.equal(metadata["schema-id"], "3");
  assert.deepEqual(JSON.parse(metadata["partition-spec"]), [
    { name: "order_id_bucket", transform: "bucket[16]", "source-id": 1, "field-id": 1000 },
    { name: "event_timestamp_hour", transform: "hour", "source-id": 2, "field-id": 1001 },
    { name: "user_id", transform: "identity", "source-id": 3, "field-id": 1002 },
    { name: "event_date", transform: "identity", "source-id": 4, "field-id": 1003 },
  ]);
  assert.equal(metadata["partition-spec-id"], "2");
  assert.equal(metadata["format-version"], "2");
  assert.equal(metadata["content"], "data");
  assert.equal(metadata["avro.codec"], "deflate");
});

Deno.test("manifest's Avro schema carries every field id and list element id", () => {
  const { schema: written } = readContainer(writeData());
  assert.deepEqual(idProblems(written), []);
  assert.deepEqual(written, manifestEntrySchema(partitionType));
  const text = JSON.stringify(written);
  for (const id of [105, 106, 107, 111]) assert.ok(!text.includes(`"field-id":${id},`), `id ${id}`);
  for (
    const id of [
      0,
      1,
      2,
      3,
      4,
      100,
      101,
      102,
      103,
      104,
      108,
      109,
      110,
      117,
      118,
      119,
      120,
      121,
      122,
    ]
      .concat([125, 126, 127, 128, 129, 130, 131, 132, 134, 135, 137, 138, 139, 140, 143])
      .concat([1000, 1001, 1002, 1003])
  ) {
    assert.ok(text.includes(`"field-id":${id}`), `field-id ${id} missing`);
  }
  assert.ok(text.includes(`"element-id":133`) && text.includes(`"element-id":136`));
});

Deno.test("delete manifest round-trips position deletes with referenced_data_file", () => {
  const entries: ManifestEntry[] = [{
    status: 1,
    snapshotId: BIG_SNAPSHOT_ID,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile: {
      content: 1,
      filePath: "s3://bucket/orders/data/deletes-1.parquet",
      fileFormat: "PARQUET",
      partition: [9, 419686, 2n ** 60n + 7n, 17486],
      recordCount: 3n,
      fileSizeInBytes: 812n,
      referencedDataFile: "s3://bucket/orders/data/part-1.parquet",
    },
  }];
  const bytes = writeManifest({
    schema,
    spec,
    partitionType,
    content: "deletes",
    snapshotId: BIG_SNAPSHOT_ID,
    entries,
  });
  const read = readManifest(bytes);
  assert.equal(read.metadata["content"], "deletes");
  assert.deepEqual(read.entries, entries);
});

Deno.test("unpartitioned manifest uses an empty partition record", () => {
  const file: DataFile = {
    content: 0,
    filePath: "file:///tmp/t/data/a.parquet",
    fileFormat: "PARQUET",
    partition: [],
    recordCount: 1n,
    fileSizeInBytes: 10n,
  };
  const bytes = writeManifest({
    schema,
    spec: unpartitioned,
    partitionType: { fields: [] },
    content: "data",
    snapshotId: BIG_SNAPSHOT_ID,
    entries: [added(file), { ...added(file), snapshotId: null }],
  });
  const { schema: written } = readContainer(bytes);
  assert.match(
    JSON.stringify(written),
    /"name":"partition","type":\{"type":"record","name":"r102","fields":\[\]\}/,
  );
  const read = readManifest(bytes);
  assert.equal(read.metadata["partition-spec"], "[]");
  assert.equal(read.metadata["partition-spec-id"], "0");
  // A null snapshot id is written as the manifest's snapshot, as Java does.
  assert.deepEqual(read.entries, [added(file), added(file)]);
});

Deno.test("partition values of every primitive type round-trip", () => {
  const fields = [
    { id: 1000, name: "b", type: "boolean" },
    { id: 1001, name: "f", type: "float" },
    { id: 1002, name: "d", type: "double" },
    { id: 1003, name: "s", type: "string" },
    { id: 1004, name: "ts", type: "timestamp" },
    { id: 1005, name: "tstz", type: "timestamptz" },
    { id: 1006, name: "t", type: "time" },
    { id: 1007, name: "u", type: "uuid" },
    { id: 1008, name: "bin", type: "binary" },
    { id: 1009, name: "fx", type: "fixed[3]" },
    { id: 1010, name: "dec", type: "decimal(9, 2)" },
    { id: 1011, name: "dec2", type: "decimal(9, 2)" },
    { id: 1012, name: "order-date 2", type: "date" },
  ] as const;
  const values = [
    true,
    1.5,
    -0.25,
    "ünï 😀",
    1_510_871_468_000_000n,
    -1n,
    3_600_000_000n,
    "f79c3e09-677c-4bbd-a479-3f349cb785e7",
    new Uint8Array([0, 1, 255]),
    new Uint8Array([9, 8, 7]),
    1420n,
    -99_999_999n,
    -3,
  ];
  const allSpec = {
    "spec-id": 5,
    fields: fields.map((f) => ({
      "source-id": 1,
      "field-id": f.id,
      name: f.name,
      transform: "identity" as const,
    })),
  };
  const write = (partition: DataFile["partition"]) =>
    readManifest(writeManifest({
      schema,
      spec: allSpec,
      partitionType: { fields },
      content: "data",
      snapshotId: BIG_SNAPSHOT_ID,
      entries: [added({ ...dataFile(1, partition) })],
    }));
  const read = write(values);
  assert.deepEqual(read.entries[0].dataFile.partition, values);
  assert.deepEqual(
    write(values.map(() => null)).entries[0].dataFile.partition,
    values.map(() => null),
  );

  const avro = JSON.stringify(
    readContainer(writeManifest({
      schema,
      spec: allSpec,
      partitionType: { fields },
      content: "data",
      snapshotId: 1n,
      entries: [],
    })).schema,
  );
  // The second decimal(9, 2) refers to the named fixed type defined by the first.
  assert.match(avro, /"type":\["null","decimal_9_2"\]/);
  assert.match(
    avro,
    /"name":"order_x2Ddate_x202","type":\["null",\{"type":"int","logicalType":"date"\}\]/,
  );
  assert.match(avro, /"iceberg-field-name":"order-date 2"/);
});

Deno.test("writeManifest rejects entries readers would misinterpret", () => {
  const file = dataFile(1, [1, 2, 3n, 4]);
  const write = (entries: ManifestEntry[], content: "data" | "deletes" = "data") =>
    writeManifest({ schema, spec, partitionType, content, snapshotId: BIG_SNAPSHOT_ID, entries });
  assert.throws(
    () => write([{ ...added(file), status: 0, snapshotId: OLD_SNAPSHOT_ID, sequenceNumber: 3n }]),
    /EXISTING entries must carry both sequence numbers/,
  );
  assert.throws(
    () => write([{ ...added(file), status: 2, fileSequenceNumber: 3n }]),
    /DELETED entries must carry both sequence numbers/,
  );
  assert.throws(
    () =>
      write([{
        status: 0,
        snapshotId: null,
        sequenceNumber: 1n,
        fileSequenceNumber: 1n,
        dataFile: file,
      }]),
    /EXISTING entries must carry their snapshot id/,
  );
  assert.throws(
    () => write([{ ...added(file), snapshotId: OLD_SNAPSHOT_ID }]),
    /without sequence numbers, so it would inherit/,
  );
  assert.throws(() => write([added(file)], "deletes"), /content 0 cannot go in a deletes manifest/);
  assert.throws(
    () => write([added(dataFile(1, [1, 2]))]),
    /2 partition values for 4 partition fields/,
  );
  assert.throws(
    () => write([added(dataFile(1, ["x", 2, 3n, 4]))]),
    /partition field order_id_bucket: "x" is not a valid int partition value/,
  );
  assert.throws(
    () =>
      writeManifest({
        schema,
        spec: unpartitioned,
        partitionType,
        content: "data",
        snapshotId: 1n,
        entries: [],
      }),
    /partition type does not match partition spec 0/,
  );
});

Deno.test("inheritSequenceNumbers fills ADDED entries from the manifest list entry", () => {
  const manifest: ManifestFile = {
    manifestPath: "s3://bucket/orders/metadata/m0.avro",
    manifestLength: 1234n,
    partitionSpecId: 2,
    content: 0,
    sequenceNumber: 2n ** 53n + 100n,
    minSequenceNumber: 2n ** 53n + 11n,
    addedSnapshotId: BIG_SNAPSHOT_ID,
    addedFilesCount: 2,
    existingFilesCount: 1,
    deletedFilesCount: 1,
    addedRowsCount: 2003n,
    existingRowsCount: 1003n,
    deletedRowsCount: 1004n,
  };
  const stored = readManifest(writeData()).entries;
  const inherited = inheritSequenceNumbers(
    [...stored, { ...stored[0], snapshotId: null }],
    manifest,
  );
  assert.deepEqual(inherited.map((e) => [e.snapshotId, e.sequenceNumber, e.fileSequenceNumber]), [
    [BIG_SNAPSHOT_ID, 2n ** 53n + 100n, 2n ** 53n + 100n],
    [BIG_SNAPSHOT_ID, 2n ** 53n + 100n, 2n ** 53n + 100n],
    [OLD_SNAPSHOT_ID, 2n ** 53n + 11n, 2n ** 53n + 12n],
    [BIG_SNAPSHOT_ID, 5n, 6n],
    [BIG_SNAPSHOT_ID, 2n ** 53n + 100n, 2n ** 53n + 100n],
  ]);
  assert.deepEqual(stored[0].sequenceNumber, null, "input entries are not modified");
  assert.throws(
    () => inheritSequenceNumbers([{ ...stored[2], sequenceNumber: null }], manifest),
    /m0\.avro: EXISTING entry 0 has no sequence number/,
  );
});

Deno.test("readManifest resolves fields by id in another writer's layout", () => {
  // A v1-style manifest from some other writer: other names, other field order, a
  // deprecated field (105), no content or sequence numbers, a partition field written
  // under a different name, and a map referenced by a type name.
  const kv = (k: number, v: number, value: string) => ({
    type: "array",
    logicalType: "map",
    items: {
      type: "record",
      name: `k${k}_v${v}`,
      fields: [
        { name: "value", type: value, "field-id": v },
        { name: "key", type: "int", "field-id": k },
      ],
    },
  });
  const foreign = {
    type: "record",
    name: "entry",
    fields: [
      {
        name: "file",
        "field-id": 2,
        type: {
          type: "record",
          name: "df",
          fields: [
            { name: "path", type: "string", "field-id": 100 },
            { name: "size", type: "long", "field-id": 104 },
            { name: "block_size_in_bytes", type: "long", "field-id": 105 },
            { name: "format", type: "string", "field-id": 101 },
            {
              name: "part",
              "field-id": 102,
              type: {
                type: "record",
                name: "p",
                fields: [
                  { name: "hr", type: ["null", "int"], default: null, "field-id": 1001 },
                  { name: "bkt", type: ["null", "int"], default: null, "field-id": 1000 },
                ],
              },
            },
            { name: "rows", type: "long", "field-id": 103 },
            { name: "sizes", type: ["null", kv(117, 118, "long")], default: null, "field-id": 108 },
            {
              name: "counts",
              type: ["null", { type: "array", logicalType: "map", items: "k117_v118" }],
              default: null,
              "field-id": 109,
            },
          ],
        },
      },
      { name: "snap", type: ["null", "long"], default: null, "field-id": 1 },
      { name: "st", type: "int", "field-id": 0 },
    ],
  };
  const bytes = writeContainer(
    foreign,
    [{
      file: {
        path: "s3://b/t/data/x.parquet",
        size: 99n,
        block_size_in_bytes: 67108864n,
        format: "parquet",
        part: { hr: 419686, bkt: 3 },
        rows: 7n,
        sizes: [{ key: 1, value: 2n ** 55n }],
        counts: [{ key: 1, value: 7n }],
      },
      snap: OLD_SNAPSHOT_ID,
      st: 1,
    }],
    {
      metadata: {
        "partition-spec": JSON.stringify([
          { name: "bkt", transform: "bucket[16]", "source-id": 1, "field-id": 1000 },
          { name: "hr", transform: "hour", "source-id": 2, "field-id": 1001 },
        ]),
      },
    },
  );
  assert.deepEqual(readManifest(bytes).entries, [{
    status: 1,
    snapshotId: OLD_SNAPSHOT_ID,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile: {
      content: 0,
      filePath: "s3://b/t/data/x.parquet",
      fileFormat: "PARQUET",
      partition: [3, 419686],
      recordCount: 7n,
      fileSizeInBytes: 99n,
      columnSizes: new Map([[1, 2n ** 55n]]),
      valueCounts: new Map([[1, 7n]]),
    },
  }]);
});

Deno.test("readManifest rejects files that are not manifests", () => {
  const notManifest = writeContainer({ type: "record", name: "x", fields: [] }, [{}]);
  assert.throws(() => readManifest(notManifest), /manifest_entry has no field 2 \(data_file\)/);
  assert.throws(() => readManifest(new Uint8Array(0)), /truncated Avro file/);
});

Deno.test("readManifest errors name the entry, never its values", () => {
  const secret = "zzPLANTEDSECRETzz";
  const entrySchema = {
    type: "record",
    name: "entry",
    fields: [
      { name: "status", type: "int", "field-id": 0 },
      {
        name: "data_file",
        "field-id": 2,
        type: {
          type: "record",
          name: "df",
          fields: [
            { name: "file_path", type: "string", "field-id": 100 },
            { name: "file_format", type: "string", "field-id": 101 },
            {
              name: "partition",
              "field-id": 102,
              type: { type: "record", name: "p", fields: [] },
            },
            { name: "record_count", type: "long", "field-id": 103 },
            { name: "file_size_in_bytes", type: "long", "field-id": 104 },
          ],
        },
      },
    ],
  };
  const entry = (format: string) => ({
    status: 1,
    data_file: {
      file_path: `s3://b/${secret}.parquet`,
      file_format: format,
      partition: {},
      record_count: 1n,
      file_size_in_bytes: 1n,
    },
  });
  for (
    const [format, expected] of [
      [secret, "manifest entry 0: file format of an unknown name is not supported"],
      ["orc", "manifest entry 0: file format ORC is not supported"],
    ]
  ) {
    assert.throws(
      () => readManifest(writeContainer(entrySchema, [entry(format)])),
      (e: Error) => e.message === expected,
    );
  }
});
