#!/usr/bin/env bash
# The whole test suite: brings up the services the integration tests need
# (idempotent: reuses running ones), then runs unit, integration and
# cross-engine tests. Extra arguments go to `deno test` (e.g. a path filter).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh up
if [ "$#" -eq 0 ]; then set -- src/ tests/; fi
exec deno test --allow-all "$@"
