#!/usr/bin/env bash
# Local Kafka and S3 for development, tests and CI, without Docker.
#
#   bash scripts/services.sh up [--fresh] [kafka|s3|all]
#   bash scripts/services.sh down [kafka|s3|all]
#   bash scripts/services.sh status [kafka|s3|all]
#   bash scripts/services.sh kafka-topics --list   (Kafka's TopicCommand)
#
# Kafka: Apache Kafka (KRaft, one node acting as broker and controller), its
# jars resolved from Maven Central with mvn. S3: versitygw serving a POSIX
# directory, built with `go install`. Both listen on 127.0.0.1 only.
#
# Downloads and builds are cached in $LAKEHOUSE_CACHE (default
# ~/.cache/lakehouse); data, logs and pid files live in
# $LAKEHOUSE_CACHE/services/{kafka,s3}/. `up` is idempotent and keeps data
# across restarts unless LAKEHOUSE_SERVICES_FRESH=1 (or --fresh) is given.
# `down` only stops processes recorded in its own pid files.
#
# Environment (defaults in scripts/lib.sh):
#   LAKEHOUSE_CACHE, LAKEHOUSE_SERVICES_FRESH=1,
#   LAKEHOUSE_KAFKA_PORT (9092), LAKEHOUSE_KAFKA_CONTROLLER_PORT (9093),
#   LAKEHOUSE_KAFKA_START_TIMEOUT (90 s),
#   LAKEHOUSE_S3_PORT (9000), LAKEHOUSE_S3_BUCKET (warehouse),
#   LAKEHOUSE_S3_REGION (us-east-1), LAKEHOUSE_S3_ACCESS_KEY,
#   LAKEHOUSE_S3_SECRET_KEY, LAKEHOUSE_S3_VERBOSE=1 (log every S3 request),
#   JAVA_HOME (Java 17 or newer).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

FRESH=${LAKEHOUSE_SERVICES_FRESH:-0}

KAFKA_VERSION=$LAKEHOUSE_KAFKA_VERSION
KAFKA_PORT=$LAKEHOUSE_KAFKA_PORT
KAFKA_CONTROLLER_PORT=$LAKEHOUSE_KAFKA_CONTROLLER_PORT
KAFKA_START_TIMEOUT=${LAKEHOUSE_KAFKA_START_TIMEOUT:-90}
KAFKA_HOME="$LAKEHOUSE_CACHE/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_DIR="$LAKEHOUSE_SERVICES_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j2.properties"
KAFKA_TOOLS_LOG4J="$KAFKA_DIR/tools-log4j2.properties"

VERSITYGW_VERSION=$LAKEHOUSE_VERSITYGW_VERSION
VERSITYGW_BIN="$LAKEHOUSE_CACHE/bin/versitygw"
S3_PORT=$LAKEHOUSE_S3_PORT
S3_BUCKET=$LAKEHOUSE_S3_BUCKET
S3_DIR="$LAKEHOUSE_SERVICES_DIR/s3"
# The sidecar (object metadata) directory must not be inside the data
# directory: every directory directly under the data root is a bucket.
S3_DATA="$S3_DIR/data"
S3_META="$S3_DIR/meta"
S3_LOG="$S3_DIR/s3.log"
S3_PID="$S3_DIR/s3.pid"
S3_START_TIMEOUT=30
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

usage() {
  cat >&2 <<EOF
usage: bash scripts/services.sh up [--fresh] [kafka|s3|all]
       bash scripts/services.sh down [kafka|s3|all]
       bash scripts/services.sh status [kafka|s3|all]
       bash scripts/services.sh kafka-topics TOPIC-COMMAND-ARGS...  (e.g. --list)
EOF
  exit 2
}

# Rename FILE to FILE.1 so each start begins with a clean log while the
# previous run's log is still there to compare against.
rotate_log() {
  if [[ -s $1 ]]; then
    mv -f "$1" "$1.1"
  fi
}

# ---------------------------------------------------------------- Kafka ----

JAVA=""

find_java() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA=$(command -v java)
  else
    lh_die "kafka: java not found (install a JDK 17+ or set JAVA_HOME)"
  fi
  # Kafka 4 brokers need Java 17 or newer.
  local spec
  spec=$("$JAVA" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = //p')
  if [[ ! $spec =~ ^[0-9]+$ ]] || ((spec < 17)); then
    lh_die "kafka: $JAVA is Java ${spec:-unknown}; Kafka $KAFKA_VERSION needs Java 17 or newer (set JAVA_HOME)"
  fi
}

# Download the broker's runtime classpath once. The marker file holds a hash
# of the pom, so changing the dependency list triggers a fresh download.
kafka_ensure_jars() {
  local pom want tmp mvn_log jar
  pom=$(<"$SCRIPT_DIR/kafka/pom.xml")
  pom=${pom//@KAFKA_VERSION@/$KAFKA_VERSION}
  want=$(printf '%s\n' "$pom" | sha256sum | cut -d' ' -f1)
  if [[ -f $KAFKA_LIBS/.complete && $(<"$KAFKA_LIBS/.complete") == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || lh_die "kafka: mvn not found (needed once to download the Kafka jars)"
  lh_say "kafka: downloading jars (first run only)..."
  mkdir -p "$KAFKA_HOME"
  printf '%s\n' "$pom" >"$KAFKA_HOME/pom.xml"
  mvn_log="$KAFKA_HOME/mvn.log"
  # Resolve into a scratch directory and swap it in whole: copy-dependencies
  # never deletes, so reusing an old libs/ could leave two versions of a jar
  # (e.g. slf4j-api 1.7 and 2.0) on the classpath.
  tmp="$KAFKA_HOME/libs.tmp"
  rm -rf "$tmp"
  if ! mvn -q -B -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
    lh_log_tail "$mvn_log"
    lh_die "kafka: downloading the Kafka jars with Maven failed (log: $mvn_log)"
  fi
  for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" \
    slf4j-api-2.0.17.jar log4j-slf4j2-impl-2.25.3.jar; do
    [[ -f $tmp/$jar ]] || lh_die "kafka: $jar missing after the Maven download (log: $mvn_log)"
  done
  if compgen -G "$tmp/slf4j-api-1.*" >/dev/null; then
    lh_die "kafka: slf4j-api 1.x was resolved next to 2.x; logging would not bind (see $KAFKA_HOME/pom.xml)"
  fi
  printf '%s\n' "$want" >"$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
}

# Written on every `up`, so port changes and edits to the templates in
# scripts/kafka/ take effect on the next start.
kafka_write_config() {
  local conf
  mkdir -p "$KAFKA_DIR"
  conf=$(<"$SCRIPT_DIR/kafka/server.properties.in")
  conf=${conf//@KAFKA_PORT@/$KAFKA_PORT}
  conf=${conf//@CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT}
  conf=${conf//@DATA_DIR@/$KAFKA_DATA}
  printf '%s\n' "$conf" >"$KAFKA_CONF"
  cp "$SCRIPT_DIR/kafka/log4j2.properties" "$KAFKA_LOG4J"
  cp "$SCRIPT_DIR/kafka/tools-log4j2.properties" "$KAFKA_TOOLS_LOG4J"
}

# kafka_tool CLASS ARGS...: run one of Kafka's command-line tools with a small
# heap and quick JIT settings (they are short-lived).
kafka_tool() {
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

# A real Metadata round trip, not just an open port: the socket accepts
# connections before the broker can serve requests, and the broker answers
# Metadata only once it has registered with the controller. The request is
# hand-encoded (Metadata v4, all topics, no auto-creation; v4 is the oldest
# version Kafka 4 still accepts) and sent over bash's /dev/tcp, which takes
# milliseconds where a JVM-based client takes seconds to start.
kafka_healthy() {
  local reply
  # shellcheck disable=SC2016 # $1 is expanded by the inner shell
  reply=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # size=23 | api_key=3 | api_version=4 | correlation_id=0x4c48 |
    # client_id="lh-probe" | topics=null (all) | allow_auto_topic_creation=0
    printf "\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x4c\x48\x00\x08lh-probe\xff\xff\xff\xff\x00" >&3
    head -c 16 <&3 | od -An -v -tx1
  ' _ "$KAFKA_PORT" 2>/dev/null) || return 1
  reply=${reply//[[:space:]]/}
  # Response: size | correlation_id | throttle_time_ms | number of brokers.
  [[ ${#reply} == 32 && ${reply:8:8} == 00004c48 ]] && ((16#${reply:24:8} >= 1))
}

kafka_format_if_needed() {
  local cluster_id
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    return 0
  fi
  lh_say "kafka: formatting storage in $KAFKA_DATA (new cluster)..."
  mkdir -p "$KAFKA_DATA"
  cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG") ||
    lh_die "kafka: could not generate a cluster id (log: $KAFKA_LOG)"
  # No --standalone: that flag is for dynamic quorums
  # (controller.quorum.bootstrap.servers); StorageTool refuses it together
  # with the static controller.quorum.voters used here.
  if ! kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONF" \
    >>"$KAFKA_LOG" 2>&1; then
    lh_log_tail "$KAFKA_LOG"
    lh_die "kafka: formatting storage failed (log: $KAFKA_LOG)"
  fi
}

# kafka_wait PID: until the broker answers metadata, the process dies, or the
# timeout passes.
kafka_wait() {
  local pid=$1 deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! lh_pid_alive "$pid"; then
      rm -f "$KAFKA_PID"
      lh_log_tail "$KAFKA_LOG"
      lh_die "kafka: process $pid exited during startup (log: $KAFKA_LOG)"
    fi
    if kafka_healthy; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      lh_log_tail "$KAFKA_LOG"
      lh_die "kafka: no metadata answer from 127.0.0.1:$KAFKA_PORT after ${KAFKA_START_TIMEOUT} s; pid $pid is still running (log: $KAFKA_LOG; stop it with: bash scripts/services.sh down kafka)"
    fi
    sleep 1
  done
}

kafka_up() {
  local pid
  if pid=$(lh_pidfile_pid "$KAFKA_PID" "$KAFKA_CONF"); then
    if [[ $FRESH == 1 ]]; then
      lh_say "kafka: stopping pid $pid for a fresh start..."
      lh_stop_pid kafka "$pid"
      rm -f "$KAFKA_PID"
    else
      if ! kafka_healthy; then
        lh_say "kafka: pid $pid is running but not answering on 127.0.0.1:$KAFKA_PORT yet, waiting..."
        kafka_wait "$pid"
      fi
      lh_say "kafka: already up on 127.0.0.1:$KAFKA_PORT (pid $pid, log $KAFKA_LOG)"
      return 0
    fi
  fi
  rm -f "$KAFKA_PID"

  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if lh_port_open "$port"; then
      lh_die "kafka: 127.0.0.1:$port is already in use by a process this script did not start (see: ss -ltnp 'sport = :$port'); stop it or set LAKEHOUSE_KAFKA_PORT / LAKEHOUSE_KAFKA_CONTROLLER_PORT"
    fi
  done
  find_java
  kafka_ensure_jars
  if [[ $FRESH == 1 && -e $KAFKA_DATA ]]; then
    lh_say "kafka: wiping $KAFKA_DATA (LAKEHOUSE_SERVICES_FRESH=1)"
    rm -rf "$KAFKA_DATA"
  fi
  kafka_write_config
  rotate_log "$KAFKA_LOG"
  kafka_format_if_needed

  lh_say "kafka: starting Kafka $KAFKA_VERSION..."
  # setsid: own session, so the broker outlives this shell and a Ctrl-C in
  # the terminal that ran `up` does not reach it. fd 9 (the lock) is closed
  # so the long-running process does not keep holding it.
  setsid "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" \
    </dev/null >>"$KAFKA_LOG" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$KAFKA_PID"
  kafka_wait "$pid"
  lh_say "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $pid, log $KAFKA_LOG)"
}

kafka_status() {
  local pid
  if pid=$(lh_pidfile_pid "$KAFKA_PID" "$KAFKA_CONF"); then
    if kafka_healthy; then
      lh_say "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $pid, log $KAFKA_LOG)"
      return 0
    fi
    lh_say "kafka: pid $pid is running but does not answer metadata on 127.0.0.1:$KAFKA_PORT (log $KAFKA_LOG)"
    return 1
  fi
  lh_say "kafka: stopped"
  return 1
}

# ------------------------------------------------------------------- S3 ----

# Build versitygw once; rebuild when the cached binary is another version
# (`go version -m` reads the module version embedded by `go install`).
s3_ensure_binary() {
  local have="" build_log="$LAKEHOUSE_CACHE/logs/versitygw-install.log"
  if [[ -x $VERSITYGW_BIN ]]; then
    if ! command -v go >/dev/null 2>&1; then
      return 0
    fi
    have=$(go version -m "$VERSITYGW_BIN" 2>/dev/null |
      awk '$1 == "mod" && $2 == "github.com/versity/versitygw" { print $3 }')
    if [[ -z $have || $have == "$VERSITYGW_VERSION" ]]; then
      return 0
    fi
    lh_say "s3: cached versitygw is $have, rebuilding $VERSITYGW_VERSION..."
  fi
  command -v go >/dev/null 2>&1 ||
    lh_die "s3: go not found (needed once to build versitygw $VERSITYGW_VERSION; it needs Go 1.25+)"
  lh_say "s3: building versitygw $VERSITYGW_VERSION (first run only, a few minutes)..."
  mkdir -p "$LAKEHOUSE_CACHE/bin" "$LAKEHOUSE_CACHE/logs"
  if ! GOBIN="$LAKEHOUSE_CACHE/bin" go install \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >"$build_log" 2>&1; then
    lh_log_tail "$build_log"
    lh_die "s3: building versitygw failed (log: $build_log)"
  fi
}

# s3_curl ARGS...: a SigV4-signed request as the root user. The credentials
# go to curl through a config on stdin (printf is a builtin), so the secret
# never appears in a process listing or in the output.
s3_curl() {
  local ak=$LAKEHOUSE_S3_ACCESS_KEY sk=$LAKEHOUSE_S3_SECRET_KEY
  # Inside double quotes curl's config syntax treats \ and " as escapes.
  ak=${ak//\\/\\\\} ak=${ak//\"/\\\"}
  sk=${sk//\\/\\\\} sk=${sk//\"/\\\"}
  # versitygw, like AWS, rejects requests without x-amz-content-sha256, and
  # curl before 8.x does not add it by itself. All requests sent here have
  # an empty body, so the header is the SHA-256 of the empty string, which
  # is also what curl signs when it computes the payload hash itself.
  printf 'user = "%s:%s"\n' "$ak" "$sk" |
    curl -K - --silent --show-error --fail --max-time 10 \
      --aws-sigv4 "aws:amz:$LAKEHOUSE_S3_REGION:s3" \
      -H "x-amz-content-sha256: $EMPTY_SHA256" "$@"
}

# ListBuckets answered; prints the response body.
s3_list_buckets() {
  s3_curl "http://127.0.0.1:$S3_PORT/" 2>/dev/null
}

s3_bucket_listed() {
  local body
  body=$(s3_list_buckets) || return 1
  [[ $body == *"<Name>$S3_BUCKET</Name>"* ]]
}

s3_healthy() {
  lh_port_open "$S3_PORT" && s3_list_buckets >/dev/null
}

# s3_wait PID
s3_wait() {
  local pid=$1 deadline=$((SECONDS + S3_START_TIMEOUT)) err=""
  while :; do
    if ! lh_pid_alive "$pid"; then
      rm -f "$S3_PID"
      lh_log_tail "$S3_LOG"
      lh_die "s3: versitygw (pid $pid) exited during startup (log: $S3_LOG)"
    fi
    if lh_port_open "$S3_PORT"; then
      if err=$(s3_curl "http://127.0.0.1:$S3_PORT/" 2>&1 >/dev/null); then
        return 0
      fi
      # Waiting does not fix a signature rejection: the server runs with
      # other credentials than the ones in this environment.
      if [[ $err == *"error: 403"* ]]; then
        lh_die "s3: versitygw (pid $pid) rejects the credentials (403); it was started with other LAKEHOUSE_S3_ACCESS_KEY/LAKEHOUSE_S3_SECRET_KEY values (restart it: bash scripts/services.sh down s3 && bash scripts/services.sh up s3)"
      fi
    fi
    if ((SECONDS >= deadline)); then
      lh_log_tail "$S3_LOG"
      lh_die "s3: no ListBuckets answer from 127.0.0.1:$S3_PORT after ${S3_START_TIMEOUT} s${err:+ (last error: $err)}; pid $pid is still running (log: $S3_LOG; stop it with: bash scripts/services.sh down s3)"
    fi
    sleep 0.2
  done
}

# Create the bucket through the S3 API (CreateBucket), so versitygw records
# its owner and ACL like for any other bucket, then confirm with ListBuckets.
s3_ensure_bucket() {
  if s3_bucket_listed; then
    return 0
  fi
  lh_say "s3: creating bucket $S3_BUCKET..."
  local err
  if ! err=$(s3_curl -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>&1 >/dev/null); then
    s3_bucket_listed && return 0 # created concurrently
    lh_die "s3: CreateBucket $S3_BUCKET failed: $err (log: $S3_LOG)"
  fi
  s3_bucket_listed || lh_die "s3: bucket $S3_BUCKET not listed after CreateBucket (log: $S3_LOG)"
}

s3_up() {
  local pid
  if pid=$(lh_pidfile_pid "$S3_PID" "$S3_DATA"); then
    if [[ $FRESH == 1 ]]; then
      lh_say "s3: stopping pid $pid for a fresh start..."
      lh_stop_pid s3 "$pid"
      rm -f "$S3_PID"
    else
      if ! s3_healthy; then
        lh_say "s3: pid $pid is running but not answering on 127.0.0.1:$S3_PORT yet, waiting..."
        s3_wait "$pid"
      fi
      s3_ensure_bucket
      lh_say "s3: already up on http://127.0.0.1:$S3_PORT, bucket $S3_BUCKET (pid $pid, log $S3_LOG)"
      return 0
    fi
  fi
  rm -f "$S3_PID"

  if lh_port_open "$S3_PORT"; then
    lh_die "s3: 127.0.0.1:$S3_PORT is already in use by a process this script did not start (see: ss -ltnp 'sport = :$S3_PORT'); stop it or set LAKEHOUSE_S3_PORT"
  fi
  s3_ensure_binary
  if [[ $FRESH == 1 ]] && [[ -e $S3_DATA || -e $S3_META ]]; then
    lh_say "s3: wiping $S3_DATA and $S3_META (LAKEHOUSE_SERVICES_FRESH=1)"
    rm -rf "$S3_DATA" "$S3_META"
  fi
  mkdir -p "$S3_DATA" "$S3_META"
  rotate_log "$S3_LOG"

  # --quiet: without it versitygw logs every request, which grows the log by
  # megabytes during a benchmark. LAKEHOUSE_S3_VERBOSE=1 turns it back on.
  local -a opts=(--port "127.0.0.1:$S3_PORT")
  if [[ ${LAKEHOUSE_S3_VERBOSE:-0} != 1 ]]; then
    opts+=(--quiet)
  fi
  lh_say "s3: starting versitygw $VERSITYGW_VERSION..."
  # Credentials and region via the environment variables versitygw reads
  # (ROOT_ACCESS_KEY, ROOT_SECRET_KEY, VGW_REGION), not via arguments, to
  # keep the secret out of the process listing. setsid and 9>&- as for Kafka.
  ROOT_ACCESS_KEY=$LAKEHOUSE_S3_ACCESS_KEY ROOT_SECRET_KEY=$LAKEHOUSE_S3_SECRET_KEY \
    VGW_REGION=$LAKEHOUSE_S3_REGION \
    setsid "$VERSITYGW_BIN" "${opts[@]}" posix --sidecar "$S3_META" "$S3_DATA" \
    </dev/null >>"$S3_LOG" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$S3_PID"
  s3_wait "$pid"
  s3_ensure_bucket
  lh_say "s3: up on http://127.0.0.1:$S3_PORT, bucket $S3_BUCKET (pid $pid, log $S3_LOG)"
}

s3_status() {
  local pid
  if pid=$(lh_pidfile_pid "$S3_PID" "$S3_DATA"); then
    if s3_bucket_listed; then
      lh_say "s3: up on http://127.0.0.1:$S3_PORT, bucket $S3_BUCKET (pid $pid, log $S3_LOG)"
      return 0
    fi
    lh_say "s3: pid $pid is running but ListBuckets on 127.0.0.1:$S3_PORT fails or lacks bucket $S3_BUCKET (log $S3_LOG)"
    return 1
  fi
  lh_say "s3: stopped"
  return 1
}

# ------------------------------------------------------------- commands ----

# stop_service NAME PIDFILE PATTERN PORT
stop_service() {
  local name=$1 pidfile=$2 pattern=$3 port=$4 pid
  if pid=$(lh_pidfile_pid "$pidfile" "$pattern"); then
    lh_say "$name: stopping pid $pid..."
    lh_stop_pid "$name" "$pid"
    rm -f "$pidfile"
    lh_say "$name: stopped"
  else
    if [[ -f $pidfile ]]; then
      lh_say "$name: not running (removing stale pid file $pidfile)"
      rm -f "$pidfile"
    else
      lh_say "$name: not running"
    fi
  fi
  if lh_port_open "$port"; then
    lh_warn "$name: note: 127.0.0.1:$port is still in use by a process this script did not start"
  fi
}

# Serialise concurrent invocations (two test runs calling `up` at once).
take_lock() {
  mkdir -p "$LAKEHOUSE_SERVICES_DIR"
  exec 9>"$LAKEHOUSE_SERVICES_DIR/.lock"
  if ! flock -w 300 9; then
    lh_die "another services.sh has held $LAKEHOUSE_SERVICES_DIR/.lock for 5 minutes"
  fi
}

main() {
  local cmd=${1:-} target=all
  [[ -n $cmd ]] || usage
  shift
  if [[ $cmd == kafka-topics ]]; then
    # Kafka ships no scripts in this setup; this stands in for
    # kafka-topics.sh, e.g. `services.sh kafka-topics --describe --topic orders`.
    [[ -f $KAFKA_LIBS/.complete ]] || lh_die "kafka: jars not downloaded yet (run: bash scripts/services.sh up kafka)"
    find_java
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"
    return
  fi
  while (($# > 0)); do
    case $1 in
      --fresh) FRESH=1 ;;
      kafka | s3 | all) target=$1 ;;
      -h | --help) usage ;;
      *)
        lh_warn "unknown argument: $1"
        usage
        ;;
    esac
    shift
  done
  local want_kafka=0 want_s3=0
  if [[ $target == all || $target == kafka ]]; then want_kafka=1; fi
  if [[ $target == all || $target == s3 ]]; then want_s3=1; fi

  case $cmd in
    up)
      take_lock
      local started=$SECONDS
      if ((want_s3)); then s3_up; fi
      if ((want_kafka)); then kafka_up; fi
      lh_say "services: ready in $((SECONDS - started)) s (state and logs in $LAKEHOUSE_SERVICES_DIR)"
      ;;
    down)
      take_lock
      if ((want_kafka)); then stop_service kafka "$KAFKA_PID" "$KAFKA_CONF" "$KAFKA_PORT"; fi
      if ((want_s3)); then stop_service s3 "$S3_PID" "$S3_DATA" "$S3_PORT"; fi
      ;;
    status)
      local rc=0
      if ((want_kafka)); then kafka_status || rc=1; fi
      if ((want_s3)); then s3_status || rc=1; fi
      return "$rc"
      ;;
    -h | --help | help) usage ;;
    *)
      lh_warn "unknown command: $cmd"
      usage
      ;;
  esac
}

main "$@"
