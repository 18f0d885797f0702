/**
 * Committing a change to a table: data and delete files are already written;
 * this writes their manifests once, then per attempt loads the current
 * metadata, validates the change against what others committed meanwhile,
 * builds the manifest list and the new metadata (pure), writes both, and
 * swaps the catalog pointer. A conflict reloads and retries with the same
 * files and snapshot id; an unknown outcome is reported and nothing written
 * is deleted (it may be referenced by a commit that did land).
 */
import { CommitConflictError, CommitStateUnknownError } from "../../catalog/catalog.ts";
import type { Catalog, TableIdentifier } from "../../catalog/catalog.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { LakehouseError } from "../../core/errors.ts";
import type { ObjectStore } from "../../storage/store.ts";
import { summarizePartitions, writeManifest, writeManifestList } from "../avro/mod.ts";
import { metadataFileName, parseMetadataVersion, tableMetadataToJson } from "../spec/metadata.ts";
import { SummaryBuilder } from "../spec/summary.ts";
import {
  type DataFile,
  EntryStatus,
  FileContent,
  ManifestContent,
  type ManifestEntry,
  type ManifestFile,
  type Operation,
  type Snapshot,
  type TableMetadata,
} from "../spec/types.ts";
import { currentSchema, currentSnapshot, defaultSpec } from "../spec/metadata.ts";
import {
  type LoadedManifest,
  loadTable,
  ManifestReader,
  partitionType,
  type TableHandle,
} from "../table.ts";
import { applyUpdates, type TableUpdate } from "./updates.ts";
import { partitionKey } from "../write/delete_files.ts";

/** The change could not be applied to the table as it now is; replan from fresh metadata. */
export class ValidationError extends LakehouseError {
  constructor(message: string) {
    super(message, { retriable: false });
    this.name = "ValidationError";
  }
}

export interface PendingChange {
  readonly operation: Operation;
  /** New data and position delete files. */
  readonly added: readonly DataFile[];
  /** Live data or delete files this change removes (matched by path). */
  readonly removed?: readonly DataFile[];
  /**
   * Custom snapshot summary keys (stream offsets, writer id); a function is
   * called per attempt with the metadata the attempt builds on.
   */
  readonly summary?:
    | Readonly<Record<string, string>>
    | ((base: TableMetadata) => Readonly<Record<string, string>>);
  /** Data files the new position deletes point into: each must still be live. */
  readonly referencedDataFiles?: readonly string[];
  /**
   * The snapshot the change was planned from. With removed data files, a
   * position delete committed after it that applies to one of them fails the
   * commit (otherwise a concurrent delete would be lost).
   */
  readonly startingSnapshotId?: bigint;
  /** Called with the metadata of each attempt; throw ValidationError to abort. */
  readonly validate?: (base: TableMetadata, live: LiveFiles) => void;
  /**
   * Data sequence number for the added files (compaction keeps the starting
   * one so older deletes still apply); default: the new snapshot's.
   */
  readonly dataSequenceNumber?: bigint;
}

export interface CommitOptions {
  readonly attemptsMax?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly clock?: Clock;
  /** Merge data (or delete) manifests once there are at least this many. */
  readonly manifestMergeMinCount?: number;
  /** Manifests at least this large are left as they are when merging. */
  readonly manifestTargetBytes?: number;
}

export interface CommitResult {
  readonly snapshot: Snapshot;
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
  readonly attempts: number;
}

/** Live files of a snapshot, by path, with their data sequence numbers. */
export interface LiveFiles {
  readonly data: ReadonlyMap<string, ManifestEntry>;
  readonly deletes: ReadonlyMap<string, ManifestEntry>;
}

export interface CommitContext {
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly id: TableIdentifier;
  readonly manifests?: ManifestReader;
}

export async function commitChange(
  context: CommitContext,
  change: PendingChange,
  options: CommitOptions = {},
): Promise<CommitResult> {
  const { catalog, store, id } = context;
  const reader = context.manifests ?? new ManifestReader(store);
  const clock = options.clock ?? systemClock;
  const attemptsMax = options.attemptsMax ?? 10;
  const mergeMin = options.manifestMergeMinCount ?? 16;
  const targetBytes = options.manifestTargetBytes ?? 8 << 20;
  const snapshotId = newSnapshotId();
  const added = change.added;
  const removedPaths = new Set((change.removed ?? []).map((f) => f.filePath));

  let table = await loadTable(catalog, store, id, reader);
  // Manifests of new files are written once and reused by every attempt.
  const schema = currentSchema(table.metadata);
  const spec = defaultSpec(table.metadata);
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
      `${table.metadata.location}/metadata/${crypto.randomUUID()}-m${newManifests.length}.avro`;
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

  for (let attempt = 1;; attempt++) {
    const base = table.metadata;
    const parent = currentSnapshot(base);
    const sequenceNumber = base["last-sequence-number"] + 1n;
    // Every manifest is loaded (from the cache when this writer has seen it),
    // so a commit never builds on a snapshot whose files cannot be read.
    const manifests = await reader.manifests(parent);
    // The live-file map costs a pass over every entry of the table; a plain
    // append checks nothing against it.
    if (
      removedPaths.size > 0 || (change.referencedDataFiles?.length ?? 0) > 0 ||
      change.validate !== undefined
    ) {
      validate(change, base, liveFiles(manifests), removedPaths);
    }
    await validateNoNewDeletes(change, base, reader, removedPaths);

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
        await rewriteManifest(context, table, loaded, snapshotId, sequenceNumber, removedPaths),
      );
    }
    const merged = await mergeManifests(context, table, carried, reader, {
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
      `${base.location}/metadata/snap-${snapshotId}-${attempt}-${crypto.randomUUID()}.avro`;
    await store.put(
      listPath,
      writeManifestList({
        snapshotId,
        parentSnapshotId: parent?.["snapshot-id"] ?? null,
        sequenceNumber,
        manifests: list,
      }),
    );
    const nowMs = Math.max(clock.now(), base["last-updated-ms"]);
    const snapshot: Snapshot = {
      "snapshot-id": snapshotId,
      ...(parent ? { "parent-snapshot-id": parent["snapshot-id"] } : {}),
      "sequence-number": sequenceNumber,
      "timestamp-ms": Math.floor(nowMs),
      "manifest-list": listPath,
      summary: summary.build(
        change.operation,
        parent?.summary,
        typeof change.summary === "function" ? change.summary(base) : change.summary ?? {},
      ),
      "schema-id": schema["schema-id"],
    };
    const updates: TableUpdate[] = [
      { action: "add-snapshot", snapshot },
      { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": snapshotId },
    ];
    const next = applyUpdates(base, updates, {
      nowMs: Math.floor(nowMs),
      baseLocation: table.metadataLocation,
    });
    const version = (parseMetadataVersion(table.metadataLocation) ?? 0) + 1;
    const nextLocation = `${base.location}/metadata/${
      metadataFileName(version, crypto.randomUUID())
    }`;
    const metadataBytes = new TextEncoder().encode(tableMetadataToJson(next));
    await store.put(nextLocation, metadataBytes);
    try {
      await catalog.swapTable(id, table.metadataLocation, nextLocation);
      // The next commit starts from these files; it need not read them back.
      reader.rememberManifestList(listPath, list);
      reader.rememberMetadata(nextLocation, metadataBytes, next);
      return { snapshot, metadataLocation: nextLocation, metadata: next, attempts: attempt };
    } catch (error) {
      if (error instanceof CommitStateUnknownError) throw error;
      if (!(error instanceof CommitConflictError) || attempt >= attemptsMax) {
        if (error instanceof CommitConflictError) {
          throw new LakehouseError(
            `commit to ${
              id.namespace.join(".")
            }.${id.name} lost ${attempt} races in a row; giving up (${error.message})`,
            { cause: error, retriable: true },
          );
        }
        throw error;
      }
      const base = options.backoffBaseMs ?? 20;
      const max = options.backoffMaxMs ?? 2_000;
      await clock.sleep(Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      table = await loadTable(catalog, store, id, reader);
    }
  }
}

function newSnapshotId(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  bytes[0] &= 0x7f;
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v === 0n ? 1n : v;
}

export function liveFiles(manifests: readonly LoadedManifest[]): LiveFiles {
  const data = new Map<string, ManifestEntry>();
  const deletes = new Map<string, ManifestEntry>();
  for (const m of manifests) {
    for (const e of m.entries) {
      if (e.status === EntryStatus.Deleted) continue;
      (e.dataFile.content === FileContent.Data ? data : deletes).set(e.dataFile.filePath, e);
    }
  }
  return { data, deletes };
}

function validate(
  change: PendingChange,
  base: TableMetadata,
  live: LiveFiles,
  removedPaths: ReadonlySet<string>,
): void {
  for (const path of removedPaths) {
    if (!live.data.has(path) && !live.deletes.has(path)) {
      throw new ValidationError(`cannot remove ${path}: it is no longer a live file of the table`);
    }
  }
  for (const path of change.referencedDataFiles ?? []) {
    if (!live.data.has(path)) {
      throw new ValidationError(
        `position deletes reference ${path}, which is no longer live (a concurrent rewrite removed it)`,
      );
    }
  }
  change.validate?.(base, live);
}

/** A delete committed after the starting snapshot must not apply to a file this change removes. */
async function validateNoNewDeletes(
  change: PendingChange,
  base: TableMetadata,
  reader: ManifestReader,
  removedPaths: ReadonlySet<string>,
): Promise<void> {
  const removedData = (change.removed ?? []).filter((f) => f.content === FileContent.Data);
  if (change.startingSnapshotId === undefined || removedData.length === 0) return;
  const partitions = new Set(removedData.map((f) => partitionKey(f.partition)));
  let snapshot = currentSnapshot(base);
  while (snapshot && snapshot["snapshot-id"] !== change.startingSnapshotId) {
    for (const m of await reader.manifestList(snapshot)) {
      if (m.content !== ManifestContent.Deletes || m.addedSnapshotId !== snapshot["snapshot-id"]) {
        continue;
      }
      const loaded = await reader.manifest(m);
      for (const e of loaded.entries) {
        if (e.status !== EntryStatus.Added) continue;
        const ref = e.dataFile.referencedDataFile;
        const applies = ref !== undefined
          ? removedPaths.has(ref)
          : partitions.has(partitionKey(e.dataFile.partition));
        if (applies) {
          throw new ValidationError(
            `delete file ${e.dataFile.filePath} was committed after snapshot ${change.startingSnapshotId} and applies to a file being replaced`,
          );
        }
      }
    }
    const parentId = snapshot["parent-snapshot-id"];
    snapshot = parentId === undefined
      ? undefined
      : base.snapshots.find((s) => s["snapshot-id"] === parentId);
  }
}

/** Rewrites a manifest with the removed files marked DELETED and the rest EXISTING. */
async function rewriteManifest(
  context: CommitContext,
  table: TableHandle,
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
  return await writeCombinedManifest(
    context,
    table,
    loaded.file.content,
    entries,
    snapshotId,
    sequenceNumber,
  );
}

async function writeCombinedManifest(
  context: CommitContext,
  table: TableHandle,
  content: ManifestFile["content"],
  entries: readonly ManifestEntry[],
  snapshotId: bigint,
  sequenceNumber: bigint,
): Promise<ManifestFile> {
  const schema = currentSchema(table.metadata);
  const spec = defaultSpec(table.metadata);
  const ptype = partitionType(schema, spec);
  const bytes = writeManifest({
    schema,
    spec,
    partitionType: ptype,
    content: content === ManifestContent.Data ? "data" : "deletes",
    snapshotId,
    entries,
  });
  const path = `${table.metadata.location}/metadata/${crypto.randomUUID()}-m.avro`;
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
    content,
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
 * type, their live entries are combined into one manifest.
 */
async function mergeManifests(
  context: CommitContext,
  table: TableHandle,
  manifests: readonly ManifestFile[],
  reader: ManifestReader,
  o: { snapshotId: bigint; sequenceNumber: bigint; mergeMin: number; targetBytes: number },
): Promise<ManifestFile[]> {
  const out: ManifestFile[] = [];
  for (const content of [ManifestContent.Data, ManifestContent.Deletes] as const) {
    const ofContent = manifests.filter((m) => m.content === content);
    const small = ofContent.filter((m) => m.manifestLength < BigInt(o.targetBytes));
    if (small.length < o.mergeMin) {
      out.push(...ofContent);
      continue;
    }
    out.push(...ofContent.filter((m) => m.manifestLength >= BigInt(o.targetBytes)));
    const entries: ManifestEntry[] = [];
    for (const m of small) {
      for (const e of (await reader.manifest(m)).entries) {
        if (e.status !== EntryStatus.Deleted) entries.push({ ...e, status: EntryStatus.Existing });
      }
    }
    if (entries.length > 0) {
      out.push(
        await writeCombinedManifest(
          context,
          table,
          content,
          entries,
          o.snapshotId,
          o.sequenceNumber,
        ),
      );
    }
  }
  return out;
}
