/** Where generated messages go: a file of NDJSON lines or a Kafka topic. */
import type { GeneratedMessage } from "./source.ts";

export interface Sink {
  /** Accepts a batch; resolves when the sink can take the next one (backpressure). */
  write(batch: readonly GeneratedMessage[]): Promise<void>;
  /** Waits for everything written to be durable, then releases resources. */
  close(): Promise<void>;
  describe(): string;
}

const NEWLINE = 0x0a;

/**
 * One message value per line, bytes as generated (a bad record may hold
 * invalid UTF-8; none holds a newline). The key is the payload's order_id.
 * Writes go through a large buffer: per-line writes would dominate the cost.
 */
export class FileSink implements Sink {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  readonly #buffer: Uint8Array;
  #used = 0;

  private constructor(file: Deno.FsFile, path: string, bufferBytes: number) {
    this.#file = file;
    this.#path = path;
    this.#buffer = new Uint8Array(bufferBytes);
  }

  static async open(path: string, bufferBytes = 4 << 20): Promise<FileSink> {
    const file = path === "-"
      ? Deno.stdout as unknown as Deno.FsFile
      : await Deno.open(path, { write: true, create: true, truncate: true });
    return new FileSink(file, path, bufferBytes);
  }

  async write(batch: readonly GeneratedMessage[]): Promise<void> {
    for (const message of batch) {
      const needed = message.value.length + 1;
      if (this.#used + needed > this.#buffer.length) await this.#flush();
      if (needed > this.#buffer.length) {
        await writeAll(this.#file, message.value);
        await writeAll(this.#file, new Uint8Array([NEWLINE]));
        continue;
      }
      this.#buffer.set(message.value, this.#used);
      this.#used += message.value.length;
      this.#buffer[this.#used++] = NEWLINE;
    }
  }

  async #flush(): Promise<void> {
    if (this.#used === 0) return;
    await writeAll(this.#file, this.#buffer.subarray(0, this.#used));
    this.#used = 0;
  }

  async close(): Promise<void> {
    await this.#flush();
    if (this.#path !== "-") this.#file.close();
  }

  describe(): string {
    return this.#path === "-" ? "stdout" : `file ${this.#path}`;
  }
}

async function writeAll(file: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
