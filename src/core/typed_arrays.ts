/** Growing the typed-array columns the fetch and the batcher fill record by record. */

export type Column =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float64Array
  | BigInt64Array;

/** A new array of `capacity` elements that starts with `old`'s (the rest zero). */
export function grown<T extends Column>(old: T, capacity: number): T {
  const next = new (old.constructor as new (length: number) => T)(capacity);
  next.set(old as never);
  return next;
}
