/**
 * `lakehouse demo` as the issue defines its surface: the same events as
 * `lakehouse generate` for a seed, committed once into an SQLite catalog at
 * DIR/catalog.db that pyiceberg opens as it is; the query command it prints
 * works; a rerun adds nothing.
 */
import assert from "node:assert/strict";
import { systemClock } from "../src/core/clock.ts";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../src/generate/source.ts";
import { readWithPyiceberg } from "./_iceberg.ts";
import { runCli } from "./_services.ts";

Deno.test("demo commits the generator's events once into a catalog pyiceberg opens", async () => {
  const dir = await Deno.makeTempDir();
  const args = [
    "demo",
    "--seed",
    "demo-test",
    "--count",
    "8000",
    "--bad-rate",
    "0.02",
    "--warehouse",
    dir,
  ];
  try {
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /catalog\.db/);
    // The query command the demo ends with runs as printed and agrees with
    // the orders per status it printed.
    const printed = /^ {2}deno task lakehouse query --warehouse (\S+) "([^"]+)"$/m.exec(
      first.stdout,
    );
    assert.ok(printed, `no query command in:\n${first.stdout}`);
    assert.equal(printed[1], dir);
    const queried = await runCli([
      "query",
      "--warehouse",
      printed[1],
      "--format",
      "csv",
      printed[2],
    ]);
    assert.equal(queried.code, 0, queried.stderr);
    const perStatus = (lines: string[]) =>
      lines.map((l) => l.trim().split(/[ ,]+/).join(" ")).sort();
    assert.deepEqual(
      perStatus(queried.stdout.trim().split("\n").slice(1)),
      perStatus(
        [...first.stdout.matchAll(/^ {2}([A-Z]+) +(\d+)$/gm)].map((m) => `${m[1]} ${m[2]}`),
      ),
    );
    const source = new EventSource({
      seed: "demo-test",
      startTimeMs: DEFAULT_SEEDED_START_MS,
      badRate: 0.02,
      clock: systemClock,
    });
    const truth = Array.from({ length: 8000 }, () => source.next());
    const decoder = new TextDecoder();
    const expectedIds = truth.filter((m) => m.kind === "valid")
      .map((m) => JSON.parse(decoder.decode(m.value)).event_id as string).sort();
    const read = async () => {
      const base = { catalog_uri: `sqlite:///${dir}/catalog.db`, warehouse: `file://${dir}` };
      const events = await readWithPyiceberg({ ...base, table: "shop.orders_events" });
      const rejects = await readWithPyiceberg({ ...base, table: "shop.orders_rejects" });
      return {
        ids: (events.rows as { event_id: string }[]).map((r) => r.event_id).sort(),
        rejects: rejects.rows.length,
        snapshots: events.snapshots.length,
      };
    };
    const once = await read();
    assert.deepEqual(once.ids, expectedIds);
    assert.equal(once.rejects, truth.filter((m) => m.kind !== "valid").length);
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /8000 already committed by an earlier run/);
    const twice = await read();
    assert.deepEqual(twice.ids, expectedIds);
    assert.equal(twice.snapshots, once.snapshots, "a rerun must not commit");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
