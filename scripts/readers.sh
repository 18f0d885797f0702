#!/usr/bin/env bash
# Installs the independent Iceberg readers the cross-engine tests use into a
# virtual environment in the cache (not the repo): pyiceberg with pyarrow and
# SQLAlchemy (for its SQL catalog), pinned. Idempotent; prints the venv's python.
set -euo pipefail
CACHE="${LAKEHOUSE_CACHE:-$HOME/.cache/lakehouse}"
VENV="$CACHE/venv-readers"
REQS="pyiceberg[pyarrow,sql-sqlite,s3fs]==0.12.0 pyarrow==26.0.1 sqlalchemy==2.1.9"
MARKER="$VENV/.installed-$(echo "$REQS" | md5sum | cut -c1-12)"

if [ ! -f "$MARKER" ]; then
  echo "readers: installing pyiceberg into $VENV (first run only)..." >&2
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # word splitting of the requirement list is intended
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS >&2
  touch "$MARKER"
fi
echo "$VENV/bin/python"
