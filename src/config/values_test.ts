import assert from "node:assert/strict";
import {
  brokersProblem,
  catalogPathProblem,
  groupIdProblem,
  localDirectory,
  localPath,
  localWarehouseProblem,
  memoryLimitProblem,
  parseMemorySize,
  s3EndpointProblem,
  s3RegionProblem,
  topicProblem,
  warehouseProblem,
} from "./values.ts";

function accepts(check: (v: string) => string | undefined, values: string[]): void {
  for (const v of values) assert.equal(check(v), undefined, `should accept ${JSON.stringify(v)}`);
}

function refuses(check: (v: string) => string | undefined, values: string[], pattern?: RegExp) {
  for (const v of values) {
    const problem = check(v);
    assert.ok(problem !== undefined, `should refuse ${JSON.stringify(v)}`);
    if (pattern) assert.match(problem, pattern, v);
  }
}

Deno.test("brokersProblem takes what the Kafka client parses", () => {
  accepts(brokersProblem, [
    "127.0.0.1:9092",
    "a:1,b:65535",
    "[::1]:9092",
    " kafka-1:9092 , k2:9093",
  ]);
  refuses(
    brokersProblem,
    ["localhost", "a:0", "a:65536", "a:", ":9092", "http://a:9092", ",", "a b:1", "a:1x"],
    /^must be HOST:PORT\[,HOST:PORT\.\.\.\] with a port from 1 to 65535$/,
  );
});

Deno.test("topicProblem follows Kafka's topic name rules", () => {
  accepts(topicProblem, ["orders", "a.b_c-D9", "x".repeat(249), "..."]);
  refuses(topicProblem, [".", ".."], /other than/);
  refuses(topicProblem, ["x".repeat(250)], /at most 249/);
  refuses(topicProblem, ["a b", "a/b", "ördérs", "a,b", "a:b"], /letters, digits/);
});

Deno.test("groupIdProblem refuses blank ids", () => {
  accepts(groupIdProblem, ["lakehouse", " g "]);
  refuses(groupIdProblem, [" ", "\t"], /blank/);
});

Deno.test("memory sizes are DuckDB's: number and unit, no percentages", () => {
  assert.equal(parseMemorySize("512MB"), 512e6);
  assert.equal(parseMemorySize("1.5GiB"), 1.5 * 2 ** 30);
  assert.equal(parseMemorySize(" 2 gb "), 2e9);
  assert.equal(parseMemorySize("3t"), 3e12);
  assert.equal(parseMemorySize("1024"), undefined);
  assert.equal(parseMemorySize("2 GBs"), undefined);
  accepts(memoryLimitProblem, ["512MB", "2GB", "1.5GiB", "64MiB", "1TB", "4g"]);
  refuses(memoryLimitProblem, ["80%", "50 %"], /no percentages/);
  refuses(memoryLimitProblem, ["2", "lots", "2 GB RAM", "-1GB", "1e3MB", ""], /such as 512MB/);
  refuses(memoryLimitProblem, ["1MB", "0GB", "16MiB", "64MB"], /at least 64MiB/);
});

Deno.test("s3EndpointProblem wants an http(s) URL with a host and no credentials", () => {
  accepts(s3EndpointProblem, [
    "http://127.0.0.1:9000",
    "https://s3.eu-west-1.amazonaws.com",
    "http://minio/",
    "http://[::1]:9000",
  ]);
  refuses(
    s3EndpointProblem,
    ["ftp://bad", "127.0.0.1:9000", "http//x", "", "file:///x"],
    /http:\/\//,
  );
  refuses(s3EndpointProblem, ["http://user:pw@host"], /user:password@/);
  refuses(s3EndpointProblem, ["http://host/?x=1", "http://host/#a"], /query/);
});

Deno.test("s3RegionProblem refuses names with spaces or slashes", () => {
  accepts(s3RegionProblem, ["us-east-1", "garage", "eu_central"]);
  refuses(s3RegionProblem, ["us east", "a/b", "é"]);
});

Deno.test("warehouseProblem takes local paths, file:/// and s3:// only", () => {
  accepts(warehouseProblem, [
    "./wh",
    "wh",
    "/abs/wh",
    ".lakehouse/warehouse",
    "file:///abs/wh",
    "file:///abs/wh/",
    "s3://warehouse",
    "s3://warehouse/lake",
    "s3a://warehouse/lake/",
    "./name:with:colons",
  ]);
  refuses(
    warehouseProblem,
    ["ftp://x/y", "gs://bucket/x", "http://host/x", "hdfs:/x"],
    /local directory, file:\/\/\/ABSOLUTE\/DIR or s3:\/\/BUCKET\/PREFIX/,
  );
  refuses(warehouseProblem, ["file://relative/x", "file:///a//b", "file:///a/../b"], /file:\/\/\//);
  refuses(
    warehouseProblem,
    ["s3://", "s3:///x", "s3://a b/x", "s3://-xy/z", "s3://ab/c"],
    /bucket/,
  );
  refuses(warehouseProblem, ["s3://bkt/a//c", "s3://bkt/./c"], /in its prefix/);
  refuses(warehouseProblem, ["wh\0x"], /NUL/);
});

Deno.test("localWarehouseProblem takes local directories only", () => {
  accepts(localWarehouseProblem, ["./wh", "/abs", "file:///abs"]);
  refuses(localWarehouseProblem, ["s3://b/p"], /demo has no S3 support/);
  refuses(localWarehouseProblem, ["http://x"], /local directory/);
  assert.deepEqual(localDirectory("file:///a/b/"), { path: "/a/b" });
  assert.equal(localPath("file:///a/b"), "/a/b");
  assert.equal(localPath("./wh"), "./wh");
});

Deno.test("catalogPathProblem wants a file path, not a URI or a directory", () => {
  accepts(catalogPathProblem, ["./lake.db", "/abs/catalog.sqlite", "lake"]);
  refuses(catalogPathProblem, ["postgres://u@h/db", "sqlite:/x.db", "memory:"], /not a URI/);
  refuses(catalogPathProblem, ["dir/"], /not of a directory/);
});
