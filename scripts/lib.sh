# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings below are used by the sourcing scripts
# Shared settings and helpers for the scripts in this directory.
# Source it (`. scripts/lib.sh`); it defines variables and functions only and
# has no side effects, so other scripts can use the same defaults (ports,
# credentials, cache location) as services.sh.

# Everything downloaded or built (Kafka jars, the versitygw binary) and all
# service state live outside the repository, so a `git clean` never destroys
# a 100 MB download and the work tree stays small.
LAKEHOUSE_CACHE="${LAKEHOUSE_CACHE:-$HOME/.cache/lakehouse}"
LAKEHOUSE_SERVICES_DIR="$LAKEHOUSE_CACHE/services"

LAKEHOUSE_KAFKA_VERSION="4.1.1"
LAKEHOUSE_KAFKA_PORT="${LAKEHOUSE_KAFKA_PORT:-9092}"
LAKEHOUSE_KAFKA_CONTROLLER_PORT="${LAKEHOUSE_KAFKA_CONTROLLER_PORT:-9093}"
LAKEHOUSE_BROKERS="${LAKEHOUSE_BROKERS:-127.0.0.1:$LAKEHOUSE_KAFKA_PORT}"

LAKEHOUSE_VERSITYGW_VERSION="v1.7.0"
LAKEHOUSE_S3_PORT="${LAKEHOUSE_S3_PORT:-9000}"
LAKEHOUSE_S3_ENDPOINT="${LAKEHOUSE_S3_ENDPOINT:-http://127.0.0.1:$LAKEHOUSE_S3_PORT}"
LAKEHOUSE_S3_REGION="${LAKEHOUSE_S3_REGION:-us-east-1}"
LAKEHOUSE_S3_BUCKET="${LAKEHOUSE_S3_BUCKET:-warehouse}"
# Trino from Maven Central (trino-server-core + the Iceberg plugin). 476 is
# the newest release whose server tarball and plugin zip the build machines'
# Maven mirror serves; 477-483 are not there. It needs Java 24 or newer.
LAKEHOUSE_TRINO_VERSION="476"
LAKEHOUSE_TRINO_PORT="${LAKEHOUSE_TRINO_PORT:-8080}"
LAKEHOUSE_TRINO_URL="http://127.0.0.1:$LAKEHOUSE_TRINO_PORT"
# The Iceberg REST catalog Trino's `lakehouse` catalog reads through
# (`lakehouse serve` listens here by default).
LAKEHOUSE_REST_URI="${LAKEHOUSE_REST_URI:-http://127.0.0.1:8181}"

# Local-development defaults only; real deployments set both variables.
LAKEHOUSE_S3_ACCESS_KEY="${LAKEHOUSE_S3_ACCESS_KEY:-lakehouse}"
LAKEHOUSE_S3_SECRET_KEY="${LAKEHOUSE_S3_SECRET_KEY:-lakehouse-secret}"

lh_say() {
  printf '%s\n' "$*"
}

lh_warn() {
  printf '%s\n' "$*" >&2
}

lh_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# lh_port_open PORT: true if something accepts TCP connections on
# 127.0.0.1:PORT. Uses bash's /dev/tcp so no extra tool is needed; the
# subshell closes the descriptor again.
lh_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# lh_pid_cmdline PID: the process's command line with NULs turned into spaces,
# or nothing if the process does not exist.
lh_pid_cmdline() {
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true
}

# lh_pidfile_pid PIDFILE PATTERN: prints the pid from PIDFILE if that process
# is alive AND its command line contains PATTERN. The pattern check guards
# against pid reuse (after a reboot, a stale pid file can name an unrelated
# process, which must never be signalled).
lh_pidfile_pid() {
  local pidfile=$1 pattern=$2 pid cmdline
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmdline=$(lh_pid_cmdline "$pid")
  [[ -n $cmdline && $cmdline == *"$pattern"* ]] || return 1
  lh_pid_alive "$pid" || return 1
  printf '%s\n' "$pid"
}

# lh_pid_alive PID: true while the process exists and is not a zombie (a
# zombie still answers `kill -0` until its parent reaps it).
lh_pid_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
  # Field 2 is "(comm)" and may contain spaces; the state follows the last ")".
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# lh_stop_pid NAME PID: SIGTERM, wait up to 20 s for a clean shutdown (Kafka
# flushes its logs and checkpoints), then SIGKILL.
lh_stop_pid() {
  local name=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    lh_pid_alive "$pid" || return 0
    sleep 0.1
  done
  lh_warn "$name: pid $pid still running after 20 s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    lh_pid_alive "$pid" || return 0
    sleep 0.1
  done
  lh_die "$name: pid $pid survived SIGKILL"
}

# lh_log_tail FILE: the end of a log file on stderr, for failure messages.
lh_log_tail() {
  local file=$1
  if [[ -s $file ]]; then
    lh_warn "---- last 40 lines of $file ----"
    tail -n 40 "$file" >&2
    lh_warn "----"
  fi
}
