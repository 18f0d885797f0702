/**
 * lakehouse: wiring only. Builds the process context (args, env, signals,
 * stdio) and hands it to the command dispatcher.
 */
import { runCli } from "./src/cli/mod.ts";

const encoder = new TextEncoder();
const controller = new AbortController();
let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    // First signal: finish cleanly (flush, commit, close). Second: leave now.
    if (++interrupts > 1) Deno.exit(130);
    controller.abort();
  });
}

const status = await runCli({
  args: Deno.args,
  env: (name) => Deno.env.get(name),
  readFile: (path) => Deno.readTextFileSync(path),
  signal: controller.signal,
  stdout: (text) => Deno.stdout.writeSync(encoder.encode(text)),
  stderr: (text) => Deno.stderr.writeSync(encoder.encode(text)),
  isTerminal: Deno.stderr.isTerminal(),
});
Deno.exit(status);
