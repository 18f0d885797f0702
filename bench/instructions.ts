/**
 * Engine instructions per event, counted by valgrind's callgrind: a number
 * the machine's noise does not move (CPU time swings with the hypervisor's
 * steal and the neighbours; this VM has no hardware counters for `perf
 * stat`). Compare builds with it, and read the split by code to see which
 * part a change moved.
 *
 * Each build drains a preloaded topic under callgrind twice: --startup-count
 * events (the process's start and one small batch) and --count events (or
 * the few more its last fetch brought); the difference divided by the
 * difference in records committed is the cost per event, the start-up
 * taken out. Batches close by count only (--batch records, the
 * trigger interval set far away): under callgrind the engine runs some 50
 * times slower, and batches closed by time would be smaller than in a real
 * run. Counted: user-space instructions of every thread (the kernel's work
 * in system calls is not; `bench stages` measures it as CPU time). A run of
 * 100,000 events takes about 5 minutes.
 *
 * The split by code (each instruction counted where it ran, not where it was
 * called from): DuckDB (libduckdb.so), V8-compiled JavaScript (code valgrind
 * finds in no file), the deno binary (V8's builtins, runtime and garbage
 * collector, Deno's I/O and the Node compatibility layer), libc (memcpy,
 * malloc) and the rest. The split by thread (bench/_callgrind.ts tells them
 * apart): main (fetch, batching, commits), the decode worker, DuckDB's
 * threads, V8's helper threads (garbage collection).
 *
 * V8 runs with --single-threaded by default (--v8-flags): valgrind runs one
 * thread at a time, so with V8's compilers on background threads when a
 * function reaches optimized code depends on the scheduling, and the same
 * build's JavaScript counted 32,000 or 49,000 instructions per event from
 * one run to the next; compiled on the thread that runs the code, it tiers
 * up at the same point every run. The garbage collector's work moves to the
 * JavaScript threads with it (the "V8 helpers" group is then near empty).
 *
 *   deno task bench instructions [-- --count N] [--startup-count N] [--batch N]
 *     [--build DIR ...] [--topic T --startup-topic S] [--tables LIST]
 *     [--v8-flags FLAGS]
 *
 * Without --topic both topics are preloaded (seeded, 0.1% bad records) and
 * removed afterwards. A build is a checkout's directory (default: this one),
 * e.g. a `git worktree` of the commit to compare with, optionally followed by
 * engine options: `--build ". --duckdb-threads 2"`.
 */
import { parseArgs } from "node:util";
import { type Count, parseCallgrind, sumThreads, THREAD_GROUPS } from "./_callgrind.ts";
import { deleteTopic, preloadTopic } from "./_topics.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    topic: { type: "string" },
    "startup-topic": { type: "string" },
    "startup-count": { type: "string", default: "2000" },
    count: { type: "string", default: "100000" },
    batch: { type: "string", default: "50000" },
    build: { type: "string", multiple: true },
    brokers: { type: "string", default: Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092" },
    tables: { type: "string", default: "events,current,rejects" },
    "v8-flags": { type: "string", default: "--single-threaded" },
  },
});
if (Boolean(values.topic) !== Boolean(values["startup-topic"])) {
  console.error("--topic and --startup-topic go together (or neither: both are preloaded)");
  Deno.exit(2);
}
for (const name of ["count", "startup-count", "batch"] as const) {
  if (!/^[1-9]\d*$/.test(values[name]!)) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(values[name])}`);
    Deno.exit(2);
  }
}
const count = Number(values.count);
const startupCount = Number(values["startup-count"]);
if (startupCount >= count) {
  console.error(`--startup-count (${startupCount}) must be below --count (${count})`);
  Deno.exit(2);
}
const valgrind = await new Deno.Command("valgrind", { args: ["--version"], stdout: "piped" })
  .output().catch(() => undefined);
if (!valgrind?.success) {
  console.error("valgrind is not installed (Debian: apt-get install valgrind)");
  Deno.exit(2);
}

const preloaded: string[] = [];
if (!values.topic) {
  const stamp = Date.now();
  values.topic = `bench-instr-${stamp}`;
  values["startup-topic"] = `bench-instr-startup-${stamp}`;
  for (
    const [topic, n] of [[values.topic, count], [values["startup-topic"], startupCount]] as const
  ) {
    await preloadTopic(values.brokers!, topic, n, "instructions");
    preloaded.push(topic);
  }
}
const builds = values.build ?? [new URL("..", import.meta.url).pathname];

/** A run's instructions, by code and by thread, and the records it committed. */
type Run = Count & { byThread: Map<string, number>; records: number };

/** A run's instructions and the records it committed (a fetch may take it past --stop-after). */
async function counted(
  build: string,
  topic: string,
  stopAfter: number,
): Promise<Run> {
  const [checkout, ...engineArgs] = build.split(" ").filter((w) => w !== "");
  const dir = await Deno.makeTempDir({ prefix: "instructions-" });
  try {
    const out = await new Deno.Command("valgrind", {
      args: [
        "--tool=callgrind",
        // V8 writes and rewrites the machine code it runs.
        "--smc-check=all-non-file",
        `--callgrind-out-file=${dir}/callgrind.out`,
        "--separate-threads=yes",
        "--dump-instr=no",
        "--collect-jumps=no",
        Deno.execPath(),
        "run",
        "--allow-all",
        ...(values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : []),
        `${checkout}/main.ts`,
        "run",
        ...["--brokers", values.brokers!, "--topic", topic],
        ...["--group-id", `instructions-${crypto.randomUUID()}`],
        ...["--warehouse", `${dir}/wh`, "--state-dir", `${dir}/state`],
        ...["--tables", values.tables!, "--max-records-per-trigger", values.batch!],
        ...["--trigger-interval", "1h", "--stop-after", String(stopAfter)],
        ...engineArgs,
      ],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    const committed = /stopped: (\d+) records committed/.exec(stderr);
    if (!out.success || !committed || Number(committed[1]) < stopAfter) {
      throw new Error(
        `engine under callgrind committed ${committed?.[1]} of ${stopAfter}:\n${
          stderr.slice(-3000)
        }`,
      );
    }
    const threads = [];
    for await (const entry of Deno.readDir(dir)) {
      const thread = /^callgrind\.out-(\d+)$/.exec(entry.name);
      if (thread === null) continue;
      const count = parseCallgrind(await Deno.readTextFile(`${dir}/${entry.name}`));
      threads.push({ thread: Number(thread[1]), ...count });
    }
    return { ...sumThreads(threads), records: Number(committed[1]) };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

try {
  console.log(
    `instructions per event: ${count} - ${startupCount} events, batches of ${values.batch}, ` +
      `tables ${values.tables}`,
  );
  for (const build of builds) {
    const small = await counted(build, values["startup-topic"]!, startupCount);
    const large = await counted(build, values.topic!, count);
    const per = (a: number, b: number) => (a - b) / (large.records - small.records);
    const splitOf = (keys: string[], of: (c: Run) => Map<string, number>) =>
      keys.map((k) =>
        `${k} ${Math.round(per(of(large).get(k) ?? 0, of(small).get(k) ?? 0)).toLocaleString("en")}`
      ).join(", ");
    const split = splitOf(["duckdb", "js", "deno", "libc", "other"], (c) => c.byCode);
    const threads = splitOf([...THREAD_GROUPS], (c) => c.byThread);
    console.log(
      `${build}: ${Math.round(per(large.total, small.total)).toLocaleString("en")} ` +
        `instructions/event (${large.records} - ${small.records} records, start-up run ` +
        `${(small.total / 1e9).toFixed(2)} G)\n  by code: ${split}\n  by thread: ${threads}`,
    );
  }
} finally {
  for (const topic of preloaded) await deleteTopic(values.brokers!, topic);
}
