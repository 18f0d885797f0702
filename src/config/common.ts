/** Options shared by several commands. */
import type { OptionSpec } from "./options.ts";
import { brokersProblem, topicProblem } from "./values.ts";

export const LOG_LEVEL = {
  name: "log-level",
  type: "choice",
  choices: ["debug", "info", "warn", "error"],
  default: "info",
  description: "how much to log on stderr",
} as const satisfies OptionSpec;

export const BROKERS = {
  name: "brokers",
  type: "string",
  placeholder: "HOST:PORT[,...]",
  default: "127.0.0.1:9092",
  description: "Kafka bootstrap brokers",
  check: brokersProblem,
} as const satisfies OptionSpec;

export const TOPIC = {
  name: "topic",
  type: "string",
  default: "orders",
  description: "Kafka topic of order events",
  check: topicProblem,
} as const satisfies OptionSpec;

export const PARTITIONS = {
  name: "partitions",
  type: "integer",
  min: 1,
  max: 10_000,
  default: 4,
  description: "partition count used when the topic has to be created",
} as const satisfies OptionSpec;

export const CONNECT_TIMEOUT = {
  name: "connect-timeout",
  type: "duration",
  min: 100,
  default: "3s",
  description: "time allowed for one connection attempt to a broker",
} as const satisfies OptionSpec;

export const RETRIES = {
  name: "retries",
  type: "integer",
  min: 0,
  max: 100,
  default: 5,
  description: "retries of a failed Kafka request (with backoff) before giving up",
} as const satisfies OptionSpec;
