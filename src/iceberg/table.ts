/**
 * A table as the writers and readers see it: the catalog's pointer, the
 * metadata it points to, and cached access to the immutable manifest lists
 * and manifests of its snapshots.
 */
import type { Catalog, TableIdentifier } from "../catalog/catalog.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import type { ObjectStore } from "../storage/store.ts";
import {
  AvroFormatError,
  inheritSequenceNumbers,
  readManifest,
  readManifestList,
} from "./avro/mod.ts";
import type { PartitionType } from "./avro/mod.ts";
import {
  metadataFileName,
  newTableMetadata,
  tableMetadataFromJson,
  tableMetadataToJson,
} from "./spec/metadata.ts";
import { transformResultType } from "./spec/transforms.ts";
import type {
  ManifestEntry,
  ManifestFile,
  PartitionSpec,
  PrimitiveType,
  Schema,
  Snapshot,
  TableMetadata,
} from "./spec/types.ts";

export interface TableHandle {
  readonly id: TableIdentifier;
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
}

/**
 * Reads and parses a metadata file. With `cache`, a file whose bytes are
 * those last parsed or written under the same location is not parsed again:
 * parsing grows with the snapshot count and would dominate every commit of a
 * long-lived table. The bytes are still read and compared, so a damaged or
 * replaced file is noticed as it would be without the cache.
 */
export async function readMetadataFile(
  store: ObjectStore,
  location: string,
  cache?: ManifestReader,
): Promise<TableMetadata> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(location);
  } catch (error) {
    throw new LakehouseError(`cannot read table metadata ${location}: ${errorMessage(error)}`, {
      cause: error,
      retriable: error instanceof LakehouseError && error.retriable,
    });
  }
  const known = cache?.parsedMetadata(location, bytes);
  if (known) return known;
  const metadata = tableMetadataFromJson(new TextDecoder().decode(bytes), location);
  cache?.rememberMetadata(location, bytes, metadata);
  return metadata;
}

export async function loadTable(
  catalog: Catalog,
  store: ObjectStore,
  id: TableIdentifier,
  cache?: ManifestReader,
): Promise<TableHandle> {
  const pointer = await catalog.loadTable(id);
  const metadata = await readMetadataFile(store, pointer.metadataLocation, cache);
  return { id, metadataLocation: pointer.metadataLocation, metadata };
}

export interface CreateTableOptions {
  readonly id: TableIdentifier;
  /** Full URI of the table directory. */
  readonly location: string;
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  readonly properties?: Readonly<Record<string, string>>;
  readonly nowMs?: number;
}

/** Writes the first metadata file and registers the table in the catalog. */
export async function createTable(
  catalog: Catalog,
  store: ObjectStore,
  options: CreateTableOptions,
): Promise<TableHandle> {
  const metadata = newTableMetadata({
    location: options.location,
    schema: options.schema,
    spec: options.spec,
    properties: options.properties,
    tableUuid: crypto.randomUUID(),
    nowMs: options.nowMs ?? Date.now(),
  });
  const location = `${metadata.location}/metadata/${metadataFileName(0, crypto.randomUUID())}`;
  await store.put(location, new TextEncoder().encode(tableMetadataToJson(metadata)));
  await catalog.ensureNamespace(options.id.namespace);
  await catalog.createTable(options.id, location);
  return { id: options.id, metadataLocation: location, metadata };
}

/** Loads the table, creating it first if it does not exist (racing creators are fine). */
export async function loadOrCreateTable(
  catalog: Catalog,
  store: ObjectStore,
  options: CreateTableOptions,
): Promise<TableHandle> {
  if (await catalog.tableExists(options.id)) return loadTable(catalog, store, options.id);
  try {
    return await createTable(catalog, store, options);
  } catch (error) {
    if (await catalog.tableExists(options.id)) return loadTable(catalog, store, options.id);
    throw error;
  }
}

/** The spec's result struct, as manifests store partition values. */
export function partitionType(schema: Schema, spec: PartitionSpec): PartitionType {
  return {
    fields: spec.fields.map((f) => {
      const source = schema.fields.find((s) => s.id === f["source-id"]);
      if (!source) {
        throw new LakehouseError(`partition field ${f.name}: no column ${f["source-id"]}`);
      }
      return {
        id: f["field-id"],
        name: f.name,
        type: transformResultType(f.transform, source.type as PrimitiveType),
      };
    }),
  };
}

/** A manifest's entries with inherited sequence numbers filled in. */
export interface LoadedManifest {
  readonly file: ManifestFile;
  readonly entries: readonly ManifestEntry[];
}

/** Parsed metadata files kept per reader (each can be megabytes). */
const METADATA_CACHED_MAX = 4;

/**
 * Reads manifest lists and manifests, which never change once written, with
 * a bounded LRU cache so commits and scans do not re-read the same files.
 * A writer also records the files it writes, so its next commit does not read
 * back what it already holds (after a manifest merge, that is every entry of
 * the table). It also remembers the latest parsed metadata files (see
 * `readMetadataFile`).
 */
export class ManifestReader {
  readonly #store: ObjectStore;
  readonly #cache = new Map<string, unknown>();
  readonly #entriesMax: number;
  /** Entries with inherited sequence numbers, per cached manifest's raw entries. */
  readonly #inherited = new WeakMap<
    readonly ManifestEntry[],
    { sequenceNumber: bigint; snapshotId: bigint; entries: ManifestEntry[] }
  >();
  readonly #metadata = new Map<string, { bytes: Uint8Array; metadata: TableMetadata }>();

  constructor(store: ObjectStore, entriesMax = 512) {
    this.#store = store;
    this.#entriesMax = entriesMax;
  }

  async manifestList(snapshot: Snapshot): Promise<ManifestFile[]> {
    return await this.#cached(
      snapshot["manifest-list"],
      "manifest list",
      (bytes) => readManifestList(bytes),
    );
  }

  async manifest(file: ManifestFile): Promise<LoadedManifest> {
    const raw = await this.#cached(
      file.manifestPath,
      "manifest",
      (bytes) => readManifest(bytes).entries,
    );
    // A manifest is listed with the same sequence number and snapshot in every
    // snapshot that carries it, so the inherited entries are computed once.
    const memo = this.#inherited.get(raw);
    if (memo?.sequenceNumber === file.sequenceNumber && memo.snapshotId === file.addedSnapshotId) {
      return { file, entries: memo.entries };
    }
    const entries = inheritSequenceNumbers(raw, file);
    this.#inherited.set(raw, {
      sequenceNumber: file.sequenceNumber,
      snapshotId: file.addedSnapshotId,
      entries,
    });
    return { file, entries };
  }

  /** Every manifest of a snapshot with its entries. */
  async manifests(snapshot: Snapshot | undefined): Promise<LoadedManifest[]> {
    if (!snapshot) return [];
    const list = await this.manifestList(snapshot);
    return await Promise.all(list.map((m) => this.manifest(m)));
  }

  /** Records a manifest just written, with `entries` exactly as reading it back yields them. */
  rememberManifest(path: string, entries: readonly ManifestEntry[]): void {
    this.#put(path, entries);
  }

  /** Records a manifest list just written, as reading it back yields it. */
  rememberManifestList(path: string, manifests: readonly ManifestFile[]): void {
    this.#put(path, manifests);
  }

  /** The metadata parsed from `bytes` at `location` earlier, if these are the same bytes. */
  parsedMetadata(location: string, bytes: Uint8Array): TableMetadata | undefined {
    const known = this.#metadata.get(location);
    if (!known || !sameBytes(known.bytes, bytes)) return undefined;
    this.#metadata.delete(location);
    this.#metadata.set(location, known);
    return known.metadata;
  }

  /** Records the metadata a file at `location` holding `bytes` parses to. */
  rememberMetadata(location: string, bytes: Uint8Array, metadata: TableMetadata): void {
    this.#metadata.delete(location);
    this.#metadata.set(location, { bytes, metadata });
    while (this.#metadata.size > METADATA_CACHED_MAX) {
      this.#metadata.delete(this.#metadata.keys().next().value!);
    }
  }

  #put(path: string, value: unknown): void {
    this.#cache.delete(path);
    this.#cache.set(path, value);
    while (this.#cache.size > this.#entriesMax) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
  }

  /** `what` ("manifest list") and `path` name the file in parse errors, which never quote it. */
  async #cached<T>(path: string, what: string, parse: (bytes: Uint8Array) => T): Promise<T> {
    if (this.#cache.has(path)) {
      const value = this.#cache.get(path) as T;
      this.#cache.delete(path);
      this.#cache.set(path, value);
      return value;
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.#store.get(path);
    } catch (error) {
      throw new LakehouseError(`cannot read ${path}: ${errorMessage(error)}`, {
        cause: error,
        retriable: error instanceof LakehouseError && error.retriable,
      });
    }
    let value: T;
    try {
      value = parse(bytes);
    } catch (error) {
      const message = `invalid ${what} ${path}: ${errorMessage(error)}`;
      throw error instanceof AvroFormatError
        ? new AvroFormatError(message, { cause: error })
        : new LakehouseError(message, { cause: error });
    }
    this.#put(path, value);
    return value;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
