/**
 * Where the state store's rows are, by key: each stored row's 64-bit key
 * hash (DuckDB's hash() of the order id) and its `_seq`, kept in memory
 * beside the store so that a batch finds its touched rows without scanning
 * the store's key column (a scan of every stored key cost 340 ms per batch
 * late in a 10-minute run, and grew with the table).
 *
 * Open addressing with linear probing over one typed array: no object per
 * row, 12 bytes a slot, a slot's words side by side (one cache miss per
 * probe on a table of hundreds of MiB). A slot holds the hash's high 32
 * bits (which also choose its home slot) and the row's `_seq`; the low 32
 * bits are not kept. Two keys whose hashes share the high half match each
 * other's lookups, as two keys with one 64-bit hash always did: the store
 * reads the rows of the matched `_seq`s and keeps those whose exact key is
 * in the batch, so a false match costs one row's read, never a wrong row.
 * A row is removed by its hash and `_seq` (unique per row). Pure: no I/O.
 */

/** Words per slot: the hash's high word, then `_seq`'s low and high words. */
const WORDS = 3;
/** `_seq`'s high word in an empty slot (a `_seq` is below 2^53: its high word below 2^21). */
const EMPTY = 0xffff_ffff;
/** Rows per slot at most, before the table doubles. */
const LOAD = 0.75;

export class KeyIndex {
  #slots: Uint32Array;
  #mask: number;
  /** 32 - log2(slots): the home slot is the top bits of the mixed hash. */
  #shift: number;
  #size = 0;

  constructor(rows = 0) {
    let slots = 1024;
    while (slots * LOAD < rows) slots *= 2;
    this.#slots = emptySlots(slots);
    this.#mask = slots - 1;
    this.#shift = 32 - Math.log2(slots);
  }

  /** Rows indexed. */
  get size(): number {
    return this.#size;
  }

  /** Bytes the index holds. */
  get bytes(): number {
    return this.#slots.byteLength;
  }

  /**
   * Adds rows: `hashes` holds each row's 64-bit hash as two little-endian
   * 32-bit words (low, high), `seqs` its `_seq` the same way (below 2^53).
   */
  addAll(hashes: Uint32Array, seqs: Uint32Array, rows: number): void {
    if (this.#size + rows > (this.#mask + 1) * LOAD) this.#grow(this.#size + rows);
    for (let i = 0; i < rows; i++) this.#add(hashes[2 * i + 1], seqs[2 * i], seqs[2 * i + 1]);
    this.#size += rows;
  }

  /**
   * Removes rows (as addAll gives them). Returns how many were not indexed:
   * zero unless the index and the store disagree.
   */
  removeAll(hashes: Uint32Array, seqs: Uint32Array, rows: number): number {
    let missing = 0;
    for (let i = 0; i < rows; i++) {
      if (this.#remove(hashes[2 * i + 1], seqs[2 * i], seqs[2 * i + 1])) this.#size--;
      else missing++;
    }
    return missing;
  }

  /** The `_seq` of every row whose hash matches one of `hashes` (two words each). */
  lookupAll(hashes: Uint32Array, rows: number): number[] {
    const out: number[] = [];
    const slots = this.#slots;
    const mask = this.#mask;
    const shift = this.#shift;
    for (let i = 0; i < rows; i++) {
      const h = hashes[2 * i + 1];
      for (let s = home(h, shift);; s = (s + 1) & mask) {
        const at = s * WORDS;
        if (slots[at + 2] === EMPTY) break;
        if (slots[at] === h) out.push(slots[at + 2] * 0x1_0000_0000 + slots[at + 1]);
      }
    }
    return out;
  }

  #add(h: number, low: number, high: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let s = home(h, this.#shift);
    while (slots[s * WORDS + 2] !== EMPTY) s = (s + 1) & mask;
    slots[s * WORDS] = h;
    slots[s * WORDS + 1] = low;
    slots[s * WORDS + 2] = high;
  }

  #remove(h: number, low: number, high: number): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    const shift = this.#shift;
    let s = home(h, shift);
    for (;; s = (s + 1) & mask) {
      const at = s * WORDS;
      if (slots[at + 2] === EMPTY) return false;
      if (slots[at + 1] === low && slots[at + 2] === high && slots[at] === h) break;
    }
    // Backward shift: the entries after the hole that could live in it move
    // up, so that every entry stays reachable from its home without markers.
    for (let hole = s, t = (s + 1) & mask;; t = (t + 1) & mask) {
      const at = t * WORDS;
      if (slots[at + 2] === EMPTY) {
        slots[hole * WORDS + 2] = EMPTY;
        return true;
      }
      // t's entry may fill the hole when its home is not in (hole, t].
      if (((t - home(slots[at], shift)) & mask) >= ((t - hole) & mask)) {
        const to = hole * WORDS;
        slots[to] = slots[at];
        slots[to + 1] = slots[at + 1];
        slots[to + 2] = slots[at + 2];
        hole = t;
      }
    }
  }

  #grow(rows: number): void {
    const old = this.#slots;
    let slots = 2 * (this.#mask + 1);
    while (slots * LOAD < rows) slots *= 2;
    this.#slots = emptySlots(slots);
    this.#mask = slots - 1;
    this.#shift = 32 - Math.log2(slots);
    for (let at = 0; at < old.length; at += WORDS) {
      if (old[at + 2] !== EMPTY) this.#add(old[at], old[at + 1], old[at + 2]);
    }
  }
}

function emptySlots(slots: number): Uint32Array {
  const words = new Uint32Array(slots * WORDS);
  for (let at = 2; at < words.length; at += WORDS) words[at] = EMPTY;
  return words;
}

/**
 * The home slot of a hash's high word: the top bits of a multiplicative
 * mix (its low bits would depend on the word's low bits alone).
 */
function home(h: number, shift: number): number {
  return Math.imul(h, 0x9e3779b1) >>> shift;
}
