/**
 * Latency histogram with logarithmic buckets (about 2% relative error),
 * constant memory whatever the number of samples: p50/p99/max for freshness.
 */
export class Histogram {
  readonly #counts = new Float64Array(1200);
  #total = 0;
  #max = 0;

  /** Records a sample of `valueMs` (>= 0). */
  add(valueMs: number): void {
    const v = Math.max(0, valueMs);
    this.#counts[bucketOf(v)]++;
    this.#total++;
    if (v > this.#max) this.#max = v;
  }

  get max(): number {
    return this.#max;
  }

  /** Value at quantile q in [0, 1] (upper edge of its bucket, capped at the max seen). */
  quantile(q: number): number {
    if (this.#total === 0) return 0;
    const target = q * this.#total;
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= target && this.#counts[i] > 0) return Math.min(upperEdge(i), this.#max);
    }
    return this.#max;
  }
}

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);

function bucketOf(v: number): number {
  if (v < 1) return 0;
  return Math.min(1199, 1 + Math.floor(Math.log(v) / LOG_GROWTH));
}

function upperEdge(i: number): number {
  return i === 0 ? 1 : Math.pow(GROWTH, i);
}
