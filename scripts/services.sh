#!/usr/bin/env bash
# Local Kafka, S3 and Trino for development, tests and CI, without Docker.
#
#   bash scripts/services.sh up [--fresh] [kafka|s3|trino|all]
#   bash scripts/services.sh down [kafka|s3|trino|all]
#   bash scripts/services.sh status [kafka|s3|trino|all]
#   bash scripts/services.sh kafka-topics --list   (Kafka's TopicCommand)
#   bash scripts/services.sh trino-cli [ARGS...]   (Trino's CLI: catalog lakehouse, schema shop)
#
# Kafka: Apache Kafka (KRaft, one node acting as broker and controller), its
# jars resolved from Maven Central with mvn. S3: versitygw serving a POSIX
# directory, built with `go install`. Trino: trino-server-core and the
# Iceberg plugin from Maven Central, one node, with the catalog `lakehouse`
# (scripts/trino/lakehouse.properties) reading through the Iceberg REST
# catalog at $LAKEHOUSE_REST_URI (`lakehouse serve`) and the S3 server. All
# listen on 127.0.0.1 only. `up` without a name (or `all`) starts Kafka and
# S3; Trino, a 540 MB download that takes half a minute to start, only when
# named. `down` and `status` without a name include Trino.
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
#   JAVA_HOME (Java 17 or newer), LAKEHOUSE_TRINO_PORT (8080),
#   LAKEHOUSE_REST_URI (http://127.0.0.1:8181), LAKEHOUSE_AUTH_TOKEN (the
#   REST catalog's bearer token, handed to Trino when set at `up`),
#   LAKEHOUSE_TRINO_JAVA_HOME (Java 24+ for Trino; default JAVA_HOME if new
#   enough, else /usr/lib/jvm/temurin-25-jdk-amd64 or another JDK 24+ under
#   /usr/lib/jvm), LAKEHOUSE_TRINO_HEAP (2G), LAKEHOUSE_TRINO_START_TIMEOUT
#   (180 s).
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

TRINO_VERSION=$LAKEHOUSE_TRINO_VERSION
TRINO_PORT=$LAKEHOUSE_TRINO_PORT
TRINO_HOME="$LAKEHOUSE_CACHE/trino-$TRINO_VERSION"
TRINO_CLI_JAR="$LAKEHOUSE_CACHE/trino-cli-$TRINO_VERSION-executable.jar"
TRINO_DIR="$LAKEHOUSE_SERVICES_DIR/trino"
TRINO_ETC="$TRINO_DIR/etc"
TRINO_LOG="$TRINO_DIR/trino.log"
TRINO_PID="$TRINO_DIR/trino.pid"
TRINO_START_TIMEOUT=${LAKEHOUSE_TRINO_START_TIMEOUT:-180}
TRINO_HEAP=${LAKEHOUSE_TRINO_HEAP:-2G}

usage() {
  cat >&2 <<EOF
usage: bash scripts/services.sh up [--fresh] [kafka|s3|trino|all]
       bash scripts/services.sh down [kafka|s3|trino|all]
       bash scripts/services.sh status [kafka|s3|trino|all]
       bash scripts/services.sh kafka-topics TOPIC-COMMAND-ARGS...  (e.g. --list)
       bash scripts/services.sh trino-cli [TRINO-CLI-ARGS...]  (e.g. --execute 'SHOW TABLES')
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

# ---------------------------------------------------------------- Trino ----

TRINO_JAVA=""

# java_spec JAVA: the Java specification version (17, 25, ...) of a binary.
java_spec() {
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = //p'
}

# Trino 476 refuses to start on Java older than 24.
find_trino_java() {
  local candidate spec
  local -a candidates=()
  if [[ -n ${LAKEHOUSE_TRINO_JAVA_HOME:-} ]]; then
    candidates+=("$LAKEHOUSE_TRINO_JAVA_HOME/bin/java")
  fi
  if [[ -n ${JAVA_HOME:-} ]]; then candidates+=("$JAVA_HOME/bin/java"); fi
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64/bin/java /usr/lib/jvm/*/bin/java)
  for candidate in "${candidates[@]}"; do
    [[ -x $candidate ]] || continue
    spec=$(java_spec "$candidate")
    if [[ $spec =~ ^[0-9]+$ ]] && ((spec >= 24)); then
      TRINO_JAVA=$candidate
      return 0
    fi
  done
  if [[ -n ${LAKEHOUSE_TRINO_JAVA_HOME:-} ]]; then
    lh_die "trino: LAKEHOUSE_TRINO_JAVA_HOME=$LAKEHOUSE_TRINO_JAVA_HOME is not a JDK 24 or newer; Trino $TRINO_VERSION needs Java 24+"
  fi
  lh_die "trino: no Java 24 or newer found (LAKEHOUSE_TRINO_JAVA_HOME, JAVA_HOME, /usr/lib/jvm/*); Trino $TRINO_VERSION needs it. Install a JDK 24+ (e.g. Eclipse Temurin 25, package temurin-25-jdk from the Adoptium apt repository) and set LAKEHOUSE_TRINO_JAVA_HOME to it"
}

# maven_fetch GROUP:ARTIFACT:VERSION:TYPE[:CLASSIFIER] DIR: one artifact
# (no dependencies) from Maven Central into DIR.
maven_fetch() {
  local artifact=$1 dir=$2 log="$LAKEHOUSE_CACHE/logs/maven-fetch.log"
  command -v mvn >/dev/null 2>&1 || lh_die "trino: mvn not found (needed once to download $artifact)"
  mkdir -p "$dir" "$LAKEHOUSE_CACHE/logs"
  if ! mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$dir" \
    -Dmdep.overWriteReleases=true >"$log" 2>&1; then
    lh_log_tail "$log"
    lh_die "trino: downloading $artifact from Maven Central failed (log: $log)"
  fi
}

# zip_extract ZIP: unpack into the current directory (unzip, else Python).
zip_extract() {
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$1"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(".")' "$1"
  fi
}

# The server (lib/, core plugins) and the Iceberg plugin, unpacked once;
# .complete marks a finished install, so an interrupted one is redone.
trino_ensure_install() {
  local tmp downloads="$LAKEHOUSE_CACHE/downloads"
  if [[ -f $TRINO_HOME/.complete ]]; then
    return 0
  fi
  lh_say "trino: downloading Trino $TRINO_VERSION from Maven Central (first run only, 540 MB)..."
  maven_fetch "io.trino:trino-server-core:$TRINO_VERSION:tar.gz" "$downloads"
  maven_fetch "io.trino:trino-iceberg:$TRINO_VERSION:zip" "$downloads"
  lh_say "trino: unpacking into $TRINO_HOME..."
  tmp="$TRINO_HOME.tmp"
  rm -rf "$tmp" "$TRINO_HOME"
  mkdir -p "$tmp"
  tar -xzf "$downloads/trino-server-core-$TRINO_VERSION.tar.gz" -C "$tmp" --strip-components=1 ||
    lh_die "trino: unpacking trino-server-core-$TRINO_VERSION.tar.gz failed"
  (cd "$tmp/plugin" && zip_extract "$downloads/trino-iceberg-$TRINO_VERSION.zip") ||
    lh_die "trino: unpacking trino-iceberg-$TRINO_VERSION.zip failed"
  mv "$tmp/plugin/trino-iceberg-$TRINO_VERSION" "$tmp/plugin/iceberg"
  touch "$tmp/.complete"
  mv "$tmp" "$TRINO_HOME"
  # Unpacked: the archives are not needed again.
  rm -f "$downloads/trino-server-core-$TRINO_VERSION.tar.gz" \
    "$downloads/trino-iceberg-$TRINO_VERSION.zip"
}

# Written on every `up`: ports, heap and the catalog file take effect on the
# next start. Secrets stay in the environment of the Trino process (the
# catalog file reads them with ${ENV:...}).
trino_write_config() {
  mkdir -p "$TRINO_ETC/catalog" "$TRINO_DIR/data"
  cat >"$TRINO_ETC/config.properties" <<EOF
coordinator=true
node-scheduler.include-coordinator=true
node.environment=lakehouse
node.id=lakehouse-trino
node.bind-ip=127.0.0.1
node.internal-address=127.0.0.1
http-server.http.port=$TRINO_PORT
discovery.uri=$LAKEHOUSE_TRINO_URL
catalog.config-dir=$TRINO_ETC/catalog
plugin.dir=$TRINO_HOME/plugin
# One node on a small machine: a query may use half the heap.
query.max-memory=1GB
query.max-memory-per-node=1GB
EOF
  printf 'io.trino=INFO\n' >"$TRINO_ETC/log.properties"
  cp "$SCRIPT_DIR/trino/lakehouse.properties" "$TRINO_ETC/catalog/lakehouse.properties"
  if [[ -n ${LAKEHOUSE_AUTH_TOKEN:-} ]]; then
    # shellcheck disable=SC2016 # ${ENV:...} is Trino's, not the shell's
    printf '%s\n' "# LAKEHOUSE_AUTH_TOKEN was set at 'up': the REST catalog requires it." \
      'iceberg.rest-catalog.security=OAUTH2' \
      'iceberg.rest-catalog.oauth2.token=${ENV:LAKEHOUSE_AUTH_TOKEN}' \
      >>"$TRINO_ETC/catalog/lakehouse.properties"
  fi
}

trino_healthy() {
  local info
  info=$(curl --silent --max-time 5 "$LAKEHOUSE_TRINO_URL/v1/info" 2>/dev/null) || return 1
  [[ $info == *'"starting":false'* ]]
}

# trino_wait PID
trino_wait() {
  local pid=$1 deadline=$((SECONDS + TRINO_START_TIMEOUT))
  while :; do
    if ! lh_pid_alive "$pid"; then
      rm -f "$TRINO_PID"
      lh_log_tail "$TRINO_LOG"
      lh_die "trino: process $pid exited during startup (log: $TRINO_LOG)"
    fi
    if trino_healthy; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      lh_log_tail "$TRINO_LOG"
      lh_die "trino: not started after ${TRINO_START_TIMEOUT} s ($LAKEHOUSE_TRINO_URL/v1/info); pid $pid is still running (log: $TRINO_LOG; stop it with: bash scripts/services.sh down trino)"
    fi
    sleep 1
  done
}

trino_up() {
  local pid started=$SECONDS
  if pid=$(lh_pidfile_pid "$TRINO_PID" "$TRINO_ETC"); then
    if [[ $FRESH == 1 ]]; then
      lh_say "trino: stopping pid $pid for a fresh start..."
      lh_stop_pid trino "$pid"
      rm -f "$TRINO_PID"
    else
      if ! trino_healthy; then
        lh_say "trino: pid $pid is running but not ready on $LAKEHOUSE_TRINO_URL yet, waiting..."
        trino_wait "$pid"
      fi
      lh_say "trino: already up on $LAKEHOUSE_TRINO_URL (pid $pid, log $TRINO_LOG)"
      return 0
    fi
  fi
  rm -f "$TRINO_PID"
  if lh_port_open "$TRINO_PORT"; then
    lh_die "trino: 127.0.0.1:$TRINO_PORT is already in use by a process this script did not start (see: ss -ltnp 'sport = :$TRINO_PORT'); stop it or set LAKEHOUSE_TRINO_PORT"
  fi
  find_trino_java
  trino_ensure_install
  if [[ $FRESH == 1 && -e $TRINO_DIR/data ]]; then
    rm -rf "$TRINO_DIR/data"
  fi
  trino_write_config
  rotate_log "$TRINO_LOG"
  lh_say "trino: starting Trino $TRINO_VERSION (heap $TRINO_HEAP, catalog lakehouse -> $LAKEHOUSE_REST_URI)..."
  started=$SECONDS
  # Trino's recommended JVM options, with the heap sized for a small shared
  # machine (LAKEHOUSE_TRINO_HEAP). The catalog file reads the endpoints and
  # credentials from this environment. setsid and 9>&- as for Kafka.
  # The working directory is the data directory (Trino's var/ goes there).
  cd "$TRINO_DIR/data"
  LAKEHOUSE_REST_URI=$LAKEHOUSE_REST_URI LAKEHOUSE_S3_ENDPOINT=$LAKEHOUSE_S3_ENDPOINT \
    LAKEHOUSE_S3_REGION=$LAKEHOUSE_S3_REGION LAKEHOUSE_S3_ACCESS_KEY=$LAKEHOUSE_S3_ACCESS_KEY \
    LAKEHOUSE_S3_SECRET_KEY=$LAKEHOUSE_S3_SECRET_KEY \
    setsid "$TRINO_JAVA" -server "-Xmx$TRINO_HEAP" -XX:+UseG1GC -XX:G1HeapRegionSize=32M \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow \
    -XX:ReservedCodeCacheSize=256M -XX:PerMethodRecompilationCutoff=10000 \
    -XX:PerBytecodeRecompilationCutoff=10000 -Djdk.attach.allowAttachSelf=true \
    -Djdk.nio.maxCachedBufferSize=2000000 -Dfile.encoding=UTF-8 -XX:+EnableDynamicAgentLoading \
    --enable-native-access=ALL-UNNAMED \
    -Dconfig="$TRINO_ETC/config.properties" -Dlog.levels-file="$TRINO_ETC/log.properties" \
    -cp "$TRINO_HOME/lib/*" io.trino.server.TrinoServer \
    </dev/null >>"$TRINO_LOG" 2>&1 9>&- &
  pid=$!
  cd - >/dev/null
  printf '%s\n' "$pid" >"$TRINO_PID"
  trino_wait "$pid"
  lh_say "trino: up on $LAKEHOUSE_TRINO_URL, started in $((SECONDS - started)) s (pid $pid, log $TRINO_LOG)"
}

trino_status() {
  local pid
  if pid=$(lh_pidfile_pid "$TRINO_PID" "$TRINO_ETC"); then
    if trino_healthy; then
      lh_say "trino: up on $LAKEHOUSE_TRINO_URL, catalog lakehouse -> $LAKEHOUSE_REST_URI (pid $pid, log $TRINO_LOG)"
      return 0
    fi
    lh_say "trino: pid $pid is running but not ready on $LAKEHOUSE_TRINO_URL (log $TRINO_LOG)"
    return 1
  fi
  lh_say "trino: stopped"
  return 1
}

# Trino's CLI (an executable jar from Maven Central) on the local server,
# catalog lakehouse, schema shop.
trino_cli() {
  find_trino_java
  if [[ ! -f $TRINO_CLI_JAR ]]; then
    lh_warn "trino: downloading the Trino $TRINO_VERSION CLI (first run only)..."
    maven_fetch "io.trino:trino-cli:$TRINO_VERSION:jar:executable" "$LAKEHOUSE_CACHE"
  fi
  trino_healthy || lh_die "trino: not running on $LAKEHOUSE_TRINO_URL (start it with: bash scripts/services.sh up trino)"
  exec "$TRINO_JAVA" -jar "$TRINO_CLI_JAR" --server "$LAKEHOUSE_TRINO_URL" \
    --catalog lakehouse --schema shop "$@"
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
  if [[ $cmd == trino-cli ]]; then
    trino_cli "$@"
  fi
  while (($# > 0)); do
    case $1 in
      --fresh) FRESH=1 ;;
      kafka | s3 | trino | all) target=$1 ;;
      -h | --help) usage ;;
      *)
        lh_warn "unknown argument: $1"
        usage
        ;;
    esac
    shift
  done
  local want_kafka=0 want_s3=0 want_trino=0
  if [[ $target == all || $target == kafka ]]; then want_kafka=1; fi
  if [[ $target == all || $target == s3 ]]; then want_s3=1; fi
  if [[ $target == trino ]]; then want_trino=1; fi

  case $cmd in
    up)
      take_lock
      local started=$SECONDS
      if ((want_s3)); then s3_up; fi
      if ((want_kafka)); then kafka_up; fi
      if ((want_trino)); then trino_up; fi
      lh_say "services: ready in $((SECONDS - started)) s (state and logs in $LAKEHOUSE_SERVICES_DIR)"
      ;;
    down)
      take_lock
      if ((want_trino)) || [[ $target == all ]]; then
        stop_service trino "$TRINO_PID" "$TRINO_ETC" "$TRINO_PORT"
      fi
      if ((want_kafka)); then stop_service kafka "$KAFKA_PID" "$KAFKA_CONF" "$KAFKA_PORT"; fi
      if ((want_s3)); then stop_service s3 "$S3_PID" "$S3_DATA" "$S3_PORT"; fi
      ;;
    status)
      local rc=0
      if ((want_kafka)); then kafka_status || rc=1; fi
      if ((want_s3)); then s3_status || rc=1; fi
      if ((want_trino)); then
        trino_status || rc=1
      elif [[ $target == all ]]; then
        # Reported, but a Trino nobody started does not fail `status`.
        trino_status || true
      fi
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
