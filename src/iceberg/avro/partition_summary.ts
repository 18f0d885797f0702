/**
 * Per-partition-field summaries of a manifest (manifest list field 507), which
 * let scan planning skip whole manifests. Bounds are the exact minimum and
 * maximum by value, in Iceberg's single-value binary encoding; unlike column
 * stats they are not truncated (Java does not truncate them either).
 */
import { LakehouseError } from "../../core/errors.ts";
import type { DataFile, FieldSummary, PartitionValue } from "../spec/types.ts";
import {
  comparePartitionValues,
  encodePartitionBound,
  normalizePartitionValue,
} from "./partition_values.ts";
import type { PartitionType } from "./schemas.ts";

/** One summary per partition field, in spec order, over the files of one manifest. */
export function summarizePartitions(
  partitionType: PartitionType,
  files: readonly DataFile[],
): FieldSummary[] {
  for (const file of files) {
    if (file.partition.length !== partitionType.fields.length) {
      throw new LakehouseError(
        `${file.filePath}: ${file.partition.length} partition values for ` +
          `${partitionType.fields.length} partition fields`,
      );
    }
  }
  return partitionType.fields.map((field, i): FieldSummary => {
    const isFloat = field.type === "float" || field.type === "double";
    let containsNull = false;
    let containsNan = false;
    let lower: Exclude<PartitionValue, null> | undefined;
    let upper: Exclude<PartitionValue, null> | undefined;
    for (const file of files) {
      const value = normalizePartitionValue(
        field.type,
        file.partition[i],
        `${file.filePath} partition field ${field.name}`,
      );
      if (value === null) {
        containsNull = true;
        continue;
      }
      if (isFloat && Number.isNaN(value)) {
        containsNan = true;
        continue;
      }
      if (lower === undefined || comparePartitionValues(field.type, value, lower) < 0) {
        lower = value;
      }
      if (upper === undefined || comparePartitionValues(field.type, value, upper) > 0) {
        upper = value;
      }
    }
    const summary: { -readonly [K in keyof FieldSummary]: FieldSummary[K] } = {
      containsNull,
      containsNan,
    };
    if (lower !== undefined) summary.lowerBound = encodePartitionBound(field.type, lower);
    if (upper !== undefined) summary.upperBound = encodePartitionBound(field.type, upper);
    return summary;
  });
}
