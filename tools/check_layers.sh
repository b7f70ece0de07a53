#!/usr/bin/env bash
# Fails when a library under src/ includes a header of a library it may not depend on
# (style.md: common <- crypto <- store <- audit <- services; common <- crypto <- hsm <- services;
# common <- crypto <- disk <- luks <- image, engines that know no service; no service includes http
# outside its api/ folder).
set -euo pipefail
root=${1:-.}
declare -A allowed=(
  [common]="common"
  [crypto]="common crypto"
  [hsm]="common crypto hsm"
  [store]="common crypto store"
  [audit]="common crypto store audit"
  [http]="common crypto audit http"
  [disk]="common crypto disk"
  [luks]="common crypto disk luks"
  [image]="common crypto disk luks image"
)
services="iam kms cos image compute"
status=0
for dir in "$root"/src/*/; do
  lib=$(basename "$dir")
  allow=${allowed[$lib]:-"common crypto hsm store audit disk luks $lib $services"}
  while IFS=: read -r file _ inc; do
    target=$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$inc")
    [ "$target" = "$inc" ] && continue
    if ! grep -qw "$target" <<<"$allow"; then
      case "$file" in */api/*) [ "$target" = http ] && continue ;; esac
      echo "layer violation: $file includes $target/ (allowed: $allow)"; status=1
    fi
  done < <(grep -rn '^#include "' "$dir" --include='*.h' --include='*.cc' | grep -v '_test.cc:' || true)
done
[ $status = 0 ] && echo "layers: every include points one way"
exit $status
