/**
 * Iceberg v2 Avro files: manifests, manifest lists, their schemas, the Avro
 * object container format underneath, and manifest-list partition summaries.
 * Everything works on bytes; storage is the caller's concern.
 */
export {
  type AvroCodec,
  AvroFormatError,
  type ContainerContents,
  readContainer,
  writeContainer,
  type WriteContainerOptions,
} from "./container.ts";
export {
  inheritSequenceNumbers,
  type ManifestContents,
  readManifest,
  writeManifest,
  type WriteManifestOptions,
} from "./manifest.ts";
export {
  readManifestList,
  writeManifestList,
  type WriteManifestListOptions,
} from "./manifest_list.ts";
export { summarizePartitions } from "./partition_summary.ts";
export { comparePartitionValues, encodePartitionBound } from "./partition_values.ts";
export {
  type AvroComplexSchema,
  type AvroField,
  type AvroRecordSchema,
  type AvroSchema,
  manifestEntrySchema,
  manifestListSchema,
  type PartitionType,
  type PartitionTypeField,
} from "./schemas.ts";
