import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import {
  ancestorsOf,
  checkSchema,
  checkSortOrder,
  currentSchema,
  currentSnapshot,
  defaultSpec,
  metadataFileName,
  newTableMetadata,
  parseMetadataVersion,
  schemaById,
  snapshotAsOf,
  snapshotById,
  specById,
  tableMetadataFromJson,
  tableMetadataToJson,
} from "./metadata.ts";
import type { Schema, SortOrder, TableMetadata } from "./types.ts";

const UUID = "9c12d441-03fe-4693-9a96-a0705ddf69c1";
const BIG_ID = 9007199254740993n; // 2^53 + 1: a double would read it as ...992
const FIRST_ID = 3051729675574597004n;
const SOURCE = "s3://bucket/db/t/metadata/00002-x.metadata.json";

/** Shaped like apache/iceberg's TableMetadataV2Valid.json, with a snapshot id above 2^53. */
const FIXTURE = `{
  "format-version": 2,
  "table-uuid": "${UUID}",
  "location": "s3://bucket/db/t",
  "last-sequence-number": 34,
  "last-updated-ms": 1602638573590,
  "last-column-id": 3,
  "current-schema-id": 1,
  "schemas": [
    {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "required": true, "type": "long"}]},
    {
      "type": "struct",
      "schema-id": 1,
      "identifier-field-ids": [1, 2],
      "fields": [
        {"id": 1, "name": "x", "required": true, "type": "long"},
        {"id": 2, "name": "y", "required": true, "type": "long", "doc": "comment"},
        {"id": 3, "name": "z", "required": true, "type": "decimal(9,2)"}
      ]
    }
  ],
  "default-spec-id": 0,
  "partition-specs": [
    {"spec-id": 0, "fields": [{"name": "x", "transform": "identity", "source-id": 1, "field-id": 1000}]}
  ],
  "last-partition-id": 1000,
  "default-sort-order-id": 3,
  "sort-orders": [
    {
      "order-id": 3,
      "fields": [
        {"transform": "identity", "source-id": 2, "direction": "asc", "null-order": "nulls-first"},
        {"transform": "bucket[4]", "source-id": 3, "direction": "desc", "null-order": "nulls-last"}
      ]
    }
  ],
  "properties": {"owner": "lakehouse"},
  "current-snapshot-id": ${BIG_ID},
  "snapshots": [
    {
      "snapshot-id": ${FIRST_ID},
      "timestamp-ms": 1515100955770,
      "sequence-number": 0,
      "summary": {"operation": "append"},
      "manifest-list": "s3://bucket/db/t/metadata/snap-1.avro"
    },
    {
      "snapshot-id": ${BIG_ID},
      "parent-snapshot-id": ${FIRST_ID},
      "timestamp-ms": 1555100955770,
      "sequence-number": 1,
      "summary": {"operation": "append", "added-data-files": "4", "stream.offsets": "{}"},
      "manifest-list": "s3://bucket/db/t/metadata/snap-2.avro",
      "schema-id": 1
    }
  ],
  "statistics": [],
  "snapshot-log": [
    {"timestamp-ms": 1515100955770, "snapshot-id": ${FIRST_ID}},
    {"timestamp-ms": 1555100955770, "snapshot-id": ${BIG_ID}}
  ],
  "metadata-log": [
    {"timestamp-ms": 1515100955770, "metadata-file": "s3://bucket/db/t/metadata/00001-y.metadata.json"}
  ]
}`;

/** Fixture text with top-level keys replaced or removed (undefined). */
function fixtureWith(changes: Record<string, unknown>): string {
  const json = JSON.parse(
    FIXTURE.replaceAll(String(BIG_ID), `"${BIG_ID}"`).replaceAll(
      String(FIRST_ID),
      `"${FIRST_ID}"`,
    ),
  );
  Object.assign(json, changes);
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete json[k];
  // Ids were quoted to survive JSON.parse; unquote them again.
  return JSON.stringify(json).replaceAll(`"${BIG_ID}"`, String(BIG_ID)).replaceAll(
    `"${FIRST_ID}"`,
    String(FIRST_ID),
  );
}

function throwsNaming(text: string, ...parts: (string | RegExp)[]): void {
  assert.throws(() => tableMetadataFromJson(text, SOURCE), (error) => {
    assert.ok(error instanceof LakehouseError, String(error));
    assert.ok(error.message.includes(SOURCE), error.message);
    for (const part of parts) {
      if (typeof part === "string") assert.ok(error.message.includes(part), error.message);
      else assert.match(error.message, part);
    }
    return true;
  });
}

Deno.test("tableMetadataFromJson() reads a v2 file with exact long ids", () => {
  const m = tableMetadataFromJson(FIXTURE, SOURCE);
  assert.equal(m["current-snapshot-id"], BIG_ID);
  assert.equal(m["last-sequence-number"], 34n);
  assert.equal(m.snapshots[0]["snapshot-id"], FIRST_ID);
  assert.equal(m.snapshots[0]["parent-snapshot-id"], undefined);
  assert.equal(m.snapshots[1]["parent-snapshot-id"], FIRST_ID);
  assert.equal(m.snapshots[1]["sequence-number"], 1n);
  assert.deepEqual(m.snapshots[1].summary, {
    operation: "append",
    "added-data-files": "4",
    "stream.offsets": "{}",
  });
  assert.equal(m.schemas[1].fields[2].type, "decimal(9, 2)");
  assert.equal(m.schemas[1].fields[1].doc, "comment");
  assert.deepEqual(m.schemas[1]["identifier-field-ids"], [1, 2]);
  assert.equal(m["snapshot-log"][1]["snapshot-id"], BIG_ID);
  assert.equal(m["sort-orders"][0].fields.length, 2);
  // No refs in the file: Java derives the main branch from current-snapshot-id.
  assert.deepEqual(m.refs, { main: { "snapshot-id": BIG_ID, type: "branch" } });
  assert.deepEqual(m.properties, { owner: "lakehouse" });
});

Deno.test("tableMetadataToJson() round-trips and writes Java's key order", () => {
  const m = tableMetadataFromJson(FIXTURE);
  const text = tableMetadataToJson(m);
  assert.deepEqual(tableMetadataFromJson(text), m);
  assert.ok(text.includes(`"current-snapshot-id": ${BIG_ID}`));
  assert.ok(text.includes(`"snapshot-id": ${BIG_ID}`));
  const json = JSON.parse(text);
  assert.deepEqual(Object.keys(json), [
    "format-version",
    "table-uuid",
    "location",
    "last-sequence-number",
    "last-updated-ms",
    "last-column-id",
    "current-schema-id",
    "schemas",
    "default-spec-id",
    "partition-specs",
    "last-partition-id",
    "default-sort-order-id",
    "sort-orders",
    "properties",
    "current-snapshot-id",
    "refs",
    "snapshots",
    "statistics",
    "partition-statistics",
    "snapshot-log",
    "metadata-log",
  ]);
  assert.deepEqual(Object.keys(json.snapshots[1]), [
    "sequence-number",
    "snapshot-id",
    "parent-snapshot-id",
    "timestamp-ms",
    "summary",
    "manifest-list",
    "schema-id",
  ]);
  assert.deepEqual(json.schemas[1].fields[2], {
    id: 3,
    name: "z",
    required: true,
    type: "decimal(9, 2)",
  });
  assert.equal(json.schema, undefined);
  assert.equal(json["partition-spec"], undefined);
});

Deno.test("current-snapshot-id -1 reads as absent and is written back as -1", () => {
  const text = fixtureWith({ "current-snapshot-id": -1, snapshots: [], "snapshot-log": [] });
  const m = tableMetadataFromJson(text);
  assert.equal("current-snapshot-id" in m, false);
  assert.deepEqual(m.refs, {});
  assert.equal(currentSnapshot(m), undefined);
  const json = JSON.parse(tableMetadataToJson(m));
  assert.equal(json["current-snapshot-id"], -1);
  assert.deepEqual(json.refs, {});
});

Deno.test("missing optional keys read as empty", () => {
  const m = tableMetadataFromJson(fixtureWith({
    "current-snapshot-id": undefined,
    properties: undefined,
    snapshots: undefined,
    "snapshot-log": undefined,
    "metadata-log": undefined,
  }));
  assert.deepEqual(m.properties, {});
  assert.deepEqual(m.snapshots, []);
  assert.deepEqual(m["snapshot-log"], []);
  assert.deepEqual(m["metadata-log"], []);
  assert.deepEqual(m.refs, {});
});

Deno.test("each missing required key is named with the file", () => {
  for (
    const key of [
      "format-version",
      "table-uuid",
      "location",
      "last-sequence-number",
      "last-updated-ms",
      "last-column-id",
      "schemas",
      "current-schema-id",
      "partition-specs",
      "default-spec-id",
      "last-partition-id",
      "sort-orders",
      "default-sort-order-id",
    ]
  ) {
    throwsNaming(fixtureWith({ [key]: undefined }), `${key} is missing`);
  }
});

Deno.test("bad values are named by their path", () => {
  throwsNaming(
    "{not json",
    "the file is not valid JSON: unexpected character (expected a key in double quotes; " +
      "text needs double quotes) at line 1, column 2",
  );
  throwsNaming("[]", "(root) must be an object");
  throwsNaming(fixtureWith({ "format-version": 1 }), "format-version is 1");
  throwsNaming(fixtureWith({ "table-uuid": "nope" }), "table-uuid must be a UUID string");
  throwsNaming(fixtureWith({ "format-version": 1234 }), "format-version is not 2;");
  throwsNaming(fixtureWith({ location: 7 }), "location must be a string, got a number");
  throwsNaming(
    fixtureWith({ "last-column-id": 1.5 }),
    "last-column-id must be an integer, got a number with a fraction",
  );
  throwsNaming(fixtureWith({ "last-column-id": "3" }), "last-column-id must be an integer");
  throwsNaming(fixtureWith({ properties: { a: 1 } }), "properties.a must be a string");
  throwsNaming(
    fixtureWith({
      schemas: [{
        "schema-id": 1,
        fields: [{ id: 1, name: "x", required: true, type: "varchar" }],
      }],
    }),
    "schemas[0].fields[0].type is not a known Iceberg type",
  );
  throwsNaming(
    fixtureWith({
      "partition-specs": [{
        "spec-id": 0,
        fields: [{ name: "x", transform: "bucket", "source-id": 1, "field-id": 1000 }],
      }],
    }),
    "partition-specs[0].fields[0].transform",
  );
  const snapshots = JSON.parse(FIXTURE.replaceAll(/(\d{16,})/g, '"$1"')).snapshots;
  snapshots[0].summary.operation = "merge";
  throwsNaming(
    fixtureWith({ snapshots }).replaceAll(/"(\d{16,})"/g, "$1"),
    "snapshots[0].summary.operation must be append, replace, overwrite or delete",
  );
  delete snapshots[0].summary.operation;
  throwsNaming(
    fixtureWith({ snapshots }).replaceAll(/"(\d{16,})"/g, "$1"),
    "snapshots[0].summary.operation must be append, replace, overwrite or delete, got nothing",
  );
  snapshots[0].summary.operation = "append";
  delete snapshots[1]["manifest-list"];
  throwsNaming(
    fixtureWith({ snapshots }).replaceAll(/"(\d{16,})"/g, "$1"),
    "snapshots[1].manifest-list is missing",
  );
});

Deno.test("errors about a metadata file never quote its strings", () => {
  const secret = "zzPLANTEDSECRETzz";
  const snapshots = JSON.parse(FIXTURE.replaceAll(/(\d{16,})/g, '"$1"')).snapshots;
  snapshots[0].summary.operation = secret;
  const texts = [
    `{"aws_secret_access_key": "${secret}"}`,
    `{"format-version": 2, "table-uuid": ${secret}}`,
    `{"format-version": 2, "table-uuid": "${secret}`,
    `${secret}`,
    `{"format-version": "${secret}"}`,
    fixtureWith({ "table-uuid": secret }),
    fixtureWith({ location: [secret] }),
    fixtureWith({ "last-column-id": secret }),
    fixtureWith({ properties: { a: { key: secret } } }),
    fixtureWith({ refs: { main: { "snapshot-id": 1, type: secret } } }),
    fixtureWith({
      schemas: [{ "schema-id": 1, fields: [{ id: 1, name: "x", required: true, type: secret }] }],
    }),
    fixtureWith({
      schemas: [{ "schema-id": 1, type: secret, fields: [] }],
    }),
    fixtureWith({
      "partition-specs": [{
        "spec-id": 0,
        fields: [{ name: "x", transform: secret, "source-id": 1, "field-id": 1000 }],
      }],
    }),
    fixtureWith({ snapshots }).replaceAll(/"(\d{16,})"/g, "$1"),
  ];
  for (const text of texts) {
    assert.throws(() => tableMetadataFromJson(text, SOURCE), (error) => {
      assert.ok(error instanceof LakehouseError, String(error));
      assert.ok(error.message.includes(SOURCE), error.message);
      assert.ok(!error.message.includes("PLANTED"), error.message);
      return true;
    });
  }
});

Deno.test("inconsistent metadata is rejected as Java rejects it", () => {
  throwsNaming(fixtureWith({ "current-schema-id": 7 }), "current-schema-id 7 matches no schema");
  throwsNaming(
    fixtureWith({ "default-spec-id": 7 }),
    "default-spec-id 7 matches no partition spec",
  );
  throwsNaming(
    fixtureWith({ "default-sort-order-id": 0 }),
    "default-sort-order-id 0 matches no sort order",
  );
  throwsNaming(
    fixtureWith({ "current-snapshot-id": 5 }),
    "current-snapshot-id 5 matches no snapshot",
  );
  throwsNaming(
    fixtureWith({ refs: { main: { "snapshot-id": String(FIRST_ID), type: "branch" } } }).replace(
      `"${FIRST_ID}"`,
      String(FIRST_ID),
    ),
    "refs.main.snapshot-id",
    "differs from current-snapshot-id",
  );
  throwsNaming(
    fixtureWith({ refs: { tag1: { "snapshot-id": 5, type: "tag" } } }),
    "refs.tag1.snapshot-id 5 matches no snapshot",
  );
  throwsNaming(
    fixtureWith({ "last-sequence-number": 0 }),
    /snapshots\[1\]\.sequence-number 1 is greater than last-sequence-number 0/,
  );
  throwsNaming(
    fixtureWith({ "last-updated-ms": 1 }),
    "last-updated-ms 1 is before the last snapshot-log entry",
  );
});

Deno.test("refs keep their retention settings", () => {
  const text = fixtureWith({
    refs: {
      main: { "snapshot-id": String(BIG_ID), type: "branch", "min-snapshots-to-keep": 2 },
      audit: { "snapshot-id": String(FIRST_ID), type: "tag", "max-ref-age-ms": 1000 },
    },
  }).replaceAll(/"(\d{16,})"/g, "$1");
  const m = tableMetadataFromJson(text);
  assert.deepEqual(m.refs, {
    main: { "snapshot-id": BIG_ID, type: "branch", "min-snapshots-to-keep": 2 },
    audit: { "snapshot-id": FIRST_ID, type: "tag", "max-ref-age-ms": 1000 },
  });
  assert.deepEqual(tableMetadataFromJson(tableMetadataToJson(m)), m);
});

const ORDERS: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "order_id", required: true, type: "long" },
    { id: 2, name: "event_timestamp", required: true, type: "timestamptz" },
    {
      id: 3,
      name: "items",
      required: false,
      type: {
        type: "list",
        "element-id": 4,
        "element-required": true,
        element: {
          type: "struct",
          fields: [{ id: 5, name: "sku", required: true, type: "string" }],
        },
      },
    },
    {
      id: 6,
      name: "tags",
      required: false,
      type: {
        type: "map",
        "key-id": 7,
        key: "string",
        "value-id": 8,
        value: "string",
        "value-required": false,
      },
    },
  ],
};

Deno.test("newTableMetadata() derives the counters of an empty table", () => {
  const m = newTableMetadata({
    location: "s3://bucket/db/orders/",
    schema: ORDERS,
    spec: {
      "spec-id": 0,
      fields: [
        { "source-id": 2, "field-id": 1000, name: "event_timestamp_hour", transform: "hour" },
        { "source-id": 1, "field-id": 1001, name: "order_id_bucket", transform: "bucket[16]" },
      ],
    },
    properties: { "write.format.default": "parquet" },
    tableUuid: UUID,
    nowMs: 1700000000000,
  });
  assert.equal(m["last-column-id"], 8);
  assert.equal(m["last-partition-id"], 1001);
  assert.equal(m.location, "s3://bucket/db/orders");
  assert.equal(m["last-sequence-number"], 0n);
  assert.equal(m["current-snapshot-id"], undefined);
  assert.deepEqual(m["sort-orders"], [{ "order-id": 0, fields: [] }]);
  assert.deepEqual(m.refs, {});
  assert.deepEqual(tableMetadataFromJson(tableMetadataToJson(m)), m);

  const unpartitioned = newTableMetadata({
    location: "file:///wh/orders",
    schema: ORDERS,
    spec: { "spec-id": 0, fields: [] },
    tableUuid: UUID,
    nowMs: 1,
  });
  assert.equal(unpartitioned["last-partition-id"], 999);
  assert.deepEqual(unpartitioned.properties, {});
});

Deno.test("newTableMetadata() rejects schemas and specs that do not fit", () => {
  const base = { location: "s3://b/t", schema: ORDERS, tableUuid: UUID, nowMs: 1 };
  const spec = (fields: unknown[]) => ({ "spec-id": 0, fields }) as never;
  const cases: [Parameters<typeof newTableMetadata>[0], string][] = [
    [{ ...base, location: "/local/path", spec: spec([]) }, "full URI"],
    [{ ...base, tableUuid: "x", spec: spec([]) }, "UUID"],
    [{
      ...base,
      schema: {
        ...ORDERS,
        fields: [...ORDERS.fields, { id: 5, name: "dup", required: false, type: "int" }],
      },
      spec: spec([]),
    }, "reuses id 5 of items.element.sku"],
    [{
      ...base,
      spec: spec([{ "source-id": 9, "field-id": 1000, name: "p", transform: "identity" }]),
    }, "unknown source-id 9"],
    [
      { ...base, spec: spec([{ "source-id": 1, "field-id": 1000, name: "p", transform: "hour" }]) },
      "does not apply",
    ],
    [{
      ...base,
      spec: spec([{ "source-id": 3, "field-id": 1000, name: "p", transform: "identity" }]),
    }, "nested source"],
    [
      {
        ...base,
        spec: spec([{ "source-id": 1, "field-id": 5, name: "p", transform: "identity" }]),
      },
      "ids start at 1000",
    ],
    [{
      ...base,
      spec: spec([
        { "source-id": 1, "field-id": 1000, name: "p", transform: "identity" },
        { "source-id": 2, "field-id": 1000, name: "q", transform: "day" },
      ]),
    }, "reuses field-id 1000"],
    [{
      ...base,
      spec: spec([{
        "source-id": 1,
        "field-id": 1000,
        name: "event_timestamp",
        transform: "bucket[4]",
      }]),
    }, "has the name of schema field"],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => newTableMetadata(options), (error) => {
      assert.ok(error instanceof LakehouseError);
      assert.ok(error.message.includes(message), error.message);
      return true;
    });
  }
  // Identity of the same column may keep its name.
  newTableMetadata({
    ...base,
    spec: spec([{ "source-id": 1, "field-id": 1000, name: "order_id", transform: "identity" }]),
  });
});

Deno.test("metadata file names carry a 5-digit version", () => {
  assert.equal(metadataFileName(1, UUID), `00001-${UUID}.metadata.json`);
  assert.equal(metadataFileName(123456, UUID), `123456-${UUID}.metadata.json`);
  assert.throws(() => metadataFileName(-1, UUID), RangeError);
  assert.equal(parseMetadataVersion(`s3://b/t/metadata/00042-${UUID}.metadata.json`), 42);
  assert.equal(parseMetadataVersion(`00007-${UUID}.gz.metadata.json`), 7);
  assert.equal(parseMetadataVersion("file:///wh/t/metadata/v3.metadata.json"), 3);
  assert.equal(parseMetadataVersion("s3://b/t/metadata/snap-1-1-x.avro"), undefined);
  assert.equal(parseMetadataVersion("s3://b/t/metadata/version-hint.text"), undefined);
});

Deno.test("snapshot lookups follow the log and the parent chain", () => {
  const m = tableMetadataFromJson(FIXTURE);
  assert.equal(currentSnapshot(m)?.["snapshot-id"], BIG_ID);
  assert.equal(
    snapshotById(m, FIRST_ID)?.["manifest-list"],
    "s3://bucket/db/t/metadata/snap-1.avro",
  );
  assert.equal(snapshotById(m, 1n), undefined);
  assert.equal(snapshotAsOf(m, 1515100955769), undefined);
  assert.equal(snapshotAsOf(m, 1515100955770)?.["snapshot-id"], FIRST_ID);
  assert.equal(snapshotAsOf(m, 1555100955769)?.["snapshot-id"], FIRST_ID);
  assert.equal(snapshotAsOf(m, 1555100955770)?.["snapshot-id"], BIG_ID);
  assert.deepEqual(ancestorsOf(m, BIG_ID).map((s) => s["snapshot-id"]), [BIG_ID, FIRST_ID]);
  assert.deepEqual(ancestorsOf(m, 1n), []);
  assert.equal(schemaById(m, 0)?.fields.length, 1);
  assert.equal(schemaById(m, 5), undefined);
  assert.equal(currentSchema(m)["schema-id"], 1);
  assert.equal(specById(m, 0)?.fields[0].name, "x");
  assert.equal(defaultSpec(m)["spec-id"], 0);
});

Deno.test("snapshotAsOf() honours rollbacks recorded in the snapshot log", () => {
  const m = tableMetadataFromJson(FIXTURE);
  const rolledBack: TableMetadata = {
    ...m,
    "last-updated-ms": 1600000000000,
    "current-snapshot-id": FIRST_ID,
    refs: { main: { "snapshot-id": FIRST_ID, type: "branch" } },
    "snapshot-log": [...m["snapshot-log"], {
      "timestamp-ms": 1600000000000,
      "snapshot-id": FIRST_ID,
    }],
  };
  assert.equal(snapshotAsOf(rolledBack, 1600000000001)?.["snapshot-id"], FIRST_ID);
  assert.equal(snapshotAsOf(rolledBack, 1599999999999)?.["snapshot-id"], BIG_ID);
  // An expired snapshot is gone even though the log still names it.
  const expired: TableMetadata = { ...rolledBack, snapshots: [m.snapshots[0]] };
  assert.equal(snapshotAsOf(expired, 1599999999999), undefined);
  assert.deepEqual(ancestorsOf(expired, FIRST_ID).length, 1);
});

Deno.test("sort orders are read strictly and written in Java's key order", () => {
  const m = tableMetadataFromJson(FIXTURE);
  assert.deepEqual(m["sort-orders"], [{
    "order-id": 3,
    fields: [
      { transform: "identity", "source-id": 2, direction: "asc", "null-order": "nulls-first" },
      { transform: "bucket[4]", "source-id": 3, direction: "desc", "null-order": "nulls-last" },
    ],
  }]);
  const json = JSON.parse(tableMetadataToJson(m));
  assert.deepEqual(Object.keys(json["sort-orders"][0].fields[0]), [
    "transform",
    "source-id",
    "direction",
    "null-order",
  ]);
  const field = {
    transform: "identity",
    "source-id": 2,
    direction: "asc",
    "null-order": "nulls-first",
  };
  const withField = (f: Record<string, unknown>) =>
    fixtureWith({ "sort-orders": [{ "order-id": 3, fields: [f] }] });
  throwsNaming(
    withField({ ...field, direction: "up" }),
    "sort-orders[0].fields[0].direction must be asc or desc",
  );
  throwsNaming(
    withField({ ...field, "null-order": "first" }),
    "sort-orders[0].fields[0].null-order must be nulls-first or nulls-last",
  );
  throwsNaming(
    withField({ ...field, transform: "sideways" }),
    "sort-orders[0].fields[0].transform is not a known transform",
  );
  throwsNaming(
    withField({ transform: "identity", direction: "asc", "null-order": "nulls-first" }),
    "sort-orders[0].fields[0].source-id is missing",
  );
});

Deno.test("checkSchema() enforces Java's rules for identifier fields", () => {
  const fail = (where: string, problem: string) => new LakehouseError(`${where} ${problem}`);
  const withIds = (ids: number[]): Schema => ({ ...ORDERS, "identifier-field-ids": ids });
  assert.equal(checkSchema(withIds([1, 2]), fail).size, 8);
  const cases: [number[], string][] = [
    [[1, 1], "identifier field id 1 is listed twice"],
    [[42], "identifier field id 42 matches no field of the schema"],
    [[3], "identifier field id 3 (items) is not a primitive column"],
    [[5], "identifier field id 5 (items.element.sku) lies within items, which is not a struct"],
    [[7], "identifier field id 7 (tags.key) lies within tags, which is not a struct"],
  ];
  for (const [ids, message] of cases) {
    assert.throws(() => checkSchema(withIds(ids), fail), { message });
  }
  const optional: Schema = {
    type: "struct",
    "schema-id": 0,
    "identifier-field-ids": [2],
    fields: [{
      id: 1,
      name: "s",
      required: false,
      type: { type: "struct", fields: [{ id: 2, name: "k", required: true, type: "long" }] },
    }],
  };
  assert.throws(() => checkSchema(optional, fail), {
    message: "identifier field id 2 (s.k) lies within optional s",
  });
  const floating: Schema = {
    type: "struct",
    "schema-id": 0,
    "identifier-field-ids": [1],
    fields: [{ id: 1, name: "x", required: true, type: "double" }],
  };
  assert.throws(() => checkSchema(floating, fail), {
    message: "identifier field id 1 (x) is a double, which cannot identify a row",
  });
});

Deno.test("checkSortOrder() requires primitive sources the transform takes", () => {
  const fail = (where: string, problem: string) => new LakehouseError(`${where} ${problem}`);
  const order = (sourceId: number, transform: string): SortOrder => ({
    "order-id": 1,
    fields: [{
      transform: transform as SortOrder["fields"][number]["transform"],
      "source-id": sourceId,
      direction: "asc",
      "null-order": "nulls-first",
    }],
  });
  checkSortOrder(ORDERS, order(2, "hour"), fail);
  checkSortOrder(ORDERS, order(1, "bucket[4]"), fail);
  assert.throws(() => checkSortOrder(ORDERS, order(9, "identity"), fail), {
    message: "sort field 0 has unknown source-id 9",
  });
  assert.throws(() => checkSortOrder(ORDERS, order(3, "identity"), fail), {
    message: "sort field 0 sorts by items, which is not a primitive column",
  });
  assert.throws(() => checkSortOrder(ORDERS, order(1, "hour"), fail), /sort field 0 .*hour/);
});
