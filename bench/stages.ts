/**
 * Engine CPU per event, whole process and per thread group, for one or more
 * builds of the engine drained alternately from the same preloaded topic
 * (compare builds only within one run: the machine is shared and noisy).
 *
 * Each run is `lakehouse run --stop-after N` of a build on a fresh warehouse
 * and consumer group. The process's user + sys CPU comes from GNU time at
 * exit; the per-thread split from /proc/PID/task/TID/stat sampled every
 * 100 ms (a thread's last sample before it exits): `deno` is the main
 * thread (kafkajs fetch, batching, commits), `worker-1` the decode worker,
 * `tokio-runtime-w` the blocking pool DuckDB's queries and file I/O run on,
 * `V8` the garbage collector's helpers. Start-up (the process until its
 * first records are committed) is the CPU of a run over a small topic
 * (--startup-count events, 2,000 by default: one batch) and is subtracted.
 *
 *   deno task bench stages [-- --count N] [--rounds R] [--build DIR ...]
 *     [--topic T --startup-topic S] [--startup-count N] [--tables LIST]
 *
 * Without --topic, both topics are preloaded (seeded, 0.1% bad records, as
 * the drain benchmark) and removed afterwards; with it, topics preloaded
 * earlier (`lakehouse generate --count N --rate 0 --bad-rate 0.001`) are
 * reused, which saves the preload across runs. A build is a checkout's
 * directory (default: this one), e.g. a `git worktree` of the commit to
 * compare with, optionally followed by engine options to compare settings:
 * `--build ". --fetch-bytes 1048576"`.
 */
import { parseArgs } from "node:util";
import { deleteTopic, preloadTopic } from "./_topics.ts";
import { ThreadSampler } from "./_threads.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    topic: { type: "string" },
    "startup-topic": { type: "string" },
    "startup-count": { type: "string", default: "2000" },
    count: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    build: { type: "string", multiple: true },
    brokers: { type: "string", default: Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092" },
    tables: { type: "string", default: "events,current,rejects" },
    "max-records-per-trigger": { type: "string", default: "200000" },
  },
});
if (Boolean(values.topic) !== Boolean(values["startup-topic"])) {
  console.error("--topic and --startup-topic go together (or neither: both are preloaded)");
  Deno.exit(2);
}
for (const name of ["count", "rounds", "startup-count"] as const) {
  const value = values[name]!;
  if (!/^[1-9]\d*$/.test(value)) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
    Deno.exit(2);
  }
}
const count = Number(values.count);
const startupCount = Number(values["startup-count"]);
const preloaded: string[] = [];
if (!values.topic) {
  const stamp = Date.now();
  values.topic = `bench-stages-${stamp}`;
  values["startup-topic"] = `bench-stages-startup-${stamp}`;
  for (
    const [topic, n] of [[values.topic, count], [values["startup-topic"], startupCount]] as const
  ) {
    await preloadTopic(values.brokers!, topic, n, "stages");
    preloaded.push(topic);
  }
}
const rounds = Number(values.rounds);
const builds = values.build ?? [new URL("..", import.meta.url).pathname];

interface Sample {
  cpuSeconds: number;
  wallSeconds: number;
  peakRssMiB: number;
  threads: Map<string, number>;
}

async function drain(build: string, topic: string, stopAfter: number): Promise<Sample> {
  const [checkout, ...engineArgs] = build.split(" ").filter((w) => w !== "");
  const dir = await Deno.makeTempDir({ prefix: "stages-" });
  const started = performance.now();
  const child = new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "TIME %U %S %M",
      Deno.execPath(),
      "run",
      "--allow-all",
      `${checkout}/main.ts`,
      "run",
      "--brokers",
      values.brokers!,
      "--topic",
      topic,
      "--group-id",
      `stages-${crypto.randomUUID()}`,
      "--warehouse",
      `${dir}/wh`,
      "--state-dir",
      `${dir}/state`,
      "--tables",
      values.tables!,
      "--max-records-per-trigger",
      values["max-records-per-trigger"]!,
      "--stop-after",
      String(stopAfter),
      ...engineArgs,
    ],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const sampler = new ThreadSampler(child.pid, true);
  const out = await child.output();
  const threads = sampler.stop();
  const wallSeconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(out.stderr);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const time = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!out.success || time === null) throw new Error(`engine failed:\n${stderr.slice(-3000)}`);
  const committed = /stopped: (\d+) records committed/.exec(stderr);
  if (!committed || Number(committed[1]) !== stopAfter) {
    throw new Error(`engine committed ${committed?.[1]} of ${stopAfter}:\n${stderr.slice(-3000)}`);
  }
  return {
    cpuSeconds: Number(time[1]) + Number(time[2]),
    wallSeconds,
    peakRssMiB: Math.round(Number(time[3]) / 1024),
    threads,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

try {
  await report();
} finally {
  for (const topic of preloaded) await deleteTopic(values.brokers!, topic);
}

async function report(): Promise<void> {
  const startup = new Map<string, Sample[]>();
  const full = new Map<string, Sample[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const build of builds) {
      const s0 = await drain(build, values["startup-topic"]!, startupCount);
      const s = await drain(build, values.topic!, count);
      (startup.get(build) ?? startup.set(build, []).get(build)!).push(s0);
      (full.get(build) ?? full.set(build, []).get(build)!).push(s);
      const us = ((s.cpuSeconds - s0.cpuSeconds) / count) * 1e6;
      const split = [...s.threads].sort().map(([k, v]) => `${k} ${v.toFixed(1)}s`).join(", ");
      console.log(
        `round ${round} ${build}: ${us.toFixed(1)} us/event (cpu ${s.cpuSeconds.toFixed(1)} s, ` +
          `start-up ${s0.cpuSeconds.toFixed(1)} s), wall ${s.wallSeconds.toFixed(1)} s, ` +
          `peak RSS ${s.peakRssMiB} MiB; threads: ${split}`,
      );
    }
  }
  console.log(`\nmedians over ${rounds} rounds, ${count} events, tables ${values.tables}:`);
  for (const build of builds) {
    const runs = full.get(build)!;
    const s0 = median(startup.get(build)!.map((s) => s.cpuSeconds));
    const groups = new Set(runs.flatMap((r) => [...r.threads.keys()]));
    const perStage = [...groups].sort().map((g) =>
      `${g} ${(median(runs.map((r) => r.threads.get(g) ?? 0)) / count * 1e6).toFixed(1)}`
    ).join(", ");
    console.log(
      `${build}: ` +
        `${((median(runs.map((r) => r.cpuSeconds)) - s0) / count * 1e6).toFixed(1)} us/event, ` +
        `drain ${Math.round(count / median(runs.map((r) => r.wallSeconds)))} events/s wall, ` +
        `peak RSS ${median(runs.map((r) => r.peakRssMiB))} MiB; us/event by thread: ${perStage}`,
    );
  }
}
