/**
 * Committing a data change to a table: data and delete files are already
 * written; this writes their manifests once, then per attempt (through the
 * one commit path, runCommit) loads the current metadata, validates the
 * change against what others committed meanwhile, writes the manifest list,
 * and commits the snapshot as the REST vocabulary says it: requirements
 * `assert-table-uuid` and `assert-ref-snapshot-id` (main is still the
 * parent), updates `add-snapshot` and `set-snapshot-ref` main. A conflict
 * reloads and retries with the same files and snapshot id.
 */
import { assert } from "../../core/assert.ts";
import { LakehouseError } from "../../core/errors.ts";
import { type RandomSource, systemRandom } from "../../core/random.ts";
import { summarizePartitions, writeManifest, writeManifestList } from "../avro/mod.ts";
import { currentSchema, currentSnapshot, defaultSpec, specById } from "../spec/metadata.ts";
import { SummaryBuilder } from "../spec/summary.ts";
import {
  type DataFile,
  EntryStatus,
  FileContent,
  ManifestContent,
  type ManifestEntry,
  type ManifestFile,
  type PartitionSpec,
  type Snapshot,
  type TableMetadata,
} from "../spec/types.ts";
import { type LoadedManifest, loadTable, ManifestReader, partitionType } from "../table.ts";
import {
  assertPositionsInBounds,
  conflictingDelete,
  type LiveFiles,
  liveFiles,
  needsLiveFiles,
  type PendingChange,
  validateAgainstLive,
  ValidationError,
} from "./change.ts";
import {
  type CommitContext,
  type CommitOptions,
  runCommit,
  type TableCommitResult,
} from "./commit_table.ts";
import type { TableRequirement, TableUpdate } from "./updates.ts";

export { type LiveFiles, liveFiles, type PendingChange, ValidationError };
export type { CommitContext, CommitOptions };

export interface CommitResult extends TableCommitResult {
  readonly snapshot: Snapshot;
}

export async function commitChange(
  context: CommitContext,
  change: PendingChange,
  options: CommitOptions = {},
): Promise<CommitResult> {
  const { catalog, store, id } = context;
  const reader = context.manifests ?? new ManifestReader(store);
  const ctx: CommitContext = { ...context, manifests: reader };
  const mergeMin = options.manifestMergeMinCount ?? 16;
  const targetBytes = options.manifestTargetBytes ?? 8 << 20;
  const snapshotId = newSnapshotId(options.random ?? systemRandom);
  const added = change.added;
  const removedPaths = new Set((change.removed ?? []).map((f) => f.filePath));
  for (const f of added) {
    if (f.content !== FileContent.Data && f.content !== FileContent.PositionDeletes) {
      throw new LakehouseError(
        `cannot commit ${f.filePath}: equality delete files are not supported (scans of this build do not apply them)`,
      );
    }
  }

  const first = await loadTable(catalog, store, id, reader);
  // Manifests of new files are written once and reused by every attempt.
  const schema = currentSchema(first.metadata);
  const spec = defaultSpec(first.metadata);
  const ptype = partitionType(schema, spec);
  const newManifests: ManifestFile[] = [];
  for (const content of [FileContent.Data, FileContent.PositionDeletes] as const) {
    const files = added.filter((f) => f.content === content);
    if (files.length === 0) continue;
    const entries: ManifestEntry[] = files.map((dataFile) => ({
      status: EntryStatus.Added,
      snapshotId,
      sequenceNumber: change.dataSequenceNumber ?? null,
      fileSequenceNumber: null,
      dataFile,
    }));
    const bytes = writeManifest({
      schema,
      spec,
      partitionType: ptype,
      content: content === FileContent.Data ? "data" : "deletes",
      snapshotId,
      entries,
    });
    const path =
      `${first.metadata.location}/metadata/${crypto.randomUUID()}-m${newManifests.length}.avro`;
    await store.put(path, bytes);
    reader.rememberManifest(path, entries);
    newManifests.push({
      manifestPath: path,
      manifestLength: BigInt(bytes.length),
      partitionSpecId: spec["spec-id"],
      content: content === FileContent.Data ? ManifestContent.Data : ManifestContent.Deletes,
      sequenceNumber: 0n, // set per attempt
      minSequenceNumber: 0n,
      addedSnapshotId: snapshotId,
      addedFilesCount: files.length,
      existingFilesCount: 0,
      deletedFilesCount: 0,
      addedRowsCount: files.reduce((s, f) => s + f.recordCount, 0n),
      existingRowsCount: 0n,
      deletedRowsCount: 0n,
      partitions: summarizePartitions(ptype, files),
    });
  }

  let snapshot: Snapshot | undefined;
  const result = await runCommit(ctx, options, async ({ table, number, nowMs }) => {
    const base = table!.metadata;
    const parent = currentSnapshot(base);
    const sequenceNumber = base["last-sequence-number"] + 1n;
    assert(
      parent === undefined || sequenceNumber > parent["sequence-number"],
      `new sequence number ${sequenceNumber} does not exceed the parent's ${
        parent?.["sequence-number"]
      }`,
    );
    assert(
      change.dataSequenceNumber === undefined || change.dataSequenceNumber < sequenceNumber,
      `data sequence number ${change.dataSequenceNumber} of the added files is not below the snapshot's ${sequenceNumber}`,
    );
    // Every manifest is loaded (from the cache when this writer has seen it),
    // so a commit never builds on a snapshot whose files cannot be read.
    const manifests = await reader.manifests(parent);
    // The live-file map costs a pass over every entry of the table; a plain
    // append checks nothing against it.
    const live = needsLiveFiles(change) ? liveFiles(manifests) : undefined;
    if (live !== undefined) validateAgainstLive(change, base, live);
    await validateNoNewDeletes(change, base, reader);
    const addedData = new Map(
      added.filter((f) => f.content === FileContent.Data).map((f) => [f.filePath, f]),
    );
    assertPositionsInBounds(
      added,
      (path) => addedData.get(path) ?? live?.data.get(path)?.dataFile,
    );

    const carried: ManifestFile[] = [];
    for (const loaded of manifests) {
      const hit = removedPaths.size > 0 &&
        loaded.entries.some((e) =>
          e.status !== EntryStatus.Deleted && removedPaths.has(e.dataFile.filePath)
        );
      if (!hit) {
        carried.push(loaded.file);
        continue;
      }
      carried.push(
        await rewriteManifest(ctx, base, loaded, snapshotId, sequenceNumber, removedPaths),
      );
    }
    const merged = await mergeManifests(ctx, base, carried, reader, {
      snapshotId,
      sequenceNumber,
      mergeMin,
      targetBytes,
    });
    const thisAttempt = newManifests.map((m) => ({
      ...m,
      sequenceNumber,
      minSequenceNumber: change.dataSequenceNumber ?? sequenceNumber,
    }));
    const list = [...thisAttempt, ...merged];

    const summary = new SummaryBuilder();
    for (const f of added) summary.addFile(f, spec["spec-id"]);
    for (const f of change.removed ?? []) summary.removeFile(f, spec["spec-id"]);
    const listPath =
      `${base.location}/metadata/snap-${snapshotId}-${number}-${crypto.randomUUID()}.avro`;
    await store.put(
      listPath,
      writeManifestList({
        snapshotId,
        parentSnapshotId: parent?.["snapshot-id"] ?? null,
        sequenceNumber,
        manifests: list,
      }),
    );
    snapshot = {
      "snapshot-id": snapshotId,
      ...(parent ? { "parent-snapshot-id": parent["snapshot-id"] } : {}),
      "sequence-number": sequenceNumber,
      "timestamp-ms": nowMs,
      "manifest-list": listPath,
      summary: summary.build(
        change.operation,
        parent?.summary,
        typeof change.summary === "function" ? change.summary(base) : change.summary ?? {},
      ),
      "schema-id": schema["schema-id"],
    };
    assertListMatchesSummary(snapshot, list, change);
    const main = base.refs.main;
    const requirements: TableRequirement[] = [
      { type: "assert-table-uuid", uuid: base["table-uuid"] },
      { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": main?.["snapshot-id"] ?? null },
    ];
    const updates: TableUpdate[] = [
      { action: "add-snapshot", snapshot },
      {
        // Main keeps its retention settings.
        ...(main === undefined ? {} : retention(main)),
        action: "set-snapshot-ref",
        "ref-name": "main",
        type: "branch",
        "snapshot-id": snapshotId,
      },
    ];
    // The next commit starts from these files; it need not read them back.
    return { requirements, updates, landed: () => reader.rememberManifestList(listPath, list) };
  }, { initial: first });
  return { ...result, snapshot: snapshot! };
}

function retention(ref: NonNullable<TableMetadata["refs"][string]>) {
  const { "snapshot-id": _id, type: _type, ...rest } = ref;
  return rest;
}

/** A random positive 63-bit id (Java's snapshot ids are positive longs). */
export function newSnapshotId(random: RandomSource): bigint {
  const high = BigInt(random.uint32() & 0x7fffffff);
  const low = BigInt(random.uint32() >>> 0);
  const id = (high << 32n) | low;
  return id === 0n ? 1n : id;
}

/**
 * Invariant: the snapshot summary's added and deleted record counts are what
 * its manifests say: the rows of the files it added, and of the data files
 * it removed as the table knew them.
 */
function assertListMatchesSummary(
  snapshot: Snapshot,
  list: readonly ManifestFile[],
  change: PendingChange,
): void {
  const mine = list.filter((m) =>
    m.content === ManifestContent.Data && m.addedSnapshotId === snapshot["snapshot-id"]
  );
  const addedRows = mine.reduce((s, m) => s + m.addedRowsCount, 0n);
  const deletedRows = mine.reduce((s, m) => s + m.deletedRowsCount, 0n);
  const summary = snapshot.summary;
  assert(
    BigInt(summary["added-records"] ?? "0") === addedRows,
    `snapshot ${snapshot["snapshot-id"]} summary says added-records ${
      summary["added-records"] ?? 0
    }, its manifests ${addedRows}`,
  );
  const removedData = (change.removed ?? []).filter((f) => f.content === FileContent.Data);
  assert(
    BigInt(summary["deleted-records"] ?? "0") === deletedRows,
    `snapshot ${snapshot["snapshot-id"]} summary says deleted-records ${
      summary["deleted-records"] ?? 0
    }, its manifests ${deletedRows} (${removedData.length} data files removed)`,
  );
  for (const m of list) {
    assert(
      m.sequenceNumber <= snapshot["sequence-number"] &&
        m.minSequenceNumber <= m.sequenceNumber,
      `manifest ${m.manifestPath} has sequence numbers ${m.minSequenceNumber}..${m.sequenceNumber} beyond snapshot ${
        snapshot["sequence-number"]
      }`,
    );
  }
}

/** A delete committed after the starting snapshot must not apply to a file this change removes. */
async function validateNoNewDeletes(
  change: PendingChange,
  base: TableMetadata,
  reader: ManifestReader,
): Promise<void> {
  const removesData = (change.removed ?? []).some((f) => f.content === FileContent.Data);
  if (change.startingSnapshotId === undefined || !removesData) return;
  const since: DataFile[] = [];
  let snapshot = currentSnapshot(base);
  while (snapshot && snapshot["snapshot-id"] !== change.startingSnapshotId) {
    for (const m of await reader.manifestList(snapshot)) {
      if (m.content !== ManifestContent.Deletes || m.addedSnapshotId !== snapshot["snapshot-id"]) {
        continue;
      }
      for (const e of (await reader.manifest(m)).entries) {
        if (e.status === EntryStatus.Added) since.push(e.dataFile);
      }
    }
    const parentId = snapshot["parent-snapshot-id"];
    snapshot = parentId === undefined
      ? undefined
      : base.snapshots.find((s) => s["snapshot-id"] === parentId);
  }
  const conflict = conflictingDelete(change, since);
  if (conflict !== undefined) {
    throw new ValidationError(
      `delete file ${conflict.filePath} was committed after snapshot ${change.startingSnapshotId} and applies to a file being replaced`,
    );
  }
}

/** Rewrites a manifest with the removed files marked DELETED and the rest EXISTING. */
async function rewriteManifest(
  context: CommitContext,
  base: TableMetadata,
  loaded: LoadedManifest,
  snapshotId: bigint,
  sequenceNumber: bigint,
  removedPaths: ReadonlySet<string>,
): Promise<ManifestFile> {
  const entries: ManifestEntry[] = [];
  for (const e of loaded.entries) {
    if (e.status === EntryStatus.Deleted) continue;
    entries.push(
      removedPaths.has(e.dataFile.filePath)
        ? { ...e, status: EntryStatus.Deleted, snapshotId }
        : { ...e, status: EntryStatus.Existing },
    );
  }
  return await writeCombinedManifest(context, base, {
    content: loaded.file.content,
    specId: loaded.file.partitionSpecId,
    entries,
    snapshotId,
    sequenceNumber,
  });
}

/** The partition spec a manifest was written with: its entries' partition tuples follow it. */
function manifestSpec(base: TableMetadata, specId: number): PartitionSpec {
  const spec = specById(base, specId);
  if (spec === undefined) {
    throw new ValidationError(
      `a manifest of the table uses partition spec ${specId}, which is gone`,
    );
  }
  return spec;
}

async function writeCombinedManifest(
  context: CommitContext,
  base: TableMetadata,
  o: {
    content: ManifestFile["content"];
    specId: number;
    entries: readonly ManifestEntry[];
    snapshotId: bigint;
    sequenceNumber: bigint;
  },
): Promise<ManifestFile> {
  const { entries, snapshotId, sequenceNumber } = o;
  const schema = currentSchema(base);
  const spec = manifestSpec(base, o.specId);
  const ptype = partitionType(schema, spec);
  const bytes = writeManifest({
    schema,
    spec,
    partitionType: ptype,
    content: o.content === ManifestContent.Data ? "data" : "deletes",
    snapshotId,
    entries,
  });
  const path = `${base.location}/metadata/${crypto.randomUUID()}-m.avro`;
  await context.store.put(path, bytes);
  context.manifests?.rememberManifest(path, entries);
  const liveEntries = entries.filter((e) => e.status !== EntryStatus.Deleted);
  const count = (status: number) => entries.filter((e) => e.status === status);
  const rows = (xs: ManifestEntry[]) => xs.reduce((s, e) => s + e.dataFile.recordCount, 0n);
  const minSeq = liveEntries.reduce(
    (min, e) => (e.sequenceNumber! < min ? e.sequenceNumber! : min),
    sequenceNumber,
  );
  return {
    manifestPath: path,
    manifestLength: BigInt(bytes.length),
    partitionSpecId: spec["spec-id"],
    content: o.content,
    sequenceNumber,
    minSequenceNumber: minSeq,
    addedSnapshotId: snapshotId,
    addedFilesCount: 0,
    existingFilesCount: count(EntryStatus.Existing).length,
    deletedFilesCount: count(EntryStatus.Deleted).length,
    addedRowsCount: 0n,
    existingRowsCount: rows(count(EntryStatus.Existing)),
    deletedRowsCount: rows(count(EntryStatus.Deleted)),
    partitions: summarizePartitions(ptype, liveEntries.map((e) => e.dataFile)),
  };
}

/**
 * Keeps the manifest list bounded, as Java's merge-append does: once a
 * snapshot would carry `mergeMin` or more small manifests of one content
 * type and partition spec, their entries are combined into one manifest:
 * live ones as EXISTING, and the DELETED entries of this snapshot (what it
 * removes stays recorded); older DELETED entries are dropped.
 */
async function mergeManifests(
  context: CommitContext,
  base: TableMetadata,
  manifests: readonly ManifestFile[],
  reader: ManifestReader,
  o: { snapshotId: bigint; sequenceNumber: bigint; mergeMin: number; targetBytes: number },
): Promise<ManifestFile[]> {
  const out: ManifestFile[] = [];
  const groups = new Map<string, ManifestFile[]>();
  for (const m of manifests) {
    const key = `${m.content}/${m.partitionSpecId}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  for (const group of groups.values()) {
    const small = group.filter((m) => m.manifestLength < BigInt(o.targetBytes));
    if (small.length < o.mergeMin) {
      out.push(...group);
      continue;
    }
    out.push(...group.filter((m) => m.manifestLength >= BigInt(o.targetBytes)));
    const entries: ManifestEntry[] = [];
    for (const m of small) {
      for (const e of (await reader.manifest(m)).entries) {
        if (e.status !== EntryStatus.Deleted) entries.push({ ...e, status: EntryStatus.Existing });
        else if (e.snapshotId === o.snapshotId) entries.push(e);
      }
    }
    if (entries.length > 0) {
      out.push(
        await writeCombinedManifest(context, base, {
          content: group[0].content,
          specId: group[0].partitionSpecId,
          entries,
          snapshotId: o.snapshotId,
          sequenceNumber: o.sequenceNumber,
        }),
      );
    }
  }
  return out;
}
