/** The Kafka connection settings of a command, from its shared options. */
import { errorMessage, UsageError } from "../core/errors.ts";
import type { OptionValue } from "../config/options.ts";
import { type KafkaConnection, parseBrokers } from "../kafka/client.ts";

export function kafkaConnection(
  values: Readonly<Record<string, OptionValue | undefined>>,
  clientId: string,
): KafkaConnection {
  let brokers: string[];
  try {
    brokers = parseBrokers(values.brokers as string);
  } catch (error) {
    throw new UsageError(`--brokers: ${errorMessage(error)}`);
  }
  return {
    brokers,
    clientId,
    connectTimeoutMs: values["connect-timeout"] as number,
    retriesMax: values.retries as number,
  };
}
