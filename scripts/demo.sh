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

# Identity and access: log in with the admin key veild wrote on its first start, then give a
# program its own identity, key and one policy. VEIL_HOME keeps the demo's login inside its
# temporary directory: the user's ~/.veil is untouched.
export VEIL_HOME="$DATA/veil-home"
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }
step "veil login --apikey-file data/admin-apikey (written by veild on its first start)"
"$BIN/veil" login --apikey-file "$DATA/data/admin-apikey"

step "veil iam whoami"
"$BIN/veil" iam whoami

step "veil iam service-id create image-importer"
"$BIN/veil" iam service-id create image-importer --description "imports encrypted images"
SID=$("$BIN/veil" --output json iam service-id list | json_field '["serviceids"][0]["id"]')

step "veil iam api-key create importer-key --service-id $SID --output-file importer.apikey"
"$BIN/veil" iam api-key create importer-key --service-id "$SID" --output-file "$DATA/importer.apikey"

step "veil resource instance create demo-kms --service kms"
"$BIN/veil" resource instance create demo-kms --service kms
KMS=$("$BIN/veil" --output json resource instance list --service kms | json_field '["resources"][0]["guid"]')

step "veil iam policy create --subject iam-$SID --roles Reader --service kms --instance $KMS"
"$BIN/veil" iam policy create --subject "iam-$SID" --roles Reader --service kms --instance "$KMS"

step "veil iam authorization create --source server-protect --target kms --role Reader"
"$BIN/veil" iam authorization create --source server-protect --target kms --role Reader

step "The lists: service IDs, API keys of the service ID (never their values), policies, instances"
"$BIN/veil" iam service-id list
echo; "$BIN/veil" iam api-key list --service-id "$SID"
echo; "$BIN/veil" iam policy list
echo; "$BIN/veil" resource instance list

step "The service ID logs in with its own key (its own VEIL_HOME) and is held to its policy"
VEIL_HOME="$DATA/importer-home" "$BIN/veil" login --apikey-file "$DATA/importer.apikey"
VEIL_HOME="$DATA/importer-home" "$BIN/veil" iam whoami
if VEIL_HOME="$DATA/importer-home" "$BIN/veil" resource instance create other --service kms; then
  echo "unexpected: the service ID created an instance without a policy allowing it"; exit 1
else
  echo "refused as expected (exit $?): Reader on one kms instance does not allow creating instances"
fi

# Keys: the customer's root key (CRK) in the KMS, a DEK wrapped by it (the WDEK kept with the
# image), unwrapped again, and block storage authorized to unwrap with the Reader role.
step "veil resource instance create demo-keys --service kms --use (the default of veil kms)"
"$BIN/veil" resource instance create demo-keys --service kms --use

step "veil kms key create image-crk --alias images (a root key: its material stays in the HSM)"
"$BIN/veil" kms key create image-crk --alias images --description "demo customer root key"

step "veil kms wrap images --aad demo-image (the KMS generates the DEK; keep the WDEK)"
"$BIN/veil" --output json kms wrap images --aad demo-image > "$DATA/wrapped.json"
WDEK=$(json_field '["ciphertext"]' < "$DATA/wrapped.json")
DEK=$(json_field '["plaintext"]' < "$DATA/wrapped.json")
echo "WDEK: ${WDEK:0:48}... ($(printf %s "$WDEK" | wc -c) characters); the DEK is not shown"
printf '%s\n' "$WDEK" > "$DATA/image.wdek"

step "veil kms unwrap images --ciphertext-file image.wdek --aad demo-image"
UNWRAPPED=$("$BIN/veil" --output json kms unwrap images --ciphertext-file "$DATA/image.wdek" \
  --aad demo-image | json_field '["plaintext"]')
[ "$UNWRAPPED" = "$DEK" ] && echo "unwrap returned the same DEK"
if "$BIN/veil" kms unwrap images --ciphertext-file "$DATA/image.wdek" --aad other 2>&1; then
  echo "unexpected: another aad unwrapped the DEK"; exit 1
else
  echo "another aad is refused as expected (exit $?)"
fi
unset DEK UNWRAPPED

step "veil kms key list; veil kms key versions images"
"$BIN/veil" kms key list
echo; "$BIN/veil" kms key versions images

KEYS=$("$BIN/veil" kms instance show)
step "veil iam authorization create --source server-protect --target kms --role Reader --target-instance $KEYS"
"$BIN/veil" iam authorization create --source server-protect --target kms --role Reader \
  --target-instance "$KEYS" --description "block storage unwraps the image DEKs of demo-keys"

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
