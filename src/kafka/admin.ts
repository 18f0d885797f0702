import type { Kafka } from "kafkajs";
import { LakehouseError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";

/**
 * Creates `topic` with `partitions` partitions if it does not exist. An
 * existing topic is kept as it is; a different partition count is reported,
 * since the key -> partition mapping depends on it.
 */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  partitions: number,
  logger: Logger,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({
        topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      logger.info(`created topic ${topic} with ${partitions} partitions`);
      return;
    }
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length ?? 0;
    if (count === 0) throw new LakehouseError(`topic ${topic} exists but has no partitions`);
    if (count !== partitions) {
      logger.warn(
        `topic ${topic} has ${count} partitions (requested ${partitions}); using it as is`,
      );
    }
  } finally {
    await admin.disconnect();
  }
}
