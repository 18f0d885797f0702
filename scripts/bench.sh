#!/usr/bin/env bash
# Benchmarks (not tests): starts the services they need, runs one benchmark
# by name (default: all), prints its numbers. Record results in BENCHMARKS.md.
#   deno task bench [generate] [-- benchmark options]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
[ "$#" -gt 0 ] && shift
bash scripts/services.sh up
case "$which" in
  generate | all) deno run --allow-all bench/generate.ts "$@" ;;
  *)
    echo "unknown benchmark '$which' (have: generate)" >&2
    exit 2
    ;;
esac
