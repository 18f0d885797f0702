/**
 * Avro schemas of Iceberg v2 manifests and manifest lists, shaped like the
 * ones Java's `AvroSchemaUtil` produces: every record field carries its
 * Iceberg `field-id`, lists carry `element-id`, int-keyed maps are arrays of
 * `k<key-id>_v<value-id>` records tagged `logicalType: "map"`, nested records
 * are named `r<field-id>`, and optional fields are `["null", T]` with a null
 * default. Readers (pyiceberg, Java, Trino) resolve fields by id, but keeping
 * Java's names too makes files diff cleanly against Java-written ones.
 */
import { LakehouseError } from "../../core/errors.ts";
import type { IcebergType } from "../spec/types.ts";

/** An Avro schema as JSON: a type name, a union, or a complex type object. */
export type AvroSchema = string | readonly AvroSchema[] | AvroComplexSchema;

export interface AvroComplexSchema {
  readonly type: string;
  readonly [attribute: string]: unknown;
}

export interface AvroField {
  readonly name: string;
  readonly type: AvroSchema;
  readonly default?: null;
  readonly "field-id": number;
  readonly [attribute: string]: unknown;
}

export interface AvroRecordSchema extends AvroComplexSchema {
  readonly type: "record";
  readonly name: string;
  readonly fields: readonly AvroField[];
}

/** One field of a partition spec's result struct (the manifest's `partition` record). */
export interface PartitionTypeField {
  /** The partition field id (1000+). */
  readonly id: number;
  readonly name: string;
  /** The transform's result type; must be primitive. */
  readonly type: IcebergType;
}

export interface PartitionType {
  readonly fields: readonly PartitionTypeField[];
}

function optional(type: AvroSchema): AvroSchema {
  return ["null", type];
}

function required(name: string, id: number, type: AvroSchema): AvroField {
  return { name, type, "field-id": id };
}

function nullable(name: string, id: number, type: AvroSchema): AvroField {
  return { name, type: optional(type), default: null, "field-id": id };
}

function list(elementId: number, element: AvroSchema): AvroSchema {
  return { type: "array", items: element, "element-id": elementId };
}

/** Avro maps only allow string keys, so Iceberg writes int-keyed maps as key/value record arrays. */
function intKeyedMap(keyId: number, valueId: number, value: AvroSchema): AvroSchema {
  return {
    type: "array",
    items: {
      type: "record",
      name: `k${keyId}_v${valueId}`,
      fields: [required("key", keyId, "int"), required("value", valueId, value)],
    },
    logicalType: "map",
  };
}

/** Bytes needed for the two's-complement unscaled value of any decimal of this precision. */
export function decimalRequiredBytes(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let bytes = 1;
  while (max >= 1n << BigInt(8 * bytes - 1)) bytes++;
  return bytes;
}

const DECIMAL = /^decimal\((\d+),\s*(\d+)\)$/;
const FIXED = /^fixed\[(\d+)\]$/;

/**
 * The Avro type of an Iceberg primitive, as Java's `TypeToSchema` writes it.
 * Named (fixed) types may be defined once per schema, so repeats become
 * references by name.
 */
export function primitiveAvroType(type: IcebergType, definedNames: Set<string>): AvroSchema {
  if (typeof type !== "string") {
    throw new LakehouseError(`partition result type must be primitive, got ${type.type}`);
  }
  const named = (schema: AvroComplexSchema & { name: string }): AvroSchema => {
    if (definedNames.has(schema.name)) return schema.name;
    definedNames.add(schema.name);
    return schema;
  };
  switch (type) {
    case "boolean":
    case "int":
    case "long":
    case "float":
    case "double":
    case "string":
      return type;
    case "binary":
      return "bytes";
    case "date":
      return { type: "int", logicalType: "date" };
    case "time":
      return { type: "long", logicalType: "time-micros" };
    case "timestamp":
      return { type: "long", logicalType: "timestamp-micros", "adjust-to-utc": false };
    case "timestamptz":
      return { type: "long", logicalType: "timestamp-micros", "adjust-to-utc": true };
    case "uuid":
      return named({ type: "fixed", name: "uuid_fixed", size: 16, logicalType: "uuid" });
  }
  const decimal = DECIMAL.exec(type);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    return named({
      type: "fixed",
      name: `decimal_${precision}_${scale}`,
      size: decimalRequiredBytes(precision),
      logicalType: "decimal",
      precision,
      scale,
    });
  }
  const fixed = FIXED.exec(type);
  if (fixed) return named({ type: "fixed", name: `fixed_${fixed[1]}`, size: Number(fixed[1]) });
  throw new LakehouseError(`unknown Iceberg primitive type ${JSON.stringify(type)}`);
}

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Partition field names may hold characters Avro names cannot; Java replaces
 * them (`_x<HEX>` per UTF-16 unit, `_<digit>` for a leading digit) and keeps
 * the original in `iceberg-field-name`. Doing the same keeps names identical
 * to Java-written manifests. Java also keeps non-ASCII letters, which strict
 * Avro parsers (avsc among them) reject, so those are escaped here as well;
 * readers resolve partition fields by id, not by name.
 */
export function avroFieldName(name: string): string {
  if (AVRO_NAME.test(name)) return name;
  if (name === "") throw new LakehouseError("partition field name is empty");
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (/[A-Za-z_]/.test(ch) || (i > 0 && /[0-9]/.test(ch))) out += ch;
    else if (/[0-9]/.test(ch)) out += `_${ch}`;
    else out += `_x${name.charCodeAt(i).toString(16).toUpperCase()}`;
  }
  return out;
}

function partitionRecord(partitionType: PartitionType): AvroRecordSchema {
  const definedNames = new Set<string>();
  const seen = new Set<string>();
  const fields = partitionType.fields.map((f): AvroField => {
    const name = avroFieldName(f.name);
    if (seen.has(name)) {
      throw new LakehouseError(`partition field name ${f.name} collides with another field`);
    }
    seen.add(name);
    const field = nullable(name, f.id, primitiveAvroType(f.type, definedNames));
    return name === f.name ? field : { ...field, "iceberg-field-name": f.name };
  });
  return { type: "record", name: "r102", fields };
}

/** Avro schema of a v2 manifest file's entries (`manifest_entry`). */
export function manifestEntrySchema(partitionType: PartitionType): AvroRecordSchema {
  const dataFile: AvroRecordSchema = {
    type: "record",
    name: "r2",
    fields: [
      required("content", 134, "int"),
      required("file_path", 100, "string"),
      required("file_format", 101, "string"),
      required("partition", 102, partitionRecord(partitionType)),
      required("record_count", 103, "long"),
      required("file_size_in_bytes", 104, "long"),
      nullable("column_sizes", 108, intKeyedMap(117, 118, "long")),
      nullable("value_counts", 109, intKeyedMap(119, 120, "long")),
      nullable("null_value_counts", 110, intKeyedMap(121, 122, "long")),
      nullable("nan_value_counts", 137, intKeyedMap(138, 139, "long")),
      nullable("lower_bounds", 125, intKeyedMap(126, 127, "bytes")),
      nullable("upper_bounds", 128, intKeyedMap(129, 130, "bytes")),
      nullable("key_metadata", 131, "bytes"),
      nullable("split_offsets", 132, list(133, "long")),
      nullable("equality_ids", 135, list(136, "int")),
      nullable("sort_order_id", 140, "int"),
      nullable("referenced_data_file", 143, "string"),
    ],
  };
  return {
    type: "record",
    name: "manifest_entry",
    fields: [
      required("status", 0, "int"),
      nullable("snapshot_id", 1, "long"),
      nullable("sequence_number", 3, "long"),
      nullable("file_sequence_number", 4, "long"),
      required("data_file", 2, dataFile),
    ],
  };
}

/** Avro schema of a v2 manifest list's entries (`manifest_file`). */
export function manifestListSchema(): AvroRecordSchema {
  const fieldSummary: AvroRecordSchema = {
    type: "record",
    name: "r508",
    fields: [
      required("contains_null", 509, "boolean"),
      nullable("contains_nan", 518, "boolean"),
      nullable("lower_bound", 510, "bytes"),
      nullable("upper_bound", 511, "bytes"),
    ],
  };
  return {
    type: "record",
    name: "manifest_file",
    fields: [
      required("manifest_path", 500, "string"),
      required("manifest_length", 501, "long"),
      required("partition_spec_id", 502, "int"),
      required("content", 517, "int"),
      required("sequence_number", 515, "long"),
      required("min_sequence_number", 516, "long"),
      required("added_snapshot_id", 503, "long"),
      required("added_files_count", 504, "int"),
      required("existing_files_count", 505, "int"),
      required("deleted_files_count", 506, "int"),
      required("added_rows_count", 512, "long"),
      required("existing_rows_count", 513, "long"),
      required("deleted_rows_count", 514, "long"),
      nullable("partitions", 507, list(508, fieldSummary)),
      nullable("key_metadata", 519, "bytes"),
    ],
  };
}
