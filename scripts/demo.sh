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

# Preparing an encrypted image, the seed's "Preparing your encrypted images" in one command: a
# disk with a partition table, the DEK's base64 text as the passphrase (the seed's secret.dek),
# LUKS1 as cryptsetup and QEMU read it, no root and no device-mapper.
SFDISK=$(command -v sfdisk || echo /usr/sbin/sfdisk)
CRYPTSETUP=$(command -v cryptsetup || echo /usr/sbin/cryptsetup)
IMG="$DATA/image"
mkdir -p "$IMG"
step "A small disk image with a GPT partition table (sfdisk) and some data"
truncate -s 64M "$IMG/disk.raw"
printf 'label: gpt\nsize=8M, type=U, name=efi\ntype=L, name=root\n' | "$SFDISK" -q "$IMG/disk.raw"
head -c 4M /dev/urandom | dd of="$IMG/disk.raw" bs=1M seek=16 conv=notrunc status=none
"$SFDISK" -l "$IMG/disk.raw" | sed "s|$IMG/||"

step "The key file, the seed's way: the base64 text of a 32-byte DEK, no newline"
(cd "$IMG" && echo -n "$(head -c32 /dev/urandom | base64)" > secret.dek)
echo "secret.dek: $(wc -c < "$IMG/secret.dek") bytes of base64 text (not shown)"

step "veil image encrypt disk.raw disk.luks --key-file secret.dek"
"$BIN/veil" image encrypt "$IMG/disk.raw" "$IMG/disk.luks" --key-file "$IMG/secret.dek" \
  --iter-time 500

step "veil image inspect disk.luks"
"$BIN/veil" image inspect "$IMG/disk.luks"

step "veil image verify disk.luks --key-file secret.dek"
"$BIN/veil" image verify "$IMG/disk.luks" --key-file "$IMG/secret.dek"

step "cryptsetup accepts it: luksDump, and the passphrase opens a keyslot"
"$CRYPTSETUP" luksDump --disable-locks "$IMG/disk.luks"
"$CRYPTSETUP" open --disable-locks --test-passphrase --key-file "$IMG/secret.dek" \
  "$IMG/disk.luks" && echo "cryptsetup open --test-passphrase: OK"

step "Stopping veild (SIGTERM, graceful)"
kill -TERM "$VEILD_PID"
wait "$VEILD_PID"
echo "veild exited with status $?"
VEILD_PID=
echo; echo "veild log (without access lines):"; grep -v " access " "$LOG" | sed "s/^/  /"
echo; echo "Demo finished."
