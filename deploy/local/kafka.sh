#!/usr/bin/env bash
# Local single-node Apache Kafka 4.x (KRaft, combined broker+controller) for
# development and CI. No Docker, no tarball: the broker's jars come from
# Maven Central through deploy/local/kafka/pom.xml.
#
#   deploy/local/kafka.sh start|stop|status|bootstrap
#
# Jars:   deploy/local/kafka/lib/               (git-ignored; mvn runs only when
#                                                missing or pom.xml changed)
# Data:   deploy/local/.data/kafka/              (server.properties, logs/, pid)
# Log:    deploy/local/.data/kafka/server.log    (JVM stdout/stderr: stdout.log)
# Ports:  $LEDGER_KAFKA_PORT (default 19092), $LEDGER_KAFKA_CONTROLLER_PORT
#         (default 19093), 127.0.0.1 only.
set -euo pipefail
set +m  # no job control: the background broker must keep the pid we record

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/../.." && pwd -P)"
KAFKA_DIR="${SCRIPT_DIR}/kafka"
POM="${KAFKA_DIR}/pom.xml"
LIB_DIR="${KAFKA_DIR}/lib"
STAMP="${LIB_DIR}/.pom.sha256"
LOG4J_CONF="${KAFKA_DIR}/log4j2.properties"

DATA_DIR="${SCRIPT_DIR}/.data/kafka"
LOG_DIRS="${DATA_DIR}/logs"
CONFIG="${DATA_DIR}/server.properties"
PID_FILE="${DATA_DIR}/kafka.pid"
SERVER_LOG="${DATA_DIR}/server.log"
STDOUT_LOG="${DATA_DIR}/stdout.log"
CLUSTER_ID_FILE="${DATA_DIR}/cluster.id"
FORMATTED_CONTROLLER_FILE="${DATA_DIR}/controller.endpoint"

HOST="127.0.0.1"
PORT="${LEDGER_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${LEDGER_KAFKA_CONTROLLER_PORT:-19093}"
BOOTSTRAP="${HOST}:${PORT}"
START_TIMEOUT=120
STOP_TIMEOUT=30
HEAP_OPTS=(-Xms512m -Xmx1g)

log() { printf '[kafka] %s\n' "$*"; }
die() { printf '[kafka] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 start|stop|status|bootstrap
env:   LEDGER_KAFKA_PORT (default 19092), LEDGER_KAFKA_CONTROLLER_PORT (default 19093)
EOF
    exit 2
}

# --------------------------------------------------------------------------
# toolchain and jars

java_major() {
    java -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n1
}

ensure_java() {
    if ! command -v java >/dev/null 2>&1; then
        [[ "$(id -u)" -eq 0 ]] || die "java (JDK/JRE 17+) not found"
        log "installing openjdk-17-jre-headless from Debian packages ..."
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
    fi
    local major
    major="$(java_major)"
    [[ -n "${major}" && "${major}" -ge 17 ]] || die "Kafka 4 needs Java 17+, found '${major:-unknown}'"
}

ensure_mvn() {
    if ! command -v mvn >/dev/null 2>&1; then
        [[ "$(id -u)" -eq 0 ]] || die "mvn not found (needed once to fetch Kafka's jars)"
        log "installing maven from Debian packages ..."
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends maven
    fi
}

pom_hash() { sha256sum "${POM}" | cut -d' ' -f1; }

lib_up_to_date() {
    [[ -f "${STAMP}" ]] || return 1
    [[ "$(cat "${STAMP}")" == "$(pom_hash)" ]] || return 1
    compgen -G "${LIB_DIR}/kafka_2.13-*.jar" >/dev/null || return 1
    compgen -G "${LIB_DIR}/log4j-core-*.jar" >/dev/null || return 1
}

ensure_lib() {
    if lib_up_to_date; then
        return 0
    fi
    ensure_mvn
    local t0=${SECONDS}
    log "resolving Kafka jars from Maven Central into ${LIB_DIR} (pom changed or lib missing) ..."
    rm -rf "${LIB_DIR}"
    local mvn_out
    mvn_out="$(mktemp)"
    if ! mvn -q -B -Dstyle.color=never -f "${POM}" dependency:copy-dependencies >"${mvn_out}" 2>&1; then
        cat "${mvn_out}" >&2
        rm -f "${mvn_out}"
        rm -rf "${LIB_DIR}"
        die "mvn dependency:copy-dependencies failed"
    fi
    rm -f "${mvn_out}"
    pom_hash > "${STAMP}"
    log "resolved $(find "${LIB_DIR}" -name '*.jar' | wc -l) jars in $(( SECONDS - t0 ))s"
}

# --------------------------------------------------------------------------
# process state

read_pid() {
    [[ -f "${PID_FILE}" ]] || return 1
    local pid
    pid="$(head -n1 "${PID_FILE}" 2>/dev/null || true)"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "${pid}"
}

# True if PID is alive and is *our* broker (guards against pid reuse).
is_our_broker() {
    local pid="$1" cmdline
    [[ -r "/proc/${pid}/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' < "/proc/${pid}/cmdline" 2>/dev/null || true)"
    [[ "${cmdline}" == *"kafka.Kafka ${CONFIG}"* ]]
}

running_pid() {
    local pid
    pid="$(read_pid)" || return 1
    is_our_broker "${pid}" || return 1
    printf '%s\n' "${pid}"
}

# Python used for the readiness probe: the repo's venv (kafka-python) if there.
probe_python() {
    local candidate
    for candidate in "${LEDGER_PYTHON:-}" "${REPO_ROOT}/.venv/bin/python" python3; do
        [[ -n "${candidate}" ]] || continue
        command -v "${candidate}" >/dev/null 2>&1 || continue
        printf '%s\n' "${candidate}"
        return 0
    done
    return 1
}

# One readiness probe. With kafka-python: a real admin round trip (cluster
# metadata must list a broker). Without it: an ApiVersions request over TCP.
probe_once() {
    local py
    py="$(probe_python)" || die "no python3 found for the readiness probe"
    "${py}" - "${BOOTSTRAP}" <<'PY' >/dev/null 2>&1
import socket
import struct
import sys

bootstrap = sys.argv[1]
host, port = bootstrap.rsplit(":", 1)

# Cheap first: nothing listening yet -> fail now instead of waiting for the
# client's bootstrap timeout.
try:
    socket.create_connection((host, int(port)), timeout=2).close()
except OSError:
    sys.exit(1)

try:
    from kafka import KafkaAdminClient
except ImportError:
    KafkaAdminClient = None

if KafkaAdminClient is not None:
    opts = {"client_id": "ledger-local-readiness", "request_timeout_ms": 5000}
    if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:
        opts["bootstrap_timeout_ms"] = 5000
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **opts)
    try:
        cluster = admin.describe_cluster()
        if not cluster.get("brokers"):
            sys.exit(1)
        admin.list_topics()
    finally:
        admin.close()
    sys.exit(0)

with socket.create_connection((host, int(port)), timeout=3) as s:
    s.settimeout(3)
    client_id = b"ledger-local-readiness"
    req = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id  # ApiVersions v0
    s.sendall(struct.pack(">i", len(req)) + req)
    buf = b""
    while len(buf) < 10:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(1)
        buf += chunk
    _size, corr, err = struct.unpack(">iih", buf[:10])
    sys.exit(0 if corr == 1 and err == 0 else 1)
PY
}

port_in_use() {
    local port="$1"
    (exec 3<>"/dev/tcp/${HOST}/${port}") 2>/dev/null
}

print_log_tail() {
    {
        log "last lines of ${SERVER_LOG}:"
        tail -n 40 "${SERVER_LOG}" 2>/dev/null || true
        if [[ -s "${STDOUT_LOG}" ]]; then
            log "last lines of ${STDOUT_LOG}:"
            tail -n 20 "${STDOUT_LOG}" || true
        fi
    } >&2
}

# --------------------------------------------------------------------------
# config and storage

write_config() {
    mkdir -p "${LOG_DIRS}"
    cat > "${CONFIG}.tmp" <<EOF
# Generated by deploy/local/kafka.sh on every start; edits are overwritten.
# Single-node KRaft: this process is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${HOST}:${CONTROLLER_PORT}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=${LOG_DIRS}
num.partitions=12
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true

num.network.threads=3
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
EOF
    mv -f "${CONFIG}.tmp" "${CONFIG}"
}

jvm_cmd() {
    printf '%s\0' java "${HEAP_OPTS[@]}" \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=${LOG4J_CONF}" \
        "-Dkafka.logs.dir=${DATA_DIR}" \
        -cp "${LIB_DIR}/*"
}

format_storage_if_needed() {
    local endpoint="${HOST}:${CONTROLLER_PORT}"
    if [[ -f "${LOG_DIRS}/meta.properties" ]]; then
        if [[ -f "${FORMATTED_CONTROLLER_FILE}" && "$(cat "${FORMATTED_CONTROLLER_FILE}")" != "${endpoint}" ]]; then
            log "WARNING: storage was formatted with controller $(cat "${FORMATTED_CONTROLLER_FILE}")," \
                "now ${endpoint}; if the broker fails to start, stop it and delete ${DATA_DIR}" >&2
        fi
        return 0
    fi
    local -a java_base=()
    mapfile -d '' java_base < <(jvm_cmd)
    local cluster_id
    if [[ -s "${CLUSTER_ID_FILE}" ]]; then
        cluster_id="$(cat "${CLUSTER_ID_FILE}")"
    else
        cluster_id="$("${java_base[@]}" kafka.tools.StorageTool random-uuid | tail -n1)"
        [[ "${cluster_id}" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not generate a cluster id (got '${cluster_id}')"
        printf '%s\n' "${cluster_id}" > "${CLUSTER_ID_FILE}"
    fi
    log "formatting storage in ${LOG_DIRS} (cluster id ${cluster_id}, first start)"
    if ! "${java_base[@]}" kafka.tools.StorageTool format \
            --cluster-id "${cluster_id}" --config "${CONFIG}" --standalone \
            >>"${STDOUT_LOG}" 2>&1; then
        print_log_tail
        die "kafka-storage format failed"
    fi
    printf '%s\n' "${endpoint}" > "${FORMATTED_CONTROLLER_FILE}"
}

# --------------------------------------------------------------------------
# commands

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        log "already running (pid ${pid}) at ${BOOTSTRAP}"
        log "log: ${SERVER_LOG}"
        return 0
    fi
    rm -f "${PID_FILE}"
    local t0=${SECONDS}
    ensure_java
    ensure_lib
    mkdir -p "${DATA_DIR}"
    local p
    for p in "${PORT}" "${CONTROLLER_PORT}"; do
        if port_in_use "${p}"; then
            die "port ${HOST}:${p} is already in use by another process (set LEDGER_KAFKA_PORT / LEDGER_KAFKA_CONTROLLER_PORT)"
        fi
    done
    write_config
    format_storage_if_needed

    local -a java_base=()
    mapfile -d '' java_base < <(jvm_cmd)
    log "starting Kafka (KRaft broker+controller) at ${BOOTSTRAP}, controller ${HOST}:${CONTROLLER_PORT}"
    log "log: ${SERVER_LOG}"
    printf '\n===== %s start =====\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "${STDOUT_LOG}"
    # setsid: own session, so the broker outlives the shell (and CI step) that started it.
    setsid "${java_base[@]}" kafka.Kafka "${CONFIG}" </dev/null >>"${STDOUT_LOG}" 2>&1 &
    pid=$!
    printf '%s\n' "${pid}" > "${PID_FILE}"

    local deadline=$(( SECONDS + START_TIMEOUT ))
    while (( SECONDS < deadline )); do
        if ! kill -0 "${pid}" 2>/dev/null; then
            rm -f "${PID_FILE}"
            log "broker process ${pid} exited during startup" >&2
            print_log_tail
            exit 1
        fi
        if probe_once; then
            log "ready in $(( SECONDS - t0 ))s (pid ${pid}), bootstrap ${BOOTSTRAP}"
            return 0
        fi
        sleep 1
    done
    log "broker did not answer within ${START_TIMEOUT}s (pid ${pid} left running; '$0 stop' to stop it)" >&2
    print_log_tail
    exit 1
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "${PID_FILE}"
        log "not running"
        return 0
    fi
    log "stopping (SIGTERM to pid ${pid}) ..."
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$(( SECONDS + STOP_TIMEOUT ))
    while kill -0 "${pid}" 2>/dev/null && (( SECONDS < deadline )); do
        sleep 0.5
    done
    if kill -0 "${pid}" 2>/dev/null; then
        log "still alive after ${STOP_TIMEOUT}s: SIGKILL" >&2
        kill -KILL "${pid}" 2>/dev/null || true
        while kill -0 "${pid}" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "${PID_FILE}"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        log "running (pid ${pid}) at ${BOOTSTRAP}, log ${SERVER_LOG}"
        return 0
    fi
    log "not running"
    return 3
}

main() {
    [[ $# -ge 1 ]] || usage
    case "$1" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        bootstrap) printf '%s\n' "${BOOTSTRAP}" ;;
        *) usage ;;
    esac
}

main "$@"
