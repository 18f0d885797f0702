/**
 * The pipeline's order of work across batches, with table streams that
 * only log what they are asked to do: a table on a DuckDB connection of its
 * own stages the next batch while the later tables commit the current one;
 * a table sharing its connection, or any table when all share one, waits;
 * nothing is staged twice, and a staging begun ahead of a batch that never
 * gets its turn is removed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InlineDecoder } from "../batch/decoder.ts";
import type { RawRecord, ReleasedBatch } from "../batch/types.ts";
import { FakeClock } from "../core/clock.ts";
import { createLogger } from "../core/log.ts";
import { OutageRetry } from "../core/outage.ts";
import type { SqlFile } from "../duckdb/sql_files.ts";
import { EventSource } from "../generate/source.ts";
import { Pipeline } from "./pipeline.ts";
import type { RejectsStream } from "./streams.ts";
import type { Prepared, StreamResult, TableStream } from "./stream.ts";
import type { TableWriter } from "./table_writer.ts";

const BATCH = 100;

function records(count: number): RawRecord[] {
  const source = new EventSource({
    seed: "ahead",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0,
    clock: new FakeClock(),
  });
  return source.take(count).map((m, i) => ({
    topic: "orders",
    partition: 0,
    offset: BigInt(i),
    key: new TextEncoder().encode(m.key),
    value: m.value,
    timestampMs: i,
  }));
}

interface Logged extends Prepared {
  readonly first: bigint;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the pipeline reads of a table's writer: its name, connection and offsets. */
function fakeWriter(name: string, connection: object): TableWriter {
  return {
    name,
    options: { duckdb: connection },
    nextOffset: () => 0n,
    refresh: () => Promise.resolve(),
  } as unknown as TableWriter;
}

/** A stream that logs "<name> <step> <first offset of the batch>" and takes `ms` per step. */
function loggingStream(
  name: string,
  connection: object,
  log: string[],
  options: { ms?: number; failPublishOf?: bigint; disposed?: bigint[] } = {},
): TableStream {
  const ms = options.ms ?? 20;
  return {
    writer: fakeWriter(name, connection),
    sql: { path: `${name}.sql`, name: `${name}.sql` } as SqlFile,
    async prepare(batch: ReleasedBatch): Promise<Logged> {
      const first = batch.offsets[0];
      log.push(`${name} stage ${first}`);
      await sleep(ms);
      log.push(`${name} staged ${first}`);
      return {
        first,
        failed: [],
        filtered: 0,
        dispose: () => {
          options.disposed?.push(first);
          return Promise.resolve();
        },
      };
    },
    async publish(prepared: Prepared): Promise<StreamResult> {
      const { first } = prepared as Logged;
      log.push(`${name} commit ${first}`);
      await sleep(ms);
      if (first === options.failPublishOf) throw new Error(`${name} cannot commit ${first}`);
      log.push(`${name} committed ${first}`);
      return { stream: name, commit: undefined, rows: 0n, files: 0, skipped: 0 };
    },
    refresh: () => {
      log.push(`${name} refresh`);
      return Promise.resolve();
    },
  };
}

/** A dead-letter stream that logs "rejects process <first offset>" and takes `ms`. */
function loggingRejects(connection: object, log: string[], ms = 20): RejectsStream {
  return {
    writer: fakeWriter("rejects", connection),
    async process(batch: ReleasedBatch): Promise<StreamResult> {
      log.push(`rejects process ${batch.offsets[0]}`);
      await sleep(ms);
      log.push(`rejects processed ${batch.offsets[0]}`);
      return { stream: "rejects", commit: undefined, rows: 0n, files: 0, skipped: 0 };
    },
    settle: () => Promise.resolve(0n),
    revoke: () => {},
  } as unknown as RejectsStream;
}

async function withPipeline(
  streams: TableStream[],
  run: (pipeline: Pipeline) => Promise<void>,
  rejects?: RejectsStream,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const clock = new FakeClock(1_767_225_600_000);
  const logger = createLogger("silent");
  const decoder = new InlineDecoder(join(dir, "tmp"));
  await Deno.mkdir(join(dir, "tmp"));
  try {
    await run(
      new Pipeline({
        streams,
        freshness: streams[0],
        rejects,
        decoder,
        batchRecordsMax: BATCH,
        batchBytesMax: 1 << 30,
        triggerIntervalMs: 3_600_000,
        queuedBatchesMax: 3,
        clock,
        logger,
        retry: new OutageRetry({
          subject: "test",
          meanwhile: "",
          logger,
          clock,
          random: Math.random,
        }),
        tempDir: join(dir, "tmp"),
      }),
    );
  } finally {
    decoder.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const at = (log: string[], entry: string) => {
  const i = log.indexOf(entry);
  assert.ok(i >= 0, `${entry} is not in the log: ${log.join(", ")}`);
  return i;
};

Deno.test("a table on its own connection stages the next batch while the later table commits this one", async () => {
  const log: string[] = [];
  const events = loggingStream("events", {}, log);
  // The later table commits slowly: the next batch is staged meanwhile.
  const current = loggingStream("current", {}, log, { ms: 60 });
  await withPipeline([events, current], async (pipeline) => {
    await pipeline.offer(records(3 * BATCH));
    await pipeline.flush();
  });
  for (const first of [0n, 100n, 200n]) {
    for (const name of ["events", "current"]) {
      // Every batch staged and committed once by every table, in that order.
      assert.equal(log.filter((e) => e === `${name} stage ${first}`).length, 1, log.join(", "));
      assert.ok(at(log, `${name} staged ${first}`) < at(log, `${name} commit ${first}`));
      if (first < 200n) {
        assert.ok(at(log, `${name} committed ${first}`) < at(log, `${name} stage ${first + 100n}`));
      }
    }
    // The events table commits a batch before the current table does.
    assert.ok(at(log, `events committed ${first}`) < at(log, `current commit ${first}`));
  }
  // Batch 2's events were staged before batch 1's current commit ended, and
  // not before batch 1's events commit.
  assert.ok(at(log, `events stage 100`) < at(log, `current committed 0`), log.join(", "));
  assert.ok(at(log, `events stage 100`) > at(log, `events committed 0`), log.join(", "));
  assert.ok(at(log, `events stage 200`) < at(log, `current committed 100`), log.join(", "));
  // The current table waits for its own commit: its state is the next staging's input.
  assert.ok(at(log, `current stage 100`) > at(log, `current committed 0`), log.join(", "));
});

Deno.test("tables sharing one connection stage nothing ahead", async () => {
  const log: string[] = [];
  const connection = {};
  const events = loggingStream("events", connection, log);
  const current = loggingStream("current", connection, log);
  await withPipeline([events, current], async (pipeline) => {
    await pipeline.offer(records(3 * BATCH));
    await pipeline.flush();
  });
  for (const first of [0n, 100n]) {
    assert.ok(at(log, `events stage ${first + 100n}`) > at(log, `current committed ${first}`));
  }
});

Deno.test("a batch staged ahead is removed when the batch before it fails to commit", async () => {
  const log: string[] = [];
  const disposed: bigint[] = [];
  const events = loggingStream("events", {}, log, { disposed });
  const current = loggingStream("current", {}, log, { ms: 60, failPublishOf: 0n, disposed });
  await withPipeline([events, current], async (pipeline) => {
    await pipeline.offer(records(3 * BATCH)).catch(() => {});
    await assert.rejects(pipeline.flush(), /current cannot commit 0/);
  });
  // Batch 2 was staged ahead by events, never committed, and its files removed.
  at(log, "events staged 100");
  assert.ok(!log.includes("events commit 100"), log.join(", "));
  assert.ok(disposed.includes(100n), `disposed: ${disposed.join(", ")}`);
  // Nothing of batch 3 was started.
  assert.ok(!log.includes("events stage 200"), log.join(", "));
});

Deno.test("a refresh (a group join) drops what was staged ahead: the batch is staged again after it", async () => {
  const log: string[] = [];
  const disposed: bigint[] = [];
  const events = loggingStream("events", {}, log, { disposed });
  const current = loggingStream("current", {}, log, { ms: 60, disposed });
  await withPipeline([events, current], async (pipeline) => {
    await pipeline.offer(records(2 * BATCH));
    // Asked while batch 1 is being written: it waits for the batch, then refreshes.
    await pipeline.startOffsets([0]);
    await pipeline.flush();
  });
  // Without a rejects table on its connection, the current table stages
  // ahead too once it has committed: both stagings of batch 2 are dropped at
  // the refresh and done again, and each table commits the batch once.
  const refreshed = at(log, "events refresh");
  for (const name of ["events", "current"]) {
    assert.equal(log.filter((e) => e === `${name} stage 100`).length, 2, log.join(", "));
    assert.ok(log.indexOf(`${name} stage 100`) < refreshed, log.join(", "));
    assert.ok(log.lastIndexOf(`${name} stage 100`) > refreshed, log.join(", "));
    assert.equal(log.filter((e) => e === `${name} commit 100`).length, 1, log.join(", "));
  }
  assert.equal(disposed.filter((d) => d === 100n).length, 4, `disposed: ${disposed.join(", ")}`);
});

Deno.test("the last table stages ahead only when the dead-letter stream has a connection of its own", async () => {
  for (const own of [true, false]) {
    const log: string[] = [];
    const connection = {};
    const events = loggingStream("events", {}, log);
    const current = loggingStream("current", connection, log);
    const rejects = loggingRejects(own ? {} : connection, log, 60);
    await withPipeline([events, current], async (pipeline) => {
      await pipeline.offer(records(2 * BATCH));
      await pipeline.flush();
    }, rejects);
    // The dead-letter stream takes each batch after both tables committed it.
    assert.ok(at(log, "rejects process 0") > at(log, "current committed 0"), log.join(", "));
    // The next batch: staged by orders_current while the rejects are committed, or after.
    if (own) {
      assert.ok(at(log, "current stage 100") < at(log, "rejects processed 0"), log.join(", "));
    } else assert.ok(at(log, "current stage 100") > at(log, "rejects processed 0"), log.join(", "));
    assert.equal(log.filter((e) => e === "current stage 100").length, 1, log.join(", "));
  }
});
