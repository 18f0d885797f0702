import assert from "node:assert/strict";
import type { ManifestFile } from "../spec/types.ts";
import {
  BIG_SNAPSHOT_ID,
  dataFile,
  idProblems,
  OLD_SNAPSHOT_ID,
  partitionType,
} from "./_fixtures.ts";
import { readContainer } from "./container.ts";
import { readManifestList, writeManifestList } from "./manifest_list.ts";
import { summarizePartitions } from "./partition_summary.ts";
import { manifestListSchema } from "./schemas.ts";

const SEQ = 2n ** 53n + 5n;

const dataManifest: ManifestFile = {
  manifestPath: "s3://bucket/orders/metadata/a-m0.avro",
  manifestLength: 6_543n,
  partitionSpecId: 2,
  content: 0,
  sequenceNumber: SEQ,
  minSequenceNumber: 3n,
  addedSnapshotId: BIG_SNAPSHOT_ID,
  addedFilesCount: 2,
  existingFilesCount: 1,
  deletedFilesCount: 0,
  addedRowsCount: 2n ** 40n,
  existingRowsCount: 1003n,
  deletedRowsCount: 0n,
  partitions: summarizePartitions(partitionType, [
    dataFile(1, [9, 419686, 2n ** 60n + 7n, 17486]),
    dataFile(2, [null, -5, null, null]),
    dataFile(3, [0, 0, -(2n ** 63n), -1]),
  ]),
};

const deleteManifest: ManifestFile = {
  manifestPath: "s3://bucket/orders/metadata/b-m1.avro",
  manifestLength: 900n,
  partitionSpecId: 0,
  content: 1,
  sequenceNumber: 4n,
  minSequenceNumber: 4n,
  addedSnapshotId: OLD_SNAPSHOT_ID,
  addedFilesCount: 1,
  existingFilesCount: 0,
  deletedFilesCount: 0,
  addedRowsCount: 3n,
  existingRowsCount: 0n,
  deletedRowsCount: 0n,
  partitions: [],
};

const unsummarized: ManifestFile = {
  ...deleteManifest,
  manifestPath: "s3://bucket/orders/metadata/c-m2.avro",
  content: 0,
  partitions: undefined,
};
delete (unsummarized as { partitions?: unknown }).partitions;

Deno.test("manifest list round-trips manifests with partition summaries and 64-bit values", () => {
  const manifests = [dataManifest, deleteManifest, unsummarized];
  const bytes = writeManifestList({
    snapshotId: BIG_SNAPSHOT_ID,
    parentSnapshotId: OLD_SNAPSHOT_ID,
    sequenceNumber: SEQ,
    manifests,
  });
  const read = readManifestList(bytes);
  assert.deepEqual(read, manifests);
  assert.deepEqual(read[0].partitions![0], {
    containsNull: true,
    containsNan: false,
    lowerBound: new Uint8Array([0, 0, 0, 0]),
    upperBound: new Uint8Array([9, 0, 0, 0]),
  });
});

Deno.test("manifest list metadata matches Java's, with parent-snapshot-id 'null' when absent", () => {
  const withParent = readContainer(writeManifestList({
    snapshotId: BIG_SNAPSHOT_ID,
    parentSnapshotId: OLD_SNAPSHOT_ID,
    sequenceNumber: SEQ,
    manifests: [dataManifest],
  })).metadata;
  assert.equal(withParent["snapshot-id"], "9007199254740993");
  assert.equal(withParent["parent-snapshot-id"], "8765432109876543210");
  assert.equal(withParent["sequence-number"], "9007199254740997");
  assert.equal(withParent["format-version"], "2");
  assert.equal(withParent["avro.codec"], "deflate");

  const first = readContainer(writeManifestList({
    snapshotId: 1n,
    sequenceNumber: 1n,
    manifests: [],
  }));
  assert.equal(first.metadata["parent-snapshot-id"], "null");
  assert.deepEqual(first.records, []);
});

Deno.test("manifest list Avro schema carries every field id and the list element id", () => {
  const { schema } = readContainer(writeManifestList({
    snapshotId: 1n,
    sequenceNumber: 1n,
    manifests: [],
  }));
  assert.deepEqual(schema, manifestListSchema());
  assert.deepEqual(idProblems(schema), []);
  const text = JSON.stringify(schema);
  for (const id of [500, 501, 502, 503, 504, 505, 506, 507, 509, 510, 511, 512, 513, 514]) {
    assert.ok(text.includes(`"field-id":${id}`), `field-id ${id}`);
  }
  for (const id of [515, 516, 517, 518, 519]) assert.ok(text.includes(`"field-id":${id}`));
  assert.match(text, /"type":"array","items":\{"type":"record","name":"r508".*"element-id":508/);
});

Deno.test("writeManifestList rejects inconsistent sequence numbers", () => {
  const write = (m: ManifestFile) =>
    writeManifestList({ snapshotId: BIG_SNAPSHOT_ID, sequenceNumber: SEQ, manifests: [m] });
  assert.throws(
    () => write({ ...deleteManifest, sequenceNumber: SEQ + 1n }),
    /b-m1\.avro: sequence number 9007199254740998 is beyond the snapshot's/,
  );
  assert.throws(
    () => write({ ...deleteManifest, minSequenceNumber: 5n }),
    /min sequence number 5 exceeds its sequence number 4/,
  );
  assert.throws(
    () => write({ ...dataManifest, sequenceNumber: SEQ - 1n }),
    /added by snapshot 9007199254740993 but has sequence number 9007199254740996/,
  );
});
