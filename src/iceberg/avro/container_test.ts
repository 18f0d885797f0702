import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { AvroFormatError, readContainer, writeContainer } from "./container.ts";
import type { AvroSchema } from "./schemas.ts";

const schema: AvroSchema = {
  type: "record",
  name: "row",
  fields: [
    { name: "id", type: "long", "field-id": 1 },
    { name: "name", type: ["null", "string"], default: null, "field-id": 2 },
    { name: "blob", type: "bytes", "field-id": 3 },
  ],
};

function rows(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: 2n ** 62n + BigInt(i),
    name: i % 3 === 0 ? null : `row-${i}`,
    blob: Buffer.from([i & 0xff, 7]),
  }));
}

const SYNC = new Uint8Array(16).map((_, i) => 0xa0 + i);

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("container round-trips records with both codecs and several blocks", () => {
  for (const codec of ["deflate", "null"] as const) {
    const input = rows(500);
    const bytes = writeContainer(schema, input, {
      codec,
      metadata: { "snapshot-id": "42", "ünïcode": "välue" },
      blockBytes: 1024,
    });
    const read = readContainer(bytes);
    assert.equal(read.codec, codec);
    assert.deepEqual(read.schema, schema);
    assert.equal(read.metadata["snapshot-id"], "42");
    assert.equal(read.metadata["ünïcode"], "välue");
    assert.equal(read.metadata["avro.codec"], codec);
    assert.equal(read.records.length, 500);
    const plain = read.records.map((r) => {
      const { id, name, blob } = r as { id: bigint; name: string | null; blob: Uint8Array };
      return { id, name, blob: Buffer.from(blob) };
    });
    assert.deepEqual(plain, input);
  }
});

Deno.test("container keeps every 64-bit long exactly", () => {
  const longSchema: AvroSchema = { type: "array", items: "long" };
  const values = [0n, -1n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 123];
  const [read] = readContainer(writeContainer(longSchema, [values])).records as bigint[][];
  assert.deepEqual(read, [0n, -1n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 123n]);
});

Deno.test("container with no records has a header and no blocks", () => {
  const bytes = writeContainer(schema, [], { syncMarker: SYNC });
  assert.equal(indexOf(bytes, SYNC), bytes.length - 16);
  assert.deepEqual(readContainer(bytes).records, []);
});

Deno.test("container output is deterministic for a given sync marker", () => {
  const a = writeContainer(schema, rows(10), { syncMarker: SYNC });
  const b = writeContainer(schema, rows(10), { syncMarker: SYNC });
  assert.deepEqual(a, b);
});

Deno.test("container writer names the field of an invalid record", () => {
  assert.throws(
    () => writeContainer(schema, [{ id: 1n, name: null, blob: Buffer.from([]) }, { id: 1.5 }]),
    /record #1: field id: a number with a fraction is not a valid long/,
  );
  assert.throws(
    () => writeContainer(schema, [{ id: 2n ** 64n, name: null, blob: Buffer.from([]) }]),
    /field id: an integer beyond 64 bits is not a valid long/,
  );
  assert.throws(
    () => writeContainer(schema, [{ id: 1n, name: 7, blob: Buffer.from([]) }]),
    /field name: an integer is not a valid null or string/,
  );
  // Records carry table data: an error names the field and the value's type, not the value.
  assert.throws(
    () => writeContainer(schema, [{ id: "zzPLANTEDzz", name: null, blob: Buffer.from([]) }]),
    (e: Error) =>
      /field id: a string of 11 characters is not a valid long/.test(e.message) &&
      !e.message.includes("PLANTED"),
  );
  assert.throws(() => writeContainer(schema, [], { metadata: { "avro.codec": "x" } }), /reserved/);
});

Deno.test("container reader rejects a corrupted sync marker", () => {
  const bytes = writeContainer(schema, rows(50), { syncMarker: SYNC, blockBytes: 256 });
  const header = indexOf(bytes, SYNC);
  const firstBlockSync = indexOf(bytes, SYNC, header + 16);
  const secondBlockSync = indexOf(bytes, SYNC, firstBlockSync + 16);
  assert.ok(header > 0 && firstBlockSync > header && secondBlockSync > firstBlockSync);

  const corrupt = bytes.slice();
  corrupt[secondBlockSync + 5] ^= 0xff;
  assert.throws(
    () => readContainer(corrupt),
    (e: Error) =>
      e instanceof AvroFormatError &&
      /sync marker after block 1 \(byte \d+\) does not match the header's/.test(e.message),
  );

  const badHeader = bytes.slice();
  badHeader[header] ^= 0xff;
  assert.throws(() => readContainer(badHeader), /sync marker after block 0 .* does not match/);
});

Deno.test("container reader names what a truncated file is missing", () => {
  const bytes = writeContainer(schema, rows(50), { syncMarker: SYNC, blockBytes: 256 });
  // Cutting right after a block's sync marker leaves a shorter but valid file: Avro
  // has no end marker. Every other cut must fail with a clear message.
  const boundaries = new Set<number>();
  for (let at = indexOf(bytes, SYNC); at >= 0; at = indexOf(bytes, SYNC, at + 16)) {
    boundaries.add(at + 16);
  }
  for (let length = 0; length < bytes.length; length++) {
    if (boundaries.has(length)) continue;
    assert.throws(
      () => readContainer(bytes.subarray(0, length)),
      (e: Error) => e instanceof AvroFormatError && /^truncated Avro file: /.test(e.message),
      `cut at ${length} of ${bytes.length}`,
    );
  }
  const inBlock = bytes.subarray(0, bytes.length - 40);
  assert.throws(
    () => readContainer(inBlock),
    /truncated Avro file: data of block \d+ at byte \d+ needs \d+ bytes but only \d+ remain/,
  );
  assert.throws(
    () => readContainer(bytes.subarray(0, bytes.length - 3)),
    /truncated Avro file: sync marker after block \d+ \(byte \d+\) is missing; only 13 of 16/,
  );
  assert.throws(() => readContainer(bytes.subarray(0, 2)), /shorter than the 4-byte magic/);
});

Deno.test("container reader rejects damaged block data and foreign files", () => {
  const bytes = writeContainer(schema, rows(20), { syncMarker: SYNC });
  const blockSync = indexOf(bytes, SYNC, indexOf(bytes, SYNC) + 16);
  const damaged = bytes.slice();
  damaged.fill(0xff, blockSync - 30, blockSync);
  assert.throws(() => readContainer(damaged), /corrupt Avro file: block 0/);

  assert.throws(
    () => readContainer(new TextEncoder().encode("PAR1 not avro")),
    /not an Avro object container file: missing magic/,
  );
});

Deno.test("container reader explains an unsupported codec", () => {
  const bytes = writeContainer(schema, rows(3), { codec: "null" });
  const key = new TextEncoder().encode("avro.codec");
  const at = indexOf(bytes, key) + key.length;
  // Replace the value "null" (length 4, zigzag 0x08) with "snappy" (length 6).
  assert.deepEqual([...bytes.subarray(at, at + 5)], [0x08, ...new TextEncoder().encode("null")]);
  const snappy = new Uint8Array([
    ...bytes.subarray(0, at),
    0x0c,
    ...new TextEncoder().encode("snappy"),
    ...bytes.subarray(at + 5),
  ]);
  assert.throws(
    () => readContainer(snappy),
    /unsupported Avro codec "snappy" \(supported: null, deflate\)/,
  );
});

/** An Avro container header with the given metadata entries, then `rest` (blocks). */
function container(entries: [string, string][], rest: number[] = []): Uint8Array {
  const utf8 = new TextEncoder();
  const out: number[] = [0x4f, 0x62, 0x6a, 0x01];
  const long = (n: number) => {
    let v = n >= 0 ? n * 2 : -n * 2 - 1;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
  };
  long(entries.length);
  for (const [key, value] of entries) {
    for (const text of [key, value]) {
      const bytes = utf8.encode(text);
      long(bytes.length);
      out.push(...bytes);
    }
  }
  long(0);
  out.push(...SYNC, ...rest);
  return new Uint8Array(out);
}

Deno.test("container reader errors never quote the file's content", () => {
  const secret = "zzPLANTEDSECRETzz";
  const good = JSON.stringify(schema);
  const cases: [Uint8Array, RegExp][] = [
    [
      container([["avro.schema", `{"type": ${secret}}`]]),
      /avro\.schema is not valid JSON: unexpected character .* at line 1, column 10$/,
    ],
    [container([["avro.schema", JSON.stringify({ type: secret })]]), /not a valid Avro schema$/],
    [
      container([["avro.schema", JSON.stringify({ type: "enum", name: "e", symbols: [secret] })]], [
        2, // one record
        2, // of one byte
        0x0e, // enum index 7 of 1 symbol
        ...SYNC,
      ]),
      /record 0 of block 0 does not decode with the file's schema$/,
    ],
    [
      container([["avro.schema", good], ["avro.codec", secret]], [2, 2, 0, ...SYNC]),
      /unsupported Avro codec of an unknown name/,
    ],
    [
      // Cut inside the value of an entry whose key is the secret.
      container([[secret, "x".repeat(100)], ["avro.schema", good]]).subarray(0, 35),
      /truncated Avro file: value of metadata entry 0 at byte 25 needs 100 bytes/,
    ],
  ];
  for (const [bytes, expected] of cases) {
    assert.throws(() => readContainer(bytes), (e: Error) => {
      assert.ok(e instanceof AvroFormatError, String(e));
      assert.match(e.message, expected);
      assert.ok(!e.message.includes("PLANTED"), e.message);
      return true;
    });
  }
});
