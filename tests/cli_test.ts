/** The CLI as a user meets it: help, bad flags, bad values, unreachable services. */
import assert from "node:assert/strict";
import {
  KAFKA_BROKERS,
  requireKafka,
  runCli,
  runCliWithPermissionBits,
  topicExists,
} from "./_services.ts";

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
  assert.match(
    out.stderr,
    /--brokers must be HOST:PORT\[,HOST:PORT\.\.\.\] with a port from 1 to 65535, got "localhost"/,
  );
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
  assert.match(out.stderr, /--warehouse is an S3 location, which needs --catalog PATH/);
  assert.match(out.stderr, /got "s3:\/\/warehouse\/lake"/);
});

Deno.test("cli demo with a missing --sql-dir names the option and value, exits 2, creates nothing", async () => {
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
    assert.equal(out.code, 2);
    assert.ok(out.stderr.includes(`--sql-dir does not exist, got "${dir}/nope"`), out.stderr);
    assertNoStack(out.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the demo created nothing");
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
    for (const name of ["rejects.sql", "current_changes.sql", "current_merge.sql"]) {
      await Deno.copyFile(
        new URL(`../sql/${name}`, import.meta.url).pathname,
        `${dir}/sql/${name}`,
      );
    }
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
    assert.match(
      out.stderr,
      /sql\/events\.sql: table orders_events: the SQL file must produce column event_timestamp: the table is partitioned by hour\(event_timestamp\)/,
    );
    assertNoStack(out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- Every option is checked before anything happens -------------------------------------------
//
// Each refused command below must exit 2 with one line naming the option, where its value came
// from and the value (`<hidden>` for a secret), and must have done nothing: no Kafka topic (each
// test passes a fresh one), no file or directory created. Every run carries a planted secret in
// LAKEHOUSE_S3_SECRET_KEY, which must appear in neither stdout nor stderr.

const PLANTED = "zzPLANTEDSECRETzz";
/** S3 credentials in pairs (so the pairing rule passes), the secret planted. */
const SECRET_ENV = { LAKEHOUSE_S3_ACCESS_KEY: "test-access-key", LAKEHOUSE_S3_SECRET_KEY: PLANTED };

/** Every path under `dir`. */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    out.push(entry.name);
    if (entry.isDirectory) {
      out.push(...tree(`${dir}/${entry.name}`).map((n) => `${entry.name}/${n}`));
    }
  }
  return out.sort();
}

function freshTopic(): string {
  return `cli-check-${crypto.randomUUID().slice(0, 12)}`;
}

interface Refusal {
  readonly args: readonly string[];
  /** Texts stderr must hold: the option, where it came from, the value, the problem. */
  readonly expect: readonly string[];
  readonly env?: Record<string, string>;
  /** Run with permission bits in force even as root. */
  readonly permissionBits?: boolean;
}

/** Runs `refusal` in a fresh directory `root` (prepared by `setup`) and checks it changed nothing. */
async function assertRefused(
  setup: (root: string) => void,
  refusal: (root: string, topic: string) => Refusal,
): Promise<void> {
  await requireKafka();
  const root = await Deno.makeTempDir({ prefix: "lakehouse-cli-check-" });
  const topic = freshTopic();
  try {
    setup(root);
    const before = tree(root);
    const { args, expect, env, permissionBits } = refusal(root, topic);
    const run = permissionBits ? runCliWithPermissionBits : runCli;
    const out = await run([...args], { ...SECRET_ENV, ...env });
    assert.equal(out.code, 2, `exit status 2 expected:\n${out.stderr}`);
    for (const text of expect) {
      assert.ok(out.stderr.includes(text), `"${text}" not in:\n${out.stderr}`);
    }
    assert.equal(out.stderr.trim().split("\n").length, 1, `one line expected:\n${out.stderr}`);
    assert.equal(out.stdout, "");
    assertNoStack(out.stderr);
    assert.ok(!out.stderr.includes(PLANTED) && !out.stdout.includes(PLANTED), "secret printed");
    assert.deepEqual(tree(root), before, "files or directories were created");
    assert.equal(await topicExists(topic), false, `topic ${topic} was created`);
  } finally {
    await Deno.chmod(root, 0o755).catch(() => {});
    for (const entry of Deno.readDirSync(root)) {
      await Deno.chmod(`${root}/${entry.name}`, 0o755).catch(() => {});
    }
    await Deno.remove(root, { recursive: true });
  }
}

/** `lakehouse run` against the test broker and a fresh topic, so a missed check would show. */
function run(topic: string, ...args: string[]): string[] {
  return ["run", "--brokers", KAFKA_BROKERS, "--topic", topic, ...args];
}

Deno.test("cli run --s3-endpoint ftp://bad is refused before anything", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--s3-endpoint", "ftp://bad"),
    expect: [
      "lakehouse run: --s3-endpoint must be an http:// or https:// URL with a host",
      'got "ftp://bad"',
    ],
  }));
});

Deno.test("cli run with a regular file as --warehouse is refused before anything", async () => {
  await assertRefused((root) => Deno.writeTextFileSync(`${root}/file`, "x"), (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/file`),
    expect: [`--warehouse is a regular file, not a directory, got "${root}/file"`],
  }));
});

Deno.test("cli run with --warehouse under a non-writable directory is refused before anything", async () => {
  await assertRefused((root) => {
    Deno.mkdirSync(`${root}/ro`);
    Deno.chmodSync(`${root}/ro`, 0o555);
  }, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/ro/wh`, "--catalog", `${root}/lake.db`),
    expect: [
      `--warehouse cannot be created: ${root}/ro is not writable (permission denied)`,
      `got "${root}/ro/wh"`,
    ],
    permissionBits: true,
  }));
});

Deno.test("cli run with LAKEHOUSE_WAREHOUSE in a non-writable directory names the variable", async () => {
  await assertRefused((root) => {
    Deno.mkdirSync(`${root}/ro`);
    Deno.chmodSync(`${root}/ro`, 0o555);
  }, (root, topic) => ({
    args: run(topic),
    env: { LAKEHOUSE_WAREHOUSE: `${root}/ro` },
    expect: [
      "--warehouse (from LAKEHOUSE_WAREHOUSE) is a directory this process cannot write to " +
      `(permission denied), got "${root}/ro"`,
    ],
    permissionBits: true,
  }));
});

Deno.test("cli run with a directory as --catalog is refused before anything", async () => {
  await assertRefused((root) => Deno.mkdirSync(`${root}/catalog.db`), (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--catalog", `${root}/catalog.db`),
    expect: [`--catalog is a directory, not a file, got "${root}/catalog.db"`],
  }));
});

Deno.test("cli run with a missing --sql-dir is refused before anything", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--sql-dir", `${root}/sql`),
    expect: [`--sql-dir does not exist, got "${root}/sql"`],
  }));
});

Deno.test("cli run with a regular file as --sql-dir is refused before anything", async () => {
  await assertRefused((root) => Deno.writeTextFileSync(`${root}/sql`, "x"), (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--sql-dir", `${root}/sql`),
    expect: [`--sql-dir is a regular file, not a directory, got "${root}/sql"`],
  }));
});

Deno.test("cli run with a --sql-dir lacking events.sql is refused before anything", async () => {
  await assertRefused((root) => {
    Deno.mkdirSync(`${root}/sql`);
    Deno.copyFileSync(
      new URL("../sql/rejects.sql", import.meta.url).pathname,
      `${root}/sql/rejects.sql`,
    );
  }, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--sql-dir", `${root}/sql`),
    expect: [`--sql-dir has no events.sql, got "${root}/sql"`],
  }));
});

Deno.test("cli run with a bad --brokers is refused before anything", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: ["run", "--topic", topic, "--warehouse", `${root}/wh`, "--brokers", "127.0.0.1:99999"],
    expect: [
      "--brokers must be HOST:PORT[,HOST:PORT...] with a port from 1 to 65535",
      'got "127.0.0.1:99999"',
    ],
  }));
});

Deno.test("cli run with an illegal --topic is refused before anything", async () => {
  await assertRefused(() => {}, (root) => ({
    args: run("orders events!", "--warehouse", `${root}/wh`),
    expect: ["--topic must be a Kafka topic name", 'got "orders events!"'],
  }));
});

Deno.test("cli run with a bad --memory-limit is refused before anything", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--memory-limit", "lots"),
    expect: ["--memory-limit must be a size such as 512MB, 2GB or 1.5GiB", 'got "lots"'],
  }));
});

Deno.test("cli generate --out into a missing directory is refused before anything", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: [
      "generate",
      "--brokers",
      KAFKA_BROKERS,
      "--topic",
      topic,
      "--count",
      "10",
      "--out",
      `${root}/missing/out.ndjson`,
    ],
    expect: [
      `lakehouse generate: --out is in a directory that does not exist (${root}/missing)`,
      `got "${root}/missing/out.ndjson"`,
    ],
  }));
});

Deno.test("cli run with a JSON typo in its config file names file, line and column, never the secret", async () => {
  await assertRefused((root) => {
    Deno.writeTextFileSync(
      `${root}/lake.json`,
      `{\n  "memory-limit": "1GB",\n  "s3-secret-key": ${PLANTED}\n}\n`,
    );
  }, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--config", `${root}/lake.json`),
    expect: [
      `lakehouse run: config file ${root}/lake.json is not valid JSON: unexpected character ` +
      "(expected a value; text needs double quotes) at line 3, column 20",
    ],
  }));
});

Deno.test("cli run with a config file holding the secret and a bad value never prints the secret", async () => {
  await assertRefused((root) => {
    Deno.writeTextFileSync(
      `${root}/lake.json`,
      JSON.stringify({ "s3-secret-key": PLANTED, "s3-endpoint": { token: PLANTED } }),
    );
  }, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--config", `${root}/lake.json`),
    env: { LAKEHOUSE_S3_SECRET_KEY: "" },
    expect: [
      `--s3-endpoint (from config file ${root}/lake.json) must be a string, got a JSON object`,
    ],
  }));
});

Deno.test("cli run with an S3 secret key but no access key shows <hidden>", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`),
    env: { LAKEHOUSE_S3_ACCESS_KEY: "" },
    expect: [
      "--s3-secret-key (from LAKEHOUSE_S3_SECRET_KEY) is set without --s3-access-key",
      "got <hidden>",
    ],
  }));
});

Deno.test("cli run refuses --s3-secret-key on the command line without echoing it", async () => {
  await assertRefused(() => {}, (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`, "--s3-secret-key", PLANTED),
    expect: ["--s3-secret-key is not accepted on the command line", "LAKEHOUSE_S3_SECRET_KEY"],
  }));
});

Deno.test("cli run with an unsupported warehouse scheme is refused before anything", async () => {
  await assertRefused(() => {}, (_root, topic) => ({
    args: run(topic, "--warehouse", "gs://bucket/lake"),
    expect: [
      "--warehouse must be a local directory, file:///ABSOLUTE/DIR or s3://BUCKET/PREFIX",
      'got "gs://bucket/lake"',
    ],
  }));
});

Deno.test("cli run with TMPDIR not a directory is refused before anything", async () => {
  await assertRefused((root) => Deno.writeTextFileSync(`${root}/tmp`, "x"), (root, topic) => ({
    args: run(topic, "--warehouse", `${root}/wh`),
    env: { TMPDIR: `${root}/tmp` },
    expect: [
      `scratch directory (from TMPDIR) is a regular file, not a directory, got "${root}/tmp"`,
    ],
  }));
});

Deno.test("cli demo with a non-writable --warehouse is refused before anything", async () => {
  await assertRefused((root) => {
    Deno.mkdirSync(`${root}/ro`);
    Deno.chmodSync(`${root}/ro`, 0o555);
  }, (root) => ({
    args: ["demo", "--count", "10", "--warehouse", `${root}/ro/demo`],
    expect: [
      `lakehouse demo: --warehouse cannot be created: ${root}/ro is not writable (permission denied)`,
    ],
    permissionBits: true,
  }));
});
