/** Benchmarks write gigabytes per run: their topics are removed afterwards. */
import { Kafka, logLevel } from "kafkajs";

export async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], clientId: "bench", logLevel: logLevel.NOTHING })
    .admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
  } catch (error) {
    console.error(`could not delete topic ${topic}: ${(error as Error).message}`);
  } finally {
    await admin.disconnect();
  }
}
