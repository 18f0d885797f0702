import { Random } from "../core/random.ts";

/** Product categories; each has its own typical price level. */
const CATEGORIES = [
  "electronics",
  "books",
  "home",
  "kitchen",
  "clothing",
  "shoes",
  "beauty",
  "toys",
  "sports",
  "garden",
  "grocery",
  "automotive",
] as const;
export type Category = typeof CATEGORIES[number];

/**
 * Median unit price (in currency units) and log-normal spread per category, in
 * CATEGORIES order. Books and groceries stay cheap, electronics spread wide, so
 * revenue by category looks like a shop rather than white noise.
 */
const PRICE_MEDIAN = [129, 14, 39, 29, 34, 69, 19, 24, 44, 27, 6, 49];
const PRICE_SIGMA = [1.0, 0.5, 0.8, 0.7, 0.6, 0.5, 0.6, 0.7, 0.8, 0.7, 0.6, 0.9];

const MIN_PRICE_CENTS = 199;
const MAX_PRICE_CENTS = 99_999;

/** One SKU. Prices are fixed for the catalog's lifetime. */
export interface Product {
  readonly sku: string;
  readonly category: Category;
  /** Unit price in integer cents, the exact value; `unitPrice` is derived from it. */
  readonly unitPriceCents: number;
  /** `unitPriceCents / 100`, which prints with at most 2 decimals. */
  readonly unitPrice: number;
}

/**
 * Users and products, derived entirely from the seed. Popularity ranks (what a
 * Zipf sampler returns) map to ids through a seeded permutation, so the busiest
 * user is not always `user-000001` and the best-selling SKU not always the first.
 */
export class ProductCatalog {
  readonly users: number;
  readonly skus: number;
  readonly #userIdByRank: Int32Array;
  readonly #userIdCache: (string | undefined)[];
  readonly #userIdWidth: number;
  readonly #products: Product[];

  constructor(seed: number | string, users: number, skus: number) {
    checkCount("users", users);
    checkCount("skus", skus);
    this.users = users;
    this.skus = skus;
    // A stream of its own: the catalog stays the same whatever the simulator
    // draws afterwards.
    const random = new Random(`${seed}/catalog`);
    this.#userIdByRank = permutation(random, users);
    // Filled on first use: most of a large user base is rarely drawn, and
    // building 100k strings up front would slow every constructor call.
    this.#userIdCache = new Array(users);
    this.#userIdWidth = Math.max(6, String(users).length);

    const skuOfRank = permutation(random, skus);
    const skuWidth = Math.max(5, String(skus).length);
    const bySku: Product[] = new Array(skus);
    for (let i = 0; i < skus; i++) {
      const c = random.int(CATEGORIES.length);
      const cents = priceCents(random, PRICE_MEDIAN[c], PRICE_SIGMA[c]);
      bySku[i] = Object.freeze({
        sku: "SKU-" + String(i + 1).padStart(skuWidth, "0"),
        category: CATEGORIES[c],
        unitPriceCents: cents,
        unitPrice: cents / 100,
      });
    }
    this.#products = new Array(skus);
    for (let r = 0; r < skus; r++) this.#products[r] = bySku[skuOfRank[r] - 1];
  }

  /** Id of the user with popularity rank `rank` (0 = most active), e.g. "user-004217". */
  userId(rank: number): string {
    let id = this.#userIdCache[rank];
    if (id === undefined) {
      id = "user-" + String(this.#userIdByRank[rank]).padStart(this.#userIdWidth, "0");
      this.#userIdCache[rank] = id;
    }
    return id;
  }

  /** Product with popularity rank `rank` (0 = best seller). */
  product(rank: number): Product {
    return this.#products[rank];
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  }
}

/** A seeded shuffle of 1..n (Fisher-Yates). */
function permutation(random: Random, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i + 1;
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * Log-normal price around `median`, clamped to [1.99, 999.99]. Most prices end
 * in .99 like real shelf prices; the rest keep their cents so sums exercise
 * every digit.
 */
function priceCents(random: Random, median: number, sigma: number): number {
  // Box-Muller; 1 - float() keeps the logarithm's argument in (0, 1].
  const z = Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float());
  let cents = Math.round(median * Math.exp(sigma * z) * 100);
  if (random.chance(0.7)) cents = Math.floor(cents / 100) * 100 + 99;
  return Math.min(MAX_PRICE_CENTS, Math.max(MIN_PRICE_CENTS, cents));
}
