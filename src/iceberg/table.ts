/**
 * A table as the writers and readers see it: the catalog's pointer, the
 * metadata it points to, and cached access to the immutable manifest lists
 * and manifests of its snapshots.
 */
import type { Catalog, TableIdentifier } from "../catalog/catalog.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import type { ObjectStore } from "../storage/store.ts";
import { inheritSequenceNumbers, readManifest, readManifestList } from "./avro/mod.ts";
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

export async function readMetadataFile(
  store: ObjectStore,
  location: string,
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
  return tableMetadataFromJson(new TextDecoder().decode(bytes), location);
}

export async function loadTable(
  catalog: Catalog,
  store: ObjectStore,
  id: TableIdentifier,
): Promise<TableHandle> {
  const pointer = await catalog.loadTable(id);
  const metadata = await readMetadataFile(store, pointer.metadataLocation);
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

/**
 * Reads manifest lists and manifests, which never change once written, with
 * a bounded LRU cache so commits and scans do not re-read the same files.
 */
export class ManifestReader {
  readonly #store: ObjectStore;
  readonly #cache = new Map<string, unknown>();
  readonly #entriesMax: number;

  constructor(store: ObjectStore, entriesMax = 512) {
    this.#store = store;
    this.#entriesMax = entriesMax;
  }

  async manifestList(snapshot: Snapshot): Promise<ManifestFile[]> {
    return await this.#cached(snapshot["manifest-list"], (bytes) => readManifestList(bytes));
  }

  async manifest(file: ManifestFile): Promise<LoadedManifest> {
    const entries = await this.#cached(file.manifestPath, (bytes) => readManifest(bytes).entries);
    return { file, entries: inheritSequenceNumbers(entries, file) };
  }

  /** Every manifest of a snapshot with its entries. */
  async manifests(snapshot: Snapshot | undefined): Promise<LoadedManifest[]> {
    if (!snapshot) return [];
    const list = await this.manifestList(snapshot);
    return await Promise.all(list.map((m) => this.manifest(m)));
  }

  async #cached<T>(path: string, parse: (bytes: Uint8Array) => T): Promise<T> {
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
    const value = parse(bytes);
    this.#cache.set(path, value);
    while (this.#cache.size > this.#entriesMax) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    return value;
  }
}
