#!/usr/bin/env bash
# make bench: Veil's benchmarks, each printed beside its reference, measured in one run.
# Never run from tests: timing belongs here, not in assertions.
#   BENCH_SKIP_BUILD=1  skip the clean-build timing (it takes a few minutes)
#   BENCH_SECONDS=N     duration of each wrk run (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
PORT_BASE=${PORT_BASE:-19440}
WORK=$(mktemp -d /tmp/veil-bench.XXXXXX)
cleanup() {
  [ -n "${VEILD_PID:-}" ] && kill -TERM "$VEILD_PID" 2>/dev/null && wait "$VEILD_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "Veil benchmarks on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo

# 1. HTTP: GET /healthz over keep-alive, wrk -t2 -c64 (target: >= 30,000 requests/s).
"$BIN/veild" --data-dir "$WORK/data" --port-base "$PORT_BASE" --log-level warn >"$WORK/veild.log" 2>&1 &
VEILD_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$((PORT_BASE + 1))/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
URL="http://127.0.0.1:$((PORT_BASE + 1))/healthz"
wrk -t2 -c64 -d2s "$URL" >/dev/null  # warm-up
wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency "$URL" >"$WORK/wrk.txt"
RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
P99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
ERRS=$(grep -E 'Non-2xx|Socket errors' "$WORK/wrk.txt" || true)
printf '%-58s %12s req/s  p99 %s  (target >= 30000)\n' "healthz, keep-alive, wrk -t2 -c64 -d${SECONDS_PER_RUN}s" "$RPS" "$P99"
[ -n "$ERRS" ] && echo "  wrk reported: $ERRS"
kill -TERM "$VEILD_PID"; wait "$VEILD_PID" || true; VEILD_PID=

# 2. A clean Release build of the whole tree on this machine's cores (target < 6 minutes).
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  START=$(date +%s.%N)
  cmake -S . -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$WORK/build" -j "$(nproc)" >/dev/null
  END=$(date +%s.%N)
  printf '%-58s %12.1f s       (target < 360 s)\n' "clean Release build, $(nproc) cores" "$(awk -v a="$START" -v b="$END" 'BEGIN{print b-a}')"
fi
