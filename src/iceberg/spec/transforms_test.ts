import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import {
  applyTransform,
  bucketHash,
  murmur3_32,
  parseTransform,
  partitionFieldName,
  transformResultType,
} from "./transforms.ts";

const TS_2017 = 1510871468000000n; // 2017-11-16T22:31:08Z in micros

Deno.test("bucketHash() matches the spec's test vectors", () => {
  assert.equal(bucketHash(34, "int"), 2017239379);
  assert.equal(bucketHash(34n, "long"), 2017239379);
  assert.equal(bucketHash(17486, "date"), -653330422);
  assert.equal(bucketHash(81068000000n, "time"), -662762989);
  assert.equal(bucketHash(TS_2017, "timestamp"), -2047944441);
  assert.equal(bucketHash(TS_2017, "timestamptz"), -2047944441);
  assert.equal(bucketHash("iceberg", "string"), 1210000089);
  assert.equal(bucketHash(1420n, "decimal(4, 2)"), -500754589);
  assert.equal(bucketHash("f79c3e09-677c-4bbd-a479-3f349cb785e7", "uuid"), 1488055340);
  assert.equal(bucketHash(Uint8Array.of(0, 1, 2, 3), "binary"), -188683207);
  assert.equal(bucketHash(Uint8Array.of(0, 1, 2, 3), "fixed[4]"), -188683207);
});

Deno.test("murmur3_32() covers every tail length", () => {
  // Reference values of MurmurHash3_x86_32 with seed 0 (as the mmh3 package computes them).
  assert.equal(murmur3_32(new Uint8Array()), 0);
  assert.equal(murmur3_32(new TextEncoder().encode("a")), 1009084850);
  assert.equal(murmur3_32(new TextEncoder().encode("ab")), -1681926305);
  assert.equal(murmur3_32(new TextEncoder().encode("abc")), -1277324294);
  assert.equal(murmur3_32(new TextEncoder().encode("abcd")), 1139631978);
  assert.equal(murmur3_32(new TextEncoder().encode("abcde")), -392455434);
});

Deno.test("bucket[N] masks the sign bit before the modulo", () => {
  assert.equal(applyTransform("bucket[16]", "string", "iceberg"), 9);
  assert.equal(applyTransform("bucket[16]", "long", 34n), 3);
  assert.equal(applyTransform("bucket[16]", "int", 34), 3);
  // -2047944441 & 0x7FFFFFFF = 99539207
  assert.equal(applyTransform("bucket[1000]", "timestamp", TS_2017), 99539207 % 1000);
  assert.equal(applyTransform("bucket[16]", "string", null), null);
});

Deno.test("hour, day, month and year of timestamps match Java", () => {
  assert.equal(applyTransform("hour", "timestamp", TS_2017), 419686);
  assert.equal(applyTransform("day", "timestamptz", TS_2017), 17486);
  assert.equal(applyTransform("month", "timestamp", TS_2017), 47 * 12 + 10);
  assert.equal(applyTransform("year", "timestamp", TS_2017), 47);
  assert.equal(applyTransform("day", "date", 17486), 17486);
  assert.equal(applyTransform("month", "date", 17486), 574);
  assert.equal(applyTransform("year", "date", 17486), 47);
  assert.equal(applyTransform("hour", "timestamp", 0n), 0);
});

Deno.test("time transforms floor before 1970", () => {
  const lastMicro = -1n; // 1969-12-31T23:59:59.999999
  assert.equal(applyTransform("hour", "timestamp", lastMicro), -1);
  assert.equal(applyTransform("day", "timestamp", lastMicro), -1);
  assert.equal(applyTransform("month", "timestamp", lastMicro), -1);
  assert.equal(applyTransform("year", "timestamp", lastMicro), -1);
  assert.equal(applyTransform("hour", "timestamp", -3_600_000_000n), -1);
  assert.equal(applyTransform("hour", "timestamp", -3_600_000_001n), -2);
  const jan1969 = -365n * 86_400_000_000n; // 1969-01-01T00:00:00
  assert.equal(applyTransform("day", "timestamp", jan1969), -365);
  assert.equal(applyTransform("month", "timestamp", jan1969), -12);
  assert.equal(applyTransform("year", "timestamp", jan1969), -1);
  assert.equal(applyTransform("month", "date", -366), -13); // 1968-12-31
  assert.equal(applyTransform("year", "date", -366), -2);
  assert.equal(applyTransform("month", "date", -719528), -1970 * 12); // 0000-01-01
});

Deno.test("truncate[W] floors numbers and cuts strings at code points", () => {
  assert.equal(applyTransform("truncate[10]", "int", 1), 0);
  assert.equal(applyTransform("truncate[10]", "int", -1), -10);
  assert.equal(applyTransform("truncate[10]", "long", -1n), -10n);
  assert.equal(applyTransform("truncate[10]", "long", 9007199254740993n), 9007199254740990n);
  assert.equal(applyTransform("truncate[50]", "decimal(4, 2)", 1065n), 1050n);
  assert.equal(applyTransform("truncate[10]", "decimal(4, 2)", -5n), -10n);
  assert.equal(applyTransform("truncate[3]", "string", "iceberg"), "ice");
  assert.equal(applyTransform("truncate[2]", "string", "a😀b"), "a😀");
  assert.equal(applyTransform("truncate[5]", "string", "ab"), "ab");
  assert.deepEqual(
    applyTransform("truncate[2]", "binary", Uint8Array.of(1, 2, 3)),
    Uint8Array.of(1, 2),
  );
});

Deno.test("identity and void pass values through or drop them", () => {
  assert.equal(applyTransform("identity", "string", "x"), "x");
  assert.equal(applyTransform("identity", "long", 5), 5n);
  assert.equal(applyTransform("identity", "int", 5), 5);
  assert.equal(applyTransform("void", "int", 5), null);
});

Deno.test("applyTransform() rejects values of the wrong representation", () => {
  assert.throws(() => applyTransform("identity", "int", 2 ** 31), LakehouseError);
  assert.throws(() => applyTransform("hour", "timestamp", "2017-11-16"), LakehouseError);
  assert.throws(() => applyTransform("bucket[4]", "long", 1.5), LakehouseError);
  assert.throws(() => applyTransform("bucket[4]", "decimal(4, 2)", 14.2), LakehouseError);
  assert.throws(() => applyTransform("bucket[4]", "decimal(4, 2)", 100000n), /at most 4 digits/);
  assert.throws(() => applyTransform("bucket[4]", "uuid", "not-a-uuid"), LakehouseError);
  assert.throws(() => applyTransform("bucket[4]", "string", "\ud800"), /lone surrogates/);
});

Deno.test("transformResultType() follows the spec and rejects misfits", () => {
  assert.equal(transformResultType("bucket[16]", "long"), "int");
  assert.equal(transformResultType("hour", "timestamptz"), "int");
  assert.equal(transformResultType("day", "timestamp"), "date");
  assert.equal(transformResultType("day", "date"), "date");
  assert.equal(transformResultType("month", "date"), "int");
  assert.equal(transformResultType("year", "timestamp"), "int");
  assert.equal(transformResultType("identity", "decimal(9, 2)"), "decimal(9, 2)");
  assert.equal(transformResultType("truncate[4]", "string"), "string");
  assert.throws(() => transformResultType("hour", "date"), LakehouseError);
  assert.throws(() => transformResultType("bucket[4]", "double"), LakehouseError);
  assert.throws(() => transformResultType("truncate[4]", "timestamp"), LakehouseError);
  assert.throws(() => transformResultType("bucket[0]", "int"), /unknown partition transform/);
});

Deno.test("parseTransform() and partitionFieldName() use Java's names", () => {
  assert.deepEqual(parseTransform("bucket[16]"), { name: "bucket", param: 16 });
  assert.deepEqual(parseTransform("day"), { name: "day" });
  assert.throws(() => parseTransform("bucket[x]"), LakehouseError);
  assert.equal(partitionFieldName("order_id", "bucket[16]"), "order_id_bucket");
  assert.equal(partitionFieldName("event_timestamp", "hour"), "event_timestamp_hour");
  assert.equal(partitionFieldName("received_at", "day"), "received_at_day");
  assert.equal(partitionFieldName("sku", "truncate[4]"), "sku_trunc");
  assert.equal(partitionFieldName("region", "identity"), "region");
  assert.equal(partitionFieldName("region", "void"), "region_null");
});
