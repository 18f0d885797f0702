/** The Kafka connection settings of a command, from its shared options. */
import { errorMessage, UsageError } from "../core/errors.ts";
import type { BROKERS, CONNECT_TIMEOUT, RETRIES } from "../config/common.ts";
import type { OptionValues } from "../config/options.ts";
import { type KafkaConnection, parseBrokers } from "../kafka/client.ts";

export function kafkaConnection(
  values: OptionValues<readonly [typeof BROKERS, typeof CONNECT_TIMEOUT, typeof RETRIES]>,
  clientId: string,
): KafkaConnection {
  let brokers: string[];
  try {
    brokers = parseBrokers(values.brokers);
  } catch (error) {
    throw new UsageError(`--brokers: ${errorMessage(error)}`);
  }
  return {
    brokers,
    clientId,
    connectTimeoutMs: values["connect-timeout"],
    retriesMax: values.retries,
  };
}
