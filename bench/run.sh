#!/usr/bin/env bash
# make bench: Veil's benchmarks, each printed beside its reference, measured in one run.
# Never run from tests: timing belongs here, not in assertions.
#   BENCH_SKIP_HTTP=1   skip the healthz throughput run
#   BENCH_SKIP_BUILD=1  skip the clean-build timing (it takes a few minutes)
#   BENCH_SECONDS=N     duration of each wrk run (default 10)
#   BENCH_SKIP_IMAGE=1  skip the image-encryption comparison; BENCH_IMAGE_RUNS=N runs each (5)
#   BENCH_SKIP_KMS=1    skip the KMS section (HSM raw rate, wrap/unwrap over HTTP);
#                       BENCH_KMS_ROUNDS=N rounds of it (3)
#   BENCH_SKIP_COS=1    skip the object data file section (PUT/GET of 256 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
PORT_BASE=${PORT_BASE:-19440}
WORK=$(mktemp -d /tmp/veil-bench.XXXXXX)
cleanup() {
  [ -n "${VEILD_PID:-}" ] && kill -TERM "$VEILD_PID" 2>/dev/null && wait "$VEILD_PID" 2>/dev/null
  rm -rf "$WORK"
  case "${IMG_DIR:-}" in /dev/shm/veil-bench.*) rm -rf "$IMG_DIR" ;; esac
}
trap cleanup EXIT
echo "Veil benchmarks on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo

# 1. HTTP: GET /healthz over keep-alive, wrk -t2 -c64 (target: >= 30,000 requests/s).
if [ -z "${BENCH_SKIP_HTTP:-}" ]; then
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
fi

# 2. Image encryption: a 2 GiB random raw image in the page cache, LUKS1 aes-xts-plain64 with
#    a 512-bit key and iter-time 100 ms for both tools, each run after a sync, best of
#    BENCH_IMAGE_RUNS runs (default 5: on this VM the kernel's page allocation for the output
#    is slow in one run out of three or four). Wall time includes the PBKDF; Veil fsyncs before
#    its rename, qemu-img convert does not flush at all (its output cache mode defaults to
#    "unsafe"); in the default tmpfs neither costs anything. Targets: Veil >= 10x qemu-img, >= 50% of the CPU's
#    AES-XTS limit (openssl speed -multi $(nproc)), peak memory <= 256 MiB.
#    Also printed: the floor under Veil's time, writing the same 2 GiB into a new file there
#    without encrypting (dd), run after each Veil run; on this VM's tmpfs that write alone is
#    ~0.7 s of one core, the kernel allocating 524,288 pages under the file's lock.
#    Veil writes its output with O_DIRECT by default; also printed: Veil with --buffered (output
#    through the page cache, as qemu-img writes), and Veil's copy rate with its output thrown away
#    (stdout to /dev/null: read, encrypt, no disk), the figure to hold against openssl's.
#    Input and output live in a tmpfs (/dev/shm, when it has 5 GiB free; BENCH_IMAGE_DIR=DIR
#    overrides): both tools then run from and to memory, as the issue's "input and output in the
#    page cache" asks, and neither waits on this VM's virtual disk, which alone takes about 1 s to
#    absorb 2 GiB (docs/benchmarks.md "Image"). O_DIRECT does not apply on tmpfs: Veil falls back
#    to the page cache there. BENCH_SKIP_IMAGE=1 skips it.
if [ -z "${BENCH_SKIP_IMAGE:-}" ]; then
  RUNS=${BENCH_IMAGE_RUNS:-5}
  IMG_DIR=${BENCH_IMAGE_DIR:-}
  if [ -z "$IMG_DIR" ] && [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -1)" -gt $((5 << 20)) ] 2>/dev/null; then
    IMG_DIR=$(mktemp -d /dev/shm/veil-bench.XXXXXX)
  fi
  IMG_DIR=${IMG_DIR:-$WORK}
  echo "  image files in $IMG_DIR ($(df --output=fstype "$IMG_DIR" | tail -1))"
  RAW="$IMG_DIR/bench.raw"; KEY="$WORK/bench.key"; SIZE=$((2 << 30))
  head -c "$SIZE" /dev/urandom >"$RAW"
  echo -n "$(head -c32 /dev/urandom | base64)" >"$KEY"
  cat "$RAW" >/dev/null  # in the page cache
  best() { sort -g | head -1; }
  run_timed() {  # prints the wall seconds of "$@"
    sync; local s e; s=$(date +%s.%N)
    "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }
    e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f\n", b-a}'
  }
  VEIL_CMD=("$BIN/veil" image encrypt --format luks1 --iter-time 100 --key-file "$KEY" "$RAW")
  QEMU_CMD=(qemu-img convert --object "secret,id=s,file=$KEY" -f raw -O luks
            -o key-secret=s,iter-time=100,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64 "$RAW")
  # One untimed run first: the first 2 GiB written after the input was made come from pages this
  # VM gave back to its host, slow to get back (a first run takes 2-5 s, for any writer).
  rm -f "$IMG_DIR/v.luks"; "${VEIL_CMD[@]}" "$IMG_DIR/v.luks" >/dev/null 2>&1 || true
  # Each Veil run is followed by the floor under it: the same number of bytes written into a new
  # file in the same directory, no encryption, no key derivation (dd from /dev/zero, 1 MiB
  # blocks, fsync). A tmpfs stores zeros like any other bytes.
  : >"$WORK/veil.t"; : >"$WORK/floor.t"
  for _ in $(seq "$RUNS"); do
    rm -f "$IMG_DIR/v.luks"; run_timed "${VEIL_CMD[@]}" "$IMG_DIR/v.luks" >>"$WORK/veil.t"
    rm -f "$IMG_DIR/v.luks"
    run_timed dd if=/dev/zero of="$IMG_DIR/v.luks" bs=1M count=$((SIZE >> 20)) conv=fsync status=none \
      >>"$WORK/floor.t"
  done
  VEIL_T=$(best <"$WORK/veil.t"); FLOOR_T=$(best <"$WORK/floor.t")
  VEIL_BUF_T=$(for _ in $(seq "$RUNS"); do
                 rm -f "$IMG_DIR/v.luks"; run_timed "${VEIL_CMD[@]}" --buffered "$IMG_DIR/v.luks"; done | best)
  rm -f "$IMG_DIR/v.luks"
  # Veil's own report on stderr: "  Copy: 2.0 GiB in 0.52 s (4100 MB/s, 2 threads, ...)": the copy alone.
  VEIL_NULL_MBS=$(for _ in $(seq "$RUNS"); do
                    "${VEIL_CMD[@]}" - 2>&1 >/dev/null | sed -nE 's/.* s \(([0-9]+) MB\/s.*/\1/p'
                  done | sort -g | tail -1)
  # qemu-img benchmarks its PBKDF with getrusage and now and then fails on a busy machine: retry.
  QEMU_T=$(for _ in $(seq "$RUNS"); do
             for _try in 1 2 3; do
               rm -f "$IMG_DIR/q.luks"; run_timed "${QEMU_CMD[@]}" "$IMG_DIR/q.luks" 2>/dev/null && break
             done
           done | best)
  rm -f "$IMG_DIR/v.luks" "$IMG_DIR/q.luks"; sync
  /usr/bin/time -v "${VEIL_CMD[@]}" "$IMG_DIR/v.luks" >/dev/null 2>"$WORK/time.txt"
  RSS_KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/time.txt")
  rm -f "$IMG_DIR/v.luks" "$RAW"
  case "$IMG_DIR" in /dev/shm/veil-bench.*) rm -rf "$IMG_DIR" ;; esac
  OSSL_K=$(openssl speed -evp aes-256-xts -multi "$(nproc)" -bytes 16384 -seconds 3 2>/dev/null |
           awk 'toupper($1) == "AES-256-XTS" {v = $NF} END {sub(/k$/, "", v); print v}')
  VEIL_MBS=$(awk -v t="$VEIL_T" -v n="$SIZE" 'BEGIN{printf "%.0f", n / t / 1e6}')
  QEMU_MBS=$(awk -v t="$QEMU_T" -v n="$SIZE" 'BEGIN{printf "%.0f", n / t / 1e6}')
  OSSL_MBS=$(awk -v k="$OSSL_K" 'BEGIN{printf "%.0f", k * 1000 / 1e6}')
  printf '%-58s %12s MB/s  %6.2f s  (best of %d)\n' \
    "veil image encrypt 2 GiB -> LUKS1, iter-time 100" "$VEIL_MBS" "$VEIL_T" "$RUNS"
  printf '%-58s %12s MB/s  %6.2f s  (best of %d)\n' "  the same with --buffered (output via the page cache)" \
    "$(awk -v t="$VEIL_BUF_T" -v n="$SIZE" 'BEGIN{printf "%.0f", n / t / 1e6}')" "$VEIL_BUF_T" "$RUNS"
  printf '%-58s %12s MB/s  %6.2f s  (best of %d)\n' "  writing 2 GiB of zeros there alone (dd, the floor)" \
    "$(awk -v t="$FLOOR_T" -v n="$SIZE" 'BEGIN{printf "%.0f", n / t / 1e6}')" "$FLOOR_T" "$RUNS"
  printf '%-58s %12s        (1.00: encrypting costs no time beyond the write)\n' "  Veil's time / the floor's" \
    "$(awk -v a="$VEIL_T" -v b="$FLOOR_T" 'BEGIN{printf "%.2f", a / b}')"
  printf '%-58s %12s MB/s  %6.2f s  (best of %d)\n' \
    "qemu-img convert -O luks 2 GiB, iter-time 100" "$QEMU_MBS" "$QEMU_T" "$RUNS"
  printf '%-58s %12sx       (target >= 10)\n' "  Veil / qemu-img" \
    "$(awk -v a="$QEMU_T" -v b="$VEIL_T" 'BEGIN{printf "%.1f", a / b}')"
  printf '%-58s %12s MB/s  (16 KiB blocks, %s processes)\n' \
    "openssl speed -evp aes-256-xts -multi $(nproc)" "$OSSL_MBS" "$(nproc)"
  printf '%-58s %12s%%       (target >= 50; the write alone, dd above: %s%%)\n' \
    "  Veil / the CPU's AES-XTS limit" \
    "$(awk -v v="$VEIL_MBS" -v o="$OSSL_MBS" 'BEGIN{printf "%.0f", 100 * v / o}')" \
    "$(awk -v t="$FLOOR_T" -v n="$SIZE" -v o="$OSSL_MBS" 'BEGIN{printf "%.0f", 100 * n / t / 1e6 / o}')"
  printf '%-58s %12s MB/s  %5s%% of openssl (best of %d)\n' \
    "  Veil's copy with the output to /dev/null (no disk)" "$VEIL_NULL_MBS" \
    "$(awk -v v="$VEIL_NULL_MBS" -v o="$OSSL_MBS" 'BEGIN{printf "%.0f", 100 * v / o}')" "$RUNS"
  printf '%-58s %12s MiB   (target <= 256; /usr/bin/time -v: Maximum resident set size)\n' \
    "  Veil peak memory, 2 GiB run" "$(awk -v k="$RSS_KB" 'BEGIN{printf "%.1f", k / 1024}')"
fi

# 3. A clean Release build of the whole tree on this machine's cores (target < 6 minutes), with
# ccache off (CCACHE_DISABLE=1): CI starts from a clean clone and maybe an empty cache.
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  START=$(date +%s.%N)
  CCACHE_DISABLE=1 cmake -S . -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  CCACHE_DISABLE=1 cmake --build "$WORK/build" -j "$(nproc)" >/dev/null
  END=$(date +%s.%N)
  printf '%-58s %12.1f s       (target < 360 s)\n' "clean Release build, $(nproc) cores" "$(awk -v a="$START" -v b="$END" 'BEGIN{print b-a}')"
fi

# 4. IAM (docs/benchmarks.md "IAM"). Each wrk run lasts BENCH_SECONDS; BENCH_SKIP_IAM=1 skips it.
#  (a) What authentication costs: GET /identity/keys is anonymous but checks a bearer token when
#      one is sent, with the same handler and audit event either way, so wrk on it with and
#      without "Authorization: Bearer <token>" isolates the token check. Rounds alternate (default
#      BENCH_IAM_ROUNDS=5 of each) and the best of each is compared: on a shared machine other load
#      only ever lowers a rate, so the best round is the least disturbed. Target: with a token >=
#      90% of without. Also printed: veild's CPU time per request (utime + stime from /proc over
#      all rounds / requests), which other load disturbs far less than a rate, and
#      GET /v1/serviceids/{id} (authenticated only: token, database read, policy check).
#  (b) Token issuance: POST /identity/token with a valid API key (a wrk Lua script; one database
#      read, one SHA-256, one RSA-2048 signature each). Target >= 1,000 tokens/s. Valid keys take
#      nothing from the login rate limiter; any non-2xx answer is reported.
if [ -z "${BENCH_SKIP_IAM:-}" ]; then
  ROUNDS=${BENCH_IAM_ROUNDS:-5}
  IAM_DATA="$WORK/iam-data"
  "$BIN/veild" --data-dir "$IAM_DATA" --port-base "$PORT_BASE" --log-level warn >"$WORK/veild-iam.log" 2>&1 &
  VEILD_PID=$!
  IAM="http://127.0.0.1:$((PORT_BASE + 1))"
  for _ in $(seq 1 100); do curl -fsS "$IAM/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  VEIL=("$BIN/veil" --endpoint "http://127.0.0.1:$PORT_BASE")
  export VEIL_HOME="$WORK/veil-home"  # leaves the user's ~/.veil alone
  "${VEIL[@]}" login --apikey-file "$IAM_DATA/admin-apikey" >/dev/null
  (umask 077; "${VEIL[@]}" iam token >"$WORK/bench.token")
  SID=$("${VEIL[@]}" --output json iam service-id create bench-reader |
        sed -E 's/.*"id":"(ServiceId-[^"]+)".*/\1/')
  # The comparison means something only if the route really checks the token it is sent.
  BOGUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x.y.z" "$IAM/identity/keys")
  [ "$BOGUS" = 401 ] || echo "  WARNING: GET /identity/keys answered $BOGUS to a bogus token: it does not check tokens, (a) measures nothing"
  TICK=$(getconf CLK_TCK)
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$VEILD_PID/stat"; }
  # wrk_run OUT ARGS...: wrk's report in OUT, veild's CPU ticks meanwhile in OUT.ticks, any
  # non-2xx or socket error line in OUT.err.
  wrk_run() {
    local out=$1 t0; shift
    t0=$(cpu_ticks)
    wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" "$@" >"$out"
    echo $(($(cpu_ticks) - t0)) >"$out.ticks"
    grep -E 'Non-2xx|Socket errors' "$out" >"$out.err" || true
    [ -s "$out.err" ] && echo "  wrk reported: $(cat "$out.err")"
    return 0
  }
  rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
  # CPU microseconds of veild per request over the runs OUT... given.
  cpu_us() { for f in "$@"; do echo "$(cat "$f.ticks") $(awk '/requests in/ {print $1}' "$f")"; done |
             awk -v hz="$TICK" '{t+=$1; n+=$2} END {printf "%.1f", t/hz*1e6/n}'; }
  # The token reaches wrk through a file named in the environment, not its command line. A script
  # that only sets headers costs wrk nothing per request (the request is built once).
  cat >"$WORK/bearer.lua" <<'LUA'
local f = assert(io.open(os.getenv("VEIL_BENCH_TOKEN_FILE")))
wrk.headers["Authorization"] = "Bearer " .. f:read("*l"); f:close()
LUA
  export VEIL_BENCH_TOKEN_FILE="$WORK/bench.token"
  AUTH=(-s "$WORK/bearer.lua")
  wrk -t2 -c64 -d2s "$IAM/identity/keys" >/dev/null  # warm-up
  wrk -t2 -c64 -d2s "${AUTH[@]}" "$IAM/identity/keys" >/dev/null
  for r in $(seq "$ROUNDS"); do
    wrk_run "$WORK/iam-anon-$r.txt" "$IAM/identity/keys"
    wrk_run "$WORK/iam-auth-$r.txt" "${AUTH[@]}" "$IAM/identity/keys"
    printf '%-58s %12s req/s  with token %s req/s\n' "  round $r: GET /identity/keys without token" \
      "$(rate "$WORK/iam-anon-$r.txt")" "$(rate "$WORK/iam-auth-$r.txt")"
  done
  best() { for f in "$@"; do rate "$f"; done | sort -g | tail -1; }
  ANON_RPS=$(best "$WORK"/iam-anon-*.txt); AUTH_RPS=$(best "$WORK"/iam-auth-*.txt)
  ANON_CPU=$(cpu_us "$WORK"/iam-anon-*.txt); AUTH_CPU=$(cpu_us "$WORK"/iam-auth-*.txt)
  printf '%-58s %12s req/s  (best of %d; veild CPU %s us/request)\n' "GET /identity/keys, anonymous, wrk -t2 -c64" "$ANON_RPS" "$ROUNDS" "$ANON_CPU"
  printf '%-58s %12s req/s  (best of %d; veild CPU %s us/request)\n' "GET /identity/keys, bearer token, wrk -t2 -c64" "$AUTH_RPS" "$ROUNDS" "$AUTH_CPU"
  printf '%-58s %12s%%       (target >= 90; by CPU per request: %s%%)\n' "  with token / without" \
    "$(awk -v a="$AUTH_RPS" -v b="$ANON_RPS" 'BEGIN{printf "%.1f", 100*a/b}')" \
    "$(awk -v a="$AUTH_CPU" -v b="$ANON_CPU" 'BEGIN{printf "%.1f", 100*b/a}')"
  wrk_run "$WORK/iam-sid.txt" "${AUTH[@]}" "$IAM/v1/serviceids/$SID"
  printf '%-58s %12s req/s  (veild CPU %s us/request; reference)\n' "GET /v1/serviceids/{id}, bearer token, wrk -t2 -c64" \
    "$(rate "$WORK/iam-sid.txt")" "$(cpu_us "$WORK/iam-sid.txt")"

  # (b) The key goes to wrk through a file named in the environment, never on a command line.
  "${VEIL[@]}" iam api-key create bench-key --service-id "$SID" --output-file "$WORK/bench.apikey" >/dev/null
  cat >"$WORK/token.lua" <<'LUA'
local f = assert(io.open(os.getenv("VEIL_BENCH_APIKEY_FILE")))
local key = f:read("*l"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" .. key
LUA
  export VEIL_BENCH_APIKEY_FILE="$WORK/bench.apikey"
  wrk -t2 -c64 -d2s -s "$WORK/token.lua" "$IAM/identity/token" >/dev/null  # warm-up
  wrk_run "$WORK/iam-token.txt" -s "$WORK/token.lua" "$IAM/identity/token"
  printf '%-58s %12s tokens/s  (target >= 1000; veild CPU %s us/token)\n' "POST /identity/token (API key), wrk -t2 -c64 -s token.lua" \
    "$(rate "$WORK/iam-token.txt")" "$(cpu_us "$WORK/iam-token.txt")"
  unset VEIL_BENCH_APIKEY_FILE VEIL_BENCH_TOKEN_FILE VEIL_HOME
  kill -TERM "$VEILD_PID"; wait "$VEILD_PID" || true; VEILD_PID=
fi

# 5. KMS (docs/benchmarks.md "KMS"). BENCH_SKIP_KMS=1 skips it.
#  (a) HSM raw rate: SoftHSM2's AES-256-GCM on a 32-byte DEK (what the KMS's wrap and unwrap do
#      inside the HSM) from $(nproc) threads, BENCH_HSM_SECONDS (default 2) per round, through
#      Pkcs11KeyStore and through the bare PKCS#11 API (bench/hsm_bench.cc, docs/hsm.md): the
#      ceiling of wrap/unwrap over HTTP. Alternating rounds, best of each.
#  (b) Wrap and unwrap over HTTP keep-alive with a bearer token (wrk -t2, bench/kms_action.lua
#      with VEIL_BENCH_KMS_ACTION=wrap|unwrap: a 32-byte DEK, then one ciphertext unwrapped again
#      and again) at 32 and 64 connections, BENCH_SECONDS each, in BENCH_KMS_ROUNDS (default 3) alternating rounds; the
#      best round is printed beside the HSM's bare rate. Target: >= 10,000 ops/s each with p99 <=
#      5 ms. A run with any non-2xx answer or socket error is not a valid figure (marked INVALID and
#      never the best). Also printed: veild's CPU time per operation (utime + stime from /proc).
#      BENCH_KMS_VEILD_ARGS adds veild flags (e.g. "--http-worker-threads 4").
if [ -z "${BENCH_SKIP_KMS:-}" ]; then
  echo
  "$BIN/veil-hsm-bench" --threads "$(nproc)" --seconds "${BENCH_HSM_SECONDS:-2}" --rounds 3 \
    --hsm-dir "$WORK/hsm" | tee "$WORK/hsm.txt"
  HSM_ENC=$(awk '/bare PKCS#11 C_Encrypt/ {print $(NF-1)}' "$WORK/hsm.txt")
  HSM_DEC=$(awk '/bare PKCS#11 C_Decrypt/ {print $(NF-1)}' "$WORK/hsm.txt")

  KROUNDS=${BENCH_KMS_ROUNDS:-3}
  KMS_DATA="$WORK/kms-data"
  # shellcheck disable=SC2086  # BENCH_KMS_VEILD_ARGS is a list of flags
  "$BIN/veild" --data-dir "$KMS_DATA" --port-base "$PORT_BASE" --log-level warn \
    ${BENCH_KMS_VEILD_ARGS:-} >"$WORK/veild-kms.log" 2>&1 &
  VEILD_PID=$!
  IAM="http://127.0.0.1:$((PORT_BASE + 1))"
  KMS="http://127.0.0.1:$((PORT_BASE + 2))"
  for _ in $(seq 1 100); do
    curl -fsS "$IAM/healthz" >/dev/null 2>&1 && curl -fsS "$KMS/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  # The API key and the token go to curl and wrk through files, never on a command line.
  (umask 077
   tr -d '\n' <"$KMS_DATA/admin-apikey" |
     curl -fsS "$IAM/identity/token" --data-urlencode "grant_type=urn:ibm:params:oauth:grant-type:apikey" \
       --data-urlencode "apikey@-" | jq -r .access_token >"$WORK/kms.token"
   echo "Authorization: Bearer $(cat "$WORK/kms.token")" >"$WORK/kms.auth")
  GUID=$(curl -fsS -H @"$WORK/kms.auth" -H 'Content-Type: application/json' \
           -d '{"name":"bench-kms","resource_id":"kms","target":"local"}' \
           "$IAM/v2/resource_instances" | jq -r .guid)
  KEY_ID=$(curl -fsS -H @"$WORK/kms.auth" -H "bluemix-instance: $GUID" \
             -H 'Content-Type: application/vnd.ibm.kms.key+json' \
             -d '{"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},
                  "resources":[{"type":"application/vnd.ibm.kms.key+json","name":"bench-root",
                                "extractable":false}]}' \
             "$KMS/api/v2/keys" | jq -r '.resources[0].id')
  (umask 077
   head -c32 /dev/urandom | base64 >"$WORK/kms.dek"
   echo "{\"plaintext\":\"$(cat "$WORK/kms.dek")\"}" >"$WORK/kms.wrap.json"
   curl -fsS -H @"$WORK/kms.auth" -H "bluemix-instance: $GUID" \
     -H 'Content-Type: application/vnd.ibm.kms.key_action+json' --data-binary @"$WORK/kms.wrap.json" \
     "$KMS/api/v2/keys/$KEY_ID/actions/wrap" | jq -r .ciphertext >"$WORK/kms.ciphertext")
  export VEIL_BENCH_TOKEN_FILE="$WORK/kms.token" VEIL_BENCH_KMS_INSTANCE="$GUID" \
    VEIL_BENCH_KMS_KEY="$KEY_ID" VEIL_BENCH_KMS_DEK_FILE="$WORK/kms.dek" \
    VEIL_BENCH_KMS_CIPHERTEXT_FILE="$WORK/kms.ciphertext"
  TICK=$(getconf CLK_TCK)
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$VEILD_PID/stat"; }
  to_ms() {  # wrk's latency ("850.00us", "3.21ms", "1.02s") in ms
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000;
                           printf "%.2f", n }'
  }
  # kms_run OUT OP CONNECTIONS: wrk's report in OUT; prints one line: ops/s, p99, non-2xx, CPU.
  kms_run() {
    local out=$1 op=$2 c=$3 t0 ticks rps p99 n non2xx sock valid
    t0=$(cpu_ticks)
    VEIL_BENCH_KMS_ACTION=$op wrk -t2 -c"$c" -d"${SECONDS_PER_RUN}s" --latency \
      -s bench/kms_action.lua "$KMS" >"$out"
    ticks=$(($(cpu_ticks) - t0))
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$out")
    p99=$(awk '$1=="99%" {print $2}' "$out")
    n=$(awk '/requests in/ {print $1}' "$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); non2xx=${non2xx:-0}
    sock=$(grep -E 'Socket errors' "$out" | sed 's/^ *//' || true)
    valid=1; [ "$non2xx" = 0 ] && [ -z "$sock" ] || valid=0
    echo "$rps $(to_ms "$p99") $non2xx $valid" >"$out.sum"
    printf '%-58s %12s ops/s  p99 %6s ms  non-2xx %s  veild CPU %s us/op  load %s%s\n' \
      "  $op, wrk -t2 -c$c -d${SECONDS_PER_RUN}s" "$rps" "$(to_ms "$p99")" "$non2xx" \
      "$(awk -v t="$ticks" -v hz="$TICK" -v n="$n" 'BEGIN{printf "%.1f", t/hz*1e6/n}')" \
      "$(cut -d' ' -f1 /proc/loadavg)" "$([ "$valid" = 1 ] || echo "  INVALID ${sock}")"
  }
  # Warm-up at both connection counts: the first runs at 64 connections otherwise pay for new
  # connections, their buffers and the workers' first secrets (measured: ~150 against ~95 us/op).
  for c in 32 64; do
    for op in wrap unwrap; do
      VEIL_BENCH_KMS_ACTION=$op wrk -t2 -c"$c" -d3s -s bench/kms_action.lua "$KMS" >/dev/null
    done
  done
  echo "KMS wrap/unwrap over HTTP keep-alive, bearer token, 32-byte DEK, $KROUNDS rounds:"
  for r in $(seq "$KROUNDS"); do
    for c in 32 64; do
      for op in wrap unwrap; do kms_run "$WORK/kms-$op-$c-$r.txt" "$op" "$c"; done
    done
  done
  # The best valid round of each (highest rate; its own p99).
  kms_best() { cat "$WORK"/kms-"$1"-"$2"-*.txt.sum | awk '$4 == 1' | sort -k1,1gr | head -1; }
  for c in 32 64; do
    for op in wrap unwrap; do
      read -r RPS P99 _ _ <<<"$(kms_best "$op" "$c")"
      if [ "$op" = wrap ]; then HSM=$HSM_ENC; WHAT="HSM encrypt"; else HSM=$HSM_DEC; WHAT="HSM decrypt"; fi
      if [ -z "${RPS:-}" ]; then
        printf '%-58s %12s\n' "KMS $op, bearer token, wrk -t2 -c$c" "no valid run"
        continue
      fi
      printf '%-58s %12s ops/s  p99 %6s ms  (best of %d; target >= 10000, p99 <= 5)\n' \
        "KMS $op, bearer token, wrk -t2 -c$c" "$RPS" "$P99" "$KROUNDS"
      printf '%-58s %12s%%       (of %s ops/s, bare PKCS#11, %s threads)\n' "  $op / $WHAT" \
        "$(awk -v a="$RPS" -v b="$HSM" 'BEGIN{printf "%.0f", 100*a/b}')" "$HSM" "$(nproc)"
    done
  done
  printf '%-58s %12s ops/s  (published single-node figure, for scale)\n' \
    "HashiCorp Vault transit engine" "~1800"
  unset VEIL_BENCH_TOKEN_FILE VEIL_BENCH_KMS_INSTANCE VEIL_BENCH_KMS_KEY VEIL_BENCH_KMS_DEK_FILE \
    VEIL_BENCH_KMS_CIPHERTEXT_FILE
  kill -TERM "$VEILD_PID"; wait "$VEILD_PID" || true; VEILD_PID=
fi

# 6. Slow clients (docs/benchmarks.md "Slow clients", issue: slow bodies stalled the daemon).
#    An honest client's token exchanges and KMS unwraps, alone and then while 64 connections
#    from other loopback addresses each hold a half-sent body or header on the same services,
#    trickling a byte every 0.5 s, before any login. veild runs with 2 workers, so the 32 slow
#    bodies are 16x its workers. Target: every attacked request answered within 1 s.
#    BENCH_SKIP_SLOW=1 skips it.
if [ -z "${BENCH_SKIP_SLOW:-}" ]; then
  SLOW_DATA="$WORK/slow-data"
  "$BIN/veild" --data-dir "$SLOW_DATA" --port-base "$PORT_BASE" --log-level warn \
    --http-worker-threads 2 >"$WORK/veild-slow.log" 2>&1 &
  VEILD_PID=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$((PORT_BASE + 2))/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "Slow clients against veild with 2 workers (honest client: 127.0.0.1):"
  "$BIN/veil-slow-clients-bench" --port-base "$PORT_BASE" --apikey-file "$SLOW_DATA/admin-apikey" \
    --attackers 64 --requests 200
  kill -TERM "$VEILD_PID"; wait "$VEILD_PID" || true; VEILD_PID=
fi

# 7. Object data files (docs/benchmarks.md "Object data files"): PUT and GET of a 256 MiB object
#    through ObjectFileWriter / ObjectFileReader (AES-256-GCM in 64 KiB chunks) in a tmpfs, 1 MiB
#    per call, beside the same file written and read without encryption, AES-GCM alone and
#    memcpy; best of 3 rounds. Targets: PUT >= 600 MB/s, GET >= 1000 MB/s. BENCH_SKIP_COS=1 skips it.
if [ -z "${BENCH_SKIP_COS:-}" ]; then
  echo
  "$BIN/veil-cos-object-bench" --mib 256 --rounds 3
fi
