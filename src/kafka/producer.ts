/**
 * Kafka sink for the generator: an idempotent producer (acks=all, so a
 * retried request never duplicates a record) fed with large batches. One
 * request is in flight at a time, so one order's events stay in order; the
 * next batch is built while the previous one is on the wire.
 */
import type { GeneratedMessage } from "../generate/source.ts";
import type { Sink } from "../generate/sink.ts";
import { partitionForKeyBytes } from "./murmur2.ts";
import type { WireRecord } from "./wire.ts";
import { WireProducer, type WireProducerOptions } from "./wire_producer.ts";

export interface KafkaSinkOptions extends WireProducerOptions {
  /**
   * Largest record batch per partition in one request, in payload bytes. Kept
   * under the broker's default message.max.bytes (1 MiB), which bounds one
   * uncompressed record batch.
   */
  readonly partitionBatchBytesMax: number;
}

const encoder = new TextEncoder();

export class KafkaSink implements Sink {
  readonly #producer: WireProducer;
  readonly #options: KafkaSinkOptions;
  #inFlight: Promise<void> = Promise.resolve();
  #failure: unknown = undefined;

  private constructor(producer: WireProducer, options: KafkaSinkOptions) {
    this.#producer = producer;
    this.#options = options;
  }

  static async connect(options: KafkaSinkOptions): Promise<KafkaSink> {
    return new KafkaSink(await WireProducer.connect(options), options);
  }

  async write(batch: readonly GeneratedMessage[]): Promise<void> {
    const partitions = this.#producer.partitions;
    const bytes = new Array<number>(partitions).fill(0);
    let groups = new Map<number, WireRecord[]>();
    for (const m of batch) {
      const key = encoder.encode(m.key);
      const partition = partitionForKeyBytes(key, partitions);
      const size = key.length + m.value.byteLength + 24;
      if (bytes[partition] + size > this.#options.partitionBatchBytesMax && groups.size > 0) {
        await this.#send(groups);
        groups = new Map();
        bytes.fill(0);
      }
      bytes[partition] += size;
      let group = groups.get(partition);
      if (!group) groups.set(partition, group = []);
      group.push({ key, value: m.value });
    }
    if (groups.size > 0) await this.#send(groups);
  }

  async #send(groups: Map<number, WireRecord[]>): Promise<void> {
    await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
    this.#inFlight = this.#producer.send(groups).then(() => {}, (error) => {
      this.#failure ??= error;
    });
  }

  async close(): Promise<void> {
    try {
      await this.#inFlight;
      if (this.#failure !== undefined) throw this.#failure;
    } finally {
      this.#producer.close();
    }
  }

  describe(): string {
    return `Kafka topic ${this.#options.topic}`;
  }
}
