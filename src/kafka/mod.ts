export * from "./client.ts";
export * from "./admin.ts";
export * from "./producer.ts";
export * from "./murmur2.ts";
export * from "./wire_producer.ts";
