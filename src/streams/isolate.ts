/**
 * Finds the rows that make a table write fail. A batch is written as one
 * unit; when that fails on the values of some rows (DataError), the writer
 * probes halves of the batch, and halves of the halves that fail, down to
 * single rows: k bad rows among n take about 2k log2(n / k) probes, each on
 * a shrinking part of the batch. The rows found go to the dead-letter table;
 * the rest is written as usual.
 */
import { DataError } from "../core/errors.ts";

export interface IsolatedFailure {
  /** The item (row, line) that fails on its own. */
  readonly item: number;
  readonly error: DataError;
}

export interface IsolateOptions {
  /**
   * Tries to write just these items, without publishing anything; throws
   * DataError when their values cannot be written. Any other error ends the
   * search (the failure is not the rows' doing).
   */
  readonly probe: (items: readonly number[]) => Promise<void>;
  /** Told after every probe, for progress reports on long searches. */
  readonly onProbe?: (probes: number, found: number) => void;
}

/**
 * The items of `items` (known to fail together) that fail alone. Empty when
 * every part succeeds on its own: the failure then comes from rows
 * together (a SQL file aggregating over the batch), not from one row.
 */
export async function isolateFailures(
  items: readonly number[],
  options: IsolateOptions,
): Promise<IsolatedFailure[]> {
  const found: IsolatedFailure[] = [];
  let probes = 0;
  const search = async (part: readonly number[], knownToFail: DataError | undefined) => {
    let failure = knownToFail;
    if (failure === undefined) {
      try {
        await options.probe(part);
      } catch (error) {
        if (!(error instanceof DataError)) throw error;
        failure = error;
      }
      probes++;
    }
    if (failure !== undefined && part.length === 1) found.push({ item: part[0], error: failure });
    if (knownToFail === undefined) options.onProbe?.(probes, found.length);
    if (failure === undefined || part.length === 1) return;
    const mid = part.length >> 1;
    await search(part.slice(0, mid), undefined);
    await search(part.slice(mid), undefined);
  };
  if (items.length === 0) return [];
  // The caller saw the whole set fail: start with its halves.
  await search(items, new DataError("the whole set failed"));
  return found;
}
