import assert from "node:assert/strict";
import { icebergTypeOfDuckdb } from "../write/duckdb_types.ts";
import { evolveSchema, firstSchema, SchemaChangeError } from "./evolve.ts";
import type { StructType } from "./types.ts";

/** The columns of a DESCRIBE result, as the engine derives them. */
function columns(spec: Record<string, string>): StructType {
  return {
    type: "struct",
    fields: Object.entries(spec).map(([name, type]) => ({
      id: 0,
      name,
      required: false,
      type: icebergTypeOfDuckdb(type),
    })),
  };
}

/** The first version's columns as DuckDB type names. */
function spec(): Record<string, string> {
  return {
    event_id: "VARCHAR",
    qty: "INTEGER",
    amount: "DECIMAL(12,2)",
    ts: "TIMESTAMP WITH TIME ZONE",
    items: 'STRUCT(sku VARCHAR, "unit price" DECIMAL(12,2))[]',
    tags: "MAP(VARCHAR, BIGINT)",
  };
}

const V1 = columns(spec());

const KEPT = { keptIds: new Map([[4, "it is the source of partition field ts_hour"]]) };

Deno.test("firstSchema assigns ids depth-first and marks the required columns", () => {
  const { schema, lastColumnId } = firstSchema(V1, new Set(["event_id", "ts"]));
  assert.equal(lastColumnId, 11);
  assert.deepEqual(schema.fields.map((f) => [f.id, f.name, f.required]), [
    [1, "event_id", true],
    [2, "qty", false],
    [3, "amount", false],
    [4, "ts", true],
    [5, "items", false],
    [9, "tags", false],
  ]);
  assert.deepEqual(schema.fields[4].type, {
    type: "list",
    "element-id": 6,
    "element-required": false,
    element: {
      type: "struct",
      fields: [
        { id: 7, name: "sku", required: false, type: "string" },
        { id: 8, name: "unit price", required: false, type: "decimal(12, 2)" },
      ],
    },
  });
  assert.equal(schema.fields[3].type, "timestamptz");
});

Deno.test("evolveSchema keeps ids of matched columns, adds new ones fresh and optional, drops the rest", () => {
  const { schema, lastColumnId } = firstSchema(V1, new Set(["event_id"]));
  const next = columns({
    event_id: "VARCHAR",
    qty: "BIGINT",
    amount: "DECIMAL(18,2)",
    ts: "TIMESTAMP WITH TIME ZONE",
    items: 'STRUCT(sku VARCHAR, "unit price" DECIMAL(12,2), category VARCHAR)[]',
    coupon: "VARCHAR",
  });
  const evolved = evolveSchema(schema, next, lastColumnId, 1, KEPT);
  assert.equal(evolved.schema["schema-id"], 1);
  assert.equal(evolved.lastColumnId, 13);
  assert.deepEqual(evolved.changes, [
    "promoted column qty from int to long",
    "promoted column amount from decimal(12, 2) to decimal(18, 2)",
    "added column items.element.category (string)",
    "added column coupon (string)",
    "dropped column tags (older data files keep it)",
  ]);
  const byName = new Map(evolved.schema.fields.map((f) => [f.name, f]));
  assert.equal(byName.get("event_id")!.id, 1);
  assert.equal(byName.get("event_id")!.required, true);
  assert.equal(byName.get("coupon")!.id, 13);
  assert.equal(byName.get("coupon")!.required, false);
  assert.equal(byName.has("tags"), false);
  const items = byName.get("items")!.type as { element: StructType };
  assert.deepEqual(items.element.fields.map((f) => [f.id, f.name]), [
    [7, "sku"],
    [8, "unit price"],
    [12, "category"],
  ]);
});

Deno.test("evolveSchema changes nothing for the same columns, nor for narrower output types", () => {
  const { schema, lastColumnId } = firstSchema(V1, new Set());
  const same = evolveSchema(schema, V1, lastColumnId, 1, KEPT);
  assert.deepEqual(same.changes, []);
  assert.equal(same.schema, schema);
  // A long column produced as INTEGER keeps its type: the values widen on write.
  const promoted = evolveSchema(
    schema,
    columns({ ...spec(), qty: "BIGINT" }),
    lastColumnId,
    1,
    KEPT,
  );
  const narrower = evolveSchema(promoted.schema, V1, promoted.lastColumnId, 2, KEPT);
  assert.deepEqual(narrower.changes, []);
  assert.equal(narrower.schema, promoted.schema);
});

Deno.test("evolveSchema refuses type changes Iceberg does not allow, naming column and types", () => {
  const { schema, lastColumnId } = firstSchema(V1, new Set());
  const cases: [Record<string, string>, RegExp][] = [
    [{ qty: "VARCHAR" }, /^column qty cannot change from int to string \(Iceberg allows/],
    [
      { amount: "DECIMAL(12,3)" },
      /column amount cannot change from decimal\(12, 2\) to decimal\(12, 3\)/,
    ],
    [{ amount: "DOUBLE" }, /column amount cannot change from decimal\(12, 2\) to double/],
    [
      { items: "VARCHAR[]" },
      /column items\.element cannot change from struct<sku: string, unit price: decimal\(12, 2\)> to string/,
    ],
    [{ tags: "MAP(BIGINT, BIGINT)" }, /column tags\.key cannot change from string to long/],
  ];
  for (const [change, message] of cases) {
    const desired = columns({ ...spec(), ...change });
    assert.throws(() => evolveSchema(schema, desired, lastColumnId, 1, KEPT), (error: Error) => {
      assert.ok(error instanceof SchemaChangeError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("evolveSchema refuses to drop a partition source column", () => {
  const { schema, lastColumnId } = firstSchema(V1, new Set());
  const withoutTs = { type: "struct" as const, fields: V1.fields.filter((f) => f.name !== "ts") };
  assert.throws(
    () => evolveSchema(schema, withoutTs, lastColumnId, 1, KEPT),
    /^SchemaChangeError: column ts cannot be dropped: it is the source of partition field ts_hour$/,
  );
});

Deno.test("icebergTypeOfDuckdb maps DuckDB's type names and refuses what Iceberg cannot hold", () => {
  assert.equal(icebergTypeOfDuckdb("SMALLINT"), "int");
  assert.equal(icebergTypeOfDuckdb("JSON"), "string");
  assert.equal(icebergTypeOfDuckdb("DECIMAL(38,10)"), "decimal(38, 10)");
  assert.deepEqual(icebergTypeOfDuckdb("VARCHAR[][]"), {
    type: "list",
    "element-id": 0,
    "element-required": false,
    element: { type: "list", "element-id": 0, "element-required": false, element: "string" },
  });
  for (const bad of ["HUGEINT", "INTERVAL", "INTEGER[3]", "UNION(a INTEGER)", "UBIGINT"]) {
    assert.throws(
      () => icebergTypeOfDuckdb(bad),
      /has no Iceberg type \(CAST it to one that does\)/,
    );
  }
});
