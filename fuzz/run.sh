#!/usr/bin/env bash
# Runs Veil's libFuzzer targets (built with VEIL_FUZZ=ON, see fuzz/fuzz.cmake) one after another,
# each for FUZZ_SECONDS, from a working copy of its committed corpus; `make fuzz` calls it.
#
#   fuzz/run.sh BUILD_DIR
#     FUZZ_SECONDS  seconds per target (default 60)
#     FUZZ_TARGETS  which targets (default: all eight)
#     FUZZ_WORK     working directory (default BUILD_DIR/fuzz-work): <target>/corpus grows across
#                   runs (the committed seeds are copied in each time, never written back),
#                   <target>/artifacts keeps crash/leak/timeout/oom inputs, <target>/fuzz.log the
#                   last run's log
#     FUZZ_ARGS     extra libFuzzer flags for every target (e.g. -jobs=2 -workers=2)
# Exit status 1 if any target found a crash, leak, sanitizer report, timeout or OOM; every target
# still runs, and the summary names each reproducer.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: fuzz/run.sh BUILD_DIR}
build=$(cd "$build" && pwd)
seconds=${FUZZ_SECONDS:-60}
work=${FUZZ_WORK:-$build/fuzz-work}
targets=${FUZZ_TARGETS:-luks_header_fuzz luks_cryptsetup_diff_fuzz disk_image_fuzz partition_table_fuzz http_request_fuzz iam_request_fuzz jwt_fuzz kms_request_fuzz cos_sigv4_fuzz}

# target -> committed corpus, -max_len, dictionary.
#   luks: a LUKS2 header pair with its JSON areas is 2 x hdr_size; 64 KiB holds two 32 KiB copies
#     (the seeds are 2 x 16 KiB) and the secondary-magic scan at 16 and 32 KiB.
#   luks-diff: 128 KiB holds every generated header whole (the largest are two 64 KiB copies).
#   disk: 128 KiB holds every seed whole (vhd-fixed.vhd is 64 KiB + its 512-byte footer) and a
#     qcow2 with a few clusters of tables and data.
#   partition: 8 bytes of disk size, then 64 KiB of disk: a GPT's header and 128 entries at 4 KiB
#     sectors (the seeds are exactly 65544 bytes).
#   http, iam, kms: a selector byte and a request body or query; 16 KiB holds every seed and more
#     than the token body limit (4 KiB), short of the JSON body limit (64 KiB), where only
#     repetition would grow.
#   jwt: a selector byte and a token: kMaxTokenSize (8192) and one byte over.
#   cos: a selector byte and a header value, query, target or date: 4 KiB is past the longest
#     presigned query and Authorization header a client sends (about 1 KiB).
corpus_of() { case $1 in luks_header_fuzz) echo luks ;; luks_cryptsetup_diff_fuzz) echo luks-diff ;; disk_image_fuzz) echo disk ;; http_request_fuzz) echo http ;; iam_request_fuzz) echo iam ;; jwt_fuzz) echo jwt ;; kms_request_fuzz) echo kms ;; cos_sigv4_fuzz) echo cos ;; *) echo partition ;; esac; }
max_len_of() { case $1 in luks_header_fuzz) echo 65536 ;; luks_cryptsetup_diff_fuzz|disk_image_fuzz) echo 131072 ;; http_request_fuzz|iam_request_fuzz|kms_request_fuzz) echo 16384 ;; jwt_fuzz) echo 8194 ;; cos_sigv4_fuzz) echo 4096 ;; *) echo 65544 ;; esac; }
dict_of() { case $1 in luks_header_fuzz|luks_cryptsetup_diff_fuzz) echo luks_header ;; disk_image_fuzz) echo disk_image ;; http_request_fuzz) echo http_request ;; iam_request_fuzz) echo iam_request ;; jwt_fuzz) echo jwt ;; kms_request_fuzz) echo kms_request ;; cos_sigv4_fuzz) echo cos_sigv4 ;; *) echo partition_table ;; esac; }

symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0${symbolizer:+:external_symbolizer_path=$symbolizer}}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1${symbolizer:+:external_symbolizer_path=$symbolizer}}

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

failed=0
summary=()
for t in $targets; do
  bin=$build/bin/$t
  [ -x "$bin" ] || { echo "fuzz: $bin is missing (build it with VEIL_FUZZ=ON)"; exit 2; }
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -n "$here/corpus/$(corpus_of "$t")"/* "$dir/corpus/"
  before=$(ls "$dir/corpus" | wc -l)
  touch "$dir/artifacts/.start"
  echo "fuzz: $t for ${seconds}s from $before inputs (log $dir/fuzz.log)"
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$bin" -max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=25 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
    -dict="$here/$(dict_of "$t").dict" -artifact_prefix="$dir/artifacts/" ${FUZZ_ARGS:-} \
    "$dir/corpus" >"$dir/fuzz.log" 2>&1
  rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$dir/fuzz.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  execs=$(stat_of number_of_executed_units "$dir/fuzz.log")
  rate=$(stat_of average_exec_per_sec "$dir/fuzz.log")
  added=$(stat_of new_units_added "$dir/fuzz.log")
  rss=$(stat_of peak_rss_mb "$dir/fuzz.log")
  line=$(printf '%-21s %10s execs %7s/s  cov %5s  ft %6s  +%s inputs (corpus %s)  rss %s MB' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${added:-?}" \
    "$(ls "$dir/corpus" | wc -l)" "${rss:-?}")
  artifacts=$(find "$dir/artifacts" -type f -newer "$dir/artifacts/.start" -printf '%f\n')
  if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
    failed=1
    line="$line  FAILED (exit $rc)"
    echo "fuzz: $t FAILED (exit $rc); the report:"
    # The sanitizer or libFuzzer report: from its first line to the artifact line.
    sed -n '/^==[0-9]*==\|runtime error:\|^ALARM\|out-of-memory\|deadly signal/,$p' "$dir/fuzz.log" |
      grep -v '^#[0-9]' | head -60
    for a in $artifacts; do
      echo "fuzz: reproducer $dir/artifacts/$a"
      echo "      replay: $bin $dir/artifacts/$a"
      echo "      minimise: $bin -minimize_crash=1 -runs=100000 -exact_artifact_path=$dir/artifacts/$a.min $dir/artifacts/$a"
    done
  fi
  summary+=("$line")
done

echo "fuzz: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED: reproducers above; add one to fuzz/corpus/<target>/ once the bug is fixed"
  exit 1
fi
echo "fuzz: no crash, leak, sanitizer report, timeout or OOM"
