/** The Iceberg v2 spec layer: data model, metadata JSON, schemas, transforms, bounds, summaries. */
export * from "./types.ts";
export * from "./json.ts";
export * from "./schema.ts";
export * from "./values.ts";
export * from "./bounds.ts";
export * from "./transforms.ts";
export * from "./metadata.ts";
export * from "./summary.ts";
