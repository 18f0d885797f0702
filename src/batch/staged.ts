/**
 * Staging files handed to DuckDB's read_json: one NDJSON line per record.
 * Accepted events carry their payload bytes spliced in as received: after
 * validation only DuckDB parses the JSON again (into typed columns), and
 * nothing is re-serialized here.
 */
import type { RawRecord } from "./types.ts";
import { KAFKA_TIMESTAMP_NONE, type RejectKind } from "./validate.ts";

export interface RejectedRecord {
  readonly record: RawRecord;
  readonly reason: string;
  readonly kind: RejectKind;
}

const ENCODER = new TextEncoder();
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const LINE_END = ENCODER.encode("}\n");

/**
 * Appends staged lines `{"kafka_topic":..,"kafka_partition":..,
 * "kafka_offset":..,"kafka_timestamp_ms":..,"ingested_at_ms":..,
 * "payload":<value bytes>}`, kafka_timestamp_ms null for a record without a
 * timestamp (Kafka's -1). The payloads must have passed validation: a line is
 * only valid JSON if its payload is. Runs once per accepted record, so the
 * framing is cached per topic and partition and numbers are written digit by
 * digit rather than through strings and a TextEncoder.
 */
export class StagedWriter {
  readonly #out: Writer;
  readonly #middle: Uint8Array;
  /** Line prefixes by topic, then by partition. */
  readonly #prefixes = new Map<string, Uint8Array[]>();

  /**
   * With a `sink`, `buffer` is reused: full buffers go to the sink and are
   * overwritten (a batch's staged file is written through a few MiB instead
   * of a buffer the size of the batch, whose fresh pages cost page faults).
   * Without one, the lines collect in a buffer grown as needed (`finish`).
   */
  constructor(
    buffer: number | Uint8Array,
    ingestedAtMs: number,
    sink?: (chunk: Uint8Array) => void,
  ) {
    this.#out = new Writer(buffer, sink);
    this.#middle = ENCODER.encode(
      `,"ingested_at_ms":${Math.floor(ingestedAtMs)},"payload":`,
    );
  }

  /**
   * Appends one record's line. Returns true when the payload's CR/LF
   * whitespace was blanked, so the line no longer holds its exact bytes.
   * `lineBreaks`: whether the payload holds CR or LF, when the caller
   * already knows (fastAccepts scanned it); looked up here otherwise.
   */
  line(
    topic: string,
    partition: number,
    offset: bigint,
    timestampMs: number,
    value: Uint8Array,
    lineBreaks?: boolean,
  ): boolean {
    let byPartition = this.#prefixes.get(topic);
    if (byPartition === undefined) this.#prefixes.set(topic, byPartition = []);
    let prefix = byPartition[partition];
    if (prefix === undefined) {
      prefix = byPartition[partition] = ENCODER.encode(
        `{"kafka_topic":${JSON.stringify(topic)},"kafka_partition":${partition},"kafka_offset":`,
      );
    }
    const out = this.#out;
    out.reserve(prefix.length + value.length + this.#middle.length + 80);
    out.bytes(prefix);
    if (offset <= MAX_SAFE_OFFSET) out.integer(Number(offset));
    else out.ascii(String(offset));
    out.bytes(TIMESTAMP_KEY);
    if (timestampMs === KAFKA_TIMESTAMP_NONE) out.bytes(NULL);
    else out.integer(Math.floor(timestampMs));
    out.bytes(this.#middle);
    const at = out.bytes(value);
    // Valid JSON holds CR and LF only as whitespace between tokens (inside
    // strings they must be escaped), so blanking them keeps the payload's
    // meaning and keeps it on one line.
    const blanked = lineBreaks ?? (value.indexOf(LF) !== -1 || value.indexOf(CR) !== -1);
    if (blanked) out.blank(at, value.length);
    out.bytes(LINE_END);
    return blanked;
  }

  /** The lines not yet handed to the sink (all of them without a sink). */
  finish(): Uint8Array {
    return this.#out.finish();
  }
}

const MAX_SAFE_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);
const TIMESTAMP_KEY = ENCODER.encode(',"kafka_timestamp_ms":');
const NULL = ENCODER.encode("null");
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

/**
 * Lines `{"topic":..,"partition":..,"offset":..,"received_at_ms":..,"kind":..,
 * "reason":..,"payload_base64":..}`. The payload is kept as received: base64
 * carries any bytes (invalid UTF-8 included). The payload as text, for
 * people, is derived when the file is read (REJECT_PAYLOAD_TEXT_SQL) rather
 * than written here a second time: rejected payloads can be close to a
 * megabyte (oversized events), and decoding, escaping and joining them as
 * JS strings cost six times what base64 alone does (BENCHMARKS.md).
 */
export function encodeRejects(
  rejects: readonly RejectedRecord[],
  receivedAtMs: number,
): Uint8Array {
  const received = String(Math.floor(receivedAtMs));
  const heads: string[] = [];
  const payloads: (string | null)[] = [];
  // Heads are UTF-8 from UTF-16 (at most 3 bytes a unit), base64 is ASCII.
  let capacity = 0;
  for (const { record, reason, kind } of rejects) {
    const head = '{"topic":' + JSON.stringify(record.topic) +
      ',"partition":' + String(record.partition) +
      ',"offset":' + String(record.offset) +
      ',"received_at_ms":' + received +
      ',"kind":' + JSON.stringify(kind) +
      // A lone surrogate would be written as an escape that DuckDB refuses.
      ',"reason":' + JSON.stringify(reason.toWellFormed()) +
      ',"payload_base64":';
    const base64 = record.value === null ? null : record.value.toBase64();
    heads.push(head);
    payloads.push(base64);
    capacity += head.length * 3 + (base64 === null ? NULL.length : base64.length + 2) + 2;
  }
  // Each piece is encoded straight into one buffer: no joined string of the
  // whole file and no second copy of each payload.
  const out = new Uint8Array(capacity);
  let at = 0;
  for (let i = 0; i < heads.length; i++) {
    at += ENCODER.encodeInto(heads[i], out.subarray(at)).written;
    const base64 = payloads[i];
    if (base64 === null) {
      out.set(NULL, at);
      at += NULL.length;
    } else {
      out[at++] = QUOTE;
      at += ENCODER.encodeInto(base64, out.subarray(at)).written;
      out[at++] = QUOTE;
    }
    out[at++] = CLOSE_BRACE;
    out[at++] = LF;
  }
  return out.subarray(0, at);
}

/** read_json's `columns` for a staged rejects file ("offset" is a keyword in DuckDB: quoted). */
export const REJECT_STAGED_COLUMNS =
  `{topic: 'VARCHAR', "partition": 'INTEGER', "offset": 'BIGINT', ` +
  `received_at_ms: 'BIGINT', kind: 'VARCHAR', reason: 'VARCHAR', payload_base64: 'VARCHAR'}`;

/**
 * SQL of a reject's payload as text over its bytes `payload` (a BLOB): the
 * payload when it is valid UTF-8, else NULL. DuckDB's check agrees with a
 * strict TextDecoder (overlong forms, surrogates, code points past U+10FFFF
 * and truncated sequences are refused; NUL and a byte order mark are kept):
 * src/batch/duckdb_test.ts.
 */
export const REJECT_PAYLOAD_TEXT_SQL = "TRY(decode(payload))";

/** An output buffer that grows by doubling. */
class Writer {
  #buffer: Uint8Array;
  #length = 0;
  readonly #sink: ((chunk: Uint8Array) => void) | undefined;

  constructor(buffer: number | Uint8Array, sink?: (chunk: Uint8Array) => void) {
    this.#buffer = typeof buffer === "number" ? new Uint8Array(Math.max(buffer, 64)) : buffer;
    this.#sink = sink;
  }

  /** Appends a string known to be ASCII (digits, signs). */
  ascii(s: string): void {
    this.reserve(s.length);
    const b = this.#buffer;
    let at = this.#length;
    for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
    this.#length = at;
  }

  /** Appends a safe integer in decimal. */
  integer(n: number): void {
    if (n < 0 || !Number.isSafeInteger(n)) {
      this.ascii(String(n));
      return;
    }
    this.reserve(20);
    const b = this.#buffer;
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let at = this.#length + digits;
    this.#length = at;
    let x = n;
    do {
      b[--at] = 0x30 + (x % 10);
      x = Math.floor(x / 10);
    } while (x > 0);
  }

  /** Appends `b`; returns where it starts. */
  bytes(b: Uint8Array): number {
    this.reserve(b.length);
    const at = this.#length;
    this.#buffer.set(b, at);
    this.#length += b.length;
    return at;
  }

  /** Turns CR and LF in [at, at + length) into spaces. */
  blank(at: number, length: number): void {
    const b = this.#buffer;
    for (let i = at; i < at + length; i++) if (b[i] === LF || b[i] === CR) b[i] = SPACE;
  }

  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  reserve(n: number): void {
    if (this.#length + n <= this.#buffer.length) return;
    if (this.#sink !== undefined && this.#length > 0) {
      this.#sink(this.#buffer.subarray(0, this.#length));
      this.#length = 0;
      if (n <= this.#buffer.length) return;
    }
    const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + n));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}
