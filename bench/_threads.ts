/**
 * CPU seconds of a process's threads, grouped by name, sampled from
 * /proc/PID/task/TID/stat every 100 ms while it runs (each thread's last
 * sample before it exits): `deno` is the engine's main thread, `worker-1` the
 * decode worker, `tokio-runtime-w` the blocking pool DuckDB runs on, `V8` the
 * garbage collector's helpers. Linux only; elsewhere the map stays empty.
 */
const TICKS = 100; // USER_HZ: /proc times are in 1/100 s.

export class ThreadSampler {
  readonly #ticks = new Map<number, { name: string; ticks: number }>();
  readonly #timer: ReturnType<typeof setInterval>;
  #pid: number | undefined;

  /**
   * Samples `pid`, or, with `child`, the first child of `pid` (a process
   * started under GNU time).
   */
  constructor(pid: number, child = false) {
    if (!child) this.#pid = pid;
    this.#timer = setInterval(() => this.#sample(pid), 100);
  }

  #sample(parent: number): void {
    try {
      if (this.#pid === undefined) {
        const kids = Deno.readTextFileSync(`/proc/${parent}/task/${parent}/children`).trim();
        if (kids === "") return;
        this.#pid = Number(kids.split(" ")[0]);
      }
      const pid = this.#pid;
      for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
        const tid = Number(entry.name);
        try {
          const name = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/comm`).trim();
          const stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
          const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
          this.#ticks.set(tid, { name, ticks: Number(fields[11]) + Number(fields[12]) });
        } catch {
          // The thread exited between the listing and the read.
        }
      }
    } catch {
      // The process is gone (or this is not Linux).
    }
  }

  /** Stops sampling; CPU seconds by thread group. */
  stop(): Map<string, number> {
    clearInterval(this.#timer);
    const threads = new Map<string, number>();
    for (const { name, ticks } of this.#ticks.values()) {
      const group = name.replace(/[-\d]+$/, "").startsWith("V8") ? "V8" : name;
      threads.set(group, (threads.get(group) ?? 0) + ticks / TICKS);
    }
    return threads;
  }
}
