/**
 * Kafka sink for the generator: an idempotent kafkajs producer (acks=all, so
 * a retried request never duplicates a record) fed with large batches. One
 * batch is in flight at a time: kafkajs does not keep concurrent sends in
 * order, and one order's events must stay in order. The next batch is built
 * while the previous one is on the wire.
 */
import { Buffer } from "node:buffer";
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import type { GeneratedMessage } from "../generate/source.ts";
import type { Sink } from "../generate/sink.ts";

export interface KafkaSinkOptions {
  readonly topic: string;
  /** Partition count of the topic (placement is computed here to bound request sizes). */
  readonly partitions: number;
  /**
   * Largest record batch per partition in one request, in payload bytes. Kept
   * under the broker's default message.max.bytes (1 MiB): kafkajs sends one
   * uncompressed record batch per partition per request.
   */
  readonly partitionBatchBytesMax: number;
}

export class KafkaSink implements Sink {
  readonly #producer: Producer;
  readonly #options: KafkaSinkOptions;
  #inFlight: Promise<void> = Promise.resolve();
  #failure: unknown = undefined;
  readonly #metadata: ReturnType<typeof partitionMetadata>;

  private constructor(producer: Producer, options: KafkaSinkOptions) {
    this.#producer = producer;
    this.#options = options;
    this.#metadata = partitionMetadata(options.partitions);
  }

  static async connect(kafka: Kafka, options: KafkaSinkOptions): Promise<KafkaSink> {
    const producer = kafka.producer({
      idempotent: true,
      // kafkajs keeps idempotent sequence numbers correct only with one request in flight per broker.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return new KafkaSink(producer, options);
  }

  async write(batch: readonly GeneratedMessage[]): Promise<void> {
    const { partitions, partitionBatchBytesMax } = this.#options;
    const bytes = new Array<number>(partitions).fill(0);
    let messages: { key: string; value: Buffer; partition: number }[] = [];
    for (const m of batch) {
      const partition = this.#partitionOf(m.key);
      const size = m.key.length + m.value.byteLength + 64;
      if (bytes[partition] + size > partitionBatchBytesMax && messages.length > 0) {
        await this.#send(messages);
        messages = [];
        bytes.fill(0);
      }
      bytes[partition] += size;
      // Buffer.from(view) would copy; wrap the same memory instead.
      const value = Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength);
      messages.push({ key: m.key, value, partition });
    }
    if (messages.length > 0) await this.#send(messages);
  }

  /** Kafka's default (murmur2) placement, as the Java client computes it. */
  #partitionOf(key: string): number {
    return this.#partitioner({
      topic: this.#options.topic,
      partitionMetadata: this.#metadata,
      message: { key, value: null },
    });
  }

  readonly #partitioner = Partitioners.DefaultPartitioner();

  async #send(messages: { key: string; value: Buffer; partition: number }[]): Promise<void> {
    await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
    this.#inFlight = this.#producer
      .sendBatch({ topicMessages: [{ topic: this.#options.topic, messages }], acks: -1 })
      .then(() => {}, (error) => {
        this.#failure ??= error;
      });
  }

  async close(): Promise<void> {
    try {
      await this.#inFlight;
      if (this.#failure !== undefined) throw this.#failure;
    } finally {
      await this.#producer.disconnect();
    }
  }

  describe(): string {
    return `Kafka topic ${this.#options.topic}`;
  }
}

/** With a key, the default partitioner hashes over all partitions; leaders do not matter. */
function partitionMetadata(n: number) {
  return Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
}
