/**
 * Test helpers: seeded corpora of records with random byte mutations, for
 * the fuzz and differential tests of the decode path.
 */
import { systemClock } from "../core/clock.ts";
import { concatBytes } from "../core/bytes.ts";
import { Random } from "../core/random.ts";
import { EventSource } from "../generate/source.ts";
import type { RawRecord } from "./types.ts";

const ENCODER = new TextEncoder();

/** Bytes that tend to matter to a JSON reader or a UTF-8 decoder. */
const INTERESTING = [
  0x22,
  0x5c,
  0x7b,
  0x7d,
  0x5b,
  0x5d,
  0x3a,
  0x2c,
  0x2e,
  0x2d,
  0x2b,
  0x65,
  0x30,
  0x39,
  0x00,
  0x0a,
  0x0d,
  0x20,
  0x7f,
  0x80,
  0xbf,
  0xc0,
  0xc3,
  0xe2,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf8,
  0xff,
];
/** Text spliced in: escapes, surrogates, numbers at the edges, structure. */
const SNIPPETS = [
  "\\u0000",
  "\\ud800",
  "\\udc00",
  "\\ud83d\\ude00",
  '\\"',
  "1e999",
  "-0",
  "0.001",
  "1e-7",
  "99999999999",
  "2147483648",
  "null",
  "true",
  "[]",
  "{}",
  '"":""',
  ",",
  "\u2028",
  "😀",
  "\uFEFF",
].map((s) => ENCODER.encode(s));

/** `value` with 1-3 random edits. */
export function mutate(value: Uint8Array, random: Random): Uint8Array {
  let bytes = value;
  const edits = 1 + random.int(3);
  for (let e = 0; e < edits; e++) {
    const at = bytes.length === 0 ? 0 : random.int(bytes.length);
    switch (random.int(7)) {
      case 0: { // flip one bit
        const out = bytes.slice();
        if (out.length > 0) out[at] ^= 1 << random.int(8);
        bytes = out;
        break;
      }
      case 1: { // replace a byte by an interesting one
        const out = bytes.slice();
        if (out.length > 0) out[at] = INTERESTING[random.int(INTERESTING.length)];
        bytes = out;
        break;
      }
      case 2: // delete a run
        bytes = concatBytes([bytes.subarray(0, at), bytes.subarray(at + 1 + random.int(8))]);
        break;
      case 3: // insert a snippet
        bytes = concatBytes([
          bytes.subarray(0, at),
          SNIPPETS[random.int(SNIPPETS.length)],
          bytes.subarray(at),
        ]);
        break;
      case 4: { // duplicate a run (keys, values, whole members)
        const end = Math.min(bytes.length, at + 1 + random.int(40));
        bytes = concatBytes([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]);
        break;
      }
      case 5: // truncate
        bytes = bytes.subarray(0, at);
        break;
      default: { // swap a digit for another
        const out = bytes.slice();
        for (let i = at; i < out.length; i++) {
          if (out[i] >= 0x30 && out[i] <= 0x39) {
            out[i] = 0x30 + random.int(10);
            break;
          }
        }
        bytes = out;
      }
    }
  }
  return bytes;
}

/** No control characters or line separators: a reason shows as one line. */
export function isOneLine(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}

/**
 * `count` generated records (5% bad) of which most are mutated: payload
 * bytes, sometimes the key, a few payloads dropped (tombstones) and a few
 * Kafka timestamps made invalid. Seeded: the same seed, the same corpus.
 */
export function mutatedCorpus(seed: string, count: number): RawRecord[] {
  const random = new Random(seed);
  const source = new EventSource({
    seed,
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0.05,
    clock: systemClock,
  });
  return source.take(count).map((m, i) => {
    const key = ENCODER.encode(m.key);
    const roll = random.int(10);
    return {
      topic: "orders",
      partition: i % 4,
      offset: BigInt(i),
      // Most records mutated, some left as generated (valid or bad), a few
      // keyed by a mutated key or carrying no payload.
      key: roll === 0 ? mutate(key, random) : key,
      value: roll === 1 && random.chance(0.2)
        ? null
        : roll <= 2
        ? m.value
        : mutate(m.value, random),
      timestampMs: random.chance(0.01) ? -1 - random.int(3) : 1_767_225_600_000 + i,
    };
  });
}
