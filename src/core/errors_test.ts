import assert from "node:assert/strict";
import { AbortedError, isAborted, LakehouseError } from "./errors.ts";

Deno.test("isAborted sees an abandonment through the layers that wrap it", () => {
  const aborted = new AbortedError("cannot read s3://b/m.json: abandoned (shutdown)");
  assert.equal(isAborted(aborted), true);
  const wrapped = new LakehouseError("cannot read table metadata s3://b/m.json: ...", {
    cause: new LakehouseError("reading failed", { cause: aborted }),
  });
  assert.equal(isAborted(wrapped), true);
  assert.equal(isAborted(new LakehouseError("S3 refused", { cause: new Error("403") })), false);
  assert.equal(isAborted("a string"), false);
  assert.equal(isAborted(undefined), false);
});
