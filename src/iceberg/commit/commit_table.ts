/**
 * The one commit path of the Iceberg layer. Every change to a table,
 * whether a writer's snapshot (commitChange) or a REST catalog client's
 * requirements and updates (commitTable), is committed the same way, per
 * attempt: load the current metadata, plan the attempt's requirements and
 * updates against it, check the requirements, apply the updates (pure),
 * write the new metadata file, and swap the catalog pointer once. A lost
 * swap reloads and retries after a backoff; an unknown outcome is reported
 * and nothing written is deleted (a commit that did land may refer to it).
 */
import {
  AlreadyExistsError,
  type Catalog,
  CommitConflictError,
  CommitStateUnknownError,
  formatTableIdentifier,
  NoSuchTableError,
  type TableIdentifier,
} from "../../catalog/catalog.ts";
import { backoffDelayMs } from "../../core/backoff.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { LakehouseError } from "../../core/errors.ts";
import { type RandomSource, systemRandom } from "../../core/random.ts";
import type { ObjectStore } from "../../storage/store.ts";
import { metadataFileName, parseMetadataVersion, tableMetadataToJson } from "../spec/metadata.ts";
import type { TableMetadata } from "../spec/types.ts";
import { loadTable, type ManifestReader, type TableHandle } from "../table.ts";
import {
  applyUpdates,
  checkRequirements,
  type TableRequirement,
  type TableUpdate,
} from "./updates.ts";

export interface CommitContext {
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly id: TableIdentifier;
  /** A long-lived writer's cache of what it read and wrote. */
  readonly manifests?: ManifestReader;
}

export interface CommitOptions {
  /** Swaps lost to other writers before giving up (default 10). */
  readonly attemptsMax?: number;
  /** Backoff before the first retry (the bound doubles per retry), default 20 ms. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Time for timestamps and backoff sleeps (default the system clock). */
  readonly clock?: Clock;
  /**
   * Randomness for snapshot ids and backoff jitter (default the platform's).
   * File names stay random UUIDs whatever this is: two writers seeded alike
   * must never write to the same path.
   */
  readonly random?: RandomSource;
  /** Merge data (or delete) manifests once there are at least this many. */
  readonly manifestMergeMinCount?: number;
  /** Manifests at least this large are left as they are when merging. */
  readonly manifestTargetBytes?: number;
}

export interface TableCommitResult {
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
  readonly attempts: number;
}

/**
 * Commits REST-style requirements and updates to a table: the requirements
 * are checked against the metadata each attempt loads (a failure throws
 * RequirementFailedError, retriable, naming the requirement: the REST
 * server's 409), the updates applied to it (InvalidUpdateError or
 * UnsupportedUpdateError, not retriable: its 400). With `assert-create`
 * the table must not exist: it is created from the updates alone.
 */
export async function commitTable(
  context: CommitContext,
  requirements: readonly TableRequirement[],
  updates: readonly TableUpdate[],
  options: CommitOptions = {},
): Promise<TableCommitResult> {
  const creates = requirements.some((r) => r.type === "assert-create");
  return await runCommit(context, options, () => ({ requirements, updates }), {
    mayNotExist: creates,
  });
}

/** What one attempt commits, planned against the table as that attempt read it. */
export interface AttemptChanges {
  readonly requirements: readonly TableRequirement[];
  readonly updates: readonly TableUpdate[];
  /** Called once the swap landed (a writer remembers the files it wrote). */
  readonly landed?: () => void;
}

export interface Attempt {
  /** The table as loaded for this attempt; undefined when it does not exist yet. */
  readonly table: TableHandle | undefined;
  /** 1 for the first attempt. */
  readonly number: number;
  /** This attempt's time, never before the base metadata's last-updated-ms. */
  readonly nowMs: number;
}

export interface RunCommitOptions {
  /** The table already loaded for the first attempt. */
  readonly initial?: TableHandle;
  /** The table may not exist (a create): attempts then get `table` undefined. */
  readonly mayNotExist?: boolean;
}

/**
 * The commit loop itself: `plan` is called once per attempt and may do I/O
 * (a writer writes its manifest list there); what it returns is checked and
 * applied purely, then written and swapped.
 */
export async function runCommit(
  context: CommitContext,
  options: CommitOptions,
  plan: (attempt: Attempt) => AttemptChanges | Promise<AttemptChanges>,
  run: RunCommitOptions = {},
): Promise<TableCommitResult> {
  const { catalog, store, id } = context;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const attemptsMax = options.attemptsMax ?? 10;
  const load = async (): Promise<TableHandle | undefined> => {
    try {
      return await loadTable(catalog, store, id, context.manifests);
    } catch (error) {
      if (run.mayNotExist && error instanceof NoSuchTableError) return undefined;
      throw error;
    }
  };
  let table = run.initial ?? await load();
  for (let number = 1;; number++) {
    const base = table?.metadata;
    const nowMs = Math.floor(Math.max(clock.now(), base?.["last-updated-ms"] ?? 0));
    const changes = await plan({ table, number, nowMs });
    checkRequirements(base, changes.requirements);
    const next = applyUpdates(base, changes.updates, {
      nowMs,
      baseLocation: table?.metadataLocation,
      newTableUuid: crypto.randomUUID(),
    });
    const version = table === undefined
      ? 0
      : (parseMetadataVersion(table.metadataLocation) ?? 0) + 1;
    const location = `${next.location}/metadata/${metadataFileName(version, crypto.randomUUID())}`;
    const bytes = new TextEncoder().encode(tableMetadataToJson(next));
    await store.put(location, bytes);
    try {
      if (table === undefined) await catalog.createTable(id, location);
      else await catalog.swapTable(id, table.metadataLocation, location);
    } catch (error) {
      if (error instanceof CommitStateUnknownError) throw error;
      const lost = error instanceof CommitConflictError ||
        (table === undefined && error instanceof AlreadyExistsError);
      if (!lost) throw error;
      if (number >= attemptsMax) {
        throw new LakehouseError(
          `commit to ${
            formatTableIdentifier(id)
          } lost ${number} races in a row; giving up (${error.message})`,
          { cause: error, retriable: true },
        );
      }
      const policy = {
        firstDelayMs: options.backoffBaseMs ?? 20,
        delayMaxMs: options.backoffMaxMs ?? 2_000,
        factor: 2,
      };
      await clock.sleep(backoffDelayMs(policy, number, () => random.float()));
      table = await load();
      continue;
    }
    // The next commit starts from this file; it need not parse it back.
    context.manifests?.rememberMetadata(location, bytes, next);
    changes.landed?.();
    return { metadataLocation: location, metadata: next, attempts: number };
  }
}
