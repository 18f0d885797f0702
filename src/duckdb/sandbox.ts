/**
 * Read-only SQL over a DuckDb: the engine locked down once the caller has
 * created what queries may read (views over table files), statements told
 * apart by DuckDB's own parser, streamed results with typed columns, and an
 * interrupt for time limits. Used by `lakehouse query` (src/query/).
 *
 * What the lock-down blocks was tested on DuckDB 1.5.6 (tests/query_test.ts):
 * with `enable_external_access = false` every file system and network access
 * fails (read_csv, read_text, glob, read_parquet of a URL, COPY, ATTACH of a
 * file, INSTALL, LOAD, EXPORT), except the files listed in `allowed_paths`,
 * which views over read_parquet keep reading after the lock; with
 * `lock_configuration = true` no SET/RESET changes any setting again. Not
 * blocked by either: PRAGMA statements, CREATE and ATTACH of in-memory
 * objects, and writes to the allowed files themselves (`allowed_paths`
 * grants writing too: COPY ... TO an allowed file with USE_TMP_FILE false
 * overwrites it). So callers must refuse every statement that is not a query
 * (`PreparedStatement.kind`); the lock-down is the second line.
 */
import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  type DuckDBPreparedStatement,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  DuckDBUnionValue,
  type DuckDBValue,
  DuckDBVariantValue,
  StatementType,
} from "@duckdb/node-api";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import { type DuckDb, sqlString } from "./duckdb.ts";

/**
 * A value of a result row: numbers that fit a double as number, larger
 * integers as bigint, DECIMAL as its exact text, timestamps as ISO-8601 UTC
 * text (`2026-01-01T00:00:00.123456Z`), other scalars as DuckDB writes them,
 * lists and arrays as arrays, structs and maps as objects.
 */
export type Cell =
  | null
  | boolean
  | number
  | bigint
  | string
  | readonly Cell[]
  | { readonly [key: string]: Cell };

export interface ResultColumn {
  readonly name: string;
  /** DuckDB's type name: `BIGINT`, `DECIMAL(12,2)`, `TIMESTAMP WITH TIME ZONE`. */
  readonly type: string;
  /** Integers, floating point and decimals (right-aligned in a table). */
  readonly numeric: boolean;
}

export interface QueryStream {
  readonly columns: readonly ResultColumn[];
  /** The rows, a chunk (up to 2048 rows) at a time. */
  readonly chunks: AsyncIterable<Cell[][]>;
}

/** One statement of a SQL text, parsed and bound by DuckDB but not run. */
export interface PreparedStatement {
  /** DuckDB's statement type: SELECT (also DESCRIBE, SHOW, SUMMARIZE, VALUES), EXPLAIN, INSERT... */
  readonly kind: string;
  /** Runs it and streams its rows. */
  run(): Promise<QueryStream>;
  close(): void;
}

export interface LockDownOptions {
  /** The only files queries may read (the local copies of table files). */
  readonly allowedPaths: readonly string[];
  /** Where DuckDB spills beyond its memory limit. */
  readonly tempDirectory: string;
}

/**
 * Locks `duckdb` down for untrusted SQL: only `allowedPaths` remain
 * readable, no extension is installed or loaded, and no setting changes
 * afterwards. Irreversible for this database.
 */
export async function lockDown(duckdb: DuckDb, options: LockDownOptions): Promise<void> {
  const paths = `[${options.allowedPaths.map(sqlString).join(", ")}]`;
  await duckdb.run(`SET temp_directory = ${sqlString(options.tempDirectory)}`);
  await duckdb.run(`SET allowed_paths = ${paths}`);
  await duckdb.run("SET autoinstall_known_extensions = false");
  await duckdb.run("SET autoload_known_extensions = false");
  await duckdb.run("SET enable_external_access = false");
  await duckdb.run("SET lock_configuration = true");
}

/** A failure DuckDB reported, with its message as DuckDB wrote it (several lines). */
export class SqlError extends LakehouseError {}

const STATEMENT_TYPE_NAMES = new Map<number, string>(
  Object.entries(StatementType).filter(([, v]) => typeof v === "number").map(([k, v]) =>
    [v as number, k] as const
  ),
);

/**
 * Splits `sql` into statements with DuckDB's parser and prepares each (which
 * binds it: names resolved, table functions' files opened) without running
 * any. Fails with the first statement DuckDB cannot parse or bind.
 */
export async function prepareStatements(duckdb: DuckDb, sql: string): Promise<PreparedStatement[]> {
  const connection = duckdb.connection;
  const prepared: PreparedStatement[] = [];
  try {
    const extracted = await connection.extractStatements(sql);
    for (let i = 0; i < extracted.count; i++) {
      prepared.push(wrap(await extracted.prepare(i)));
    }
    return prepared;
  } catch (error) {
    for (const p of prepared) p.close();
    throw new SqlError(errorMessage(error), { cause: error });
  }
}

/** Stops the statement running on `duckdb` (it fails with DuckDB's "Interrupted!"). */
export function interrupt(duckdb: DuckDb): void {
  duckdb.connection.interrupt();
}

function wrap(statement: DuckDBPreparedStatement): PreparedStatement {
  return {
    kind: STATEMENT_TYPE_NAMES.get(statement.statementType) ?? String(statement.statementType),
    run: async () => {
      try {
        const result = await statement.stream();
        const columns: ResultColumn[] = [];
        for (let i = 0; i < result.columnCount; i++) {
          columns.push({
            name: result.columnName(i),
            type: result.columnType(i).toString(),
            numeric: NUMERIC.has(result.columnTypeId(i)),
          });
        }
        return {
          columns,
          chunks: (async function* () {
            try {
              for await (const rows of result.yieldRows()) {
                yield rows.map((row) => row.map(toCell));
              }
            } catch (error) {
              throw new SqlError(errorMessage(error), { cause: error });
            }
          })(),
        };
      } catch (error) {
        throw new SqlError(errorMessage(error), { cause: error });
      }
    },
    close: () => statement.destroySync(),
  };
}

const NUMERIC = new Set<number>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL,
  DuckDBTypeId.BIGNUM,
]);

function toCell(value: DuckDBValue): Cell {
  if (
    value === null || typeof value === "boolean" || typeof value === "number" ||
    typeof value === "string"
  ) {
    return value;
  }
  if (typeof value === "bigint") return value;
  if (value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) {
    return isoTimestamp(value.micros, 1_000_000n, 6) ?? value.toString();
  }
  if (value instanceof DuckDBTimestampMillisecondsValue) {
    return isoTimestamp(value.millis, 1_000n, 3) ?? value.toString();
  }
  if (value instanceof DuckDBTimestampSecondsValue) {
    return isoTimestamp(value.seconds, 1n, 0) ?? value.toString();
  }
  if (value instanceof DuckDBTimestampNanosecondsValue) {
    return isoTimestamp(value.nanos, 1_000_000_000n, 9) ?? value.toString();
  }
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) {
    return value.items.map(toCell);
  }
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toCell(v)]));
  }
  if (value instanceof DuckDBMapValue) {
    return Object.fromEntries(value.entries.map((e) => [String(toCell(e.key)), toCell(e.value)]));
  }
  if (value instanceof DuckDBUnionValue) return toCell(value.value);
  if (value instanceof DuckDBVariantValue) return toCell(value.value);
  if (value instanceof DuckDBBlobValue) return value.toString();
  // DATE, TIME, TIMETZ, INTERVAL, UUID, BIT, GEOMETRY: DuckDB's own text (ISO-8601 for dates and times).
  return value.toString();
}

/** The largest instant JavaScript dates hold, in seconds (+275760-09-13). */
const DATE_SECONDS_MAX = 8_640_000_000_000n;

/**
 * `2026-01-01T00:00:00Z`, with as many fractional digits as the value needs
 * (3, 6 or 9), from a count of `perSecond` units since the epoch; undefined
 * for infinities and instants outside JavaScript's date range.
 */
function isoTimestamp(units: bigint, perSecond: bigint, digits: number): string | undefined {
  let seconds = units / perSecond;
  let fraction = units % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  if (seconds > DATE_SECONDS_MAX || seconds < -DATE_SECONDS_MAX) return undefined;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, -5); // drop ".000Z"
  if (fraction === 0n) return `${whole}Z`;
  let text = fraction.toString().padStart(digits, "0");
  // Trim to milliseconds or microseconds when the rest is zeros.
  while (text.length > 3 && text.endsWith("000")) text = text.slice(0, -3);
  return `${whole}.${text}Z`;
}
