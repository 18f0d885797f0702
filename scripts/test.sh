#!/usr/bin/env bash
# The whole test suite: brings up the services the integration tests need
# (idempotent: reuses running ones; Kafka and S3, and Trino for the
# cross-engine tests), then runs unit, integration and cross-engine tests.
# Extra arguments go to `deno test` (e.g. a path filter); Trino is started
# only when the whole suite or a Trino/REST test file is asked for.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh up
if [ "$#" -eq 0 ] || [[ " $* " == *trino* ]] || [[ " $* " == *rest_catalog* ]]; then
  bash scripts/services.sh up trino
fi
if [ "$#" -eq 0 ]; then set -- src/ tests/; fi
exec deno test --allow-all "$@"
