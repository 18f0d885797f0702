/**
 * One exactly-once table fed from Kafka: holds the table's committed offsets,
 * turns a batch's rows (a DuckDB relation prepared by the stream) into data
 * files and commits them as an append whose summary carries the next offset
 * of every partition. Another writer committing the same partitions first
 * (after a rebalance) fails the commit's validation; the caller then reloads
 * the offsets and redoes the batch, so nothing is written twice.
 *
 * Writing is two steps: `stage` turns rows into local Parquet files (where
 * row values can fail, with no network involved) and `publish` uploads and
 * commits them, and can be repeated through a storage outage without
 * staging again.
 */
import type { Catalog, TableIdentifier } from "../catalog/catalog.ts";
import type { Logger } from "../core/log.ts";
import type { DuckDb } from "../duckdb/duckdb.ts";
import { commitChange, type CommitResult, ValidationError } from "../iceberg/commit/commit.ts";
import type { PartitionSpec, Schema, TableMetadata } from "../iceberg/spec/types.ts";
import { loadOrCreateTable, loadTable, ManifestReader } from "../iceberg/table.ts";
import {
  stageDataFiles,
  type StagedDataFiles,
  uploadDataFiles,
} from "../iceberg/write/data_files.ts";
import type { ObjectStore } from "../storage/store.ts";
import type { PartitionRange } from "../batch/types.ts";
import { encodeOffsets, OFFSETS_KEY, readOffsets } from "./offsets.ts";

const CODEC_PROPERTY = "write.parquet.compression-codec";

export interface TableWriterOptions {
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly duckdb: DuckDb;
  readonly id: TableIdentifier;
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  /** Table location for a new table. */
  readonly location: string;
  readonly topic: string;
  readonly tempDir: string;
  readonly targetFileSizeBytes: number;
  readonly logger: Logger;
  readonly properties?: Readonly<Record<string, string>>;
}

export interface WriteResult {
  readonly commit: CommitResult | undefined;
  readonly rows: bigint;
  readonly files: number;
}

export class TableWriter {
  readonly options: TableWriterOptions;
  readonly #manifests: ManifestReader;
  #next = new Map<number, bigint>();
  /** Where new data files go and how they are compressed, from the last metadata seen. */
  #location = "";
  #codec: string | undefined;

  constructor(options: TableWriterOptions) {
    this.options = options;
    this.#manifests = new ManifestReader(options.store);
  }

  get name(): string {
    return this.options.id.name;
  }

  /** Creates the table if needed and reads its committed offsets. */
  async open(): Promise<void> {
    const o = this.options;
    const table = await loadOrCreateTable(o.catalog, o.store, {
      id: o.id,
      location: o.location,
      schema: o.schema,
      spec: o.spec,
      properties: {
        "write.format.default": "parquet",
        // Measured faster to write than zstd for these tables (BENCHMARKS.md);
        // compaction may recompress.
        [CODEC_PROPERTY]: "snappy",
        ...o.properties,
      },
    });
    this.#learn(table.metadata);
  }

  /** Reloads the committed offsets (after a lost race or a rebalance). */
  async refresh(): Promise<void> {
    const table = await loadTable(this.options.catalog, this.options.store, this.options.id);
    this.#learn(table.metadata);
  }

  #learn(metadata: TableMetadata): void {
    this.#next = readOffsets(metadata, this.options.topic);
    this.#location = metadata.location;
    this.#codec = metadata.properties?.[CODEC_PROPERTY];
  }

  /** Next offset to read for a partition (0 when the table has none). */
  nextOffset(partition: number): bigint {
    return this.#next.get(partition) ?? 0n;
  }

  nextOffsets(): ReadonlyMap<number, bigint> {
    return this.#next;
  }

  /**
   * Writes `relation` (rows of records at or after this table's offsets) and
   * commits it with the batch's offsets: stage, publish, dispose.
   */
  async write(
    relation: string,
    ranges: readonly PartitionRange[],
    expected: ReadonlyMap<number, bigint>,
  ): Promise<WriteResult> {
    const staged = await this.stage(relation);
    try {
      return await this.publish([staged], ranges, expected);
    } finally {
      await staged.dispose();
    }
  }

  /**
   * Writes the rows of `relation` as local Parquet files with the table's
   * layout (no I/O beyond the scratch directory). Rows whose values cannot be
   * written fail with DataError; the caller disposes of the result.
   */
  async stage(relation: string): Promise<StagedDataFiles> {
    const o = this.options;
    return await stageDataFiles({
      duckdb: o.duckdb,
      store: o.store,
      schema: o.schema,
      spec: o.spec,
      source: relation,
      location: this.#location,
      targetFileSizeBytes: o.targetFileSizeBytes,
      tempDir: o.tempDir,
      compression: this.#codec,
    });
  }

  /**
   * Uploads staged files and commits them as one append with the batch's
   * offsets. `ranges` are the batch's partition ranges; `expected` the
   * offsets the rows were selected with: a table another writer moved past
   * them fails with ValidationError (refresh, then stage again). Safe to
   * repeat after a storage failure: the same files go to the same paths.
   */
  async publish(
    staged: readonly StagedDataFiles[],
    ranges: readonly PartitionRange[],
    expected: ReadonlyMap<number, bigint>,
  ): Promise<WriteResult> {
    const o = this.options;
    const advanced = new Map(this.#next);
    for (const r of ranges) {
      if (r.nextOffset > (advanced.get(r.partition) ?? 0n)) advanced.set(r.partition, r.nextOffset);
    }
    const started = performance.now();
    const files = [];
    for (const s of staged) files.push(...await uploadDataFiles(o.store, s));
    const rows = files.reduce((s, f) => s + f.recordCount, 0n);
    const written = performance.now();
    const commit = await commitChange(
      { catalog: o.catalog, store: o.store, id: o.id, manifests: this.#manifests },
      {
        operation: "append",
        added: files,
        // The summary is computed against the table each attempt is based on.
        summary: (base) => {
          const merged = readOffsets(base, o.topic);
          for (const [p, next] of advanced) {
            if ((merged.get(p) ?? 0n) < next) merged.set(p, next);
          }
          return { [OFFSETS_KEY]: encodeOffsets({ topic: o.topic, next: merged }) };
        },
        validate: (base) => {
          const committed = readOffsets(base, o.topic);
          for (const r of ranges) {
            const now = committed.get(r.partition) ?? 0n;
            const mine = expected.get(r.partition) ?? 0n;
            if (now > mine) {
              throw new ValidationError(
                `${o.id.name}: partition ${r.partition} was committed up to ${now} by another writer (this batch assumed ${mine})`,
              );
            }
          }
        },
      },
    );
    this.#learn(commit.metadata);
    o.logger.debug(
      `${o.id.name}: ${rows} rows in ${files.length} files; upload ${
        (written - started).toFixed(0)
      } ms, commit ${(performance.now() - written).toFixed(0)} ms (${commit.attempts} attempt${
        commit.attempts === 1 ? "" : "s"
      })`,
    );
    return { commit, rows, files: files.length };
  }
}
