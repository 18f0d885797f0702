import assert from "node:assert/strict";
import { describeOsError, osErrorText } from "./os_errors.ts";

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

Deno.test("osErrorText words an OS error without the call and path", () => {
  const error = thrown(() => Deno.readTextFileSync("/nonexistent-dir/x.json"));
  assert.equal(osErrorText(error), "no such file or directory");
  assert.equal(osErrorText(new Error("plain")), "plain");
  assert.equal(osErrorText("text"), "text");
});

Deno.test("describeOsError says which call failed on which path", () => {
  const error = thrown(() => Deno.mkdirSync("/nonexistent-dir/a/b"));
  assert.equal(
    describeOsError(error),
    "cannot mkdir '/nonexistent-dir/a/b': no such file or directory",
  );
  assert.equal(
    describeOsError(new Error("Is a directory (os error 21)")),
    "system call failed: is a directory",
  );
  assert.equal(describeOsError(new Error("not an OS error")), undefined);
  assert.equal(describeOsError("text"), undefined);
});
