/**
 * Reads a staged batch file (the NDJSON lines StagedWriter writes) back as
 * lines: each line's Kafka lineage and its payload exactly as received, and
 * writes subsets of the lines as new staged files. Used only when a table
 * write fails on some rows: the writer then searches for those rows with
 * subsets of the batch and sends them to the dead-letter table with their
 * original bytes.
 */
import { join } from "node:path";
import { concatBytes } from "../core/bytes.ts";
import { LakehouseError } from "../core/errors.ts";
import type { BlankedPayload } from "./decode.ts";
import type { RawRecord } from "./types.ts";

/**
 * The framing StagedWriter puts before each payload. Topic names are ASCII
 * (Kafka allows [a-zA-Z0-9._-] only), so the framing is ASCII and its length
 * in characters is its length in bytes.
 */
const FRAMING =
  /^\{"kafka_topic":("(?:[^"\\]|\\.)*"),"kafka_partition":(\d+),"kafka_offset":(\d+),"kafka_timestamp_ms":(-?\d+|null),"ingested_at_ms":-?\d+,"payload":/;
/** Longest framing: a 249-character topic and the digits of four numbers. */
const FRAMING_BYTES_MAX = 512;
const LF = 0x0a;
const LATIN1 = new TextDecoder("latin1");

export interface StagedLine {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Kafka record timestamp, or -1 when the record had none. */
  readonly timestampMs: number;
}

export class StagedLines {
  readonly #bytes: Uint8Array;
  /** Line i is bytes[starts[i] .. starts[i + 1] - 1) (without its LF). */
  readonly #starts: number[];
  readonly #blanked: Map<number, Uint8Array>;
  readonly path: string;

  private constructor(
    path: string,
    bytes: Uint8Array,
    starts: number[],
    blanked: readonly BlankedPayload[],
  ) {
    this.path = path;
    this.#bytes = bytes;
    this.#starts = starts;
    this.#blanked = new Map(blanked.map((b) => [b.line, b.value]));
  }

  /**
   * Reads staged files (their lines in order, as one sequence); `blanked`
   * are the exact payloads of lines whose CR/LF were blanked.
   */
  static async read(
    paths: string | readonly string[],
    blanked: readonly BlankedPayload[] = [],
  ): Promise<StagedLines> {
    const list = typeof paths === "string" ? [paths] : paths;
    const parts: Uint8Array[] = [];
    for (const path of list) {
      const part = await Deno.readFile(path);
      parts.push(part);
      if (part.length > 0 && part[part.length - 1] !== LF) parts.push(new Uint8Array([LF]));
    }
    const bytes = parts.length === 1 ? parts[0] : concatBytes(parts);
    const starts = [0];
    for (let at = bytes.indexOf(LF); at !== -1; at = bytes.indexOf(LF, at + 1)) {
      starts.push(at + 1);
    }
    if (starts[starts.length - 1] !== bytes.length) starts.push(bytes.length + 1);
    return new StagedLines(list.join(", "), bytes, starts, blanked);
  }

  get count(): number {
    return this.#starts.length - 1;
  }

  #line(i: number): Uint8Array {
    return this.#bytes.subarray(this.#starts[i], this.#starts[i + 1] - 1);
  }

  #framing(i: number): RegExpExecArray {
    const line = this.#line(i);
    const head = LATIN1.decode(line.subarray(0, FRAMING_BYTES_MAX));
    const match = FRAMING.exec(head);
    if (!match) {
      throw new LakehouseError(`${this.path}: line ${i + 1} is not a staged record`);
    }
    return match;
  }

  /** Kafka lineage of line i (of a staged events file). */
  lineage(i: number): StagedLine {
    const m = this.#framing(i);
    return {
      topic: JSON.parse(m[1]) as string,
      partition: Number(m[2]),
      offset: BigInt(m[3]),
      timestampMs: m[4] === "null" ? -1 : Number(m[4]),
    };
  }

  /** Line i's payload exactly as it was received. */
  payload(i: number): Uint8Array {
    const exact = this.#blanked.get(i);
    if (exact !== undefined) return exact;
    const line = this.#line(i);
    // The line ends with the "}" that closes the framing object.
    return line.slice(this.#framing(i)[0].length, line.length - 1);
  }

  /** Line i as the record it came from (without its key, which staging drops). */
  record(i: number): RawRecord {
    const l = this.lineage(i);
    return {
      topic: l.topic,
      partition: l.partition,
      offset: l.offset,
      key: null,
      value: this.payload(i),
      timestampMs: l.timestampMs,
    };
  }

  /** Writes lines `indices` (in that order) as a new staged file in `dir`; returns its path. */
  async writeSubset(dir: string, indices: readonly number[]): Promise<string> {
    let size = 0;
    for (const i of indices) size += this.#starts[i + 1] - this.#starts[i];
    const out = new Uint8Array(size);
    let at = 0;
    for (const i of indices) {
      const line = this.#line(i);
      out.set(line, at);
      at += line.length;
      out[at++] = LF;
    }
    const path = join(dir, `subset-${crypto.randomUUID()}.ndjson`);
    await Deno.writeFile(path, out);
    return path;
  }
}
