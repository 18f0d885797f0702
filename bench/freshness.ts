/**
 * Freshness under sustained load: `lakehouse generate` produces at --rate
 * for --duration into a fresh topic while `lakehouse run` commits; the engine
 * reports, from each record's Kafka timestamp (set when produced) to the
 * commit that made it visible, p50 / p99 / max, and the engine's peak RSS
 * (which it reports itself on Linux).
 *
 * It also prints how busy the machine's cores were over the run (from
 * /proc/stat): generator, broker and engine share them; and the engine's CPU
 * per committed event over the whole run (GNU time, start-up included), by
 * thread. With --steps the engine logs at debug level and the benchmark
 * prints each table's steps per batch (medians over the later half of the
 * batches, when the run is in its steady state): where a live run's time
 * goes, which the drains' seeded events do not show (in a live run an
 * order's events are spread over minutes, so nearly every event changes a
 * row of orders_current and its state store reads a wide recent range).
 *
 *   deno task bench freshness [--rate 50000] [--duration 10m] [--linger-ms 5] [--steps]
 */
import { parseArgs } from "node:util";
import { ThreadSampler } from "./_threads.ts";
import { deleteTopic } from "./_topics.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "50000" },
    duration: { type: "string", default: "10m" },
    brokers: { type: "string", default: Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092" },
    "trigger-interval": { type: "string", default: "1s" },
    // The generator's default unless given (see `lakehouse generate --help`).
    "linger-ms": { type: "string" },
    steps: { type: "boolean", default: false },
  },
});
const main = new URL("../main.ts", import.meta.url).pathname;
const topic = `bench-fresh-${Date.now()}`;
const dir = await Deno.makeTempDir();
const spawn = (args: string[], timed = false) =>
  new Deno.Command(timed ? "/usr/bin/time" : Deno.execPath(), {
    args: [
      ...(timed ? ["-f", "TIME %U %S", Deno.execPath()] : []),
      "run",
      "--allow-all",
      main,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();

try {
  // Create the topic first so the engine can join before events flow.
  const create = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      main,
      "generate",
      "--count",
      "1",
      "--brokers",
      values.brokers!,
      "--topic",
      topic,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (create.code !== 0) throw new Error(new TextDecoder().decode(create.stderr));
  const engine = spawn([
    "run",
    "--brokers",
    values.brokers!,
    "--topic",
    topic,
    "--group-id",
    `bench-${topic}`,
    "--warehouse",
    `${dir}/wh`,
    "--state-dir",
    `${dir}/state`,
    "--trigger-interval",
    values["trigger-interval"]!,
    "--idle-exit",
    "10s",
    ...(values.steps ? ["--log-level", "debug"] : []),
  ], true);
  const sampler = new ThreadSampler(engine.pid, true);
  // Read the engine's log while it runs: a pipe nobody reads fills up (64
  // KiB, minutes of a debug log) and then blocks the engine's writes, and
  // with them its heartbeats to the group.
  const engineDone = engine.output();
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const generator = spawn([
    "generate",
    "--rate",
    values.rate!,
    "--duration",
    values.duration!,
    "--brokers",
    values.brokers!,
    "--topic",
    topic,
    ...(values["linger-ms"] !== undefined ? ["--linger-ms", values["linger-ms"]] : []),
  ]);
  const busyBefore = cpuTimes();
  const gen = await generator.output();
  const busyAfter = cpuTimes();
  const genText = new TextDecoder().decode(gen.stderr);
  const out = await engineDone;
  const threads = sampler.stop();
  const text = new TextDecoder().decode(out.stderr);
  const done = /done: (\d+) messages .* in ([\d.]+)s = (\d+)\/s/.exec(genText);
  const stopped =
    /stopped: (\d+) records committed .* freshness p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms(?: \(orders_current: p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms\))?, peak RSS (\d+) MiB/
      .exec(text);
  if (!done || !stopped) throw new Error(`unexpected output:\n${genText}\n${text}`);
  console.log(
    `generator: ${done[1]} events in ${done[2]} s (${done[3]}/s, target ${values.rate}/s)`,
  );
  console.log(`engine: ${stopped[1]} records committed`);
  console.log(
    `freshness of orders_events (Kafka timestamp -> commit): p50 ${stopped[2]} ms, p99 ${
      stopped[3]
    } ms, max ${stopped[4]} ms`,
  );
  if (stopped[5] !== undefined) {
    console.log(
      `freshness of orders_current: p50 ${stopped[5]} ms, p99 ${stopped[6]} ms, max ${
        stopped[7]
      } ms`,
    );
  }
  console.log(`engine peak RSS: ${stopped[8]} MiB`);
  const time = /TIME ([\d.]+) ([\d.]+)/.exec(text);
  if (time) {
    const perEvent = (seconds: number) => (seconds / Number(stopped[1]) * 1e6).toFixed(1);
    console.log(
      `engine CPU per event: ${
        perEvent(Number(time[1]) + Number(time[2]))
      } us (start-up included)` +
        (threads.size === 0
          ? ""
          : `; by thread: ${
            [...threads].sort().map(([name, s]) => `${name} ${perEvent(s)}`).join(", ")
          }`),
    );
  }
  if (values.steps) printSteps(text);
  if (busyBefore && busyAfter) {
    const busy = busyAfter.busy - busyBefore.busy;
    const total = busy + busyAfter.idle - busyBefore.idle;
    console.log(`cores busy while generating: ${(100 * busy / total).toFixed(0)}%`);
  }
} finally {
  await deleteTopic(values.brokers!, topic);
  await Deno.remove(dir, { recursive: true });
}

/** Busy and idle jiffies of all cores together (Linux), or undefined elsewhere. */
function cpuTimes(): { busy: number; idle: number } | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/)
      .slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
  } catch {
    return undefined;
  }
}

/**
 * Each table's steps per batch from the engine's debug log, medians over the
 * later half of the batches (ms of wall time on the table's DuckDB
 * connection, shared cores included).
 */
function printSteps(log: string): void {
  const steps = new Map<string, number[]>();
  const add = (key: string, ms: number) => steps.set(key, [...(steps.get(key) ?? []), ms]);
  for (const line of log.split("\n")) {
    const staged = /debug (\S+): staged in ms: (.*)$/.exec(line);
    if (staged) {
      // Steps are "label ms", separated by ", " outside parentheses.
      for (const part of staged[2].split(/, (?![^(]*\))/)) {
        const step = /^(.*?)(?: \((.*)\))? (\d+)$/.exec(part);
        if (!step) continue;
        add(`${staged[1]} ${step[1]}`, Number(step[3]));
        // The fetch's own split: "…; keys 12, rows 34, copy 5".
        for (const [, label, ms] of (step[2] ?? "").matchAll(/(keys|rows|copy) (\d+)/g)) {
          add(`${staged[1]} ${step[1]}: ${label}`, Number(ms));
        }
      }
    }
    const events = /debug (\S+): \d+ records staged in (\d+) ms/.exec(line);
    if (events) add(`${events[1]} staged`, Number(events[2]));
    const store = /debug (\S+): state store updated in (\d+) ms/.exec(line);
    if (store) {
      add(`${store[1]} state store update`, Number(store[2]));
      // Its own split: "(catchUp 0, delete 31, insert 95, commit 12, index 20)".
      const parts = /updated in \d+ ms \((.*)\)/.exec(line)?.[1] ?? "";
      for (const [, label, ms] of parts.matchAll(/(\w+) (\d+)/g)) {
        add(`${store[1]} state store update: ${label}`, Number(ms));
      }
    }
    const upload = /debug (\S+): \d+ rows in .*; upload (\d+) ms, commit (\d+) ms/.exec(line);
    if (upload) {
      add(`${upload[1]} upload`, Number(upload[2]));
      add(`${upload[1]} commit`, Number(upload[3]));
    }
    const batch = /debug batch of (\d+) \([^)]*\) committed.*produced (\d+) ms ago/.exec(line);
    if (batch) {
      add("batch size (records)", Number(batch[1]));
      add("batch's oldest record at commit (ms)", Number(batch[2]));
    }
  }
  console.log("steps per batch, medians over the later half of the batches (ms):");
  for (const [key, all] of steps) {
    const later = all.slice(Math.floor(all.length / 2)).sort((a, b) => a - b);
    console.log(`  ${key}: ${later[Math.floor(later.length / 2)]} (${all.length} batches)`);
  }
}
