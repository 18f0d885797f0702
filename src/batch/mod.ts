/**
 * Micro-batching of consumed records and their decode + validate into staged
 * NDJSON for the writers.
 */
export * from "./types.ts";
export * from "./batcher.ts";
export * from "./validate.ts";
export * from "./staged.ts";
