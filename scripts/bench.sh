#!/usr/bin/env bash
# Benchmarks (not tests): starts the services they need, runs one benchmark
# by name (default: all), prints its numbers. Record results in BENCHMARKS.md.
#   deno task bench [generate|iceberg|drain|stages|instructions|freshness|merge|query|write|fetch|all] [-- benchmark options]
#   deno task bench NAME --help   (what NAME measures and its options)
# Options differ per benchmark, so `all` runs each with its defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
[ "$#" -gt 0 ] && shift
# `deno task bench NAME -- OPTIONS` passes the separator through.
if [ "${1:-}" = "--" ]; then shift; fi
if [ "$which" = all ] && [ "$#" -gt 0 ]; then
  echo "benchmark options need a benchmark name (generate, iceberg, drain, stages, instructions, freshness, merge, query, write or fetch), not 'all'" >&2
  exit 2
fi
# `--help` after a name: the benchmark's own description (its header comment), no services started.
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  case "$which" in
    generate) file=generate ;; iceberg) file=iceberg_commit ;; drain) file=engine_drain ;;
    stages) file=stages ;; instructions) file=instructions ;; freshness) file=freshness ;;
    merge) file=merge_cost ;; write) file=write_files ;; fetch) file=kafka_fetch ;;
    query) file=query_latency ;;
    *)
      echo "--help needs a benchmark name (generate, iceberg, drain, stages, instructions, freshness, merge, query, write or fetch)" >&2
      exit 2
      ;;
  esac
  awk 'NR == 1 && !/^\/\*\*/ { next } /^\/\*\*/ { on = 1; next } on && /^ \*\// { exit } on { sub(/^ \* ?/, ""); print }' "bench/$file.ts"
  exit 0
fi
bash scripts/services.sh up
case "$which" in
  generate) deno run --allow-all bench/generate.ts "$@" ;;
  iceberg) deno run --allow-all bench/iceberg_commit.ts "$@" ;;
  drain) deno run --allow-all bench/engine_drain.ts "$@" ;;
  stages) deno run --allow-all bench/stages.ts "$@" ;;
  instructions) deno run --allow-all bench/instructions.ts "$@" ;;
  freshness) deno run --allow-all bench/freshness.ts "$@" ;;
  merge) deno run --allow-all bench/merge_cost.ts "$@" ;;
  write) deno run --allow-all bench/write_files.ts "$@" ;;
  fetch) deno run --allow-all bench/kafka_fetch.ts "$@" ;;
  query)
    bash scripts/services.sh up trino
    deno run --allow-all bench/query_latency.ts "$@"
    ;;
  all)
    deno run --allow-all bench/generate.ts
    deno run --allow-all bench/iceberg_commit.ts
    deno run --allow-all bench/engine_drain.ts
    ;;
  *)
    echo "unknown benchmark '$which' (have: generate, iceberg, drain, stages, instructions, freshness, merge, query, write, fetch, all)" >&2
    exit 2
    ;;
esac
