/**
 * The Iceberg actions: each builds a PendingChange from files the caller
 * wrote, for commitChange to commit (see src/iceberg/commit).
 */
export { appendFiles, type AppendOptions } from "./append.ts";
export { rowDelta, type RowDeltaOptions } from "./row_delta.ts";
export { obsoleteDeleteFiles, replaceFiles, type ReplaceOptions } from "./replace.ts";
