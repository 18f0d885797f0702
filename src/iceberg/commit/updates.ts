/**
 * Table changes as plain data, in the Iceberg REST catalog's commit
 * vocabulary (TableRequirement and TableUpdate: the same action names and
 * kebab-case keys, with bigint for 64-bit ids), and their pure application
 * to metadata. No I/O here: a commit checks the requirements against the
 * metadata it read, computes the new metadata with these functions, writes
 * it, then performs one compare-and-swap.
 *
 * Ids the table assigns follow Java's TableMetadata.Builder: an added
 * schema, partition spec or sort order equal to one the table has reuses
 * its id, otherwise it gets the highest id + 1 (the id in the request is
 * ignored; -1 in set-current-schema, set-default-spec and
 * set-default-sort-order means "the one added last in this commit").
 */
import { assert } from "../../core/assert.ts";
import { LakehouseError } from "../../core/errors.ts";
import {
  checkPartitionSpec,
  checkSchema,
  checkSortOrder,
  isOperation,
  PARTITION_ID_BASE,
  schemaById,
  snapshotById,
  specById,
} from "../spec/metadata.ts";
import { findField, maxFieldId } from "../spec/schema.ts";
import { transformResultType } from "../spec/transforms.ts";
import type {
  PartitionSpec,
  Schema,
  Snapshot,
  SnapshotRef,
  SortOrder,
  TableMetadata,
} from "../spec/types.ts";

/** What must hold of the table for a commit to apply (REST `TableRequirement`). */
export type TableRequirement =
  | { readonly type: "assert-create" }
  | { readonly type: "assert-table-uuid"; readonly uuid: string }
  | {
    readonly type: "assert-ref-snapshot-id";
    readonly ref: string;
    /** null: the ref must not exist. */
    readonly "snapshot-id": bigint | null;
  }
  | { readonly type: "assert-last-assigned-field-id"; readonly "last-assigned-field-id": number }
  | { readonly type: "assert-current-schema-id"; readonly "current-schema-id": number }
  | {
    readonly type: "assert-last-assigned-partition-id";
    readonly "last-assigned-partition-id": number;
  }
  | { readonly type: "assert-default-spec-id"; readonly "default-spec-id": number }
  | { readonly type: "assert-default-sort-order-id"; readonly "default-sort-order-id": number };

/** Retention settings of a branch or tag, as SnapshotReference carries them. */
type RefRetention = Pick<
  SnapshotRef,
  "max-ref-age-ms" | "max-snapshot-age-ms" | "min-snapshots-to-keep"
>;

/** One change to a table (REST `TableUpdate`). */
export type TableUpdate =
  | { readonly action: "assign-uuid"; readonly uuid: string }
  | { readonly action: "upgrade-format-version"; readonly "format-version": number }
  | {
    readonly action: "add-schema";
    /** Its `schema-id` is assigned by the table (see the module comment). */
    readonly schema: Schema;
    /** The highest column id assigned so far; computed from the schema when absent. */
    readonly "last-column-id"?: number;
  }
  | { readonly action: "set-current-schema"; readonly "schema-id": number }
  | {
    readonly action: "add-spec";
    /** Its `spec-id` is assigned by the table. */
    readonly spec: PartitionSpec;
  }
  | { readonly action: "set-default-spec"; readonly "spec-id": number }
  | {
    readonly action: "add-sort-order";
    /** Its `order-id` is assigned by the table (0 for the unsorted order). */
    readonly "sort-order": SortOrder;
  }
  | { readonly action: "set-default-sort-order"; readonly "sort-order-id": number }
  | { readonly action: "add-snapshot"; readonly snapshot: Snapshot }
  | (
    & {
      readonly action: "set-snapshot-ref";
      readonly "ref-name": string;
      readonly type: "branch" | "tag";
      readonly "snapshot-id": bigint;
    }
    & RefRetention
  )
  | { readonly action: "remove-snapshots"; readonly "snapshot-ids": readonly bigint[] }
  | { readonly action: "remove-snapshot-ref"; readonly "ref-name": string }
  | { readonly action: "set-location"; readonly location: string }
  | { readonly action: "set-properties"; readonly updates: Readonly<Record<string, string>> }
  | { readonly action: "remove-properties"; readonly removals: readonly string[] };

/**
 * REST update actions this table model does not hold, with what they
 * concern. They are refused, never silently dropped: a client would believe
 * they were applied.
 */
export const UNSUPPORTED_ACTIONS: ReadonlyMap<string, string> = new Map([
  ["set-statistics", "this table model holds no statistics files"],
  ["remove-statistics", "this table model holds no statistics files"],
  ["set-partition-statistics", "this table model holds no partition statistics files"],
  ["remove-partition-statistics", "this table model holds no partition statistics files"],
  ["add-encryption-key", "encrypted tables are not supported"],
  ["remove-encryption-key", "encrypted tables are not supported"],
  ["add-view-version", "views are not supported"],
  ["set-current-view-version", "views are not supported"],
  [
    "remove-schemas",
    "whether old data files still need a schema is not known to a metadata update",
  ],
  [
    "remove-partition-specs",
    "whether manifests still use a partition spec is not known to a metadata update",
  ],
]);

/**
 * A requirement that no longer holds: someone else changed the table first.
 * Retriable (reload, replan, commit again); a REST server answers 409 with
 * the message, which names the requirement.
 */
export class RequirementFailedError extends LakehouseError {
  readonly requirement: TableRequirement;

  constructor(requirement: TableRequirement, problem: string) {
    super(`requirement ${requirement.type} failed: ${problem}`, { retriable: true });
    this.name = "RequirementFailedError";
    this.requirement = requirement;
  }
}

/** An update that cannot apply to the table (a bad value, an unknown id): not retriable. */
export class InvalidUpdateError extends LakehouseError {
  readonly action: string;

  constructor(action: string, problem: string) {
    super(`${action}: ${problem}`, { retriable: false });
    this.name = "InvalidUpdateError";
    this.action = action;
  }
}

/** An update action of the REST vocabulary that this build refuses (views, statistics, ...). */
export class UnsupportedUpdateError extends InvalidUpdateError {
  constructor(action: string, reason: string) {
    super(action, `not supported (${reason})`);
    this.name = "UnsupportedUpdateError";
  }
}

/**
 * Checks requirements against the table as it is; `base` undefined means
 * the table does not exist. Throws RequirementFailedError for the first
 * requirement that fails.
 */
export function checkRequirements(
  base: TableMetadata | undefined,
  requirements: readonly TableRequirement[],
): void {
  for (const r of requirements) {
    const fail = (problem: string) => new RequirementFailedError(r, problem);
    if (r.type === "assert-create") {
      if (base !== undefined) throw fail("the table already exists");
      continue;
    }
    if (base === undefined) throw fail("the table does not exist");
    const expectInt = (key: keyof TableMetadata, actual: number, expected: number) => {
      if (actual !== expected) throw fail(`${key} is ${actual}, expected ${expected}`);
    };
    switch (r.type) {
      case "assert-table-uuid":
        if (base["table-uuid"].toLowerCase() !== String(r.uuid).toLowerCase()) {
          throw fail(`table-uuid is ${base["table-uuid"]}, expected ${r.uuid}`);
        }
        break;
      case "assert-ref-snapshot-id": {
        const ref = base.refs[r.ref];
        const expected = r["snapshot-id"];
        if (ref === undefined) {
          if (expected !== null) {
            throw fail(`ref ${r.ref} does not exist, expected it at snapshot ${expected}`);
          }
        } else if (expected === null) {
          throw fail(
            `${ref.type} ${r.ref} exists at snapshot ${ref["snapshot-id"]}, expected no such ref`,
          );
        } else if (ref["snapshot-id"] !== expected) {
          throw fail(
            `${ref.type} ${r.ref} is at snapshot ${ref["snapshot-id"]}, expected ${expected}`,
          );
        }
        break;
      }
      case "assert-last-assigned-field-id":
        expectInt("last-column-id", base["last-column-id"], r["last-assigned-field-id"]);
        break;
      case "assert-current-schema-id":
        expectInt("current-schema-id", base["current-schema-id"], r["current-schema-id"]);
        break;
      case "assert-last-assigned-partition-id":
        expectInt("last-partition-id", base["last-partition-id"], r["last-assigned-partition-id"]);
        break;
      case "assert-default-spec-id":
        expectInt("default-spec-id", base["default-spec-id"], r["default-spec-id"]);
        break;
      case "assert-default-sort-order-id":
        expectInt(
          "default-sort-order-id",
          base["default-sort-order-id"],
          r["default-sort-order-id"],
        );
        break;
      default:
        throw new LakehouseError(
          `unknown table requirement type ${JSON.stringify((r as { type: unknown }).type)}`,
        );
    }
  }
}

export interface ApplyOptions {
  readonly nowMs: number;
  /** Where `base` was read from; recorded in the metadata log. */
  readonly baseLocation?: string;
  /** Entries kept in the metadata log (write.metadata.previous-versions-max). */
  readonly metadataLogMax?: number;
  /** For a new table (no base) that the updates assign no uuid to. */
  readonly newTableUuid?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const URI = /^[a-z][a-z0-9+.-]*:/i;

/**
 * The metadata after `updates`, applied in order to `base` (undefined: a
 * new table, built from the updates alone, as a REST create transaction
 * does). Pure: `base` is not modified. Throws InvalidUpdateError naming the
 * action and the field when an update cannot apply.
 */
export function applyUpdates(
  base: TableMetadata | undefined,
  updates: readonly TableUpdate[],
  options: ApplyOptions,
): TableMetadata {
  const b = new Builder(base ?? EMPTY, options.nowMs);
  for (const u of updates) b.apply(u);
  let m = b.m;
  if (base === undefined) m = completeNewTable(m, options);
  if (base !== undefined && options.baseLocation) {
    const max = options.metadataLogMax ??
      Number(m.properties["write.metadata.previous-versions-max"] ?? 100);
    const log = [...m["metadata-log"], {
      "timestamp-ms": base["last-updated-ms"],
      "metadata-file": options.baseLocation,
    }];
    m["metadata-log"] = log.slice(Math.max(0, log.length - max));
  }
  m["last-updated-ms"] = Math.max(options.nowMs, base?.["last-updated-ms"] ?? 0, lastEntry(m));
  for (const s of m.snapshots) {
    assert(
      s["sequence-number"] <= m["last-sequence-number"],
      `snapshot ${s["snapshot-id"]} has sequence number ${
        s["sequence-number"]
      } above the table's last-sequence-number ${m["last-sequence-number"]}`,
    );
  }
  return { ...m } as TableMetadata;
}

type Mutable = { -readonly [K in keyof TableMetadata]: TableMetadata[K] };

/** The state a new table's updates start from: nothing assigned yet. */
const EMPTY: TableMetadata = {
  "format-version": 2,
  "table-uuid": "",
  location: "",
  "last-sequence-number": 0n,
  "last-updated-ms": 0,
  "last-column-id": 0,
  schemas: [],
  "current-schema-id": -1,
  "partition-specs": [],
  "default-spec-id": -1,
  "last-partition-id": PARTITION_ID_BASE,
  properties: {},
  snapshots: [],
  "snapshot-log": [],
  "metadata-log": [],
  "sort-orders": [],
  "default-sort-order-id": -1,
  refs: {},
};

const UNSORTED: SortOrder = { "order-id": 0, fields: [] };

/** Fills what a new table may leave to defaults, and names what it may not. */
function completeNewTable(m: Mutable, options: ApplyOptions): Mutable {
  if (m["table-uuid"] === "") {
    if (options.newTableUuid === undefined) {
      throw new InvalidUpdateError("assign-uuid", "a new table needs a uuid");
    }
    m["table-uuid"] = options.newTableUuid;
  }
  if (m.location === "") {
    throw new InvalidUpdateError("set-location", "a new table needs a location");
  }
  if (schemaById(m, m["current-schema-id"]) === undefined) {
    throw new InvalidUpdateError(
      "set-current-schema",
      "a new table needs a current schema (add-schema, then set-current-schema -1)",
    );
  }
  if (m["partition-specs"].length === 0) {
    m["partition-specs"] = [{ "spec-id": 0, fields: [] }];
    m["default-spec-id"] = 0;
  } else if (specById(m, m["default-spec-id"]) === undefined) {
    throw new InvalidUpdateError(
      "set-default-spec",
      "a new table with partition specs needs a default one (set-default-spec -1)",
    );
  }
  if (m["sort-orders"].length === 0) {
    m["sort-orders"] = [UNSORTED];
    m["default-sort-order-id"] = 0;
  } else if (!m["sort-orders"].some((o) => o["order-id"] === m["default-sort-order-id"])) {
    throw new InvalidUpdateError(
      "set-default-sort-order",
      "a new table with sort orders needs a default one (set-default-sort-order -1)",
    );
  }
  return m;
}

/** Applies updates one at a time, remembering what this commit added last. */
class Builder {
  readonly m: Mutable;
  readonly #nowMs: number;
  readonly #addedSnapshots = new Set<bigint>();
  #lastAddedSchemaId: number | undefined;
  #lastAddedSpecId: number | undefined;
  #lastAddedOrderId: number | undefined;

  constructor(base: TableMetadata, nowMs: number) {
    this.m = { ...base, refs: { ...base.refs }, properties: { ...base.properties } };
    this.#nowMs = nowMs;
  }

  apply(u: TableUpdate): void {
    const m = this.m;
    switch (u.action) {
      case "assign-uuid": {
        const fail = (problem: string) => new InvalidUpdateError(u.action, problem);
        if (typeof u.uuid !== "string" || !UUID.test(u.uuid)) {
          throw fail(`uuid must be a UUID, got ${JSON.stringify(u.uuid)}`);
        }
        if (m["table-uuid"] === "") m["table-uuid"] = u.uuid.toLowerCase();
        else if (m["table-uuid"].toLowerCase() !== u.uuid.toLowerCase()) {
          throw fail(
            `uuid ${u.uuid} differs from the table's ${
              m["table-uuid"]
            }; a table's uuid never changes`,
          );
        }
        return;
      }
      case "upgrade-format-version": {
        const v = u["format-version"];
        const fail = (problem: string) => new InvalidUpdateError(u.action, problem);
        if (!Number.isSafeInteger(v)) throw fail(`format-version must be an integer, got ${v}`);
        if (v < 2) throw fail(`cannot downgrade format-version 2 to ${v}`);
        if (v > 2) {
          throw fail(
            `format-version ${v} is not supported; this build writes format version 2 only`,
          );
        }
        return;
      }
      case "add-schema":
        return this.#addSchema(u.schema, u["last-column-id"]);
      case "set-current-schema": {
        const id = this.#resolve(u.action, "schema-id", u["schema-id"], this.#lastAddedSchemaId);
        const schema = schemaById(m, id);
        if (schema === undefined) {
          throw new InvalidUpdateError(
            u.action,
            `schema-id ${id} matches no schema of the table (${idList(m.schemas, "schema-id")})`,
          );
        }
        this.#checkDefaultsFit(u.action, schema, specById(m, m["default-spec-id"]), this.#order());
        m["current-schema-id"] = id;
        return;
      }
      case "add-spec":
        return this.#addSpec(u.spec);
      case "set-default-spec": {
        const id = this.#resolve(u.action, "spec-id", u["spec-id"], this.#lastAddedSpecId);
        const spec = specById(m, id);
        if (spec === undefined) {
          throw new InvalidUpdateError(
            u.action,
            `spec-id ${id} matches no partition spec of the table (${
              idList(m["partition-specs"], "spec-id")
            })`,
          );
        }
        if (spec.fields.length > 0) {
          this.#checkDefaultsFit(u.action, this.#currentSchema(u.action), spec, undefined);
        }
        m["default-spec-id"] = id;
        return;
      }
      case "add-sort-order":
        return this.#addSortOrder(u["sort-order"]);
      case "set-default-sort-order": {
        const id = this.#resolve(
          u.action,
          "sort-order-id",
          u["sort-order-id"],
          this.#lastAddedOrderId,
        );
        const order = m["sort-orders"].find((o) => o["order-id"] === id);
        if (order === undefined) {
          throw new InvalidUpdateError(
            u.action,
            `sort-order-id ${id} matches no sort order of the table (${
              idList(m["sort-orders"], "order-id")
            })`,
          );
        }
        if (order.fields.length > 0) {
          this.#checkDefaultsFit(u.action, this.#currentSchema(u.action), undefined, order);
        }
        m["default-sort-order-id"] = id;
        return;
      }
      case "add-snapshot":
        return this.#addSnapshot(u.snapshot);
      case "set-snapshot-ref":
        return this.#setRef(u);
      case "remove-snapshots": {
        const gone = new Set(u["snapshot-ids"]);
        for (const [name, ref] of Object.entries(m.refs)) {
          if (gone.has(ref["snapshot-id"])) {
            throw new InvalidUpdateError(
              u.action,
              `cannot remove snapshot ${ref["snapshot-id"]}: ref ${name} points to it`,
            );
          }
        }
        m.snapshots = m.snapshots.filter((s) => !gone.has(s["snapshot-id"]));
        m["snapshot-log"] = m["snapshot-log"].filter((e) => !gone.has(e["snapshot-id"]));
        return;
      }
      case "remove-snapshot-ref": {
        const refs = { ...m.refs };
        delete refs[u["ref-name"]];
        m.refs = refs;
        if (u["ref-name"] === "main") m["current-snapshot-id"] = undefined;
        return;
      }
      case "set-location": {
        if (typeof u.location !== "string" || !URI.test(u.location)) {
          throw new InvalidUpdateError(
            u.action,
            `location must be a full URI (scheme://...), got ${JSON.stringify(u.location)}`,
          );
        }
        m.location = u.location.replace(/\/+$/, "");
        return;
      }
      case "set-properties": {
        for (const [key, value] of Object.entries(u.updates ?? {})) {
          if (typeof value !== "string") {
            throw new InvalidUpdateError(u.action, `updates.${key} must be a string`);
          }
        }
        m.properties = { ...m.properties, ...u.updates };
        return;
      }
      case "remove-properties": {
        const properties = { ...m.properties };
        for (const key of u.removals ?? []) {
          if (typeof key !== "string") {
            throw new InvalidUpdateError(u.action, "removals must be strings");
          }
          delete properties[key];
        }
        m.properties = properties;
        return;
      }
      default: {
        const action = String((u as { action: unknown }).action);
        const reason = UNSUPPORTED_ACTIONS.get(action);
        if (reason !== undefined) throw new UnsupportedUpdateError(action, reason);
        throw new InvalidUpdateError(action, "unknown table update action");
      }
    }
  }

  /** `id`, or for -1 the id this commit added last (naming `key` when there is none). */
  #resolve(action: string, key: string, id: number, lastAdded: number | undefined): number {
    if (!Number.isSafeInteger(id)) {
      throw new InvalidUpdateError(action, `${key} must be an integer, got ${id}`);
    }
    if (id !== -1) return id;
    if (lastAdded === undefined) {
      const what = action === "set-current-schema"
        ? "add-schema"
        : action === "set-default-spec"
        ? "add-spec"
        : "add-sort-order";
      throw new InvalidUpdateError(
        action,
        `${key} -1 means the one added last in this commit, but no ${what} came before it`,
      );
    }
    return lastAdded;
  }

  #currentSchema(action: string): Schema {
    const schema = schemaById(this.m, this.m["current-schema-id"]);
    if (schema === undefined) {
      throw new InvalidUpdateError(
        action,
        "the table has no current schema yet (add-schema, then set-current-schema)",
      );
    }
    return schema;
  }

  #order(): SortOrder | undefined {
    return this.m["sort-orders"].find((o) => o["order-id"] === this.m["default-sort-order-id"]);
  }

  /**
   * The default partition spec and sort order must read columns the current
   * schema has, with types their transforms take: every file written from
   * then on is partitioned and sorted by them.
   */
  #checkDefaultsFit(
    action: string,
    schema: Schema,
    spec: PartitionSpec | undefined,
    order: SortOrder | undefined,
  ): void {
    for (const f of spec?.fields ?? []) {
      const source = findField(schema, f["source-id"]);
      const where = `partition field ${f.name} of spec ${spec!["spec-id"]}`;
      if (source === undefined) {
        throw new InvalidUpdateError(
          action,
          `${where} reads column id ${f["source-id"]}, which schema ${
            schema["schema-id"]
          } does not have`,
        );
      }
      if (typeof source.type !== "string") {
        throw new InvalidUpdateError(action, `${where} reads ${source.name}, a nested column`);
      }
      try {
        transformResultType(f.transform, source.type);
      } catch (error) {
        throw new InvalidUpdateError(action, `${where}: ${(error as Error).message}`);
      }
    }
    if (order !== undefined) {
      checkSortOrder(schema, order, (where, problem) =>
        new InvalidUpdateError(
          action,
          `${where} of sort order ${order["order-id"]} ${problem} in schema ${schema["schema-id"]}`,
        ));
    }
  }

  #addSchema(schema: Schema, lastColumnId: number | undefined): void {
    const action = "add-schema";
    if (schema?.type !== "struct" || !Array.isArray(schema.fields)) {
      throw new InvalidUpdateError(action, "schema must be a struct with fields");
    }
    checkSchema(schema, (where, problem) => new InvalidUpdateError(action, `${where} ${problem}`));
    const m = this.m;
    const highest = maxFieldId(schema);
    if (lastColumnId !== undefined) {
      if (!Number.isSafeInteger(lastColumnId)) {
        throw new InvalidUpdateError(
          action,
          `last-column-id must be an integer, got ${lastColumnId}`,
        );
      }
      if (lastColumnId < m["last-column-id"]) {
        throw new InvalidUpdateError(
          action,
          `last-column-id ${lastColumnId} is below the table's last-column-id ${
            m["last-column-id"]
          }`,
        );
      }
      if (lastColumnId < highest) {
        throw new InvalidUpdateError(
          action,
          `last-column-id ${lastColumnId} is below the schema's highest field id ${highest}`,
        );
      }
    }
    const same = m.schemas.find((s) => sameSchema(s, schema));
    const id = same?.["schema-id"] ?? nextId(m.schemas.map((s) => s["schema-id"]), 0);
    if (same === undefined) m.schemas = [...m.schemas, { ...schema, "schema-id": id }];
    m["last-column-id"] = Math.max(m["last-column-id"], lastColumnId ?? 0, highest);
    this.#lastAddedSchemaId = id;
  }

  #addSpec(spec: PartitionSpec): void {
    const action = "add-spec";
    if (!Array.isArray(spec?.fields)) {
      throw new InvalidUpdateError(action, "spec must have a fields array");
    }
    const m = this.m;
    const schema = this.#currentSchema(action);
    checkPartitionSpec(
      schema,
      spec,
      (where, problem) => new InvalidUpdateError(action, `${where} ${problem}`),
    );
    // A partition field id keeps one meaning for the life of the table:
    // manifests of every spec store partition values under it.
    const known = new Map<number, { specId: number; field: PartitionSpec["fields"][number] }>();
    for (const s of m["partition-specs"]) {
      for (const f of s.fields) known.set(f["field-id"], { specId: s["spec-id"], field: f });
    }
    for (const f of spec.fields) {
      const earlier = known.get(f["field-id"]);
      if (earlier === undefined) {
        if (f["field-id"] <= m["last-partition-id"]) {
          throw new InvalidUpdateError(
            action,
            `partition field ${f.name} has field-id ${
              f["field-id"]
            }, which was assigned before; new partition fields take ids above last-partition-id ${
              m["last-partition-id"]
            }`,
          );
        }
      } else if (
        earlier.field["source-id"] !== f["source-id"] || earlier.field.transform !== f.transform
      ) {
        throw new InvalidUpdateError(
          action,
          `partition field ${f.name} reuses field-id ${
            f["field-id"]
          } of ${earlier.field.name} in spec ${earlier.specId}, which has another source or transform`,
        );
      }
    }
    const same = m["partition-specs"].find((s) => sameSpec(s, spec));
    const id = same?.["spec-id"] ?? nextId(m["partition-specs"].map((s) => s["spec-id"]), 0);
    if (same === undefined) {
      m["partition-specs"] = [...m["partition-specs"], { "spec-id": id, fields: spec.fields }];
    }
    m["last-partition-id"] = Math.max(
      m["last-partition-id"],
      ...spec.fields.map((f) => f["field-id"]),
    );
    this.#lastAddedSpecId = id;
  }

  #addSortOrder(order: SortOrder): void {
    const action = "add-sort-order";
    if (!Array.isArray(order?.fields)) {
      throw new InvalidUpdateError(action, "sort-order must have a fields array");
    }
    const m = this.m;
    let id: number;
    if (order.fields.length === 0) {
      id = 0;
      if (!m["sort-orders"].some((o) => o["order-id"] === 0)) {
        m["sort-orders"] = [UNSORTED, ...m["sort-orders"]];
      }
    } else {
      checkSortOrder(
        this.#currentSchema(action),
        order,
        (where, problem) => new InvalidUpdateError(action, `${where} ${problem}`),
      );
      const same = m["sort-orders"].find((o) => sameFields(o.fields, order.fields));
      // Order id 0 is the unsorted order's.
      id = same?.["order-id"] ?? nextId(m["sort-orders"].map((o) => o["order-id"]), 1);
      if (same === undefined) {
        m["sort-orders"] = [...m["sort-orders"], { "order-id": id, fields: order.fields }];
      }
    }
    this.#lastAddedOrderId = id;
  }

  #addSnapshot(s: Snapshot): void {
    const m = this.m;
    const fail = (problem: string) => new InvalidUpdateError("add-snapshot", problem);
    const id = s["snapshot-id"];
    if (typeof id !== "bigint") throw fail("snapshot-id must be a 64-bit integer");
    if (snapshotById(m, id) !== undefined) throw fail(`snapshot ${id} already exists`);
    if (typeof s["sequence-number"] !== "bigint") {
      throw fail(`snapshot ${id}: sequence-number must be a 64-bit integer`);
    }
    if (s["sequence-number"] <= m["last-sequence-number"]) {
      throw fail(
        `snapshot ${id}: sequence number ${s["sequence-number"]} must exceed the table's ${
          m["last-sequence-number"]
        }`,
      );
    }
    if (typeof s["manifest-list"] !== "string" || s["manifest-list"] === "") {
      throw fail(`snapshot ${id}: manifest-list must be a file location`);
    }
    if (!isOperation(s.summary?.operation ?? "")) {
      throw fail(`snapshot ${id}: summary.operation must be append, replace, overwrite or delete`);
    }
    const schemaId = s["schema-id"];
    if (schemaId !== undefined && schemaById(m, schemaId) === undefined) {
      throw fail(`snapshot ${id}: schema-id ${schemaId} matches no schema of the table`);
    }
    m.snapshots = [...m.snapshots, s];
    m["last-sequence-number"] = s["sequence-number"];
    this.#addedSnapshots.add(id);
  }

  #setRef(u: Extract<TableUpdate, { action: "set-snapshot-ref" }>): void {
    const m = this.m;
    const fail = (problem: string) => new InvalidUpdateError(u.action, problem);
    const name = u["ref-name"];
    if (typeof name !== "string" || name === "") throw fail("ref-name must not be empty");
    if (u.type !== "branch" && u.type !== "tag") {
      throw fail(`ref ${name}: type must be branch or tag`);
    }
    if (name === "main" && u.type !== "branch") throw fail("main must be a branch, not a tag");
    const id = u["snapshot-id"];
    const snapshot = snapshotById(m, id);
    if (snapshot === undefined) throw fail(`cannot point ${name} at unknown snapshot ${id}`);
    const ref: { -readonly [K in keyof SnapshotRef]: SnapshotRef[K] } = {
      "snapshot-id": id,
      type: u.type,
    };
    for (const key of ["max-ref-age-ms", "max-snapshot-age-ms", "min-snapshots-to-keep"] as const) {
      const v = u[key];
      if (v === undefined || v === null) continue;
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw fail(`ref ${name}: ${key} must be a positive integer, got ${v}`);
      }
      if (u.type === "tag" && key !== "max-ref-age-ms") {
        throw fail(`tag ${name} cannot have ${key} (branches only)`);
      }
      ref[key] = v;
    }
    const old = m.refs[name];
    if (old !== undefined && sameRef(old, ref)) return;
    m.refs = { ...m.refs, [name]: ref };
    if (name === "main" && old?.["snapshot-id"] !== id) {
      m["current-snapshot-id"] = id;
      // A snapshot added by this commit is logged at its own time; moving
      // main to an older one (a rollback) at the time of the commit.
      const at = this.#addedSnapshots.has(id) ? snapshot["timestamp-ms"] : this.#nowMs;
      m["snapshot-log"] = [...m["snapshot-log"], {
        "timestamp-ms": Math.max(at, lastEntry(m)),
        "snapshot-id": id,
      }];
    }
  }
}

function lastEntry(m: TableMetadata): number {
  return m["snapshot-log"].at(-1)?.["timestamp-ms"] ?? 0;
}

function nextId(ids: readonly number[], first: number): number {
  return ids.length === 0 ? first : Math.max(first - 1, ...ids) + 1;
}

function idList<K extends string>(items: readonly Record<K, number>[], key: K): string {
  return items.length === 0 ? "it has none" : `it has ${items.map((i) => i[key]).join(", ")}`;
}

/** Equal fields and identifier fields (Java's `Schema.sameSchema`); the schema id is not compared. */
function sameSchema(a: Schema, b: Schema): boolean {
  const ids = (s: Schema) => [...(s["identifier-field-ids"] ?? [])].sort((x, y) => x - y);
  return sameFields(a.fields, b.fields) && sameFields(ids(a), ids(b));
}

function sameSpec(a: PartitionSpec, b: PartitionSpec): boolean {
  return sameFields(a.fields, b.fields);
}

function sameRef(a: SnapshotRef, b: SnapshotRef): boolean {
  return canonical(a) === canonical(b);
}

function sameFields(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys and undefined members dropped, so equal values compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => [k, v[k]]),
    );
  });
}
