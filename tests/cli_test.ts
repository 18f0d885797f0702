/** The CLI as a user meets it: help, bad flags, bad values, unreachable services. */
import assert from "node:assert/strict";
import { runCli } from "./_services.ts";

function assertNoStack(text: string) {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+/m, `stack trace leaked:\n${text}`);
}

Deno.test("cli --help lists the commands and exits 0", async () => {
  const out = await runCli(["--help"]);
  assert.equal(out.code, 0);
  assert.match(out.stdout, /generate/);
  assert.match(out.stdout, /demo/);
});

Deno.test("cli generate --help explains every option", async () => {
  const out = await runCli(["generate", "--help"]);
  assert.equal(out.code, 0);
  for (
    const flag of [
      "--seed",
      "--count",
      "--rate",
      "--bad-rate",
      "--out",
      "--brokers",
      "--topic",
      "--duration",
      "--profile",
    ]
  ) {
    assert.ok(out.stdout.includes(flag), `help lacks ${flag}`);
  }
  assert.match(out.stdout, /LAKEHOUSE_RATE/);
});

Deno.test("cli rejects an unknown command", async () => {
  const out = await runCli(["frobnicate"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /unknown command "frobnicate"/);
});

Deno.test("cli generate rejects an unknown flag naming it, without a stack trace", async () => {
  const out = await runCli(["generate", "--ratee", "5"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--ratee/);
  assertNoStack(out.stderr);
});

Deno.test("cli generate rejects a negative rate naming option and value", async () => {
  const out = await runCli(["generate", "--rate", "-5", "--out", "-"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--rate must be >= 0, got "-5"/);
  assertNoStack(out.stderr);
});

Deno.test("cli generate rejects a bad env value naming the variable", async () => {
  const out = await runCli(["generate", "--out", "-", "--count", "1"], { LAKEHOUSE_BAD_RATE: "2" });
  assert.equal(out.code, 2);
  assert.match(out.stderr, /LAKEHOUSE_BAD_RATE/);
  assert.match(out.stderr, /must be <= 1/);
});

Deno.test("cli generate rejects a malformed broker list", async () => {
  const out = await runCli(["generate", "--brokers", "localhost", "--count", "1"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--brokers: broker must be HOST:PORT, got "localhost"/);
});

Deno.test("cli generate reports an unreachable broker clearly and exits 1", async () => {
  const out = await runCli([
    "generate",
    "--brokers",
    "127.0.0.1:1",
    "--count",
    "10",
    "--retries",
    "1",
    "--connect-timeout",
    "500ms",
  ]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /Kafka at 127\.0\.0\.1:1 did not answer/);
  assert.match(out.stderr, /services:up/);
  assertNoStack(out.stderr);
});

Deno.test("cli generate with a seed writes the same bytes at any rate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const common = ["generate", "--seed", "42", "--count", "3000", "--bad-rate", "0.05"];
    const fast = await runCli([...common, "--rate", "0", "--out", `${dir}/a.ndjson`]);
    const paced = await runCli([...common, "--rate", "20000", "--out", `${dir}/b.ndjson`]);
    assert.equal(fast.code, 0, fast.stderr);
    assert.equal(paced.code, 0, paced.stderr);
    const a = await Deno.readFile(`${dir}/a.ndjson`);
    const b = await Deno.readFile(`${dir}/b.ndjson`);
    assert.ok(a.length > 100_000);
    assert.deepEqual(a, b);
    const other = await runCli([
      "generate",
      "--seed",
      "43",
      "--count",
      "3000",
      "--rate",
      "0",
      "--out",
      `${dir}/c.ndjson`,
    ]);
    assert.equal(other.code, 0);
    assert.notDeepEqual(await Deno.readFile(`${dir}/c.ndjson`), a);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli generate --start-time without --seed is refused", async () => {
  const out = await runCli([
    "generate",
    "--start-time",
    "2026-01-01T00:00:00Z",
    "--out",
    "-",
    "--count",
    "1",
  ]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--start-time needs --seed/);
});

Deno.test("cli run reports an unreachable broker clearly and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await runCli([
      "run",
      "--brokers",
      "127.0.0.1:1",
      "--warehouse",
      dir,
      "--retries",
      "1",
      "--connect-timeout",
      "500ms",
    ]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /Kafka at 127\.0\.0\.1:1 did not answer/);
    assertNoStack(out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli run with an S3 warehouse and no catalog is refused", async () => {
  const out = await runCli(["run", "--warehouse", "s3://warehouse/lake"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--catalog is required with an S3 warehouse/);
});

Deno.test("cli demo with a missing --sql-dir names the file it could not read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await runCli([
      "demo",
      "--count",
      "10",
      "--warehouse",
      dir,
      "--sql-dir",
      `${dir}/nope`,
    ]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /cannot read SQL file .*nope\/events\.sql/);
    assertNoStack(out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli demo rejects an edited SQL file that does not fit the table, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sql`);
    await Deno.writeTextFile(
      `${dir}/sql/events.sql`,
      "SELECT payload.event_id AS event_id FROM batch",
    );
    await Deno.copyFile(
      new URL("../sql/rejects.sql", import.meta.url).pathname,
      `${dir}/sql/rejects.sql`,
    );
    const out = await runCli([
      "demo",
      "--count",
      "10",
      "--warehouse",
      `${dir}/wh`,
      "--sql-dir",
      `${dir}/sql`,
    ]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /sql\/events\.sql: .*column event_type .* is missing/);
    assertNoStack(out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
