/**
 * The two append streams fed by one consumer: Stream A (valid events ->
 * orders_events through sql/events.sql) and the dead-letter stream (invalid
 * records -> orders_rejects through sql/rejects.sql). Each batch is staged
 * as NDJSON for DuckDB's JSON reader (the raw payload bytes are spliced in,
 * not re-serialized), mapped by the stream's SQL file, written and committed
 * with the batch's offsets. Each table is exactly-once on its own.
 */
import { join } from "node:path";
import { encodeRejects, encodeStaged } from "../batch/columnar.ts";
import type { Batch, RawRecord } from "../batch/types.ts";
import type { RejectKind, ValidEvent } from "../batch/validate.ts";
import type { Clock } from "../core/clock.ts";
import { LakehouseError } from "../core/errors.ts";
import { type Engine, sqlIdent, sqlString } from "../engine/duckdb.ts";
import { type SqlFile, sqlFileError } from "../engine/sql_files.ts";
import { ValidationError } from "../iceberg/commit/commit.ts";
import { validateRelation } from "../iceberg/write/data_files.ts";
import type { TableWriter, WriteResult } from "./table_writer.ts";

/** A record of the batch with its validation outcome (computed once, shared by the streams). */
export type Decoded =
  | { readonly record: RawRecord; readonly ok: true; readonly event: ValidEvent }
  | {
    readonly record: RawRecord;
    readonly ok: false;
    readonly reason: string;
    readonly kind: RejectKind;
  };

export interface StreamResult extends WriteResult {
  readonly stream: string;
  /** Records of the batch this table had already committed (replays). */
  readonly skipped: number;
}

const EVENT_PAYLOAD_TYPE = `STRUCT(
  event_id VARCHAR, event_type VARCHAR, event_timestamp DOUBLE, order_id VARCHAR, user_id VARCHAR,
  total_amount DECIMAL(12, 2), currency VARCHAR, payment_method VARCHAR,
  items STRUCT(sku VARCHAR, quantity INTEGER, unit_price DECIMAL(12, 2), category VARCHAR)[],
  current_status VARCHAR)`;

export abstract class AppendStream {
  readonly writer: TableWriter;
  readonly sql: SqlFile;
  readonly #engine: Engine;
  readonly #tempDir: string;
  readonly #clock: Clock;

  constructor(writer: TableWriter, sql: SqlFile, engine: Engine, tempDir: string, clock: Clock) {
    this.writer = writer;
    this.sql = sql;
    this.#engine = engine;
    this.#tempDir = tempDir;
    this.#clock = clock;
  }

  abstract get inputName(): string;
  protected abstract select(decoded: readonly Decoded[]): Decoded[];
  protected abstract stage(selected: readonly Decoded[], nowMs: number): Uint8Array;
  protected abstract stagedColumns(): string;

  /** Checks the SQL file against the table schema with an empty input (at start-up). */
  async check(): Promise<void> {
    await this.#load(new Uint8Array(0));
    await this.#map();
  }

  async process(batch: Batch, decoded: readonly Decoded[]): Promise<StreamResult> {
    for (let attempt = 1;; attempt++) {
      const expected = new Map(this.writer.nextOffsets());
      const fresh = decoded.filter((d) =>
        d.record.offset >= (expected.get(d.record.partition) ?? 0n)
      );
      const skipped = decoded.length - fresh.length;
      const ranges = batch.ranges.filter((r) => r.nextOffset > (expected.get(r.partition) ?? 0n));
      if (ranges.length === 0) {
        return { stream: this.writer.name, commit: undefined, rows: 0n, files: 0, skipped };
      }
      const t0 = performance.now();
      const staged = this.stage(this.select(fresh), this.#clock.now());
      const t1 = performance.now();
      await this.#load(staged);
      const t2 = performance.now();
      await this.#map();
      const t3 = performance.now();
      try {
        const result = await this.writer.write(`__rows_${this.inputName}`, ranges, expected);
        this.writer.options.logger.debug(
          `${this.writer.name}: ${decoded.length} records: stage ${ms(t1 - t0)}, load ${
            ms(t2 - t1)
          }, map ${ms(t3 - t2)}, write+commit ${ms(performance.now() - t3)}`,
        );
        return { ...result, stream: this.writer.name, skipped };
      } catch (error) {
        // Another writer committed some of these partitions first: re-read
        // the offsets and redo the batch without what it already holds.
        if (!(error instanceof ValidationError) || attempt >= 3) throw error;
        await this.writer.refresh();
      }
    }
  }

  async #load(ndjson: Uint8Array): Promise<void> {
    const path = join(this.#tempDir, `${this.inputName}-${crypto.randomUUID()}.ndjson`);
    await Deno.writeFile(path, ndjson);
    try {
      await this.#engine.run(
        `CREATE OR REPLACE TEMP TABLE ${sqlIdent(this.inputName)} AS ${this.stagedSelect(path)}`,
      );
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  }

  protected stagedSelect(path: string): string {
    return `SELECT * FROM read_json(${sqlString(path)}, format = 'newline_delimited',
      columns = ${this.stagedColumns()})`;
  }

  async #map(): Promise<void> {
    const rows = `__rows_${this.inputName}`;
    try {
      await this.#engine.run(`CREATE OR REPLACE TEMP TABLE ${rows} AS ${this.sql.text}`);
    } catch (error) {
      throw sqlFileError(this.sql, error);
    }
    try {
      await validateRelation(this.#engine, this.writer.options.schema, rows);
    } catch (error) {
      throw new LakehouseError(`${this.sql.path}: ${(error as Error).message}`, { cause: error });
    }
  }
}

export class EventsStream extends AppendStream {
  get inputName(): string {
    return "batch";
  }
  protected select(decoded: readonly Decoded[]): Decoded[] {
    return decoded.filter((d) => d.ok);
  }
  protected stage(selected: readonly Decoded[], nowMs: number): Uint8Array {
    return encodeStaged(
      selected.map((d) => ({ record: d.record, event: (d as { event: ValidEvent }).event })),
      nowMs,
    );
  }
  protected stagedColumns(): string {
    return `{kafka_topic: 'VARCHAR', kafka_partition: 'INTEGER', kafka_offset: 'BIGINT',
      kafka_timestamp_ms: 'BIGINT', ingested_at_ms: 'BIGINT', payload: '${
      EVENT_PAYLOAD_TYPE.replace(/\s+/g, " ")
    }'}`;
  }
  protected override stagedSelect(path: string): string {
    return `SELECT kafka_topic, kafka_partition, kafka_offset,
        make_timestamptz(kafka_timestamp_ms * 1000) AS kafka_timestamp,
        make_timestamptz(ingested_at_ms * 1000) AS ingested_at, payload
      FROM (${super.stagedSelect(path)})`;
  }
}

export class RejectsStream extends AppendStream {
  get inputName(): string {
    return "rejects";
  }
  protected select(decoded: readonly Decoded[]): Decoded[] {
    return decoded.filter((d) => !d.ok);
  }
  protected stage(selected: readonly Decoded[], nowMs: number): Uint8Array {
    return encodeRejects(
      selected.map((d) => {
        const r = d as { record: RawRecord; reason: string; kind: RejectKind };
        return { record: r.record, reason: r.reason, kind: r.kind };
      }),
      nowMs,
    );
  }
  protected stagedColumns(): string {
    return `{topic: 'VARCHAR', "partition": 'INTEGER', "offset": 'BIGINT', received_at_ms: 'BIGINT',
      kind: 'VARCHAR', reason: 'VARCHAR', payload_base64: 'VARCHAR', payload_text: 'VARCHAR'}`;
  }
  protected override stagedSelect(path: string): string {
    return `SELECT topic, "partition", "offset", make_timestamptz(received_at_ms * 1000) AS received_at,
        kind AS reject_kind, reason, from_base64(payload_base64) AS payload, payload_text
      FROM (${super.stagedSelect(path)})`;
  }
}

function ms(x: number): string {
  return `${x.toFixed(0)} ms`;
}
