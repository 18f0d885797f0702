/**
 * A minimal idempotent Kafka producer speaking the wire protocol directly.
 * kafkajs builds several objects and buffers per record and tops out near
 * 50,000 records/s on a 2-core machine; this path encodes each partition's
 * records straight into one RecordBatch buffer. It does exactly what the
 * generator needs: metadata for one topic, an idempotent producer id, and
 * Produce requests with acks=all, one in flight per broker so order holds.
 */
import { type Clock, systemClock } from "../core/clock.ts";
import { LakehouseError, ServiceUnavailableError } from "../core/errors.ts";
import {
  errorName,
  frameRequest,
  METADATA_API,
  Reader,
  readMetadata,
  type WireRecord,
  writeMetadataRequest,
  type Writer,
  writeRecordBatch,
} from "./wire.ts";

const API_PRODUCE = 0;
const API_INIT_PRODUCER_ID = 22;

function kafkaError(code: number, what: string): LakehouseError {
  const name = errorName(code);
  // Leadership moves and timeouts pass; sequence and size errors do not.
  const retriable = [5, 6, 7, 19, 20].includes(code);
  return new LakehouseError(`Kafka refused ${what}: ${name}`, { retriable });
}

/** One TCP connection to a broker; requests are pipelined, answered in order. */
class BrokerConnection {
  readonly #conn: Deno.TcpConn;
  readonly #clientId: string;
  readonly #waiting: { id: number; resolve: (r: Reader) => void; reject: (e: unknown) => void }[] =
    [];
  #nextId = 1;
  #closed = false;
  #failure: unknown;

  private constructor(conn: Deno.TcpConn, clientId: string) {
    this.#conn = conn;
    this.#clientId = clientId;
    conn.setNoDelay(true);
    this.#readLoop();
  }

  static async open(host: string, port: number, clientId: string, timeoutMs: number) {
    const conn = await Promise.race([
      Deno.connect({ hostname: host, port }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs)
      ),
    ]);
    return new BrokerConnection(conn, clientId);
  }

  async request(
    apiKey: number,
    version: number,
    body: (w: Writer) => void,
    size = 256,
  ): Promise<Reader> {
    if (this.#failure !== undefined) throw this.#failure;
    const id = this.#nextId++;
    const bytes = frameRequest(apiKey, version, id, this.#clientId, body, size);
    const answer = new Promise<Reader>((resolve, reject) =>
      this.#waiting.push({ id, resolve, reject })
    );
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
    return await answer;
  }

  async #readLoop(): Promise<void> {
    let pending = new Uint8Array(0);
    const chunk = new Uint8Array(1 << 16);
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) throw new Error("broker closed the connection");
        const merged = new Uint8Array(pending.length + n);
        merged.set(pending);
        merged.set(chunk.subarray(0, n), pending.length);
        pending = merged;
        let off = 0;
        while (pending.length - off >= 4) {
          const size = new DataView(pending.buffer, pending.byteOffset + off).getInt32(0);
          if (pending.length - off - 4 < size) break;
          const frame = pending.slice(off + 4, off + 4 + size);
          off += 4 + size;
          const reader = new Reader(frame);
          const id = reader.int32();
          const waiter = this.#waiting.shift();
          if (!waiter || waiter.id !== id) {
            throw new Error(`response ${id} does not match request ${waiter?.id}`);
          }
          waiter.resolve(reader);
        }
        pending = pending.slice(off);
      }
    } catch (error) {
      this.#failure = this.#closed ? new Error("connection closed") : error;
      for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the broker
    }
  }
}

export interface WireProducerOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly clientId: string;
  readonly connectTimeoutMs: number;
  /** How long the broker may wait for replication before answering. */
  readonly requestTimeoutMs?: number;
  /** Stamps the records (their Kafka timestamp, CreateTime); default the system clock. */
  readonly clock?: Clock;
}

export class WireProducer {
  readonly #options: WireProducerOptions;
  readonly #connections: Map<number, BrokerConnection>;
  /** Partition index -> leader broker id. */
  readonly #leaders: Map<number, number>;
  readonly #producerId: bigint;
  readonly #producerEpoch: number;
  /** Next sequence number per partition (idempotence). */
  readonly #sequences = new Map<number, number>();

  private constructor(
    options: WireProducerOptions,
    connections: Map<number, BrokerConnection>,
    leaders: Map<number, number>,
    producerId: bigint,
    producerEpoch: number,
  ) {
    this.#options = options;
    this.#connections = connections;
    this.#leaders = leaders;
    this.#producerId = producerId;
    this.#producerEpoch = producerEpoch;
  }

  get partitions(): number {
    return this.#leaders.size;
  }

  static async connect(options: WireProducerOptions): Promise<WireProducer> {
    let bootstrap: BrokerConnection | undefined;
    let lastError: unknown;
    for (const broker of options.brokers) {
      const [host, port] = splitHostPort(broker);
      try {
        bootstrap = await BrokerConnection.open(
          host,
          port,
          options.clientId,
          options.connectTimeoutMs,
        );
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!bootstrap) {
      throw new ServiceUnavailableError(
        `cannot connect to any of ${options.brokers.join(",")}: ${String(lastError)}`,
        { cause: lastError },
      );
    }
    const meta = await bootstrap.request(
      METADATA_API.key,
      METADATA_API.version,
      (w) => writeMetadataRequest(w, options.topic),
    );
    const { brokers, leaders, partitions, error } = readMetadata(meta, options.topic);
    if (error !== 0) {
      bootstrap.close();
      throw kafkaError(error, `metadata for topic ${options.topic}`);
    }
    for (const index of partitions) {
      if (!leaders.has(index)) {
        bootstrap.close();
        throw kafkaError(5, `partition ${index} of ${options.topic} (no leader)`);
      }
    }
    // A fresh broker answers "coordinator loading" (14, 15, 16) until its
    // transaction log is ready: wait for it rather than fail.
    let init: Reader;
    for (let attempt = 1;; attempt++) {
      init = await bootstrap.request(API_INIT_PRODUCER_ID, 1, (w) => {
        w.string(null);
        w.int32(60_000);
      });
      init.int32();
      const initError = init.int16();
      if (initError === 0) break;
      if (![14, 15, 16].includes(initError) || attempt >= 60) {
        bootstrap.close();
        throw kafkaError(initError, "an idempotent producer id");
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const producerId = init.int64();
    const producerEpoch = init.int16();
    bootstrap.close();
    const connections = new Map<number, BrokerConnection>();
    for (const id of new Set(leaders.values())) {
      const [host, port] = brokers.get(id)!;
      connections.set(
        id,
        await BrokerConnection.open(host, port, options.clientId, options.connectTimeoutMs),
      );
    }
    return new WireProducer(options, connections, leaders, producerId, producerEpoch);
  }

  /**
   * Sends one RecordBatch per partition and waits for acks=all. Batches for
   * one broker go in one Produce request; brokers are asked in parallel.
   */
  async send(byPartition: ReadonlyMap<number, readonly WireRecord[]>): Promise<void> {
    const perBroker = new Map<number, [number, readonly WireRecord[]][]>();
    for (const [partition, records] of byPartition) {
      if (records.length === 0) continue;
      const leader = this.#leaders.get(partition);
      if (leader === undefined) {
        throw new LakehouseError(`partition ${partition} of ${this.#options.topic} does not exist`);
      }
      const parts = perBroker.get(leader);
      if (parts) parts.push([partition, records]);
      else perBroker.set(leader, [[partition, records]]);
    }
    const timestampMs = Math.floor((this.#options.clock ?? systemClock).now());
    await Promise.all([...perBroker].map(async ([broker, parts]) => {
      let size = 64;
      for (const [, records] of parts) {
        for (const r of records) size += r.key.length + r.value.length + 24;
      }
      const response = await this.#connections.get(broker)!.request(API_PRODUCE, 7, (w) => {
        w.string(null); // transactional id
        w.int16(-1); // acks=all
        w.int32(this.#options.requestTimeoutMs ?? 30_000);
        w.int32(1);
        w.string(this.#options.topic);
        w.int32(parts.length);
        for (const [partition, records] of parts) {
          w.int32(partition);
          const lengthAt = w.pos;
          w.int32(0);
          const baseSequence = this.#sequences.get(partition) ?? 0;
          writeRecordBatch(w, records, {
            producerId: this.#producerId,
            producerEpoch: this.#producerEpoch,
            baseSequence,
            timestampMs,
          });
          w.setInt32(lengthAt, w.pos - lengthAt - 4);
          // Sequence numbers wrap at 2^31 per the protocol.
          this.#sequences.set(partition, (baseSequence + records.length) % 2147483648);
        }
      }, size);
      response.array(() => {
        response.string();
        response.array(() => {
          const partition = response.int32();
          const error = response.int16();
          response.int64();
          response.int64();
          response.int64();
          if (error !== 0) {
            throw kafkaError(error, `a batch for partition ${partition} of ${this.#options.topic}`);
          }
        });
      });
    }));
  }

  close(): void {
    for (const c of this.#connections.values()) c.close();
  }
}

function splitHostPort(broker: string): [string, number] {
  const i = broker.lastIndexOf(":");
  return [broker.slice(0, i).replace(/^\[|\]$/g, ""), Number(broker.slice(i + 1))];
}
