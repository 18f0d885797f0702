/**
 * Acceptance test of record validation against a hostile corpus
 * (tests/fixtures/hostile_records.json): records broken at the payload level
 * (JSON syntax, types, sizes, encodings, numbers, nesting, duplicate keys)
 * and at the record level (timestamps at and beyond every boundary, missing,
 * huge, binary and wrong keys, odd headers, tombstones, committed and aborted
 * transactions), produced into a fresh topic on the real broker between a few
 * thousand generated events. `lakehouse run` must put every corpus record
 * exactly once into the table its entry expects (rejects with the expected
 * kind and reason), every generated event into orders_events, and nothing of
 * an aborted transaction anywhere; a second run adds nothing.
 *
 * Corpus entry format:
 * - name: unique, for messages.
 * - key, value: null, or bytes as {"text": "..."} (UTF-8), {"base64": "..."},
 *   {"repeat": "x", "bytes": N} (N bytes of the text repeated), or
 *   {"concat": [bytes, ...]}.
 * - timestamp (optional): the Kafka record timestamp in ms, a number or a
 *   decimal string (for int64 values a double cannot hold); default: now.
 * - headers (optional): [name, value] pairs (names may repeat), or
 *   {"count": N, "namePrefix": "h-", "value": bytes} for N headers.
 * - transaction (optional): "commit" or "abort"; entries in a row with the
 *   same transactionGroup share one transaction, others get their own.
 * - expect: {"table": "orders_events", "row"?: {column: value}}, or
 *   {"table": "orders_rejects", "kind": "...", "reason"?: "substring",
 *   "reasonPattern"?: "regex"}, or {"table": "none"} (aborted).
 */
import { concatBytes } from "../src/core/bytes.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Kafka, logLevel, type Message, Partitioners, type Producer } from "kafkajs";
import { validateRecord } from "../src/batch/validate.ts";
import { systemClock } from "../src/core/clock.ts";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../src/generate/source.ts";
import { partitionForKey } from "../src/kafka/murmur2.ts";
import { readTables, runArgs } from "./_engine.ts";
import { requireKafka, runCli } from "./_services.ts";

type BytesSpec =
  | null
  | { text: string }
  | { base64: string }
  | { repeat: string; bytes: number }
  | { concat: BytesSpec[] };

type HeaderSpec = [string, BytesSpec] | { count: number; namePrefix: string; value: BytesSpec };

interface Expectation {
  table: "orders_events" | "orders_rejects" | "none";
  kind?: string;
  reason?: string;
  reasonPattern?: string;
  row?: Record<string, unknown>;
}

interface CorpusEntry {
  name: string;
  key: BytesSpec;
  value: BytesSpec;
  timestamp?: number | string;
  headers?: HeaderSpec[];
  transaction?: "commit" | "abort";
  transactionGroup?: string;
  expect: Expectation;
}

/** A corpus entry with its bytes. */
interface CorpusRecord {
  readonly entry: CorpusEntry;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
}

const ENCODER = new TextEncoder();
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const PARTITIONS = 4;
const GENERATED = 3_000;

function bytesOf(spec: BytesSpec): Uint8Array | null {
  if (spec === null) return null;
  if ("text" in spec) return ENCODER.encode(spec.text);
  if ("base64" in spec) return Uint8Array.fromBase64(spec.base64);
  if ("repeat" in spec) {
    const unit = ENCODER.encode(spec.repeat);
    const out = new Uint8Array(spec.bytes);
    for (let i = 0; i < out.length; i++) out[i] = unit[i % unit.length];
    return out;
  }
  return concatBytes(spec.concat.map((part) => bytesOf(part) ?? new Uint8Array(0)));
}

async function loadCorpus(): Promise<CorpusRecord[]> {
  const url = new URL("./fixtures/hostile_records.json", import.meta.url);
  const { records } = JSON.parse(await Deno.readTextFile(url)) as { records: CorpusEntry[] };
  const names = new Set(records.map((r) => r.name));
  assert.equal(names.size, records.length, "corpus names are unique");
  return records.map((entry) => ({ entry, key: bytesOf(entry.key), value: bytesOf(entry.value) }));
}

/** The timestamp the engine sees for an entry (the consumer reads Kafka's int64 as a double). */
function timestampSeen(entry: CorpusEntry, nowMs: number): number {
  return entry.timestamp === undefined ? nowMs : Number(entry.timestamp);
}

function hex(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function textOrNull(bytes: Uint8Array | null): string | null {
  if (bytes === null) return null;
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/** C0 and C1 controls, DEL, U+2028/U+2029: never raw in a reason (lone surrogates are checked apart). */
const UNSAFE_IN_REASON = /[\p{Cc}\u2028\u2029]/u;

function checkReason(what: string, reason: string, expect: Expectation): void {
  assert.ok(
    !UNSAFE_IN_REASON.test(reason) && reason.isWellFormed(),
    `${what}: reason holds a raw control character or a lone surrogate: ${JSON.stringify(reason)}`,
  );
  if (expect.reason !== undefined) {
    assert.ok(
      reason.includes(expect.reason),
      `${what}: reason ${JSON.stringify(reason)} does not contain ${JSON.stringify(expect.reason)}`,
    );
  }
  if (expect.reasonPattern !== undefined) {
    assert.match(reason, new RegExp(expect.reasonPattern), what);
  }
}

Deno.test("hostile corpus: validateRecord gives every record its expected outcome (no broker)", async () => {
  const corpus = await loadCorpus();
  assert.ok(corpus.length >= 60, `${corpus.length} records`);
  const now = Date.now();
  for (const { entry, key, value } of corpus) {
    if (entry.expect.table === "none") continue;
    const result = validateRecord(value, key, timestampSeen(entry, now));
    if (entry.expect.table === "orders_events") {
      assert.ok(result.ok, `${entry.name}: rejected: ${result.ok ? "" : result.reason}`);
    } else {
      assert.ok(!result.ok, `${entry.name}: accepted`);
      assert.equal(result.kind, entry.expect.kind, `${entry.name}: ${result.reason}`);
      checkReason(entry.name, result.reason, entry.expect);
    }
  }
});

interface Placement {
  readonly partition: number;
  readonly offset: bigint;
}

function message(record: CorpusRecord): Message {
  const headers: Record<string, Buffer[]> = {};
  for (const h of record.entry.headers ?? []) {
    const pairs: [string, BytesSpec][] = Array.isArray(h)
      ? [h]
      : Array.from({ length: h.count }, (_, i) => [`${h.namePrefix}${i}`, h.value]);
    for (const [name, spec] of pairs) (headers[name] ??= []).push(Buffer.from(bytesOf(spec)!));
  }
  return {
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    // One record per send: kafkajs computes timestamp deltas within a batch
    // as doubles (and sorts timestamps as strings), so a lone record keeps
    // its int64 timestamp exact.
    timestamp: record.entry.timestamp === undefined ? undefined : String(record.entry.timestamp),
    headers: Object.keys(headers).length === 0 ? undefined : headers,
  };
}

/**
 * Produces the corpus, in order, with a slice of the generated events before
 * each entry (and the rest after the last); returns where each corpus record
 * landed. Transactions go through a transactional producer.
 */
async function produce(
  kafka: Kafka,
  topic: string,
  corpus: readonly CorpusRecord[],
  generated: readonly Message[],
): Promise<Placement[]> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const transactional = kafka.producer({
    transactionalId: `hostile-${topic}`,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  await transactional.connect();
  const placements: Placement[] = [];
  const place = (meta: Awaited<ReturnType<Producer["send"]>>) => {
    assert.equal(meta.length, 1);
    placements.push({ partition: meta[0].partition, offset: BigInt(meta[0].baseOffset!) });
  };
  try {
    const gap = Math.ceil(generated.length / (corpus.length + 1));
    let next = 0;
    for (let i = 0; i < corpus.length;) {
      const chunk = generated.slice(next, next += gap);
      if (chunk.length > 0) await producer.send({ topic, messages: [...chunk] });
      const { transaction, transactionGroup } = corpus[i].entry;
      if (transaction === undefined) {
        place(await producer.send({ topic, messages: [message(corpus[i])] }));
        i++;
        continue;
      }
      const tx = await transactional.transaction();
      do {
        place(await tx.send({ topic, messages: [message(corpus[i])] }));
        i++;
      } while (
        i < corpus.length && transactionGroup !== undefined &&
        corpus[i].entry.transactionGroup === transactionGroup
      );
      if (transaction === "commit") await tx.commit();
      else await tx.abort();
    }
    if (next < generated.length) {
      await producer.send({ topic, messages: [...generated.slice(next)] });
    }
  } finally {
    await producer.disconnect();
    await transactional.disconnect();
  }
  return placements;
}

type Row = Record<string, unknown>;

/** Small batches: the corpus spans several, and rejects several commits. */
const SMALL_BATCHES = ["--trigger-interval", "200ms", "--max-records-per-trigger", "400"];

const at = (partition: unknown, offset: unknown) => `${partition}/${offset}`;

Deno.test("hostile corpus: lakehouse run puts every record once where it belongs, with its reason; a second run adds nothing", async () => {
  const brokers = await requireKafka();
  const corpus = await loadCorpus();
  const topic = `it-hostile-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const kafka = new Kafka({
    clientId: "it-hostile",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Kafka 4 refuses timestamps more than an hour ahead by default, and
    // retention would delete segments of 1970 timestamps: lift both.
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic,
        numPartitions: PARTITIONS,
        configEntries: [
          { name: "message.timestamp.after.max.ms", value: "9223372036854775807" },
          { name: "retention.ms", value: "-1" },
        ],
      }],
    });
    const source = new EventSource({
      seed: "hostile",
      startTimeMs: DEFAULT_SEEDED_START_MS,
      badRate: 0,
      clock: systemClock,
    });
    const generated = source.take(GENERATED).map((m) => ({
      key: m.key,
      event: JSON.parse(new TextDecoder().decode(m.value)) as Row,
      message: { key: Buffer.from(m.key), value: Buffer.from(m.value) },
    }));
    const placements = await produce(kafka, topic, corpus, generated.map((g) => g.message));
    const aborted = corpus.filter((r) => r.entry.transaction === "abort").length;
    const offered = GENERATED + corpus.length - aborted;

    const first = await runCli(
      runArgs(brokers, topic, dir, [
        ...SMALL_BATCHES,
        "--stop-after",
        String(offered),
        "--idle-exit",
        "30s",
      ]),
      { TMPDIR: dir },
    );
    assert.equal(first.code, 0, first.stderr);
    const tables = await readTables(dir);

    // No duplicates in either table.
    const eventIds = tables.events.map((r) => r.event_id as string);
    assert.equal(new Set(eventIds).size, eventIds.length, "duplicate event_id in orders_events");
    const eventAt = new Map(tables.events.map((r) => [at(r.kafka_partition, r.kafka_offset), r]));
    assert.equal(eventAt.size, tables.events.length, "two events at one offset");
    const rejectAt = new Map(tables.rejects.map((r) => [at(r.partition, r.offset), r]));
    assert.equal(rejectAt.size, tables.rejects.length, "duplicate reject");
    for (const r of tables.rejects) {
      assert.ok(
        !eventAt.has(at(r.partition, r.offset)),
        `record ${at(r.partition, r.offset)} in both`,
      );
    }
    const byId = new Map(tables.events.map((r) => [r.event_id as string, r]));

    // Every generated event, once, on its key's partition.
    for (const g of generated) {
      const row = byId.get(g.event.event_id as string);
      assert.ok(row, `generated event ${g.event.event_id} missing`);
      assert.equal(row.order_id, g.key);
      assert.equal(row.kafka_partition, partitionForKey(g.key, PARTITIONS));
    }

    // Every corpus record where its entry says, and nowhere else.
    const problems: string[] = [];
    let wantEvents = GENERATED;
    let wantRejects = 0;
    corpus.forEach(({ entry, value }, i) => {
      const { partition, offset } = placements[i];
      const where = `${entry.name} (partition ${partition}, offset ${offset})`;
      const reject = rejectAt.get(at(partition, offset));
      const eventRow = eventAt.get(at(partition, offset));
      const found = reject
        ? `rejected as ${reject.reject_kind}: ${reject.reason}`
        : eventRow
        ? "in orders_events"
        : "found nowhere";
      if (entry.expect.table === "orders_events") {
        wantEvents++;
        const eventId = textOrNull(value)?.match(/"event_id"\s*:\s*"([^"]+)"/)?.[1];
        if (eventRow === undefined || eventRow.event_id !== eventId) {
          problems.push(`${where}: expected in orders_events with event_id ${eventId}, ${found}`);
          return;
        }
        for (const [column, want] of Object.entries(entry.expect.row ?? {})) {
          if (JSON.stringify(eventRow[column]) !== JSON.stringify(want)) {
            problems.push(`${where}: ${column} is ${JSON.stringify(eventRow[column])}`);
          }
        }
      } else if (entry.expect.table === "orders_rejects") {
        wantRejects++;
        if (reject === undefined || reject.reject_kind !== entry.expect.kind) {
          problems.push(`${where}: expected in orders_rejects as ${entry.expect.kind}, ${found}`);
          return;
        }
        try {
          checkReason(where, reject.reason as string, entry.expect);
        } catch (error) {
          problems.push((error as Error).message);
        }
        if (reject.topic !== topic) problems.push(`${where}: topic ${reject.topic}`);
        if (reject.payload !== hex(value)) {
          problems.push(`${where}: payload differs from the record's`);
        }
        if (reject.payload_text !== textOrNull(value)) {
          problems.push(`${where}: payload_text differs`);
        }
      } else {
        if (reject !== undefined || eventRow !== undefined) {
          problems.push(`${where}: aborted, but ${found}`);
        }
        const id = textOrNull(value)?.match(/"event_id":"([^"]+)"/)?.[1];
        if (id !== undefined && byId.has(id)) {
          problems.push(`${where}: aborted, but its event is in`);
        }
      }
    });
    assert.deepEqual(problems, [], problems.join("\n"));
    assert.equal(tables.events.length, wantEvents, "orders_events row count");
    assert.equal(tables.rejects.length, wantRejects, "orders_rejects row count");
    for (const r of tables.rejects) {
      checkReason(`reject ${at(r.partition, r.offset)}`, r.reason as string, {
        table: "orders_rejects",
      });
    }

    // Again, from the tables' offsets: what is left to read are transaction
    // markers and aborted records, which add nothing.
    const second = await runCli(
      runArgs(brokers, topic, dir, [...SMALL_BATCHES, "--idle-exit", "5s"]),
      {
        TMPDIR: dir,
      },
    );
    assert.equal(second.code, 0, second.stderr);
    const again = await readTables(dir);
    assert.equal(again.events.length, tables.events.length, "orders_events grew on the second run");
    assert.equal(
      again.rejects.length,
      tables.rejects.length,
      "orders_rejects grew on the second run",
    );
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    await Deno.remove(dir, { recursive: true });
  }
});
