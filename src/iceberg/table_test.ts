import assert from "node:assert/strict";
import { MemoryCatalog } from "../catalog/memory.ts";
import { LakehouseError } from "../core/errors.ts";
import { MemoryStore } from "../storage/memory.ts";
import { writeContainer } from "./avro/container.ts";
import { loadTable, ManifestReader } from "./table.ts";
import type { ManifestFile, Snapshot } from "./spec/types.ts";

const SECRET = "zzPLANTEDSECRETzz";
const ID = { namespace: ["shop"], name: "t" };

/** Asserts the promise fails naming `location`, matching `expected`, without the secret. */
async function failsWithoutSecret(
  promise: Promise<unknown>,
  location: string,
  expected: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.ok(error instanceof LakehouseError, String(error));
    assert.ok(error.message.includes(location), error.message);
    assert.match(error.message, expected);
    assert.ok(!error.message.includes("PLANTED"), error.message);
    return true;
  });
}

Deno.test("a catalog row pointing at a file that is not metadata: the error names it, never quotes it", async () => {
  const store = new MemoryStore({ root: "memory://wh/" });
  const catalog = new MemoryCatalog();
  await catalog.ensureNamespace(ID.namespace);
  const cases: [string, string, RegExp][] = [
    // A credentials file: JSON, but not metadata.
    [
      "memory://wh/creds.json",
      `{"aws_secret_access_key": "${SECRET}"}`,
      /invalid table metadata memory:\/\/wh\/creds\.json: format-version is missing/,
    ],
    // A config file with a typo where the secret starts (JSON.parse would quote it).
    [
      "memory://wh/config.json",
      `{\n  "format-version": 2,\n  "s3-secret-key": ${SECRET}\n}`,
      /invalid table metadata memory:\/\/wh\/config\.json: the file is not valid JSON: unexpected character \(expected a value; text needs double quotes\) at line 3, column 20$/,
    ],
    // An env file: not JSON at all.
    [
      "memory://wh/.env",
      `S3_SECRET_KEY=${SECRET}\n`,
      /invalid table metadata memory:\/\/wh\/\.env: the file is not valid JSON: unexpected character \(expected a value; text needs double quotes\) at line 1, column 1$/,
    ],
    // Metadata-looking JSON cut in the middle of a secret.
    [
      "memory://wh/cut.metadata.json",
      `{\n  "format-version": 2,\n  "table-uuid": "${SECRET}`,
      /the file is not valid JSON: unterminated string at line 3, column 17$/,
    ],
  ];
  for (const [i, [location, text, expected]] of cases.entries()) {
    await store.put(location, new TextEncoder().encode(text));
    const id = { ...ID, name: `t${i}` };
    await catalog.createTable(id, location);
    await failsWithoutSecret(loadTable(catalog, store, id), location, expected);
  }
});

Deno.test("manifest lists and manifests that are not what they should be: named, never quoted", async () => {
  const store = new MemoryStore({ root: "memory://wh/" });
  const reader = new ManifestReader(store);
  const notAvro = "memory://wh/metadata/snap-1.avro";
  await store.put(notAvro, new TextEncoder().encode(`password=${SECRET}`));
  const snapshot = { "manifest-list": notAvro } as unknown as Snapshot;
  await failsWithoutSecret(
    reader.manifestList(snapshot),
    notAvro,
    /^invalid manifest list memory:\/\/wh\/metadata\/snap-1\.avro: not an Avro object container file/,
  );

  // An Avro file of some other kind whose records hold the secret.
  const foreign = "memory://wh/metadata/m0.avro";
  await store.put(
    foreign,
    writeContainer({ type: "record", name: "r", fields: [{ name: "s", type: "string" }] }, [
      { s: SECRET },
    ]),
  );
  const manifest = { manifestPath: foreign, sequenceNumber: 1n, addedSnapshotId: 1n };
  await failsWithoutSecret(
    reader.manifest(manifest as ManifestFile),
    foreign,
    /^invalid manifest memory:\/\/wh\/metadata\/m0\.avro: unexpected Avro schema: manifest_entry has no field 2/,
  );
});
