/**
 * The fetch path's CPU per record, measured for the next lever: kafkajs's
 * consumer (as the engine uses it: eachBatch, each message's offset, time
 * and value read) against a bare Fetch client that decodes record batches
 * into typed arrays of offsets, timestamps and value ranges of the response
 * buffer (no object per record), over the same preloaded topic, alternately
 * in one process. CPU is this process's user + sys. The bare client is a
 * measurement, not a consumer: one broker (the bootstrap one leads every
 * partition, as with scripts/services.sh), no compression, no group.
 *
 *   deno task bench fetch -- --topic T [--rounds 3] [--brokers 127.0.0.1:9092]
 *     [--fetch-bytes 8388608]
 */
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { Reader, Writer } from "../src/kafka/wire.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    topic: { type: "string" },
    rounds: { type: "string", default: "3" },
    brokers: { type: "string", default: "127.0.0.1:9092" },
    "fetch-bytes": { type: "string", default: String(8 << 20) },
  },
});
if (!values.topic) {
  console.error("--topic is required: a topic preloaded with `lakehouse generate --rate 0`");
  Deno.exit(2);
}
const topic = values.topic;
const rounds = Number(values.rounds);
const fetchBytes = Number(values["fetch-bytes"]);
const [host, port] = values.brokers!.split(":");

function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const kafka = new Kafka({
  brokers: [values.brokers!],
  clientId: "bench",
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const ends = new Map(
  (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]),
);
await admin.disconnect();
const total = Number([...ends.values()].reduce((a, b) => a + b, 0n));
console.log(`${topic}: ${ends.size} partitions, ${total} records`);

/** kafkajs's consumer reading every record once, as the engine's feed does. */
async function viaKafkajs(round: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bench-fetch-${Date.now()}-${round}`,
    maxBytesPerPartition: fetchBytes,
    maxBytes: fetchBytes * 8,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let sum = 0;
  const done = Promise.withResolvers<void>();
  await consumer.run({
    autoCommit: false,
    eachBatch: ({ batch }) => {
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        const time = Number(m.timestamp);
        const value = m.value
          ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.length)
          : null;
        sum += Number(offset & 1n) + (time & 1) + (value?.length ?? 0);
      }
      seen += batch.messages.length;
      if (seen >= total) done.resolve();
      return Promise.resolve();
    },
  });
  await done.promise;
  await consumer.disconnect();
  return sum;
}

/** One TCP connection; responses assembled from a list of chunks (one copy each). */
class Connection {
  readonly #conn: Deno.TcpConn;
  #chunks: Uint8Array[] = [];
  #buffer = new Uint8Array(1 << 16);
  #id = 1;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  async request(apiKey: number, version: number, body: (w: Writer) => void): Promise<Uint8Array> {
    const w = new Writer(256);
    w.int32(0);
    w.int16(apiKey);
    w.int16(version);
    w.int32(this.#id++);
    w.string("bench");
    body(w);
    w.setInt32(0, w.pos - 4);
    const bytes = w.result();
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
    const head = await this.#read(4);
    const size = new DataView(head.buffer, head.byteOffset, 4).getInt32(0);
    return (await this.#read(size)).subarray(4); // past the correlation id
  }

  /**
   * The next `n` bytes: what earlier reads left over, then read straight into
   * place, in a buffer reused from request to request (valid until the next).
   */
  async #read(n: number): Promise<Uint8Array> {
    if (this.#buffer.length < n) {
      this.#buffer = new Uint8Array(Math.max(n, this.#buffer.length * 2));
    }
    const out = this.#buffer.subarray(0, n);
    let at = 0;
    while (at < n && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (take === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    while (at < n) {
      const got = await this.#conn.read(out.subarray(at));
      if (got === null) throw new Error("broker closed the connection");
      at += got;
    }
    return out;
  }

  close(): void {
    this.#conn.close();
  }
}

/** Decoded records of one fetch: typed arrays over the response buffer. */
interface Decoded {
  count: number;
  offsets: Float64Array;
  timestamps: Float64Array;
  valueStarts: Int32Array;
  valueEnds: Int32Array;
}

/** Where the varint reader is in the buffer it reads. */
let pos = 0;

/** A zigzag varint at `pos` (advanced past it). */
function varint(b: Uint8Array): number {
  let byte = b[pos++];
  let raw = byte & 0x7f;
  let scale = 128;
  while (byte >= 0x80) {
    byte = b[pos++];
    raw += (byte & 0x7f) * scale;
    scale *= 128;
  }
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** Record batches (magic 2, uncompressed) of [start, end) into `out`. */
function decodeBatches(b: Uint8Array, start: number, end: number, out: Decoded): bigint {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = start;
  let next = -1n;
  while (at + 61 <= end) {
    const baseOffset = view.getBigInt64(at);
    const length = view.getInt32(at + 8);
    const batchEnd = at + 12 + length;
    if (batchEnd > end) break; // a partial batch at the end of the response
    if (b[at + 16] !== 2) throw new Error(`record batch magic ${b[at + 16]}`);
    const attributes = view.getInt16(at + 21);
    if ((attributes & 0x07) !== 0) throw new Error("compressed batches are not decoded here");
    const baseTime = Number(view.getBigInt64(at + 27));
    const count = view.getInt32(at + 57);
    const base = Number(baseOffset);
    pos = at + 61;
    for (let i = 0; i < count; i++) {
      varint(b); // record length
      pos++; // attributes
      const timeDelta = varint(b);
      const offsetDelta = varint(b);
      const keyLength = varint(b);
      if (keyLength > 0) pos += keyLength;
      const valueLength = varint(b);
      const k = out.count++;
      out.offsets[k] = base + offsetDelta;
      out.timestamps[k] = baseTime + timeDelta;
      out.valueStarts[k] = valueLength < 0 ? -1 : pos;
      out.valueEnds[k] = valueLength < 0 ? -1 : pos + valueLength;
      if (valueLength > 0) pos += valueLength;
      const headers = varint(b);
      for (let h = 0; h < headers; h++) {
        const keyBytes = varint(b);
        pos += Math.max(keyBytes, 0);
        const valueBytes = varint(b);
        pos += Math.max(valueBytes, 0);
      }
    }
    next = baseOffset + BigInt(view.getInt32(at + 23)) + 1n;
    at = batchEnd;
  }
  return next;
}

/** Fetch v4 from every partition until each reaches its end. */
async function viaFetch(): Promise<number> {
  const conn = new Connection(await Deno.connect({ hostname: host, port: Number(port) }));
  const position = new Map([...ends.keys()].map((p) => [p, 0n]));
  const capacity = 1 << 20;
  const out: Decoded = {
    count: 0,
    offsets: new Float64Array(capacity),
    timestamps: new Float64Array(capacity),
    valueStarts: new Int32Array(capacity),
    valueEnds: new Int32Array(capacity),
  };
  let seen = 0;
  let sum = 0;
  try {
    while ([...position].some(([p, at]) => at < ends.get(p)!)) {
      const body = await conn.request(1, 4, (w) => {
        w.int32(-1); // replica
        w.int32(100); // max wait ms
        w.int32(1); // min bytes
        w.int32(fetchBytes * 8);
        w.int8(0); // read uncommitted
        w.int32(1);
        w.string(topic);
        const wanted = [...position].filter(([p, at]) => at < ends.get(p)!);
        w.int32(wanted.length);
        for (const [p, at] of wanted) {
          w.int32(p);
          w.int64(at);
          w.int32(fetchBytes);
        }
      });
      const r = new Reader(body);
      r.int32(); // throttle
      const topics = r.int32();
      for (let t = 0; t < topics; t++) {
        r.string();
        const partitions = r.int32();
        for (let i = 0; i < partitions; i++) {
          const partition = r.int32();
          const error = r.int16();
          r.int64(); // high watermark
          r.int64(); // last stable offset
          const aborted = r.int32();
          for (let a = 0; a < aborted; a++) r.pos += 16;
          const size = r.int32();
          if (error !== 0) throw new Error(`partition ${partition}: error ${error}`);
          if (size <= 0) continue;
          out.count = 0;
          const next = decodeBatches(body, r.pos, r.pos + size, out);
          r.pos += size;
          if (next > position.get(partition)!) position.set(partition, next);
          for (let k = 0; k < out.count; k++) {
            sum += (out.offsets[k] % 2) + (out.timestamps[k] % 2) +
              (out.valueEnds[k] - out.valueStarts[k]);
          }
          seen += out.count;
        }
      }
    }
  } finally {
    conn.close();
  }
  if (seen < total) throw new Error(`read ${seen} of ${total} records`);
  return sum;
}

const results: Record<string, number[]> = { kafkajs: [], fetch: [] };
for (let round = 1; round <= rounds; round++) {
  for (const [name, run] of [["kafkajs", () => viaKafkajs(round)], ["fetch", viaFetch]] as const) {
    const before = cpuSeconds();
    const t0 = performance.now();
    const sum = await run();
    const cpu = cpuSeconds() - before;
    const us = cpu / total * 1e6;
    results[name].push(us);
    console.log(
      `round ${round} ${name}: ${us.toFixed(2)} us/record CPU, ${
        Math.round(total / ((performance.now() - t0) / 1000))
      } records/s wall (checksum ${sum})`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `medians over ${rounds} rounds: kafkajs ${median(results.kafkajs).toFixed(2)} us/record, ` +
    `bare fetch ${median(results.fetch).toFixed(2)} us/record`,
);
