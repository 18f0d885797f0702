/**
 * Shared pieces of the engine's end-to-end tests: seeded events produced into
 * Kafka by `lakehouse generate`, the ground truth computed from the
 * generator itself, `lakehouse run` arguments, the tables as pyiceberg reads
 * them, and the exactly-once check.
 */
import assert from "node:assert/strict";
import { systemClock } from "../src/core/clock.ts";
import {
  DEFAULT_SEEDED_START_MS,
  EventSource,
  type GeneratedMessage,
} from "../src/generate/source.ts";
import { partitionForKey } from "../src/kafka/murmur2.ts";
import { readWithPyiceberg } from "./_iceberg.ts";
import { runCli } from "./_services.ts";

export const PARTITIONS = 4;

export function groundTruth(seed: string, count: number, badRate: number): GeneratedMessage[] {
  const source = new EventSource({
    seed,
    startTimeMs: DEFAULT_SEEDED_START_MS,
    badRate,
    clock: systemClock,
  });
  return Array.from({ length: count }, () => source.next());
}

export async function produce(
  brokers: string,
  topic: string,
  seed: string,
  count: number,
  badRate: number,
) {
  const out = await runCli([
    "generate",
    "--seed",
    seed,
    "--count",
    String(count),
    "--bad-rate",
    String(badRate),
    "--rate",
    "0",
    "--brokers",
    brokers,
    "--topic",
    topic,
    "--partitions",
    String(PARTITIONS),
  ]);
  assert.equal(out.code, 0, out.stderr);
}

export function runArgs(
  brokers: string,
  topic: string,
  dir: string,
  extra: string[] = [],
): string[] {
  return [
    "run",
    "--brokers",
    brokers,
    "--topic",
    topic,
    "--group-id",
    `g-${topic}`,
    "--warehouse",
    `${dir}/wh`,
    "--state-dir",
    `${dir}/state`,
    "--trigger-interval",
    "300ms",
    "--max-records-per-trigger",
    "2000",
    "--memory-limit",
    "512MB",
    ...extra,
  ];
}

export interface Tables {
  events: Record<string, unknown>[];
  rejects: Record<string, unknown>[];
}

/** Where `readTables` finds the tables: `dir`/wh by default, or a warehouse on S3. */
export interface TablesAt {
  readonly catalog: string;
  readonly warehouse: string;
  readonly s3?: { endpoint: string; access_key: string; secret_key: string };
}

export async function readTables(dir: string, at?: TablesAt): Promise<Tables> {
  const base = at
    ? { catalog_uri: `sqlite:///${at.catalog}`, warehouse: at.warehouse, s3: at.s3 }
    : { catalog_uri: `sqlite:///${dir}/wh/catalog.db`, warehouse: `file://${dir}/wh` };
  const events = await readWithPyiceberg({ ...base, table: "shop.orders_events" });
  const rejects = await readWithPyiceberg({ ...base, table: "shop.orders_rejects" });
  return {
    events: events.rows as Record<string, unknown>[],
    rejects: rejects.rows as Record<string, unknown>[],
  };
}

export function assertExactlyOnce(tables: Tables, truth: GeneratedMessage[]) {
  const decoder = new TextDecoder();
  const valid = truth.filter((m) => m.kind === "valid").map((m) =>
    JSON.parse(decoder.decode(m.value))
  );
  const ids = tables.events.map((r) => r.event_id as string);
  assert.equal(new Set(ids).size, ids.length, "duplicate event_id in orders_events");
  assert.equal(ids.length, valid.length, "orders_events row count");
  const byId = new Map(tables.events.map((r) => [r.event_id as string, r]));
  for (const e of valid) {
    const row = byId.get(e.event_id);
    assert.ok(row, `event ${e.event_id} missing`);
    assert.equal(row.order_id, e.order_id);
    assert.equal(row.event_type, e.event_type);
    assert.equal(row.event_timestamp, Math.round(e.event_timestamp * 1_000_000));
    assert.equal(row.total_amount, e.total_amount.toFixed(2));
    assert.equal(row.kafka_partition, partitionForKey(e.order_id, PARTITIONS));
  }
  const bad = truth.filter((m) => m.kind !== "valid");
  assert.equal(tables.rejects.length, bad.length, "orders_rejects row count");
  const offsets = tables.rejects.map((r) => `${r.partition}/${r.offset}`);
  assert.equal(new Set(offsets).size, offsets.length, "duplicate reject");
}
