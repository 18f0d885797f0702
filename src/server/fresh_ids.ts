/**
 * A new table's ids, assigned by the catalog as Java's
 * `TableMetadata.newTableMetadata` does: column ids renumbered from 1 (a
 * struct's own fields first, then what is nested in each, in order), the
 * partition spec and sort order re-pointed at the renumbered columns, spec
 * id 0, sort order id 1 (0 when unsorted). Clients send ids of their own
 * making; renumbering makes a table's ids independent of the client that
 * created it.
 */
import type {
  IcebergType,
  NestedField,
  PartitionSpec,
  Schema,
  SortOrder,
} from "../iceberg/spec/types.ts";
import { badRequest } from "./errors.ts";

export interface FreshTable {
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  readonly order: SortOrder;
}

export function assignFreshIds(
  schema: Schema,
  spec: PartitionSpec | undefined,
  order: SortOrder | undefined,
): FreshTable {
  let next = 0;
  const renumbered = new Map<number, number>();
  const take = (old: number): number => {
    const id = ++next;
    if (renumbered.has(old)) throw badRequest(`schema has duplicate field id ${old}`);
    renumbered.set(old, id);
    return id;
  };
  const fresh = (type: IcebergType): IcebergType => {
    if (typeof type === "string") return type;
    switch (type.type) {
      case "struct":
        return { type: "struct", fields: freshFields(type.fields) };
      case "list": {
        const elementId = take(type["element-id"]);
        return { ...type, "element-id": elementId, element: fresh(type.element) };
      }
      case "map": {
        const keyId = take(type["key-id"]);
        const valueId = take(type["value-id"]);
        return {
          ...type,
          "key-id": keyId,
          "value-id": valueId,
          key: fresh(type.key),
          value: fresh(type.value),
        };
      }
    }
  };
  const freshFields = (fields: readonly NestedField[]): NestedField[] => {
    // Siblings first, then each one's nested types: Java's AssignFreshIds.
    const ids = fields.map((f) => take(f.id));
    return fields.map((f, i) => ({ ...f, id: ids[i], type: fresh(f.type) }));
  };
  const columnId = (old: number, where: string): number => {
    const id = renumbered.get(old);
    if (id === undefined) throw badRequest(`${where} refers to field id ${old}, not in the schema`);
    return id;
  };
  const fields = freshFields(schema.fields);
  const identifiers = (schema["identifier-field-ids"] ?? []).map((id) =>
    columnId(id, "schema.identifier-field-ids")
  );
  const freshSchema: Schema = {
    type: "struct",
    "schema-id": 0,
    ...(identifiers.length === 0 ? {} : { "identifier-field-ids": identifiers }),
    fields,
  };
  const freshSpec: PartitionSpec = {
    "spec-id": 0,
    fields: (spec?.fields ?? []).map((f, i) => ({
      ...f,
      "source-id": columnId(f["source-id"], `partition-spec.fields[${i}].source-id`),
    })),
  };
  const orderFields = (order?.fields ?? []).map((f, i) => ({
    ...f,
    "source-id": columnId(f["source-id"], `write-order.fields[${i}].source-id`),
  }));
  return {
    schema: freshSchema,
    spec: freshSpec,
    order: { "order-id": orderFields.length === 0 ? 0 : 1, fields: orderFields },
  };
}
