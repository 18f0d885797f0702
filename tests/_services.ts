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

/** Whether `topic` exists on the test broker. */
export async function topicExists(topic: string): Promise<boolean> {
  const { Kafka, logLevel } = await import("kafkajs");
  const admin = new Kafka({
    brokers: KAFKA_BROKERS.split(","),
    clientId: "test-topic-check",
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs the CLI as `runCli` does, but so that file permission bits apply to it:
 * as root, without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (dropped from the
 * bounding and inheritable sets by setpriv), with which root would write into
 * a chmod 555 directory; as any other user, as it is.
 */
export async function runCliWithPermissionBits(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-all",
    new URL("../main.ts", import.meta.url).pathname,
  ];
  const dropped = "-dac_override,-dac_read_search";
  const [program, ...rest] = Deno.uid() === 0
    ? ["setpriv", `--bounding-set=${dropped}`, `--inh-caps=${dropped}`, ...deno, ...args]
    : [...deno, ...args];
  const output = await new Deno.Command(program, {
    args: rest,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
