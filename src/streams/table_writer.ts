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
import { assert } from "../core/assert.ts";
import { crashPoint } from "../core/crash.ts";
import type { Logger } from "../core/log.ts";
import type { DuckDb } from "../duckdb/duckdb.ts";
import { commitChange, type CommitResult } from "../iceberg/commit/commit.ts";
import { commitTable } from "../iceberg/commit/commit_table.ts";
import { evolveSchema, firstSchema } from "../iceberg/spec/evolve.ts";
import { currentSchema, defaultSpec } from "../iceberg/spec/metadata.ts";
import { appendFiles, rowDelta } from "../iceberg/transaction/mod.ts";
import type { PartitionSpec, Schema, StructType, TableMetadata } from "../iceberg/spec/types.ts";
import { loadOrCreateTable, loadTable, ManifestReader } from "../iceberg/table.ts";
import {
  stageDataFiles,
  type StagedDataFiles,
  uploadDataFiles,
} from "../iceberg/write/data_files.ts";
import type { ObjectStore } from "../storage/store.ts";
import type { PartitionRange } from "../batch/types.ts";
import { readOffsets, withOffsets } from "./offsets.ts";
import { partitionSpecFor, type TableDefinition } from "./tables.ts";

const CODEC_PROPERTY = "write.parquet.compression-codec";

export interface TableWriterOptions {
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly duckdb: DuckDb;
  readonly id: TableIdentifier;
  /** Partitioning and required columns of a new table. */
  readonly definition: TableDefinition;
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
  #schema: Schema | undefined;
  #metadata: TableMetadata | undefined;
  #spec: PartitionSpec | undefined;

  constructor(options: TableWriterOptions) {
    this.options = options;
    this.#manifests = new ManifestReader(options.store);
  }

  get name(): string {
    return this.options.id.name;
  }

  /** The writer's cache of manifests it read and wrote. */
  get manifests(): ManifestReader {
    return this.#manifests;
  }

  /**
   * Creates the table if needed, with `columns` (the SQL file's output) as
   * its schema, or evolves its schema to them (one commit: add-schema and
   * set-current-schema), then reads its committed offsets. Returns the
   * schema changes made. A change Iceberg forbids fails with
   * SchemaChangeError naming the column and both types.
   */
  async open(columns: StructType): Promise<readonly string[]> {
    const o = this.options;
    let table = await o.catalog.tableExists(o.id)
      ? await loadTable(o.catalog, o.store, o.id)
      : undefined;
    if (table === undefined) {
      const first = firstSchema(columns, new Set(o.definition.required));
      const identifier = first.schema.fields.find((f) => f.name === o.definition.identifier);
      const schema = identifier
        ? { ...first.schema, "identifier-field-ids": [identifier.id] }
        : first.schema;
      table = await loadOrCreateTable(o.catalog, o.store, {
        id: o.id,
        location: o.location,
        schema,
        spec: partitionSpecFor(o.definition, schema),
        properties: {
          "write.format.default": "parquet",
          // Measured faster to write than zstd for these tables (BENCHMARKS.md);
          // compaction may recompress.
          [CODEC_PROPERTY]: "snappy",
          ...o.definition.properties,
          ...o.properties,
        },
      });
    }
    const changes = await this.#evolve(table.metadata, columns);
    if (changes.length > 0) table = await loadTable(o.catalog, o.store, o.id);
    this.#learn(table.metadata);
    return changes;
  }

  async #evolve(metadata: TableMetadata, columns: StructType): Promise<readonly string[]> {
    const current = currentSchema(metadata);
    const spec = defaultSpec(metadata);
    const kept = new Map<number, string>();
    for (const f of spec.fields) {
      kept.set(f["source-id"], `it is the source of partition field ${f.name}`);
    }
    for (const id of current["identifier-field-ids"] ?? []) {
      kept.set(id, "it is an identifier field of the table");
    }
    const nextId = Math.max(...metadata.schemas.map((s) => s["schema-id"])) + 1;
    const evolution = evolveSchema(current, columns, metadata["last-column-id"], nextId, {
      keptIds: kept,
    });
    if (evolution.changes.length === 0) return [];
    const o = this.options;
    // One commit, valid only against the schema it was computed from: a
    // racing writer's evolution fails it (retriable), and open() runs again.
    // A schema the table had before (a change undone) becomes current again.
    await commitTable(
      { catalog: o.catalog, store: o.store, id: o.id, manifests: this.#manifests },
      [
        { type: "assert-table-uuid", uuid: metadata["table-uuid"] },
        { type: "assert-current-schema-id", "current-schema-id": current["schema-id"] },
        {
          type: "assert-last-assigned-field-id",
          "last-assigned-field-id": metadata["last-column-id"],
        },
      ],
      [
        {
          action: "add-schema",
          schema: evolution.schema,
          "last-column-id": evolution.lastColumnId,
        },
        { action: "set-current-schema", "schema-id": -1 },
      ],
      { attemptsMax: 1 },
    );
    o.logger.info(`${o.id.name}: schema changed: ${evolution.changes.join("; ")}`);
    return evolution.changes;
  }

  /** Reloads the committed offsets (after a lost race or a rebalance). */
  async refresh(): Promise<void> {
    const table = await loadTable(this.options.catalog, this.options.store, this.options.id);
    this.#learn(table.metadata);
  }

  /** Learns the table after this writer's commit: its offsets may only have moved forward. */
  #learnCommit(commit: CommitResult): void {
    const before = this.#next;
    this.#learn(commit.metadata);
    for (const [partition, next] of before) {
      assert(
        this.nextOffset(partition) >= next,
        `${this.options.id.name}: a commit took partition ${partition} back from ${next} to ${
          this.nextOffset(partition)
        }`,
      );
    }
  }

  #learn(metadata: TableMetadata): void {
    this.#metadata = metadata;
    this.#next = readOffsets(metadata, this.options.topic);
    this.#location = metadata.location;
    this.#codec = metadata.properties?.[CODEC_PROPERTY];
    this.#schema = currentSchema(metadata);
    this.#spec = defaultSpec(metadata);
  }

  /** The table's metadata as this writer last saw it (after open). */
  get metadata(): TableMetadata {
    return this.#metadata!;
  }

  /** The table's current schema (after open). */
  get schema(): Schema {
    return this.#schema!;
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
      schema: this.#schema!,
      spec: this.#spec!,
      source: relation,
      location: this.#location,
      targetFileSizeBytes: o.targetFileSizeBytes,
      tempDir: o.tempDir,
      compression: this.#codec,
    });
  }

  /**
   * Uploads new rows and position deletes and commits them as one row delta
   * with the batch's offsets (see publish). The commit fails with
   * ValidationError when a data file the deletes point into is no longer
   * live (a compaction replaced it): refresh, stage again.
   */
  async publishRowDelta(
    rows: StagedDataFiles,
    deletes: StagedDataFiles,
    referencedDataFiles: readonly string[],
    ranges: readonly PartitionRange[],
    expected: ReadonlyMap<number, bigint>,
  ): Promise<WriteResult & { commit: CommitResult }> {
    const o = this.options;
    const started = performance.now();
    const added = await uploadDataFiles(o.store, rows);
    const deleteFiles = await uploadDataFiles(o.store, deletes);
    crashPoint(`${o.id.name}.before-commit`);
    const written = performance.now();
    const commit = await commitChange(
      { catalog: o.catalog, store: o.store, id: o.id, manifests: this.#manifests },
      rowDelta({
        rows: added,
        deletes: deleteFiles,
        referencedDataFiles,
        ...withOffsets({ table: o.id.name, topic: o.topic, ranges, expected }),
      }),
    );
    this.#learnCommit(commit);
    o.logger.debug(
      `${o.id.name}: ${rows.rows} rows in ${added.length} files, ${deletes.rows} deletes in ${deleteFiles.length} files; upload ${
        (written - started).toFixed(0)
      } ms, commit ${(performance.now() - written).toFixed(0)} ms`,
    );
    return { commit, rows: rows.rows, files: added.length + deleteFiles.length };
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
    const started = performance.now();
    const files = [];
    for (const s of staged) files.push(...await uploadDataFiles(o.store, s));
    const rows = files.reduce((s, f) => s + f.recordCount, 0n);
    const written = performance.now();
    const commit = await commitChange(
      { catalog: o.catalog, store: o.store, id: o.id, manifests: this.#manifests },
      appendFiles(files, withOffsets({ table: o.id.name, topic: o.topic, ranges, expected })),
    );
    this.#learnCommit(commit);
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
