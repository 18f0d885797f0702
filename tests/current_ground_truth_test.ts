/**
 * orders_current against the ground truth: seeded events with bad records
 * produced into Kafka, `lakehouse run` commits them, and pyiceberg must find
 * exactly one row per order, equal in every column to the final state an
 * independent model computes from the generator's own output (tests/_current.ts).
 * The seeded stream holds orders cancelled after payment, returned after
 * shipping and abandoned after creation. On a local warehouse and on the S3
 * server; orders_events and orders_rejects stay exactly-once beside it, and
 * the state store ends equal to the table.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertExactlyOnce, readTables, type TablesAt } from "./_engine.ts";
import {
  assertCurrentRows,
  assertStateMatchesTable,
  expectedCurrent,
  generated,
  localWarehouse,
  outcomes,
  place,
  produceOrders,
  readCurrent,
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
} from "./_current.ts";
import { requireKafka, requireS3, runCli } from "./_services.ts";

const COUNT = 8_000;
const BAD_RATE = 0.03;

function runArgs(brokers: string, topic: string, dir: string, warehouse: string[]): string[] {
  return [
    "run",
    ...["--brokers", brokers, "--topic", topic, "--group-id", `g-${topic}`],
    ...warehouse,
    ...["--state-dir", join(dir, "state")],
    ...["--trigger-interval", "250ms", "--max-records-per-trigger", "700"],
    ...["--memory-limit", "512MB", "--stop-after", String(COUNT)],
  ];
}

async function groundTruthRun(
  seed: string,
  warehouse: (dir: string) => { args: string[]; at: TablesAt; env?: Record<string, string> },
) {
  const brokers = await requireKafka();
  const topic = `it-current-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  try {
    await produceOrders(brokers, topic, seed, COUNT, BAD_RATE);
    const where = warehouse(dir);
    const out = await runCli(runArgs(brokers, topic, dir, where.args), {
      TMPDIR: dir,
      ...where.env,
    });
    assert.equal(out.code, 0, out.stderr);

    const messages = generated(seed, COUNT, BAD_RATE);
    const expected = expectedCurrent(place(messages));
    const cases = outcomes(expected);
    // The cases the merge rules are about are in the data.
    assert.ok(cases.cancelledAfterPayment > 0, JSON.stringify(cases));
    assert.ok(cases.cancelledUnpaid > 0, JSON.stringify(cases));
    assert.ok(cases.returnedAfterShipping > 0, JSON.stringify(cases));
    assert.ok(cases.abandoned > 0, JSON.stringify(cases));
    assert.ok(cases.shipped > 0, JSON.stringify(cases));
    assert.ok(messages.some((m) => m.kind !== "valid"), "no bad records in the stream");

    assertCurrentRows(await readCurrent(where.at), expected);
    assertExactlyOnce(await readTables(dir, where.at), messages);
    const state = await assertStateMatchesTable(join(dir, "state"), where.at, dir);
    assert.equal(state.rows, expected.size);
    // The engine's own count of events the merge ignored: none in a generated stream.
    assert.doesNotMatch(out.stderr, /events ignored by the merge/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("orders_current equals the ground truth of a seeded run with bad records (local warehouse)", () =>
  groundTruthRun("current-truth-local", (dir) => ({
    args: ["--warehouse", join(dir, "wh")],
    at: localWarehouse(dir),
  })));

Deno.test("orders_current equals the ground truth of a seeded run with bad records (S3 warehouse)", async () => {
  const endpoint = await requireS3();
  const prefix = `it-current-${crypto.randomUUID().slice(0, 8)}`;
  await groundTruthRun("current-truth-s3", (dir) => ({
    args: [
      ...["--warehouse", `s3://warehouse/${prefix}`, "--s3-endpoint", endpoint],
      ...["--catalog", join(dir, "lake.db")],
    ],
    env: { LAKEHOUSE_S3_ACCESS_KEY: S3_ACCESS_KEY, LAKEHOUSE_S3_SECRET_KEY: S3_SECRET_KEY },
    at: {
      catalog: join(dir, "lake.db"),
      warehouse: `s3://warehouse/${prefix}`,
      s3: { endpoint, access_key: S3_ACCESS_KEY, secret_key: S3_SECRET_KEY },
    },
  }));
});
