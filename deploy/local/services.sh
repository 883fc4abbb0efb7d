#!/usr/bin/env bash
# Start/stop/check every local service the ledger needs (PostgreSQL + Kafka).
#
#   deploy/local/services.sh up|down|status
#
# up:     postgres.sh start, then kafka.sh start (each idempotent, each waits
#         until ready); prints the URLs to export.
# down:   kafka.sh stop, then postgres.sh stop.
# status: exit 0 only if both run, 3 otherwise.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
PG="${SCRIPT_DIR}/postgres.sh"
KAFKA="${SCRIPT_DIR}/kafka.sh"

usage() {
    echo "usage: $0 up|down|status" >&2
    exit 2
}

cmd_up() {
    local t0=${SECONDS}
    "${PG}" start
    "${KAFKA}" start
    echo "[services] up in $(( SECONDS - t0 ))s. For the ledger and the tests:"
    echo "  export LEDGER_DATABASE_URL=\"\$(${PG} url)\""
    echo "  export LEDGER_KAFKA_BOOTSTRAP=$("${KAFKA}" bootstrap)"
}

cmd_down() {
    local rc=0
    "${KAFKA}" stop || rc=$?
    "${PG}" stop || rc=$?
    return "${rc}"
}

cmd_status() {
    local rc=0
    "${PG}" status || rc=3
    "${KAFKA}" status || rc=3
    return "${rc}"
}

[[ $# -eq 1 ]] || usage
case "$1" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) usage ;;
esac
