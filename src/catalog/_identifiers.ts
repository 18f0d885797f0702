/**
 * Checks and conversions shared by every catalog implementation, so the
 * in-memory catalog accepts and rejects exactly what the database ones do.
 */
import { LakehouseError } from "../core/errors.ts";
import { formatNamespace, formatTableIdentifier, type TableIdentifier } from "./catalog.ts";

/**
 * Column widths of Iceberg's JDBC catalog tables. SQLite does not enforce
 * VARCHAR lengths but PostgreSQL does, so values are checked up front and a
 * name that works on one database works on the other.
 */
export const NAME_CHARS_MAX = 255;
export const LOCATION_CHARS_MAX = 1000;
export const PROPERTY_VALUE_CHARS_MAX = 1000;

/** Characters as PostgreSQL's VARCHAR(n) counts them (code points, not UTF-16 units). */
function charCount(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

function invalid(message: string): LakehouseError {
  return new LakehouseError(message);
}

export function checkCatalogName(name: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw invalid(`invalid catalog name ${JSON.stringify(name)}: it must not be empty`);
  }
  if (charCount(name) > NAME_CHARS_MAX) {
    throw invalid(`invalid catalog name "${name}": longer than ${NAME_CHARS_MAX} characters`);
  }
}

/**
 * The JDBC layout joins levels with "." into one column and splits on "." when
 * reading, so a level containing "." (or an empty level) would come back as a
 * different namespace.
 */
export function checkNamespace(namespace: readonly string[]): void {
  if (!Array.isArray(namespace) || namespace.length === 0) {
    throw invalid(
      `invalid namespace ${JSON.stringify(namespace)}: it needs at least one level`,
    );
  }
  for (const level of namespace) {
    if (typeof level !== "string" || level.length === 0 || level.includes(".")) {
      throw invalid(
        `invalid namespace ${
          JSON.stringify(namespace)
        }: each level must be a non-empty string without "."`,
      );
    }
  }
  const joined = formatNamespace(namespace);
  if (charCount(joined) > NAME_CHARS_MAX) {
    throw invalid(`invalid namespace ${joined}: longer than ${NAME_CHARS_MAX} characters`);
  }
}

export function checkTable(table: TableIdentifier): void {
  if (table === null || typeof table !== "object") {
    throw invalid(`invalid table identifier ${JSON.stringify(table)}`);
  }
  checkNamespace(table.namespace);
  if (typeof table.name !== "string" || table.name.length === 0) {
    throw invalid(
      `invalid table name ${JSON.stringify(table.name)} in namespace ${
        formatNamespace(table.namespace)
      }: it must not be empty`,
    );
  }
  if (charCount(table.name) > NAME_CHARS_MAX) {
    throw invalid(
      `invalid table name ${
        formatTableIdentifier(table)
      }: longer than ${NAME_CHARS_MAX} characters`,
    );
  }
}

export function checkLocation(table: TableIdentifier, what: string, location: string): void {
  if (typeof location !== "string" || location.length === 0) {
    throw invalid(
      `invalid ${what} for table ${formatTableIdentifier(table)}: ${
        JSON.stringify(location)
      } (it must be a non-empty string)`,
    );
  }
  if (charCount(location) > LOCATION_CHARS_MAX) {
    throw invalid(
      `invalid ${what} for table ${
        formatTableIdentifier(table)
      }: longer than ${LOCATION_CHARS_MAX} characters (${location.slice(0, 80)}...)`,
    );
  }
}

/** Checks a swap's arguments; a swap to the same location would record itself as its own past. */
export function checkSwap(table: TableIdentifier, expected: string, next: string): void {
  checkTable(table);
  checkLocation(table, "expected metadata location", expected);
  checkLocation(table, "next metadata location", next);
  if (expected === next) {
    throw invalid(
      `invalid swap for table ${
        formatTableIdentifier(table)
      }: next metadata location equals the expected one (${next})`,
    );
  }
}

export function checkProperties(
  namespace: readonly string[],
  properties: Readonly<Record<string, string>>,
): void {
  if (properties === null || typeof properties !== "object") {
    throw invalid(`invalid properties for namespace ${formatNamespace(namespace)}`);
  }
  for (const [key, value] of Object.entries(properties)) {
    if (key.length === 0 || charCount(key) > NAME_CHARS_MAX) {
      throw invalid(
        `invalid property key ${JSON.stringify(key)} for namespace ${
          formatNamespace(namespace)
        }: it must have 1 to ${NAME_CHARS_MAX} characters`,
      );
    }
    if (typeof value !== "string" || charCount(value) > PROPERTY_VALUE_CHARS_MAX) {
      throw invalid(
        `invalid value for property "${key}" of namespace ${
          formatNamespace(namespace)
        }: it must be a string of at most ${PROPERTY_VALUE_CHARS_MAX} characters`,
      );
    }
  }
}

/** What pyiceberg and Java store for a namespace created without properties. */
export const MINIMAL_NAMESPACE_PROPERTIES: Readonly<Record<string, string>> = Object.freeze({
  exists: "true",
});

/** Reads a stored namespace column back into levels. */
function parseNamespace(stored: string): string[] {
  return stored.split(".");
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareLevels(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareStrings(a[i], b[i]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/**
 * The direct children of `parent` among every stored namespace string
 * (namespaces with tables and namespaces with properties), deduplicated and
 * sorted. Deeper namespaces imply their ancestors, as in the JDBC catalogs.
 */
export function childNamespaces(stored: Iterable<string>, parent: readonly string[]): string[][] {
  const depth = parent.length + 1;
  const seen = new Map<string, string[]>();
  for (const value of stored) {
    if (value.length === 0) continue;
    const levels = parseNamespace(value);
    if (levels.length < depth) continue;
    if (!parent.every((level, i) => levels[i] === level)) continue;
    const child = levels.slice(0, depth);
    seen.set(formatNamespace(child), child);
  }
  return [...seen.values()].sort(compareLevels);
}

/** True if `stored` is `namespace` itself or one of its descendants. */
export function isSameOrDescendant(stored: string, namespace: string): boolean {
  return stored === namespace || stored.startsWith(`${namespace}.`);
}

/** "2 tables (shop.a, shop.b)", naming at most five. */
export function describeTables(namespace: string, names: readonly string[]): string {
  const shown = names.slice(0, 5).map((name) => `${namespace}.${name}`).join(", ");
  const more = names.length > 5 ? ", ..." : "";
  return `${names.length} table${names.length === 1 ? "" : "s"} (${shown}${more})`;
}

/** "1 namespace (shop.archive)", naming at most five. */
export function describeNamespaces(children: readonly (readonly string[])[]): string {
  const shown = children.slice(0, 5).map(formatNamespace).join(", ");
  const more = children.length > 5 ? ", ..." : "";
  return `${children.length} namespace${children.length === 1 ? "" : "s"} (${shown}${more})`;
}
