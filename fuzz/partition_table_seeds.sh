#!/usr/bin/env bash
# Regenerates fuzz/corpus/partition/: partition tables made by sfdisk (Debian package fdisk), each
# stored as the fuzz target's input: 8 bytes little-endian disk size, then the disk's first 64 KiB.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=fuzz/corpus/partition
SFDISK=$(command -v sfdisk || echo /usr/sbin/sfdisk)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
seed() {  # NAME SIZE [sfdisk options] < script
  local name=$1 size=$2; shift 2
  truncate -s "$size" "$TMP/$name"
  "$SFDISK" -q "$@" "$TMP/$name" >/dev/null
  python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<Q", int(sys.argv[1])))' \
    "$(stat -c %s "$TMP/$name")" >"$OUT/$name"
  head -c 65536 "$TMP/$name" >>"$OUT/$name"
}
printf 'label: dos\nsize=8M, type=83, bootable\nsize=4M, type=82\ntype=83\n' | seed mbr-3 32M
printf 'label: dos\nsize=8M, type=83\ntype=5\nsize=4M, type=83\n' | seed mbr-extended 32M
printf 'label: gpt\nsize=2M, type=U, name=efi\nsize=8M, type=L, name=root\ntype=S\n' | seed gpt-512 32M
printf 'label: gpt\n' | seed gpt-empty 8M
printf 'label: dos\n' | seed mbr-empty 8M
echo "wrote $(ls "$OUT" | wc -l) seeds to $OUT"
