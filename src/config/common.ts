/** Options shared by several commands. */
import type { OptionSpec } from "./options.ts";
import { brokersProblem, topicProblem } from "./values.ts";

export const LOG_LEVEL: OptionSpec = {
  name: "log-level",
  type: "choice",
  choices: ["debug", "info", "warn", "error"],
  default: "info",
  description: "how much to log on stderr",
};

export const BROKERS: OptionSpec = {
  name: "brokers",
  type: "string",
  placeholder: "HOST:PORT[,...]",
  default: "127.0.0.1:9092",
  description: "Kafka bootstrap brokers",
  check: brokersProblem,
};

export const TOPIC: OptionSpec = {
  name: "topic",
  type: "string",
  default: "orders",
  description: "Kafka topic of order events",
  check: topicProblem,
};

export const PARTITIONS: OptionSpec = {
  name: "partitions",
  type: "integer",
  min: 1,
  max: 10_000,
  default: 4,
  description: "partition count used when the topic has to be created",
};

export const CONNECT_TIMEOUT: OptionSpec = {
  name: "connect-timeout",
  type: "duration",
  min: 100,
  default: "3s",
  description: "time allowed for one connection attempt to a broker",
};

export const RETRIES: OptionSpec = {
  name: "retries",
  type: "integer",
  min: 0,
  max: 100,
  default: 5,
  description: "retries of a failed Kafka request (with backoff) before giving up",
};
