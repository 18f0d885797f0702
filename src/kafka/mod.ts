export * from "./client.ts";
export * from "./admin.ts";
export * from "./producer.ts";
