#!/usr/bin/env bash
# docs/security.md names, for every protection, the test that proves it. This check fails when a
# test named there does not exist in the build (a rename or a deletion left the page behind).
# Usage: check_security_doc.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
doc="$src/docs/security.md"
tests=$(cd "$build" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p' | sed 's/^[a-z_0-9]*\.//')
missing=0
checked=0
# Every `Suite.Test` or `Suite.*` in backquotes.
for name in $(grep -oE '`[A-Z][A-Za-z0-9]*\.([A-Z][A-Za-z0-9_]*|\*)`' "$doc" | tr -d '`' | sort -u); do
  checked=$((checked + 1))
  if [[ $name == *'.*' ]]; then
    # A parameterized suite carries its instantiation's prefix: Fields/Suite.Test/0.
    grep -qE "(^|/)${name%\*}" <<<"$tests" && continue
  else
    grep -qx "$name" <<<"$tests" && continue
  fi
  echo "docs/security.md names $name, which no test of this build has"
  missing=$((missing + 1))
done
if [ "$checked" -lt 10 ]; then
  echo "docs/security.md: found only $checked test names; the check is broken"
  exit 1
fi
[ "$missing" -eq 0 ] && echo "docs/security.md: all $checked tests it names exist"
exit "$missing"
