import assert from "node:assert/strict";
import { UsageError } from "../core/errors.ts";
import { formatDuration, type OptionSpec, parseDuration } from "./options.ts";
import { checkOption, formatOptionsHelp, rejectOption, resolveOptions } from "./resolve.ts";

const SPECS = [
  { name: "rate", type: "number", min: 0, default: 100, description: "rate" },
  { name: "count", type: "integer", min: 1, description: "count" },
  { name: "trigger-interval", type: "duration", min: 1, default: "2s", description: "interval" },
  { name: "mode", type: "choice", choices: ["a", "b"], default: "a", description: "mode" },
  { name: "verbose", type: "boolean", default: false, description: "verbose" },
  { name: "secret-key", type: "string", secret: true, description: "secret" },
] as const satisfies readonly OptionSpec[];

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
  const { values, origins } = resolve([]);
  assert.equal(values.rate, 100);
  assert.equal(values["trigger-interval"], 2000);
  assert.equal(values.count, undefined);
  assert.equal(origins.rate, "default");
});

Deno.test("resolveOptions ranks flags over env over config file over defaults", () => {
  const files = { "c.json": JSON.stringify({ rate: 3, count: 30, mode: "b" }) };
  const env = { LAKEHOUSE_RATE: "2", LAKEHOUSE_COUNT: "20", LAKEHOUSE_CONFIG: "c.json" };
  const { values, origins } = resolve(["--rate", "1"], env, files);
  assert.equal(values.rate, 1);
  assert.equal(values.count, 20);
  assert.equal(values.mode, "b");
  assert.equal(origins.rate, "flag");
  assert.equal(origins.count, "LAKEHOUSE_COUNT");
  assert.equal(origins.mode, "config file c.json");
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

Deno.test("a config file with a JSON typo is named with line, column and problem, never its text", () => {
  const text = '{\n  "rate": 5,\n  "secret-key": zzPLANTEDSECRETzz\n}';
  assert.throws(
    () => resolve(["--config", "/x/c.json"], {}, { "/x/c.json": text }),
    (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.equal(
        e.message,
        "config file /x/c.json is not valid JSON: unexpected character (expected a value; " +
          "text needs double quotes) at line 3, column 17",
      );
      return true;
    },
  );
  assert.throws(
    () => resolve([], { LAKEHOUSE_CONFIG: "c.json" }, { "c.json": '{"rate": 5,}' }),
    /config file c\.json \(from LAKEHOUSE_CONFIG\) is not valid JSON: trailing comma at line 1, column 11$/,
  );
});

Deno.test("resolveOptions never echoes a secret or a config file object", () => {
  const secret = "zzPLANTEDSECRETzz";
  const specs: OptionSpec[] = [
    { name: "key", type: "string", secret: true, description: "k", check: () => "is bad" },
    { name: "endpoint", type: "string", description: "e", check: () => "is bad" },
  ];
  const run = (args: string[], env: Record<string, string>, file: Record<string, unknown>) =>
    resolveOptions({
      command: "t",
      specs,
      args,
      env: (name) => env[name],
      readFile: () => JSON.stringify(file),
    });
  for (
    const attempt of [
      () => run(["--key", secret], {}, {}),
      () => run([], { LAKEHOUSE_KEY: secret }, {}),
      () => run(["--config", "c.json"], {}, { key: secret }),
      () => run(["--config", "c.json"], {}, { key: { nested: secret } }),
      () => run(["--config", "c.json"], {}, { endpoint: { token: secret } }),
      () => run(["--config", "c.json"], {}, { endpoint: [secret] }),
      () => run(["--endpoint", `https://user:${secret}@host/`], {}, {}),
    ]
  ) {
    assert.throws(attempt, (e: Error) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.ok(!e.message.includes("PLANTED"), e.message);
      return true;
    });
  }
  assert.throws(() => run([], { LAKEHOUSE_KEY: secret }, {}), {
    message: "--key (from LAKEHOUSE_KEY) is bad, got <hidden>",
  });
  assert.throws(() => run(["--config", "c.json"], {}, { endpoint: { token: secret } }), {
    message: "--endpoint (from config file c.json) must be a string, got a JSON object",
  });
  assert.throws(() => run(["--endpoint", `https://user:${secret}@host/`], {}, {}), {
    message: '--endpoint is bad, got "https://***@host/"',
  });
});

Deno.test("a noFlag option is refused on the command line, taken from env and config file", () => {
  const specs: OptionSpec[] = [
    { name: "secret-key", type: "string", secret: true, noFlag: true, description: "s" },
  ];
  const run = (args: string[], env: Record<string, string> = {}) =>
    resolveOptions({
      command: "t",
      specs,
      args,
      env: (name) => env[name],
      readFile: () => '{"secret-key": "from-file"}',
    });
  assert.throws(() => run(["--secret-key", "zzPLANTEDzz"]), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /--secret-key is not accepted on the command line/);
    assert.match(e.message, /LAKEHOUSE_SECRET_KEY/);
    assert.ok(!e.message.includes("PLANTED"));
    return true;
  });
  assert.equal(run([], { LAKEHOUSE_SECRET_KEY: "from-env" }).values["secret-key"], "from-env");
  assert.equal(run(["--config", "c.json"]).values["secret-key"], "from-file");
  assert.match(formatOptionsHelp(specs), /environment or config file only/);
});

Deno.test("check hooks run on every source, defaults included, naming where the value came from", () => {
  const specs: OptionSpec[] = [{
    name: "topic",
    type: "string",
    default: "bad default",
    description: "t",
    check: (v) => String(v).includes(" ") ? "must not hold spaces" : undefined,
  }];
  const run = (args: string[], env: Record<string, string> = {}, file = "{}") =>
    resolveOptions({ command: "t", specs, args, env: (n) => env[n], readFile: () => file });
  assert.throws(() => run([]), {
    message: '--topic (from default) must not hold spaces, got "bad default"',
  });
  assert.throws(() => run(["--topic", "a b"]), {
    message: '--topic must not hold spaces, got "a b"',
  });
  assert.throws(() => run([], { LAKEHOUSE_TOPIC: "a b" }), /: --topic \(from LAKEHOUSE_TOPIC\)/);
  assert.throws(
    () => run(["--config", "f.json"], {}, '{"topic": "a b"}'),
    /: --topic \(from config file f\.json\) must not hold spaces/,
  );
  const ok = run(["--topic", "ab"]);
  assert.equal(ok.values.topic, "ab");
  assert.equal(ok.origins.topic, "flag");
  assert.equal(ok.raw.topic, "ab");
});

Deno.test("rejectOption and checkOption name option, origin and the value as given", () => {
  const resolved = resolve([], {
    LAKEHOUSE_TRIGGER_INTERVAL: "2m",
    LAKEHOUSE_SECRET_KEY: "s3cr3t",
  });
  assert.equal(
    rejectOption(resolved, "trigger-interval", "is too long").message,
    '--trigger-interval (from LAKEHOUSE_TRIGGER_INTERVAL) is too long, got "2m"',
  );
  assert.throws(
    () => checkOption(resolved, "secret-key", (v) => v.length < 8 ? "is too short" : undefined),
    { message: "--secret-key (from LAKEHOUSE_SECRET_KEY) is too short, got <hidden>" },
  );
  checkOption(resolved, "count", () => "never called: count is unset");
});

Deno.test("resolved values are typed from the option table", () => {
  const { values } = resolve(["--count", "3"]);
  const rate: number = values.rate;
  const count: number | undefined = values.count;
  const interval: number = values["trigger-interval"];
  const mode: "a" | "b" = values.mode;
  const verbose: boolean = values.verbose;
  const secret: string | undefined = values["secret-key"];
  // @ts-expect-error an option without a default may be unset
  const countSet: number = values.count;
  // @ts-expect-error no option --rat
  const misspelt = values.rat;
  assert.deepEqual(
    { rate, count, interval, mode, verbose, secret, countSet, misspelt },
    {
      rate: 100,
      count: 3,
      interval: 2000,
      mode: "a",
      verbose: false,
      secret: undefined,
      countSet: 3,
      misspelt: undefined,
    },
  );
  assert.ok(Object.isFrozen(values));
  // @ts-expect-error rejectOption takes only names of the command's options
  assert.throws(() => rejectOption(resolve([]), "rat", "is bad"), /no option --rat/);
});
