import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import { SummaryBuilder } from "./summary.ts";
import { type DataFile, FileContent, type PartitionValue } from "./types.ts";

function file(
  content: DataFile["content"],
  records: bigint,
  size: bigint,
  partition: PartitionValue[] = [],
): DataFile {
  return {
    content,
    filePath: `s3://b/t/data/${records}-${size}.parquet`,
    fileFormat: "PARQUET",
    partition,
    recordCount: records,
    fileSizeInBytes: size,
  };
}

Deno.test("the first append has totals equal to what it added", () => {
  const summary = new SummaryBuilder()
    .addFile(file(FileContent.Data, 10n, 1000n, [419686, 3]))
    .addFile(file(FileContent.Data, 5n, 500n, [419686, 3]))
    .addFile(file(FileContent.Data, 7n, 700n, [419687, 3]))
    .build("append", undefined);
  assert.deepEqual(summary, {
    operation: "append",
    "added-data-files": "3",
    "added-records": "22",
    "added-files-size": "2200",
    "changed-partition-count": "2",
    "total-records": "22",
    "total-files-size": "2200",
    "total-data-files": "3",
    "total-delete-files": "0",
    "total-position-deletes": "0",
    "total-equality-deletes": "0",
  });
  assert.equal(Object.keys(summary)[0], "operation");
});

Deno.test("totals carry over from the previous snapshot", () => {
  const previous = {
    operation: "append",
    "total-records": "100",
    "total-files-size": "10000",
    "total-data-files": "4",
    "total-delete-files": "1",
    "total-position-deletes": "3",
    "total-equality-deletes": "0",
  };
  const summary = new SummaryBuilder()
    .addFile(file(FileContent.PositionDeletes, 2n, 300n, ["a"]))
    .addFile(file(FileContent.Data, 8n, 800n, ["a"]))
    .removeFile(file(FileContent.Data, 10n, 1000n, ["a"]))
    .removeFile(file(FileContent.PositionDeletes, 3n, 200n, ["b"]))
    .build("overwrite", previous, { "kafka.offsets": '{"orders":{"0":42}}' });
  assert.deepEqual(summary, {
    operation: "overwrite",
    "added-data-files": "1",
    "deleted-data-files": "1",
    "added-position-delete-files": "1",
    "removed-position-delete-files": "1",
    "added-delete-files": "1",
    "removed-delete-files": "1",
    "added-records": "8",
    "deleted-records": "10",
    "added-files-size": "1100",
    "removed-files-size": "1200",
    "added-position-deletes": "2",
    "removed-position-deletes": "3",
    "changed-partition-count": "2",
    "total-records": "98",
    "total-files-size": "9900",
    "total-data-files": "4",
    "total-delete-files": "1",
    "total-position-deletes": "2",
    "total-equality-deletes": "0",
    "kafka.offsets": '{"orders":{"0":42}}',
  });
});

Deno.test("a total the previous snapshot lacks, or that would turn negative, is left out", () => {
  const summary = new SummaryBuilder()
    .addFile(file(FileContent.Data, 1n, 10n))
    .removeFile(file(FileContent.Data, 50n, 10n))
    .build("overwrite", { operation: "append", "total-records": "20", "total-data-files": "x" });
  assert.equal(summary["total-records"], undefined);
  assert.equal(summary["total-data-files"], undefined);
  assert.equal(summary["total-files-size"], undefined);
  assert.equal(summary["changed-partition-count"], "1");
});

Deno.test("equality deletes count separately and empty commits report zero partitions", () => {
  const summary = new SummaryBuilder()
    .addFile(file(FileContent.EqualityDeletes, 4n, 40n, [null]))
    .build("delete", undefined);
  assert.equal(summary["added-equality-delete-files"], "1");
  assert.equal(summary["added-equality-deletes"], "4");
  assert.equal(summary["total-equality-deletes"], "4");
  assert.equal(summary["total-delete-files"], "1");
  assert.equal(summary["added-position-deletes"], undefined);
  assert.deepEqual(new SummaryBuilder().build("append", undefined)["changed-partition-count"], "0");
});

Deno.test("partitions are told apart by spec and by value type", () => {
  const summary = new SummaryBuilder()
    .addFile(file(FileContent.Data, 1n, 1n, [1]))
    .addFile(file(FileContent.Data, 1n, 1n, [1]), 1)
    .addFile(file(FileContent.Data, 1n, 1n, ["1"]))
    .addFile(file(FileContent.Data, 1n, 1n, [null]))
    .addFile(file(FileContent.Data, 1n, 1n, [Uint8Array.of(1)]))
    .addFile(file(FileContent.Data, 1n, 1n, [Uint8Array.of(1)]))
    .build("append", undefined);
  assert.equal(summary["changed-partition-count"], "5");
});

Deno.test("custom keys may not replace standard ones", () => {
  for (const key of ["operation", "total-records", "added-data-files", "changed-partition-count"]) {
    assert.throws(
      () => new SummaryBuilder().build("append", undefined, { [key]: "1" }),
      (error) => error instanceof LakehouseError && error.message.includes(key),
    );
  }
});
