/**
 * Service checks for integration tests: a test whose service is down fails
 * with a message saying how to start it; it never passes silently.
 */
export const KAFKA_BROKERS = Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092";
export const S3_ENDPOINT = Deno.env.get("LAKEHOUSE_S3_ENDPOINT") ?? "http://127.0.0.1:9000";

async function reachable(host: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

export async function requireKafka(): Promise<string> {
  const [host, port] = KAFKA_BROKERS.split(",")[0].split(":");
  if (!(await reachable(host, Number(port)))) {
    throw new Error(
      `Kafka not reachable at ${KAFKA_BROKERS}: start it with 'deno task services:up' (or set LAKEHOUSE_BROKERS)`,
    );
  }
  return KAFKA_BROKERS;
}

export async function requireS3(): Promise<string> {
  const url = new URL(S3_ENDPOINT);
  if (!(await reachable(url.hostname, Number(url.port || 80)))) {
    throw new Error(
      `S3 server not reachable at ${S3_ENDPOINT}: start it with 'deno task services:up' (or set LAKEHOUSE_S3_ENDPOINT)`,
    );
  }
  return S3_ENDPOINT;
}

/** Runs the CLI as a subprocess, as a user would. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  });
  const output = await command.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
