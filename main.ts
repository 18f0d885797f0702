/**
 * lakehouse: wiring only. Builds the process context (args, env, signals,
 * stdio, exit cleanups) and hands it to the command dispatcher.
 */
import { runCli } from "./src/cli/mod.ts";

const encoder = new TextEncoder();
const controller = new AbortController();

// Cleanups (scratch directories) run however the process ends: a return, a
// forced exit, a second Ctrl-C, an error nothing caught.
const cleanups: (() => void)[] = [];
let cleaned = false;
function cleanUp(): void {
  if (cleaned) return;
  cleaned = true;
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch {
      // Best effort: the next start sweeps what is left.
    }
  }
}
globalThis.addEventListener("unload", cleanUp);
function exit(code: number): never {
  cleanUp();
  Deno.exit(code);
}
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  const reason = event.reason instanceof Error ? event.reason.stack : String(event.reason);
  Deno.stderr.writeSync(encoder.encode(`lakehouse: unexpected failure: ${reason}\n`));
  exit(1);
});

let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    // First signal: finish cleanly (flush, commit, close). Second: leave now.
    if (++interrupts > 1) exit(130);
    controller.abort(new Error(`received ${signal}`));
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
  // How the user invokes this program, for commands it prints: the compiled
  // binary by its name, otherwise the development task.
  program: /(^|\/)deno$/.test(Deno.execPath())
    ? "deno task lakehouse"
    : Deno.execPath().split("/").pop()!,
  atExit: (cleanup) => cleanups.push(cleanup),
  exit,
});
exit(status);
