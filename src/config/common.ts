/** Options shared by several commands. */
import type { OptionSpec } from "./options.ts";
import { brokersProblem, s3EndpointProblem, s3RegionProblem, topicProblem } from "./values.ts";

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

export const S3_ENDPOINT = {
  name: "s3-endpoint",
  type: "string",
  placeholder: "URL",
  description: "S3 API endpoint (non-AWS servers)",
  check: s3EndpointProblem,
} as const satisfies OptionSpec;

export const S3_REGION = {
  name: "s3-region",
  type: "string",
  default: "us-east-1",
  description: "S3 region",
  check: s3RegionProblem,
} as const satisfies OptionSpec;

export const S3_ACCESS_KEY = {
  name: "s3-access-key",
  type: "string",
  secret: true,
  description: "S3 access key id (prefer the environment variable)",
} as const satisfies OptionSpec;

export const S3_SECRET_KEY = {
  name: "s3-secret-key",
  type: "string",
  secret: true,
  noFlag: true,
  description: "S3 secret key, never printed",
} as const satisfies OptionSpec;
