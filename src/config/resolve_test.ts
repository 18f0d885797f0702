import assert from "node:assert/strict";
import { UsageError } from "../core/errors.ts";
import { formatDuration, type OptionSpec, parseDuration } from "./options.ts";
import { formatOptionsHelp, resolveOptions } from "./resolve.ts";

const SPECS: OptionSpec[] = [
  { name: "rate", type: "number", min: 0, default: 100, description: "rate" },
  { name: "count", type: "integer", min: 1, description: "count" },
  { name: "trigger-interval", type: "duration", min: 1, default: "2s", description: "interval" },
  { name: "mode", type: "choice", choices: ["a", "b"], default: "a", description: "mode" },
  { name: "verbose", type: "boolean", default: false, description: "verbose" },
  { name: "secret-key", type: "string", secret: true, description: "secret" },
];

function resolve(
  args: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
) {
  return resolveOptions({
    command: "test",
    specs: SPECS,
    args,
    env: (name) => env[name],
    readFile: (path) => {
      if (!(path in files)) throw new Error(`No such file: ${path}`);
      return files[path];
    },
  });
}

Deno.test("resolveOptions uses defaults when nothing is set", () => {
  const { values, sources } = resolve([]);
  assert.equal(values.rate, 100);
  assert.equal(values["trigger-interval"], 2000);
  assert.equal(values.count, undefined);
  assert.equal(sources.rate, "default");
});

Deno.test("resolveOptions ranks flags over env over config file over defaults", () => {
  const files = { "c.json": JSON.stringify({ rate: 3, count: 30, mode: "b" }) };
  const env = { LAKEHOUSE_RATE: "2", LAKEHOUSE_COUNT: "20", LAKEHOUSE_CONFIG: "c.json" };
  const { values, sources } = resolve(["--rate", "1"], env, files);
  assert.equal(values.rate, 1);
  assert.equal(values.count, 20);
  assert.equal(values.mode, "b");
  assert.equal(sources.rate, "flag");
  assert.equal(sources.count, "LAKEHOUSE_COUNT");
  assert.equal(sources.mode, "c.json");
});

Deno.test("resolveOptions rejects an unknown flag naming it", () => {
  assert.throws(
    () => resolve(["--rat", "5"]),
    (e: Error) => e instanceof UsageError && /--rat/.test(e.message),
  );
});

Deno.test("resolveOptions rejects a value out of range naming option and value", () => {
  assert.throws(
    () => resolve(["--rate", "-5"]),
    (e: Error) =>
      e instanceof UsageError && e.message.includes("--rate") && e.message.includes('"-5"'),
  );
});

Deno.test("resolveOptions names the env var a bad value came from", () => {
  assert.throws(
    () => resolve([], { LAKEHOUSE_COUNT: "1.5" }),
    (e: Error) => e.message.includes("LAKEHOUSE_COUNT") && e.message.includes("integer"),
  );
});

Deno.test("resolveOptions rejects unknown keys and bad JSON in the config file", () => {
  assert.throws(
    () => resolve(["--config", "c.json"], {}, { "c.json": '{"nope": 1}' }),
    /unknown option "nope"/,
  );
  assert.throws(() => resolve(["--config", "c.json"], {}, { "c.json": "{" }), /not valid JSON/);
  assert.throws(
    () => resolve(["--config", "missing.json"]),
    /cannot read config file missing.json/,
  );
});

Deno.test("resolveOptions never echoes a secret value", () => {
  const specs: OptionSpec[] = [{ name: "key", type: "integer", secret: true, description: "k" }];
  assert.throws(
    () =>
      resolveOptions({
        command: "t",
        specs,
        args: ["--key", "hunter2"],
        env: () => undefined,
        readFile: () => "",
      }),
    (e: Error) => !e.message.includes("hunter2") && e.message.includes("<hidden>"),
  );
});

Deno.test("resolveOptions rejects extra positional arguments", () => {
  assert.throws(() => resolve(["stray"]), /unexpected argument "stray"/);
});

Deno.test("resolveOptions parses choices and booleans", () => {
  assert.equal(resolve(["--verbose"]).values.verbose, true);
  assert.equal(resolve(["--no-verbose"]).values.verbose, false);
  assert.equal(resolve([], { LAKEHOUSE_VERBOSE: "yes" }).values.verbose, true);
  assert.throws(() => resolve(["--mode", "c"]), /must be one of a, b/);
});

Deno.test("parseDuration accepts units and rejects garbage", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("2s"), 2000);
  assert.equal(parseDuration("1.5m"), 90_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("100"), 100);
  assert.equal(parseDuration("2 weeks"), undefined);
  assert.equal(parseDuration("-1s"), undefined);
  assert.equal(formatDuration(90_000), "90s");
});

Deno.test("formatOptionsHelp lists every option with its env var and default", () => {
  const help = formatOptionsHelp(SPECS);
  for (const spec of SPECS) assert.ok(help.includes(`--${spec.name}`), spec.name);
  assert.ok(help.includes("LAKEHOUSE_TRIGGER_INTERVAL"));
  assert.ok(help.includes("[default: 100]"));
  assert.ok(help.includes("--config FILE"));
});
