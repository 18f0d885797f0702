/**
 * Stream B: the latest state of every order (orders_current), merge-on-read.
 * Per batch: the valid events the table does not hold yet are folded into
 * one change per order (sql/current_changes.sql), the touched orders' rows
 * are read from the state store (never from the table's files), the user's
 * MERGE (sql/current_merge.sql) merges changes into them, and every row it
 * inserted or changed is written as a new row, the row it replaces deleted
 * by position (position delete files, one per partition touched). One
 * commit per batch carries rows, deletes and the batch's offsets; then the
 * state store takes the new rows and their positions.
 */
import type { DecodedBatch } from "../batch/decode.ts";
import type { PartitionRange, ReleasedBatch } from "../batch/types.ts";
import { assert } from "../core/assert.ts";
import { crashPoint } from "../core/crash.ts";
import type { Clock } from "../core/clock.ts";
import { DataError, LakehouseError } from "../core/errors.ts";
import { type DuckDb, sqlIdent, sqlString } from "../duckdb/duckdb.ts";
import { type SqlFile, sqlFileError } from "../duckdb/sql_files.ts";
import { applyTransform } from "../iceberg/spec/transforms.ts";
import type { PartitionValue } from "../iceberg/spec/types.ts";
import type { StagedDataFiles } from "../iceberg/write/data_files.ts";
import { stagePositionDeletes } from "../iceberg/write/delete_files.ts";
import type { StateStore } from "./state_store.ts";
import type { FailedRecord, Prepared, StreamResult, TableStream } from "./stream.ts";
import {
  AppendStream,
  countCommitted,
  dataErrorText,
  eventColumns,
  eventSelect,
  freshAccepted,
  freshPredicate,
  SAMPLE_STAGED_EVENT,
} from "./streams.ts";
import type { TableWriter } from "./table_writer.ts";

/** One batch staged for orders_current. */
export interface PreparedCurrent extends Prepared {
  readonly batch: ReleasedBatch;
  readonly work: StagedCurrent | undefined;
  readonly ranges: readonly PartitionRange[];
  readonly expected: ReadonlyMap<number, bigint>;
  readonly skipped: number;
}

/** What one staging of a batch produced. */
interface StagedCurrent {
  /** The new rows (inserted or changed orders). */
  readonly rows: StagedDataFiles;
  /** Position deletes of the rows they replace. */
  readonly deletes: StagedDataFiles;
  /** Data files the deletes point into. */
  readonly referenced: readonly string[];
  /** Temp view of the new rows with their file and position: the state store's update. */
  readonly next: string;
  /**
   * Temp table of the rows they replace (file_path, pos, k, _seq): the
   * position deletes' source and the state store's rows to drop.
   */
  readonly replaced: string;
  /** Events read; of them, the ones applied to a row. */
  readonly input: number;
  readonly applied: number;
  dispose(): Promise<void>;
}

export class CurrentStream extends AppendStream implements TableStream<PreparedCurrent> {
  readonly merge: SqlFile;
  readonly state: StateStore;
  /** The table's identifier column. */
  readonly #key: string;

  constructor(
    writer: TableWriter,
    changes: SqlFile,
    merge: SqlFile,
    state: StateStore,
    duckdb: DuckDb,
    tempDir: string,
    clock: Clock,
  ) {
    super(writer, changes, duckdb, tempDir, clock);
    this.merge = merge;
    this.state = state;
    this.#key = writer.options.definition.identifier ?? "order_id";
  }

  get inputName(): string {
    return "batch";
  }

  // The input relation is the events stream's: the same staged batch, the same columns.
  protected stagedColumns(): string {
    return eventColumns(this.sql);
  }

  protected override stagedSelect(files: string): string {
    return eventSelect(this.sql, super.stagedSelect(files));
  }

  /** Brings the state store to the table (at start-up, after open). */
  async openState(): Promise<void> {
    await this.state.open(this.writer.metadata);
  }

  async refresh(): Promise<void> {
    await this.writer.refresh();
    await this.state.sync(this.writer.metadata);
  }

  /**
   * The MERGE against an empty input (binds its names), then a valid sample
   * event through both files: files that fail on every event stop start-up.
   * Nothing is written, and the state store is only read.
   */
  override async check(): Promise<void> {
    await super.check();
    await this.load(new Uint8Array(0));
    await (await this.#stage(`check_${tag()}`)).dispose();
    try {
      await this.load(ENCODER.encode(SAMPLE_STAGED_EVENT));
      await (await this.#stage(`sample_${tag()}`)).dispose();
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      throw new LakehouseError(
        `${this.sql.path} and ${this.merge.path}: fail on a valid sample event, so they would ` +
          `fail on every event: ${dataErrorText(error)}`,
        { cause: error },
      );
    }
  }

  async prepare(batch: ReleasedBatch, decoded: DecodedBatch): Promise<PreparedCurrent> {
    const expected = new Map(this.writer.nextOffsets());
    const skipped = countCommitted(batch, expected);
    const ranges = batch.ranges.filter((r) => r.nextOffset > (expected.get(r.partition) ?? 0n));
    const base = { batch, ranges, expected, skipped, filtered: 0 };
    if (ranges.length === 0) {
      return { ...base, work: undefined, failed: [], ignored: 0, dispose: nothing };
    }
    const where = freshPredicate(batch, expected, "kafka_partition", "kafka_offset");
    const name = `b_${tag()}`;
    let result: { staged: StagedCurrent | undefined; failed: FailedRecord[] };
    try {
      await this.load([decoded.stagedPath], where, true);
      const input = await this.inputRows();
      assert(
        input === freshAccepted(batch, decoded, expected),
        `${this.writer.name}: loaded ${input} rows of a batch with ` +
          `${freshAccepted(batch, decoded, expected)} accepted records to write`,
      );
      result = { staged: await this.#stage(name), failed: [] };
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      this.releaseInput();
      result = await this.stageIsolating(decoded, expected, error, async (file) => {
        await this.load([file], "true");
        return await this.#stage(name);
      });
    } finally {
      this.releaseInput();
    }
    const work = result.staged;
    const ignored = work === undefined ? 0 : work.input - work.applied;
    return {
      ...base,
      work,
      failed: result.failed,
      ignored,
      dispose: () => work?.dispose() ?? Promise.resolve(),
    };
  }

  async publish(prepared: PreparedCurrent): Promise<StreamResult> {
    const { work, ranges, expected, skipped } = prepared;
    const name = this.writer.name;
    if (work === undefined) return { stream: name, commit: undefined, rows: 0n, files: 0, skipped };
    const result = await this.writer.publishRowDelta(
      work.rows,
      work.deletes,
      work.referenced,
      ranges,
      expected,
    );
    const snapshot = result.commit.snapshot;
    crashPoint(`${name}.after-commit`);
    const t0 = performance.now();
    const { ms } = await this.state.apply(
      work.next,
      work.replaced,
      result.commit.metadata,
      snapshot["snapshot-id"],
      snapshot["parent-snapshot-id"],
    );
    this.logger.debug(
      `${name}: state store updated in ${(performance.now() - t0).toFixed(0)} ms (${
        Object.entries(ms).map(([step, t]) => `${step} ${t.toFixed(0)}`).join(", ")
      })`,
    );
    return { ...result, stream: name, skipped };
  }

  protected override failureReason(error: DataError): string {
    return `${this.writer.name} write failed (${this.sql.name}, ${this.merge.name}): ${
      error.message.replace(/^SQL failed: /, "").split("\n")[0]
    }`;
  }

  /**
   * From the loaded input relation: changes, the touched rows, the MERGE,
   * then the new rows and the deletes staged locally (temp tables named
   * after `name`).
   */
  async #stage(name: string): Promise<StagedCurrent> {
    const { duckdb } = this;
    const k = sqlIdent(this.#key);
    const changes = "changes";
    const target = "orders_current";
    const before = `__before_${name}`;
    const merged = `__merged_${name}`;
    const placed = `__placed_${name}`;
    const next = `__next_${name}`;
    const dels = `__deletes_${name}`;
    const temps = [before, merged, placed, dels];
    // One round trip for all of them (each statement costs one otherwise).
    const dropTemps = () =>
      duckdb.run(
        [`DROP VIEW IF EXISTS ${next}`, ...temps.map((t) => `DROP TABLE IF EXISTS ${t}`)]
          .join(";\n"),
      ).catch(() => {});
    let rows: StagedDataFiles | undefined;
    let deletes: StagedDataFiles | undefined;
    const steps: string[] = [];
    let mark = performance.now();
    const step = (label: string) => {
      const now = performance.now();
      steps.push(`${label} ${(now - mark).toFixed(0)}`);
      mark = now;
    };
    try {
      const view = await this.map();
      await duckdb.run(`CREATE OR REPLACE TEMP TABLE ${changes} AS SELECT * FROM ${view}`);
      step("changes");
      const shape = await this.state.fetch(changes, target, before);
      step(
        `fetch (${shape.hits} rows: ${shape.rangeRows} in range, ${shape.old} old; keys ${
          shape.ms.keys.toFixed(0)
        }, rows ${shape.ms.rows.toFixed(0)}, copy ${shape.ms.copy.toFixed(0)})`,
      );
      try {
        await duckdb.run(this.merge.text);
      } catch (error) {
        if (error instanceof DataError) throw error;
        throw sqlFileError(this.merge, error);
      }
      step("merge");
      // The merged rows stay under this batch's name until the state store
      // has taken them (the next batch's fetch makes a new target). Rows the
      // MERGE left as they were are dropped from them: what remains is what
      // it inserted or changed, the rows to write. Dropping the few
      // unchanged rows costs less than a copy of the changed ones (items
      // lists), and every later step reads the merged rows as they are.
      await duckdb.run(
        `ALTER TABLE ${target} RENAME TO ${merged};
         DELETE FROM ${merged} a USING ${before} b
         WHERE a.${k} = b.${k} AND a IS NOT DISTINCT FROM b`,
      );
      const [counts] = await duckdb.query<{ input: bigint; applied: bigint; changed: bigint }>(
        `SELECT (SELECT count(*) FROM batch)::BIGINT AS input,
           (SELECT coalesce(sum(s.event_count), 0) FROM ${changes} s
             WHERE s.${k} IN (SELECT ${k} FROM ${merged}))::BIGINT AS applied,
           (SELECT count(*) FROM ${merged})::BIGINT AS changed`,
      );
      step("changed");
      const columns = this.writer.schema.fields.map((f) => sqlIdent(f.name)).join(", ");
      rows = await this.stageView(`(SELECT ${columns} FROM ${merged})`, this.merge);
      step("stage rows");
      assert(rows.rows === counts.changed, "staged rows differ from the merge's changed rows");
      // Where each new row is: its file and position, read back from the staged files.
      const locals = rows.localPaths;
      if (locals.length > 0) {
        await duckdb.run(
          `CREATE OR REPLACE TEMP TABLE ${placed} AS SELECT r.${k}, f.uri AS _file,
             r.file_row_number AS _pos
           FROM read_parquet([${locals.map(sqlString).join(", ")}], filename = true,
             file_row_number = true) r
           JOIN (VALUES ${
            rows.files.map((f, i) => `(${sqlString(locals[i])}, ${sqlString(f.filePath)})`)
              .join(", ")
          }) f(local, uri) ON f.local = r.filename`,
        );
      } else {
        await duckdb.run(
          `CREATE OR REPLACE TEMP TABLE ${placed} AS SELECT NULL::VARCHAR AS ${k},
             NULL::VARCHAR AS _file, NULL::BIGINT AS _pos WHERE false`,
        );
      }
      // A view: the state store's append after the commit is its one
      // reader (a copy of every new row saved).
      await duckdb.run(
        `CREATE OR REPLACE TEMP VIEW ${next} AS
         SELECT c.* EXCLUDE (_file, _pos, _seq), p._file, p._pos
         FROM ${merged} c JOIN ${placed} p ON p.${k} = c.${k}`,
      );
      // The rows replaced: deleted by position in the files they were in,
      // and from the state store by their _seq once the batch is committed.
      await duckdb.run(
        `CREATE OR REPLACE TEMP TABLE ${dels} AS SELECT b._file AS file_path, b._pos AS pos,
           b.${k} AS k, b._seq FROM ${before} b
         WHERE b._file IS NOT NULL AND b.${k} IN (SELECT ${k} FROM ${merged})`,
      );
      step("placed");
      const files = await duckdb.query<{ file_path: string; k: string }>(
        `SELECT file_path, any_value(k) AS k FROM ${dels} GROUP BY file_path`,
      );
      const partitions = this.#partitionsOf(files);
      deletes = await stagePositionDeletes({
        duckdb,
        source: dels,
        partitionOf: (path) => partitions.get(path),
        location: this.writer.metadata.location,
        tempDir: this.tempDir,
      });
      step("stage deletes");
      this.logger.debug(`${this.writer.name}: staged in ms: ${steps.join(", ")}`);
      const staged = rows;
      const stagedDeletes = deletes;
      return {
        rows: staged,
        deletes: stagedDeletes,
        referenced: files.map((f) => f.file_path),
        next,
        replaced: dels,
        input: Number(counts.input),
        applied: Number(counts.applied),
        dispose: async () => {
          await staged.dispose();
          await stagedDeletes.dispose();
          await dropTemps();
        },
      };
    } catch (error) {
      await rows?.dispose();
      await deletes?.dispose();
      await dropTemps();
      throw error;
    }
  }

  /**
   * The partition of each data file a delete points into: the table is
   * partitioned by a transform of its key, so any key of the file tells.
   */
  #partitionsOf(files: readonly { file_path: string; k: string }[]) {
    const spec = this.writer.metadata["partition-specs"].find((s) =>
      s["spec-id"] === this.writer.metadata["default-spec-id"]
    )!;
    const keyField = this.writer.schema.fields.find((f) => f.name === this.#key)!;
    const out = new Map<string, PartitionValue[]>();
    for (const { file_path, k } of files) {
      out.set(
        file_path,
        spec.fields.map((pf) => {
          if (pf["source-id"] !== keyField.id) {
            throw new LakehouseError(
              `${this.writer.name}: partition field ${pf.name} is not a transform of ${this.#key}`,
            );
          }
          return applyTransform(pf.transform as never, keyField.type as never, k) as number;
        }),
      );
    }
    return out;
  }
}

const nothing = () => Promise.resolve();
const ENCODER = new TextEncoder();

function tag(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}
