#!/usr/bin/env bash
# Lists every function of Veil's own code (tests excluded) longer than LINES lines (default 100),
# as clang-tidy's readability-function-size counts them (lines of the body), using the build's
# compile_commands.json. Usage: tools/long_functions.sh [BUILD_DIR] [LINES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lines=${2:-100}
tidy=$(command -v clang-tidy-14 || command -v clang-tidy)
files=$(git ls-files 'src/*.cc' 'apps/*.cc' 'bench/*.cc' | grep -Ev '_(i)?test\.cc$')
for f in $files; do
  "$tidy" -p "$build" --quiet --checks='-*,readability-function-size' \
    --config="{CheckOptions: [{key: readability-function-size.LineThreshold, value: $lines}]}" \
    "$f" 2>/dev/null | grep -E "^$PWD/.*(warning: function|note: [0-9]+ lines)" | paste - - |
    sed -E "s|^$PWD/([^:]+:[0-9]+):[0-9]+: warning: function '([^']+)'.*note: ([0-9]+) lines.*|\3 \1 \2|" ||
    true
done | sort -rn
