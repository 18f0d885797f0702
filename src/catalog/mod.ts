/**
 * Table catalogs: the Catalog contract and its SQLite and in-memory
 * implementations.
 */
import { LakehouseError } from "../core/errors.ts";
import { type Catalog, DEFAULT_CATALOG_NAME } from "./catalog.ts";
import { MemoryCatalog } from "./memory.ts";
import { SqliteCatalog, type SqliteCatalogOptions } from "./sqlite.ts";

export * from "./catalog.ts";
export * from "./memory.ts";
export * from "./sqlite.ts";

export interface OpenCatalogOptions extends SqliteCatalogOptions {
  /** catalog_name; default "lakehouse". */
  readonly name?: string;
}

/**
 * Opens the catalog at `uri`:
 * - `sqlite:PATH` (also `sqlite://PATH`, `sqlite:///abs/path`) or any path
 *   ending in `.db`: a SQLite file;
 * - `memory:` (anything after the colon is ignored): a new, empty in-memory catalog;
 * - `postgres://...` / `postgresql://...`: reserved for the PostgreSQL catalog.
 */
export function openCatalog(uri: string, options: OpenCatalogOptions = {}): Promise<Catalog> {
  const name = options.name ?? DEFAULT_CATALOG_NAME;
  if (uri.startsWith("sqlite:")) {
    const path = uri.slice("sqlite:".length).replace(/^\/\//, "");
    if (path.length === 0) {
      return Promise.reject(
        new LakehouseError(`cannot open catalog "${uri}": no database path after "sqlite:"`),
      );
    }
    return SqliteCatalog.open(path, name, options);
  }
  if (uri.startsWith("memory:")) {
    try {
      return Promise.resolve(new MemoryCatalog({ name }));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  if (uri.startsWith("postgres://") || uri.startsWith("postgresql://")) {
    return Promise.reject(
      new LakehouseError(
        "cannot open catalog: PostgreSQL catalog is not available in this build " +
          "(use sqlite:PATH for a local catalog)",
      ),
    );
  }
  if (uri.endsWith(".db") && !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    return SqliteCatalog.open(uri, name, options);
  }
  return Promise.reject(
    new LakehouseError(
      `cannot open catalog "${
        redactUserInfo(uri)
      }": unknown kind (expected sqlite:PATH, a path ending in .db, ` +
        "memory: or postgres://...)",
    ),
  );
}

/** Hides `user:password@` so a mistyped URI does not put a secret into logs. */
function redactUserInfo(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}
