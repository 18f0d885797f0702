import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import {
  allFields,
  findField,
  isPrimitive,
  maxFieldId,
  parseDecimal,
  parseFixed,
  parsePrimitiveType,
  primitiveTypeOf,
} from "./schema.ts";
import type { Schema } from "./types.ts";

const schema: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "order_id", required: true, type: "long" },
    {
      id: 2,
      name: "items",
      required: false,
      type: {
        type: "list",
        "element-id": 5,
        "element-required": true,
        element: {
          type: "struct",
          fields: [
            { id: 6, name: "sku", required: true, type: "string" },
            { id: 7, name: "price", required: true, type: "decimal(12, 2)" },
          ],
        },
      },
    },
    {
      id: 3,
      name: "attrs",
      required: false,
      type: {
        type: "map",
        "key-id": 8,
        key: "string",
        "value-id": 9,
        "value-required": false,
        value: { type: "list", "element-id": 12, element: "int", "element-required": false },
      },
    },
    { id: 4, name: "customer", required: true, type: { type: "struct", fields: [] } },
  ],
};

Deno.test("allFields() flattens every nested id with Iceberg's dotted names", () => {
  const fields = allFields(schema);
  assert.deepEqual(
    fields.map((f) => [f.id, f.name, f.required, f.parentId]),
    [
      [1, "order_id", true, undefined],
      [2, "items", false, undefined],
      [5, "items.element", true, 2],
      [6, "items.element.sku", true, 5],
      [7, "items.element.price", true, 5],
      [3, "attrs", false, undefined],
      [8, "attrs.key", true, 3],
      [9, "attrs.value", false, 3],
      [12, "attrs.value.element", false, 9],
      [4, "customer", true, undefined],
    ],
  );
});

Deno.test("findField() and maxFieldId() see list elements and map keys/values", () => {
  assert.equal(findField(schema, 7)?.name, "items.element.price");
  assert.equal(findField(schema, 12)?.type, "int");
  assert.equal(findField(schema, 99), undefined);
  assert.equal(maxFieldId(schema), 12);
  assert.equal(maxFieldId("int"), 0);
  assert.equal(maxFieldId({ type: "struct", fields: [] }), 0);
});

Deno.test("primitiveTypeOf() returns primitive types and rejects nested or unknown ids", () => {
  assert.equal(primitiveTypeOf(schema, 1), "long");
  assert.equal(primitiveTypeOf(schema, 7), "decimal(12, 2)");
  assert.throws(() => primitiveTypeOf(schema, 2), /items \(id 2\) is a list/);
  assert.throws(() => primitiveTypeOf(schema, 42), LakehouseError);
});

Deno.test("parseDecimal() accepts both spacings and rejects bad precisions", () => {
  assert.deepEqual(parseDecimal("decimal(12, 2)"), { precision: 12, scale: 2 });
  assert.deepEqual(parseDecimal("decimal(38,0)"), { precision: 38, scale: 0 });
  assert.throws(() => parseDecimal("decimal(39, 2)"), LakehouseError);
  assert.throws(() => parseDecimal("decimal(0, 0)"), LakehouseError);
  assert.throws(() => parseDecimal("decimal"), LakehouseError);
  assert.equal(parseFixed("fixed[16]"), 16);
  assert.throws(() => parseFixed("fixed(16)"), LakehouseError);
});

Deno.test("parsePrimitiveType() normalises decimals to Java's spelling", () => {
  assert.equal(parsePrimitiveType("decimal(9,2)"), "decimal(9, 2)");
  assert.equal(parsePrimitiveType("timestamptz"), "timestamptz");
  assert.equal(parsePrimitiveType("fixed[3]"), "fixed[3]");
  assert.equal(parsePrimitiveType("varchar"), undefined);
  assert.equal(parsePrimitiveType("decimal(40, 2)"), undefined);
  assert.equal(isPrimitive("string"), true);
  assert.equal(isPrimitive({ type: "struct", fields: [] }), false);
});
