export * from "./options.ts";
export * from "./resolve.ts";
export * from "./common.ts";
