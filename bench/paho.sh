#!/usr/bin/env bash
# Runs Eclipse Paho's MQTT interoperability suites (client_test.py for 3.1.1,
# client_test5.py for 5) against Mosquitto and plantd in one run and prints each test's
# result and the totals. The suite is not part of plantd: pass the path of the
# `interoperability/` directory of a copy of github.com/eclipse/paho.mqtt.testing.
#
#   bench/paho.sh ~/paho.mqtt.testing/interoperability [target/debug/plantd]
#
# Each test runs in its own process (the suite's setUpClass cleans up first) with a
# time limit: some tests wait for a message in a loop with no deadline, and one hung
# test must not stop the run. plantd runs with a fresh SQLite data dir and an
# integration token (username = token id, password = secret, given by paho_login.py).
# PAHO_ONLY (test names, space-separated) runs only those tests.
set -euo pipefail
SUITE=$(cd "${1:?usage: bench/paho.sh PATH/TO/paho.mqtt.testing/interoperability [plantd]}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PLANTD=$(realpath "${2:-$HERE/../target/debug/plantd}")
LIMIT=${PAHO_TEST_LIMIT_S:-90}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "nothing listens on $1" >&2; return 1
}

MOSQ_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MOSQ_PORT" > "$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" > "$WORK/mosquitto.log" 2>&1 & PIDS+=($!)
wait_port "$MOSQ_PORT"

HTTP_PORT=$(free_port); MQTT_PORT=$(free_port)
ADMIN=$(python3 -c 'import secrets; print("paho-admin-" + secrets.token_hex(16))')
mkdir -p "$WORK/plantd"
# exec: the pid kept is plantd's own, so the trap ends plantd and not just a subshell.
(cd "$WORK/plantd" && exec env PLANTD_DATA_DIR="$WORK/plantd" PLANTD_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
  PLANTD_MQTT_ADDR="127.0.0.1:$MQTT_PORT" PLANTD_MQTT_WS_ADDR=off PLANTD_MQTT_TLS_ADDR=off \
  PLANTD_ADMIN_TOKEN="$ADMIN" PLANTD_LOG=warn "$PLANTD" serve > "$WORK/plantd.log" 2>&1) & PIDS+=($!)
wait_port "$MQTT_PORT"
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/api/v1/tokens" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"name": "paho", "scopes": ["mqtt"]}')
TOKEN_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<< "$TOKEN")
TOKEN_SECRET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <<< "$TOKEN")

# PAHO_ONLY="testBasic test_basic" runs only the tests named.
tests_of() {
  grep -oE '^    def (test[A-Za-z0-9_]*)' "$SUITE/$1" | awk '{print $2}' |
    { if [ -n "${PAHO_ONLY:-}" ]; then grep -xF -f <(tr ' ' '\n' <<< "$PAHO_ONLY"); else cat; fi; }
}

run_suite() { # suite broker port [username password]
  local suite=$1 broker=$2 port=$3 pass=0 total=0
  for t in $(tests_of "$suite"); do
    total=$((total + 1))
    local log="$WORK/$broker-$suite-$t.log"
    if (cd "$SUITE" && PAHO_USERNAME="${4:-}" PAHO_PASSWORD="${5:-}" timeout "$LIMIT" \
        python3 "$HERE/paho_login.py" "$suite" "Test.$t" -p "$port" > "$log" 2>&1) \
        && grep -q '^OK' "$log"; then
      pass=$((pass + 1)); echo "  $broker $suite $t: pass"
    else
      echo "  $broker $suite $t: FAIL ($log)"
    fi
  done
  echo "$broker $suite: $pass/$total"
  echo "$broker $suite: $pass/$total" >> "$WORK/summary"
}

for suite in client_test.py client_test5.py; do
  run_suite "$suite" mosquitto "$MOSQ_PORT"
  run_suite "$suite" plantd "$MQTT_PORT" "$TOKEN_ID" "$TOKEN_SECRET"
done
echo "--- $(date -u +%Y-%m-%d) (logs in $WORK)"
cat "$WORK/summary"
