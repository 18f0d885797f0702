/**
 * Object store over any S3 API (AWS, versitygw, MinIO, Ceph ...): the only
 * importer of @aws-sdk/client-s3.
 *
 * Retries: the SDK sends each request once; this store retries throttling
 * (SlowDown, 503, 429), other 5xx answers, connection failures, requests
 * that time out and downloads cut off mid-body, `requestAttemptsMax` times
 * in all, with capped exponential backoff and jitter on the injected clock,
 * and tells `onRetry` of every failed attempt (so a caller can warn about an
 * outage while it lasts instead of after the last attempt). Every request
 * has a deadline (`requestTimeoutMs`, plus time for its body): a server that
 * accepts connections but never answers (a frozen process) fails the request
 * instead of hanging it, and `signal` abandons requests in flight at
 * shutdown (AbortedError).
 *
 * Conditional writes (`ifNoneMatch`) send `If-None-Match: *`. Some servers
 * check that header and then write in two steps: versitygw 1.7.0 lets two
 * concurrent conditional puts of one key both succeed, the later silently
 * replacing the earlier. Two standard-only measures narrow that gap: puts to
 * the same key from this process are serialized (so the server's check sees
 * the earlier object), and each conditional put is read back; if the stored
 * bytes are not ours, another writer replaced them and the put reports
 * PreconditionFailedError. Racing writers in different processes can still
 * both succeed on such a server; the catalog's compare-and-swap, not this
 * header, is what makes commits exclusive.
 *
 * Flexible checksums are only sent when an API requires them. With the
 * SDK's default (a CRC32 on every upload, parts included) multipart uploads
 * must also declare the algorithm when created, and servers differ in what
 * they accept: versitygw 1.7.0 fails CompleteMultipartUpload with InvalidPart
 * for parts that carry a checksum the upload was not created with.
 */
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { sleepUnlessAborted } from "../core/backoff.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import {
  AbortedError,
  errorMessage,
  LakehouseError,
  ServiceUnavailableError,
} from "../core/errors.ts";
import { readFull, writeAll, writeFileAtomic } from "./_local.ts";
import {
  checkRange,
  NotFoundError,
  type ObjectInfo,
  type ObjectStore,
  PreconditionFailedError,
  type PutOptions,
  rangeOutsideObject,
  withTrailingSlash,
} from "./store.ts";

const MiB = 1024 * 1024;

export interface S3Config {
  /** Base URL of a non-AWS server, e.g. "http://127.0.0.1:9000"; unset means AWS. */
  readonly endpoint?: string;
  readonly region: string;
  /** Unset means the SDK's default chain (AWS_* variables, profiles, instance roles). */
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** "endpoint/bucket/key" URLs instead of "bucket.endpoint/key"; most non-AWS servers need it. */
  readonly forcePathStyle: boolean;
  /** Attempts per request, including the first. */
  readonly requestAttemptsMax: number;
  /**
   * Time allowed for one request without a body; requests with a body get
   * one more second per REQUEST_BODY_BYTES_PER_S on top.
   */
  readonly requestTimeoutMs: number;
  /** putFile switches to a multipart upload above this size. */
  readonly multipartThresholdBytes: number;
  /** Size of each multipart part except the last (S3 requires at least 5 MiB). */
  readonly partSizeBytes: number;
}

export const DEFAULT_S3_CONFIG: Readonly<S3Config> = Object.freeze({
  region: "us-east-1",
  forcePathStyle: true,
  requestAttemptsMax: 5,
  requestTimeoutMs: 20_000,
  multipartThresholdBytes: 16 * MiB,
  partSizeBytes: 8 * MiB,
});

/** S3 limits on multipart uploads. */
const PART_SIZE_MIN_BYTES = 5 * MiB;
const PART_SIZE_MAX_BYTES = 5 * 1024 * MiB;
const PARTS_MAX = 10_000;
/** Parts uploaded at once; bounds memory at this many part buffers. */
const PARTS_IN_FLIGHT_MAX = 4;
/** DeleteObjects accepts at most this many keys per request. */
const DELETE_BATCH_KEYS_MAX = 1000;
/** Concurrent single deletes when a server lacks DeleteObjects. */
const DELETES_IN_FLIGHT_MAX = 8;
const CONNECT_TIMEOUT_MS = 5_000;
/** How long after the SDK's deadline the watchdog in #send fails a request. */
const WATCHDOG_SLACK_MS = 2_000;

/** The slowest transfer a request's deadline allows for (see requestTimeoutMs). */
const REQUEST_BODY_BYTES_PER_S = 256 * 1024;

export interface S3StoreOptions {
  /** Paces the outer retry backoff; tests pass a FakeClock. */
  readonly clock?: Clock;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
  /** A client to use instead of building one (tests pass a fake). */
  readonly client?: S3Client;
  /** Keys per ListObjectsV2 page (1..1000). */
  readonly listPageKeys?: number;
  /** First backoff delay of the outer retry; doubles per attempt. */
  readonly backoffBaseMs?: number;
  /** Upper bound of one outer backoff delay. */
  readonly backoffMaxMs?: number;
  /**
   * Read every conditional put back and report it lost unless the stored
   * bytes are ours (default true); see "Conditional writes" in the file comment.
   */
  readonly verifyConditionalPuts?: boolean;
  /** Abandons requests in flight and retries once aborted (shutdown deadline). */
  readonly signal?: AbortSignal;
  /** Told of every failed attempt that will be retried, with a message naming endpoint and error. */
  readonly onRetry?: (message: string) => void;
}

/** Bucket and key of an `s3://bucket/key` URI. */
export interface S3Location {
  readonly scheme: string;
  readonly bucket: string;
  readonly key: string;
}

export function parseS3Uri(uri: string): S3Location {
  const match = /^(s3a?):\/\/([^/]+)(?:\/(.*))?$/s.exec(uri);
  if (!match) {
    throw new LakehouseError(`S3 store cannot serve ${uri}: expected s3://bucket/key`);
  }
  return { scheme: match[1], bucket: match[2], key: match[3] ?? "" };
}

type Failure =
  | "notFound"
  | "noBucket"
  | "precondition"
  | "credentials"
  | "throttled"
  | "server"
  | "conflict"
  | "notImplemented"
  | "invalidRange"
  | "noUpload"
  | "network"
  | "interrupted"
  | "other";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);
const THROTTLE_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestLimitExceeded",
  "TooManyRequests",
  "TooManyRequestsException",
]);
const CREDENTIAL_CODES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidToken",
  "ExpiredToken",
  "InvalidSecurity",
  "CredentialsProviderError",
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function sdkError(error: unknown): SdkError {
  return typeof error === "object" && error !== null ? error as SdkError : {};
}

/** Sorts an SDK or network error into the cases callers and the retry loop treat differently. */
export function classifyS3Error(error: unknown): Failure {
  const e = sdkError(error);
  const status = e.$metadata?.httpStatusCode;
  if (e.$metadata === undefined) {
    // Not an answer from S3: a broken body stream, or a local file error
    // (whose names, such as Deno's "NotFound", must not read as S3 codes).
    const network = NETWORK_CODES.has(e.code ?? "") || e.name === "TimeoutError" ||
      /socket hang up|ECONNRESET|premature close|timed out/i.test(e.message ?? "");
    return network ? "interrupted" : "other";
  }
  const name = e.name ?? "";
  if (name === "NoSuchBucket") return "noBucket";
  if (name === "NoSuchUpload") return "noUpload";
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) return "notFound";
  if (name === "PreconditionFailed" || status === 412) return "precondition";
  if (CREDENTIAL_CODES.has(name) || status === 401 || status === 403) return "credentials";
  if (THROTTLE_CODES.has(name) || status === 429 || status === 503) return "throttled";
  // S3 answers a conditional write that races another one with 409; retrying resolves it.
  if (name === "ConditionalRequestConflict") return "conflict";
  if (name === "NotImplemented" || status === 501) return "notImplemented";
  if (name === "InvalidRange" || status === 416) return "invalidRange";
  if (status !== undefined && status >= 500) return "server";
  // No answer: the connection failed or the request's deadline passed.
  if (status === undefined && (NETWORK_CODES.has(e.code ?? "") || name === "TimeoutError")) {
    return "network";
  }
  return "other";
}

function sdkAttempts(error: unknown): number {
  return sdkError(error).$metadata?.attempts ?? 1;
}

function retriedByStore(failure: Failure): boolean {
  return failure === "throttled" || failure === "server" || failure === "conflict" ||
    failure === "interrupted" || failure === "network";
}

export class S3Store implements ObjectStore {
  readonly root: string;
  readonly #config: S3Config;
  readonly #client: S3Client;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #listPageKeys: number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #endpoint: string;
  readonly #verifyConditionalPuts: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #onRetry: ((message: string) => void) | undefined;
  #batchDeleteSupported = true;
  #closed = false;

  constructor(root: string, config: Partial<S3Config> = {}, options: S3StoreOptions = {}) {
    const full: S3Config = { ...DEFAULT_S3_CONFIG, ...withoutUndefined(config) };
    checkConfig(full);
    parseS3Uri(root);
    this.root = withTrailingSlash(root);
    this.#config = full;
    this.#endpoint = full.endpoint ?? `https://s3.${full.region}.amazonaws.com`;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#listPageKeys = options.listPageKeys ?? 1000;
    if (!Number.isInteger(this.#listPageKeys) || this.#listPageKeys < 1) {
      throw new RangeError(`listPageKeys must be an integer >= 1, got ${this.#listPageKeys}`);
    }
    this.#backoffBaseMs = options.backoffBaseMs ?? 250;
    this.#backoffMaxMs = options.backoffMaxMs ?? 20_000;
    this.#verifyConditionalPuts = options.verifyConditionalPuts ?? true;
    this.#signal = options.signal;
    this.#onRetry = options.onRetry;
    this.#client = options.client ?? new S3Client({
      endpoint: full.endpoint,
      region: full.region,
      forcePathStyle: full.forcePathStyle,
      credentials: full.accessKeyId !== undefined
        ? { accessKeyId: full.accessKeyId, secretAccessKey: full.secretAccessKey ?? "" }
        : undefined,
      // Retries are this store's (see the file comment).
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: CONNECT_TIMEOUT_MS,
        requestTimeout: full.requestTimeoutMs,
        // A response body that stops arriving fails after this long without data.
        socketTimeout: full.requestTimeoutMs,
        // Without it the SDK only logs a warning and keeps waiting.
        throwOnRequestTimeout: true,
      },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  /** The endpoint named in error messages. */
  get endpoint(): string {
    return this.#endpoint;
  }

  async put(uri: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const { bucket, key } = this.#object(uri, "write");
    if (!options.ifNoneMatch) {
      await this.#retry("write", uri, async () => {
        await this.#send((http) =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: data,
              ContentLength: data.length,
            }),
            http,
          ), data.length);
      });
      return;
    }
    // See "Conditional writes" in the file comment.
    await serializedPerKey(
      `${this.#endpoint}\n${bucket}\n${key}`,
      () =>
        this.#retry("write", uri, async (attempt) => {
          try {
            await this.#send((http) =>
              this.#client.send(
                new PutObjectCommand({
                  Bucket: bucket,
                  Key: key,
                  Body: data,
                  ContentLength: data.length,
                  IfNoneMatch: "*",
                }),
                http,
              ), data.length);
          } catch (error) {
            // After a retried attempt a 412 may mean our own earlier attempt
            // landed and only its answer was lost; identical content is success.
            const retried = attempt > 1 || sdkAttempts(error) > 1;
            if (retried && classifyS3Error(error) === "precondition") {
              const existing = await this.#read(bucket, key).catch(() => undefined);
              if (existing && equalBytes(existing, data)) return;
            }
            throw error;
          }
          if (!this.#verifyConditionalPuts) return;
          let stored: Uint8Array | undefined;
          try {
            stored = await this.#read(bucket, key);
          } catch (error) {
            if (classifyS3Error(error) !== "notFound") throw error;
          }
          if (!stored || !equalBytes(stored, data)) {
            throw new PreconditionFailedError(uri, {
              cause: new Error(
                "another writer replaced the object right after this conditional put",
              ),
            });
          }
        }),
    );
  }

  async get(uri: string): Promise<Uint8Array> {
    const { bucket, key } = this.#object(uri, "read");
    return await this.#retry("read", uri, () => this.#read(bucket, key));
  }

  async getRange(uri: string, offset: number, length: number): Promise<Uint8Array> {
    const { bucket, key } = this.#object(uri, "read");
    checkRange(uri, offset, length);
    const outside = async () => {
      const info = await this.head(uri);
      if (!info) return new NotFoundError(uri, "read");
      return rangeOutsideObject(uri, offset, length, info.size);
    };
    if (length === 0) {
      // HTTP cannot express an empty range; the object must still exist.
      const info = await this.head(uri);
      if (!info) throw new NotFoundError(uri, "read");
      if (offset > info.size) throw rangeOutsideObject(uri, offset, length, info.size);
      return new Uint8Array(0);
    }
    let response: { data: Uint8Array; contentRange?: string };
    try {
      response = await this.#retry("read", uri, async () => {
        // The body is read under the watchdog too: a small object's whole answer.
        return await this.#send(async (http) => {
          const output = await this.#client.send(
            new GetObjectCommand({
              Bucket: bucket,
              Key: key,
              Range: `bytes=${offset}-${offset + length - 1}`,
            }),
            http,
          );
          return { data: await bodyBytes(output), contentRange: output.ContentRange };
        }, length);
      });
    } catch (error) {
      if (classifyS3Error((error as Error).cause) === "invalidRange") throw await outside();
      throw error;
    }
    let data = response.data;
    if (response.contentRange === undefined && data.length > length) {
      // A server that ignores Range answers with the whole object.
      data = data.subarray(offset, offset + length);
    }
    if (data.length !== length) throw await outside();
    return data;
  }

  async head(uri: string): Promise<ObjectInfo | undefined> {
    const { bucket, key } = this.#object(uri, "inspect");
    try {
      return await this.#retry("inspect", uri, async () => {
        const output = await this.#send(
          (http) => this.#client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), http),
          0,
        );
        return {
          path: uri,
          size: output.ContentLength ?? 0,
          lastModifiedMs: output.LastModified?.getTime() ?? 0,
        };
      });
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    this.#checkOpen("list", prefixUri);
    const { scheme, bucket, key: prefix } = parseS3Uri(prefixUri);
    let token: string | undefined;
    const seen = new Set<string>();
    do {
      const page = await this.#retry(
        "list",
        prefixUri,
        () =>
          this.#send((http) =>
            this.#client.send(
              new ListObjectsV2Command({
                Bucket: bucket,
                Prefix: prefix === "" ? undefined : prefix,
                ContinuationToken: token,
                MaxKeys: this.#listPageKeys,
              }),
              http,
            ), 0),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key;
        // Keys ending in "/" are directory markers some servers report; this store never writes one.
        if (key === undefined || key.endsWith("/") || !key.startsWith(prefix)) continue;
        yield {
          path: `${scheme}://${bucket}/${key}`,
          size: object.Size ?? 0,
          lastModifiedMs: object.LastModified?.getTime() ?? 0,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw new LakehouseError(
          `cannot list ${prefixUri}: ${this.#endpoint} reported more keys but no continuation token`,
        );
      }
      if (token !== undefined) {
        // A server that hands back a token it gave before would make this loop forever.
        if (seen.has(token)) {
          throw new LakehouseError(
            `cannot list ${prefixUri}: ${this.#endpoint} repeated a continuation token`,
          );
        }
        seen.add(token);
      }
    } while (token !== undefined);
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = this.#object(uri, "delete");
    try {
      await this.#retry("delete", uri, async () => {
        await this.#send(
          (http) => this.#client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), http),
          0,
        );
      });
    } catch (error) {
      // S3 answers 204 for a missing key; some servers answer 404 instead.
      if (error instanceof NotFoundError) return;
      throw error;
    }
  }

  async deleteMany(uris: readonly string[]): Promise<void> {
    const byBucket = new Map<string, { uri: string; key: string }[]>();
    for (const uri of uris) {
      const { bucket, key } = this.#object(uri, "delete");
      let group = byBucket.get(bucket);
      if (!group) byBucket.set(bucket, group = []);
      group.push({ uri, key });
    }
    for (const [bucket, objects] of byBucket) {
      for (let start = 0; start < objects.length; start += DELETE_BATCH_KEYS_MAX) {
        const chunk = objects.slice(start, start + DELETE_BATCH_KEYS_MAX);
        if (this.#batchDeleteSupported) {
          const done = await this.#deleteBatch(bucket, chunk);
          if (done) continue;
        }
        await forEachLimited(chunk, DELETES_IN_FLIGHT_MAX, (object) => this.delete(object.uri));
      }
    }
  }

  async putFile(uri: string, localPath: string): Promise<void> {
    const { bucket, key } = this.#object(uri, "upload");
    let size: number;
    try {
      size = (await Deno.stat(localPath)).size;
    } catch (error) {
      throw new LakehouseError(
        `cannot upload ${localPath} to ${uri}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (size <= this.#config.multipartThresholdBytes) {
      let data: Uint8Array;
      try {
        data = await Deno.readFile(localPath);
      } catch (error) {
        throw new LakehouseError(
          `cannot upload ${localPath} to ${uri}: ${errorMessage(error)}`,
          { cause: error },
        );
      }
      await this.put(uri, data);
      return;
    }
    await this.#putMultipart(uri, bucket, key, localPath, size);
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    const { bucket, key } = this.#object(uri, "download");
    await this.#retry("download", uri, async () => {
      const output = await this.#send(
        (http) => this.#client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), http),
        0,
      );
      let written = 0;
      await writeFileAtomic(localPath, async (file) => {
        const body = output.Body;
        if (!body) return;
        const reader = body.transformToWebStream().getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writeAll(file, value);
          written += value.length;
        }
        if (output.ContentLength !== undefined && written !== output.ContentLength) {
          throw Object.assign(
            new Error(`body ended after ${written} of ${output.ContentLength} bytes`),
            { code: "ECONNRESET" },
          );
        }
      });
    }, `to ${localPath}`);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.destroy();
    }
    return Promise.resolve();
  }

  /**
   * Sends one request with its deadline (longer for a body of `bodyBytes`)
   * and the shutdown signal. The SDK enforces the deadline too, but its
   * rejection waits for the request body to finish writing, which never
   * happens against a frozen server with a full socket buffer: the watchdog
   * here fails the request a little later regardless, so the retry loop
   * (and its warning) always gets to run.
   */
  async #send<T>(
    send: (http: { abortSignal: AbortSignal; requestTimeout: number }) => Promise<T>,
    bodyBytes: number,
  ): Promise<T> {
    const requestTimeout = this.#config.requestTimeoutMs +
      Math.ceil(bodyBytes / REQUEST_BODY_BYTES_PER_S) * 1000;
    const controller = new AbortController();
    const onAbort = () => controller.abort(this.#signal?.reason);
    this.#signal?.addEventListener("abort", onAbort, { once: true });
    if (this.#signal?.aborted) onAbort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      const fail = (error: Error) => {
        controller.abort(error);
        reject(error);
      };
      timer = setTimeout(() => {
        fail(Object.assign(
          new Error(`no complete answer within ${requestTimeout + WATCHDOG_SLACK_MS} ms`),
          { name: "TimeoutError" },
        ));
      }, requestTimeout + WATCHDOG_SLACK_MS);
      controller.signal.addEventListener("abort", () => {
        if (this.#signal?.aborted) fail(new Error(errorMessage(this.#signal.reason)));
      }, { once: true });
    });
    const sent = send({ abortSignal: controller.signal, requestTimeout });
    sent.catch(() => {}); // its late failure, if the watchdog answered first
    try {
      return await Promise.race([sent, watchdog]);
    } finally {
      clearTimeout(timer);
      this.#signal?.removeEventListener("abort", onAbort);
    }
  }

  async #read(bucket: string, key: string): Promise<Uint8Array> {
    // The body is read under the watchdog too (metadata and manifests: small).
    return await this.#send(
      async (http) =>
        bodyBytes(
          await this.#client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), http),
        ),
      0,
    );
  }

  /** Returns false when the server does not implement DeleteObjects. */
  async #deleteBatch(bucket: string, chunk: { uri: string; key: string }[]): Promise<boolean> {
    const where = `${chunk.length} objects in s3://${bucket}/ (first ${chunk[0].uri})`;
    let errors: { Key?: string; Code?: string; Message?: string }[];
    try {
      const output = await this.#retry(
        "delete",
        where,
        () =>
          this.#send((http) =>
            this.#client.send(
              new DeleteObjectsCommand({
                Bucket: bucket,
                Delete: { Objects: chunk.map(({ key }) => ({ Key: key })), Quiet: true },
              }),
              http,
            ), 0),
      );
      errors = output.Errors ?? [];
    } catch (error) {
      if (classifyS3Error((error as Error).cause) === "notImplemented") {
        this.#batchDeleteSupported = false;
        return false;
      }
      throw error;
    }
    const failures = errors.filter((e) => e.Code !== "NoSuchKey");
    if (failures.length > 0) {
      const first = failures[0];
      const retriable = failures.every((e) =>
        retriedByStore(classifyS3Error({ name: e.Code, $metadata: {} }))
      );
      throw new LakehouseError(
        `cannot delete ${failures.length} of ${where}: s3://${bucket}/${first.Key}: ${first.Code} ${
          first.Message ?? ""
        }`.trimEnd(),
        { retriable },
      );
    }
    return true;
  }

  async #putMultipart(
    uri: string,
    bucket: string,
    key: string,
    localPath: string,
    size: number,
  ): Promise<void> {
    const partSize = Math.max(this.#config.partSizeBytes, Math.ceil(size / PARTS_MAX));
    const partCount = Math.ceil(size / partSize);
    const detail = `from ${localPath}`;
    const created = await this.#retry(
      "upload",
      uri,
      () =>
        this.#send(
          (http) =>
            this.#client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), http),
          0,
        ),
      detail,
    );
    const uploadId = created.UploadId;
    if (!uploadId) {
      throw new LakehouseError(`cannot upload ${uri}: ${this.#endpoint} returned no upload id`);
    }
    const parts: CompletedPart[] = new Array(partCount);
    try {
      let next = 0;
      let failed = false;
      const worker = async () => {
        using file = await Deno.open(localPath, { read: true });
        const buffer = new Uint8Array(partSize);
        while (!failed && next < partCount) {
          const index = next++;
          const offset = index * partSize;
          const expected = Math.min(partSize, size - offset);
          await file.seek(offset, Deno.SeekMode.Start);
          const n = await readFull(file, buffer.subarray(0, expected));
          if (n !== expected) {
            throw new LakehouseError(
              `cannot upload ${localPath} to ${uri}: the file shrank while it was uploaded`,
            );
          }
          const output = await this.#retry(
            "upload",
            uri,
            () =>
              this.#send((http) =>
                this.#client.send(
                  new UploadPartCommand({
                    Bucket: bucket,
                    Key: key,
                    UploadId: uploadId,
                    PartNumber: index + 1,
                    Body: buffer.subarray(0, expected),
                    ContentLength: expected,
                  }),
                  http,
                ), expected),
            `${detail} (part ${index + 1} of ${partCount})`,
          );
          parts[index] = { PartNumber: index + 1, ETag: output.ETag };
        }
      };
      const results = await Promise.allSettled(
        Array.from(
          { length: Math.min(PARTS_IN_FLIGHT_MAX, partCount) },
          () =>
            worker().catch((error) => {
              failed = true;
              throw error;
            }),
        ),
      );
      const rejected = results.find((r) => r.status === "rejected");
      if (rejected) throw (rejected as PromiseRejectedResult).reason;
      await this.#retry("upload", uri, async (attempt) => {
        try {
          await this.#send((http) =>
            this.#client.send(
              new CompleteMultipartUploadCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId,
                MultipartUpload: { Parts: parts },
              }),
              http,
            ), 0);
        } catch (error) {
          // A retried completion whose first attempt succeeded finds the upload gone.
          const retried = attempt > 1 || sdkAttempts(error) > 1;
          if (retried && classifyS3Error(error) === "noUpload") {
            const info = await this.head(uri).catch(() => undefined);
            if (info?.size === size) return;
          }
          throw error;
        }
      }, detail);
    } catch (error) {
      // Best effort: an upload left open keeps its parts (and their cost) until a lifecycle rule.
      await this.#send(
        (http) =>
          this.#client.send(
            new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
            http,
          ),
        0,
      ).catch(() => {});
      throw error;
    }
  }

  /**
   * Runs `operation`, retrying what the store retries (see the file comment)
   * with full-jitter exponential backoff, and turns the final failure into a
   * LakehouseError that says what could not be done to which URI and why.
   */
  async #retry<T>(
    action: string,
    uri: string,
    operation: (attempt: number) => Promise<T>,
    detail = "",
  ): Promise<T> {
    this.#checkOpen(action, uri);
    for (let attempt = 1;; attempt++) {
      this.#throwIfAborted(action, uri);
      try {
        return await operation(attempt);
      } catch (error) {
        this.#throwIfAborted(action, uri, error);
        if (error instanceof LakehouseError) throw error;
        const failure = classifyS3Error(error);
        const described = this.#describe(failure, error, action, uri, detail, attempt);
        if (!retriedByStore(failure) || attempt >= this.#config.requestAttemptsMax) {
          throw described;
        }
        this.#onRetry?.(`${described.message} (attempt ${attempt}, retrying)`);
        const capMs = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** (attempt - 1));
        await sleepUnlessAborted(this.#clock, this.#random() * capMs, this.#signal).catch(() => {
          this.#throwIfAborted(action, uri);
        });
      }
    }
  }

  #throwIfAborted(action: string, uri: string, cause?: unknown): void {
    if (!this.#signal?.aborted) return;
    throw new AbortedError(
      `cannot ${action} ${uri}: abandoned (${errorMessage(this.#signal.reason)})`,
      {
        cause: cause ?? this.#signal.reason,
      },
    );
  }

  #describe(
    failure: Failure,
    error: unknown,
    action: string,
    uri: string,
    detail: string,
    attempt: number,
  ): LakehouseError {
    const e = sdkError(error);
    const what = `cannot ${action} ${detail ? `${uri} ${detail}` : uri}`;
    const status = e.$metadata?.httpStatusCode;
    const code = e.name && e.name !== "Error" ? e.name : e.code;
    const label = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(", ");
    const reason = this.#scrub(label ? `${label}: ${e.message ?? ""}` : e.message ?? String(error));
    const attempts = attempt * sdkAttempts(error);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    switch (failure) {
      case "notFound":
        return new NotFoundError(uri, action, { cause: error });
      case "precondition":
        return new PreconditionFailedError(uri, { cause: error });
      case "noBucket":
        return new LakehouseError(
          `${what}: bucket "${parseS3Uri(uri).bucket}" does not exist at ${this.#endpoint}`,
          { cause: error },
        );
      case "credentials":
        return new LakehouseError(
          `${what}: credentials were rejected at ${this.#endpoint}${this.#keyId()} (${reason})`,
          { cause: error },
        );
      case "network":
      case "interrupted":
        return new ServiceUnavailableError(
          `${what}: S3 endpoint ${this.#endpoint} did not answer${tries} (${reason})`,
          { cause: error },
        );
      case "throttled":
        return new LakehouseError(
          `${what}: ${this.#endpoint} is throttling requests${tries} (${reason})`,
          { cause: error, retriable: true },
        );
      case "server":
      case "conflict":
        return new LakehouseError(`${what}: ${this.#endpoint} failed${tries} (${reason})`, {
          cause: error,
          retriable: true,
        });
      default:
        return new LakehouseError(
          status ? `${what}: ${this.#endpoint} refused (${reason})` : `${what}: ${reason}`,
          { cause: error },
        );
    }
  }

  /** Which key was refused, by its last characters only: the key id is a credential too. */
  #keyId(): string {
    const id = this.#config.accessKeyId;
    if (id === undefined) return " (credentials from the AWS default chain)";
    return id.length > 8 ? ` for access key ...${id.slice(-4)}` : " for the configured access key";
  }

  /** Server messages can echo request details; never let the secret reach a log line. */
  #scrub(text: string): string {
    const secret = this.#config.secretAccessKey;
    return secret ? text.replaceAll(secret, "***") : text;
  }

  #object(uri: string, action: string): S3Location {
    this.#checkOpen(action, uri);
    const location = parseS3Uri(uri);
    if (location.key === "" || location.key.endsWith("/")) {
      throw new LakehouseError(
        `cannot ${action} ${uri}: an object URI needs a key not ending in "/"`,
      );
    }
    return location;
  }

  #checkOpen(action: string, uri: string): void {
    if (this.#closed) throw new LakehouseError(`cannot ${action} ${uri}: the store is closed`);
  }
}

function checkConfig(config: S3Config): void {
  const { requestAttemptsMax, multipartThresholdBytes, partSizeBytes } = config;
  if (!Number.isInteger(requestAttemptsMax) || requestAttemptsMax < 1) {
    throw new RangeError(
      `S3 requestAttemptsMax must be an integer >= 1, got ${requestAttemptsMax}`,
    );
  }
  if (!Number.isSafeInteger(multipartThresholdBytes) || multipartThresholdBytes < 0) {
    throw new RangeError(
      `S3 multipartThresholdBytes must be an integer >= 0, got ${multipartThresholdBytes}`,
    );
  }
  if (
    !Number.isSafeInteger(partSizeBytes) || partSizeBytes < PART_SIZE_MIN_BYTES ||
    partSizeBytes > PART_SIZE_MAX_BYTES
  ) {
    throw new RangeError(
      `S3 partSizeBytes must be an integer from ${PART_SIZE_MIN_BYTES} (5 MiB) to ${PART_SIZE_MAX_BYTES} (5 GiB), got ${partSizeBytes}`,
    );
  }
  if (config.region === "") throw new RangeError(`S3 region must not be empty`);
  if (config.endpoint !== undefined && !/^https?:\/\/[^/]+/.test(config.endpoint)) {
    throw new RangeError(`S3 endpoint must be an http(s) URL, got "${config.endpoint}"`);
  }
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
    throw new RangeError(`S3 accessKeyId and secretAccessKey must be given together`);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function bodyBytes(output: GetObjectCommandOutput): Promise<Uint8Array> {
  return output.Body ? await output.Body.transformToByteArray() : new Uint8Array(0);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Tails of the per-key queues of conditional puts in this process. */
const conditionalPutQueues = new Map<string, Promise<void>>();

async function serializedPerKey<T>(key: string, run: () => Promise<T>): Promise<T> {
  const previous = conditionalPutQueues.get(key) ?? Promise.resolve();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const tail = previous.then(() => gate);
  conditionalPutQueues.set(key, tail);
  await previous;
  try {
    return await run();
  } finally {
    release();
    if (conditionalPutQueues.get(key) === tail) conditionalPutQueues.delete(key);
  }
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
