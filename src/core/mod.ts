export * from "./errors.ts";
export * from "./assert.ts";
export * from "./clock.ts";
export * from "./random.ts";
export * from "./log.ts";
