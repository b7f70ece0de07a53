#!/usr/bin/env bash
# make demo: starts veild on a fresh temporary data directory, walks the flow, stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
DATA=$(mktemp -d /tmp/veil-demo.XXXXXX)
PORT_BASE=${PORT_BASE:-18440}
export VEIL_ENDPOINT="http://127.0.0.1:${PORT_BASE}"
LOG="$DATA/veild.log"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  if [ -n "${VEILD_PID:-}" ] && kill -0 "$VEILD_PID" 2>/dev/null; then
    kill -TERM "$VEILD_PID"; wait "$VEILD_PID" || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT

step "Starting veild (data directory $DATA/data, ports $((PORT_BASE+1))-$((PORT_BASE+5)))"
"$BIN/veild" --data-dir "$DATA/data" --port-base "$PORT_BASE" >"$LOG" 2>&1 &
VEILD_PID=$!
for _ in $(seq 1 100); do
  "$BIN/veil" status >/dev/null 2>&1 && break
  kill -0 "$VEILD_PID" 2>/dev/null || { echo "veild exited:"; cat "$LOG"; exit 1; }
  sleep 0.1
done

step "veil status"
"$BIN/veil" status

step "veil status --output json"
"$BIN/veil" status --output json

step "Stopping veild (SIGTERM, graceful)"
kill -TERM "$VEILD_PID"
wait "$VEILD_PID"
echo "veild exited with status $?"
VEILD_PID=
echo; echo "veild log (without access lines):"; grep -v " access " "$LOG" | sed "s/^/  /"
echo; echo "Demo finished."
