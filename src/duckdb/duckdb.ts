/**
 * The embedded SQL engine: with sandbox.ts, the only importer of
 * @duckdb/node-api. One in-process database; callers get typed rows back as
 * plain objects with bigint for BIGINT/HUGEINT and strings for decimals and
 * timestamps, so nothing loses precision on the way to Iceberg.
 */
import {
  BIGINT,
  BLOB,
  type DuckDBBlobVector,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBScalarFunction,
  type DuckDBVector,
  INTEGER,
  VARCHAR,
} from "@duckdb/node-api";
import { DataError, errorMessage, LakehouseError } from "../core/errors.ts";
import { grown } from "../core/typed_arrays.ts";

export type Row = Record<string, unknown>;

/** Parameter types a function defined in JS may take (see DuckDb.defineFunction). */
export type ScalarParam = "VARCHAR" | "BIGINT" | "INTEGER";
const PARAM_TYPES = { VARCHAR, BIGINT, INTEGER };

export interface DuckDbOptions {
  /** Database file, or ":memory:" (default). */
  readonly path?: string;
  /** Worker threads DuckDB may use (default: its own choice, all cores). */
  readonly threads?: number;
  /** Memory limit, e.g. "2GB"; DuckDB spills to disk above it. */
  readonly memoryLimit?: string;
}

export class DuckDb {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #functions = new Set<string>();
  /** Whether close() closes the database too (the first connection) or only this connection. */
  readonly #ownsInstance: boolean;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection, owns = true) {
    this.#instance = instance;
    this.#connection = connection;
    this.#ownsInstance = owns;
  }

  /**
   * Another connection to the same database: its statements run beside this
   * one's, on a thread of their own (DuckDB runs one query per connection at
   * a time), and see the same tables once committed; temporary tables,
   * views and functions are each connection's own. Its close() leaves the
   * database open.
   */
  async connect(): Promise<DuckDb> {
    return new DuckDb(this.#instance, await this.#instance.connect(), false);
  }

  /** The same object for every connection to one database (a key for what they share). */
  get database(): object {
    return this.#instance;
  }

  #mainSchema: string | undefined;

  /**
   * The quoted name of the database's own `main` schema, for a table every
   * connection sees. A bare `main.t` would not do: the temporary catalog has
   * a `main` schema too, searched first.
   */
  async mainSchema(): Promise<string> {
    if (this.#mainSchema === undefined) {
      const [row] = await this.query<{ name: string }>("SELECT current_database() AS name");
      this.#mainSchema = `${sqlIdent(row.name)}.main`;
    }
    return this.#mainSchema;
  }

  static async open(options: DuckDbOptions = {}): Promise<DuckDb> {
    const config: Record<string, string> = {};
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(options.path ?? ":memory:", config);
    const connection = await instance.connect();
    return new DuckDb(instance, connection);
  }

  /**
   * Defines SQL function `name(x)` -> INTEGER computed by `fn` (NULL in, NULL
   * out), once per database: for what DuckDB lacks (Iceberg's murmur3
   * buckets). DuckDB hands it whole vectors, so values never travel as rows.
   * Strings are better hashed through defineBytesFunction.
   */
  defineFunction(
    name: string,
    param: ScalarParam,
    fn: (value: string | bigint | number) => number,
  ): void {
    if (this.#functions.has(name)) return;
    this.#connection.registerScalarFunction(DuckDBScalarFunction.create({
      name,
      returnType: INTEGER,
      parameterTypes: [PARAM_TYPES[param]],
      mainFunction: (info, input, output) => {
        try {
          const values = input.getColumnVector(0);
          for (let i = 0; i < input.rowCount; i++) {
            const v = values.getItem(i) as string | bigint | number | null;
            output.setItem(i, v === null ? null : fn(v));
          }
          output.flush();
        } catch (error) {
          info.setError(`${name}: ${errorMessage(error)}`);
        }
      },
    }));
    this.#functions.add(name);
  }

  /**
   * Defines SQL function `name` over the UTF-8 bytes of a string and returns
   * the SQL of a call of it on expression `expr` (a VARCHAR; NULL in, NULL
   * out), once per database: Iceberg's bucket[N] of string keys. A BLOB
   * longer than 12 bytes reaches JS through one native call (and a fresh
   * buffer) per value, which cost most of the function's time for 36-byte
   * ids; 12 bytes or fewer are stored inline in DuckDB's vectors and read
   * in place. So an ASCII string of up to 36 bytes arrives as three such
   * pieces, and only a longer or non-ASCII one (where characters and bytes
   * differ) whole.
   */
  defineBytesFunction(name: string, fn: (bytes: Uint8Array) => number): (expr: string) => string {
    const call = (e: string) =>
      `${name}(${
        [0, 1, 2].map((i) => `encode(substring(${e}, ${i * 12 + 1}, 12))`).join(", ")
      }, CASE WHEN strlen(${e}) > 36 OR strlen(${e}) <> length(${e}) THEN encode(${e}) END)`;
    if (this.#functions.has(name)) return call;
    const scratch = new Uint8Array(36);
    this.#connection.registerScalarFunction(DuckDBScalarFunction.create({
      name,
      returnType: INTEGER,
      parameterTypes: [BLOB, BLOB, BLOB, BLOB],
      mainFunction: (info, input, output) => {
        try {
          const pieces = [0, 1, 2].map((i) => input.getColumnVector(i) as DuckDBBlobVector);
          const whole = input.getColumnVector(3) as DuckDBBlobVector;
          for (let i = 0; i < input.rowCount; i++) {
            const bytes = whole.getItemBytes(i);
            if (bytes !== null) {
              output.setItem(i, fn(bytes));
              continue;
            }
            // A NULL string gives NULL pieces; any other string, three (some empty).
            const first = pieces[0].getItemBytes(i);
            if (first === null) {
              output.setItem(i, null);
              continue;
            }
            scratch.set(first, 0);
            let n = first.length;
            for (let k = 1; k < pieces.length; k++) {
              const p = pieces[k].getItemBytes(i)!;
              scratch.set(p, n);
              n += p.length;
            }
            output.setItem(i, fn(scratch.subarray(0, n)));
          }
          output.flush();
        } catch (error) {
          info.setError(`${name}: ${errorMessage(error)}`);
        }
      },
    }));
    this.#functions.add(name);
    return call;
  }

  /** Runs statements for their effect. */
  async run(sql: string): Promise<void> {
    try {
      await this.#connection.run(sql);
    } catch (error) {
      throw sqlError(sql, error);
    }
  }

  /** Runs a query and returns its rows (BIGINT as bigint, DECIMAL/TIMESTAMP as text). */
  async query<T extends Row = Row>(sql: string): Promise<T[]> {
    try {
      const reader = await this.#connection.runAndReadAll(sql);
      return reader.getRowObjectsJS() as T[];
    } catch (error) {
      throw sqlError(sql, error);
    }
  }

  /**
   * Runs a query whose columns are all BIGINT or UBIGINT and returns each
   * column as 32-bit words, two per row (low, high: the 64-bit value's
   * little-endian layout), copied from DuckDB's vectors a chunk at a time:
   * no value object per row (the state store's key index reads millions of
   * rows this way). A NULL is an error.
   */
  async int64Columns(sql: string): Promise<{ rows: number; columns: Uint32Array[] }> {
    try {
      const result = await this.#connection.run(sql);
      let columns = Array.from({ length: result.columnCount }, () => new Uint32Array(4096));
      let rows = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) return { rows, columns };
        const n = chunk.rowCount;
        if (2 * (rows + n) > columns[0].length) {
          columns = columns.map((c) => grown(c, Math.max(2 * c.length, 2 * (rows + n))));
        }
        for (let c = 0; c < columns.length; c++) {
          columns[c].set(int64Words(chunk.getColumnVector(c), n, rows), 2 * rows);
        }
        rows += n;
      }
    } catch (error) {
      throw error instanceof LakehouseError ? error : sqlError(sql, error);
    }
  }

  /** Column names and DuckDB type names of a query's result, without running it fully. */
  async describe(sql: string): Promise<{ name: string; type: string }[]> {
    const rows = await this.query<{ column_name: string; column_type: string }>(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  }

  /**
   * The connection itself, for the other modules of src/duckdb/ that need
   * more of DuckDB than SQL text in and rows out (sandbox.ts: statement
   * types, interrupts, streamed typed results). No other layer uses it.
   */
  get connection(): DuckDBConnection {
    return this.#connection;
  }

  close(): void {
    this.#connection.closeSync();
    if (this.#ownsInstance) this.#instance.closeSync();
  }
}

/**
 * A BIGINT or UBIGINT vector's values as 32-bit words (`first`: the result's
 * row of its first value, for errors). The vector's typed array and validity
 * mask are read in place (fields node-api keeps but does not declare);
 * without them, values are read one by one.
 */
function int64Words(vector: DuckDBVector, n: number, first: number): Uint32Array {
  const { items, validity } = vector as unknown as {
    items?: unknown;
    validity?: { data?: unknown; itemValid?: (i: number) => boolean };
  };
  if (
    (items instanceof BigInt64Array || items instanceof BigUint64Array) &&
    typeof validity?.itemValid === "function"
  ) {
    if (validity.data !== null) { // null: no mask, every value valid
      for (let i = 0; i < n; i++) if (!validity.itemValid(i)) throw nullAt(first + i);
    }
    return new Uint32Array(items.buffer, items.byteOffset, 2 * n);
  }
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) {
    const value = vector.getItem(i);
    if (value === null) throw nullAt(first + i);
    if (typeof value !== "bigint") {
      throw new LakehouseError(`expected BIGINT or UBIGINT values, got ${vector.type}`);
    }
    out[i] = BigInt.asUintN(64, value);
  }
  return new Uint32Array(out.buffer);
}

function nullAt(row: number): LakehouseError {
  return new LakehouseError(`expected BIGINT or UBIGINT values, got NULL at row ${row}`);
}

/** SQL string literal with quotes doubled. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Quoted identifier. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * DuckDB errors raised by the values a query meets (a cast, an overflow, a
 * call of error() in a user's SQL file, malformed JSON): the same rows fail
 * the same way every time.
 */
const DATA_ERROR = /^(Conversion|Out of Range|Invalid Input|Constraint) Error:/;
/** I/O errors of DuckDB's own files (scratch Parquet, spill) that may heal. */
const TRANSIENT_IO_ERROR =
  /^IO Error:.*(No space left|Permission denied|Input\/output error|Read-only file system|Disk quota)/s;

function sqlError(sql: string, error: unknown): LakehouseError {
  const oneLine = sql.replace(/\s+/g, " ").trim();
  const shown = oneLine.length > 300 ? `${oneLine.slice(0, 300)}...` : oneLine;
  const message = errorMessage(error);
  const text = `SQL failed: ${message}\n  in: ${shown}`;
  if (DATA_ERROR.test(message)) return new DataError(text, { cause: error });
  return new LakehouseError(text, { cause: error, retriable: TRANSIENT_IO_ERROR.test(message) });
}
