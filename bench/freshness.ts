/**
 * Freshness under sustained load: `lakehouse generate` produces at --rate
 * for --duration into a fresh topic while `lakehouse run` commits; the engine
 * reports, from each record's Kafka timestamp (set when produced) to the
 * commit that made it visible, p50 / p99 / max. Peak RSS of the engine comes
 * from /proc (VmHWM).
 *
 *   deno task bench freshness [--rate 50000] [--duration 10m]
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "50000" },
    duration: { type: "string", default: "10m" },
    brokers: { type: "string", default: Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092" },
    "trigger-interval": { type: "string", default: "2s" },
  },
});
const main = new URL("../main.ts", import.meta.url).pathname;
const topic = `bench-fresh-${Date.now()}`;
const dir = await Deno.makeTempDir();
const spawn = (args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, ...args],
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
    "--trigger-interval",
    values["trigger-interval"]!,
    "--idle-exit",
    "10s",
  ]);
  let peakKiB = 0;
  const sampler = setInterval(async () => {
    try {
      const status = await Deno.readTextFile(`/proc/${engine.pid}/status`);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
    } catch {
      // the process has exited
    }
  }, 1000);
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
  ]);
  const gen = await generator.output();
  const genText = new TextDecoder().decode(gen.stderr);
  const out = await engine.output();
  clearInterval(sampler);
  const text = new TextDecoder().decode(out.stderr);
  const done = /done: (\d+) messages .* in ([\d.]+)s = (\d+)\/s/.exec(genText);
  const stopped =
    /stopped: (\d+) records committed .* freshness p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms/
      .exec(text);
  if (!done || !stopped) throw new Error(`unexpected output:\n${genText}\n${text}`);
  console.log(
    `generator: ${done[1]} events in ${done[2]} s (${done[3]}/s, target ${values.rate}/s)`,
  );
  console.log(`engine: ${stopped[1]} records committed`);
  console.log(
    `freshness (Kafka timestamp -> commit): p50 ${stopped[2]} ms, p99 ${stopped[3]} ms, max ${
      stopped[4]
    } ms`,
  );
  console.log(`engine peak RSS: ${(peakKiB / 1024).toFixed(0)} MiB`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
