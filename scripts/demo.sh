#!/usr/bin/env bash
# make demo: starts veild on a fresh temporary data directory and free ports, checks that the
# veild answering is the one it started, walks the flow, and stops it cleanly.
#
# Ports: service k listens on PORT_BASE + k (iam 1, kms 2, cos 3, is 4, audit 5). Without
# PORT_BASE the demo starts at 18440 and moves up by 10 past any base whose ports are taken,
# saying what holds them; with PORT_BASE=N it uses exactly that base or stops, naming the port
# and its holder.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
# The demo's veild and veil take their settings from this script only: drop any VEIL_* the
# caller's environment holds (it would change veild's or veil's settings).
for var in $(compgen -e | grep '^VEIL_' || true); do unset "$var"; done
DATA=$(mktemp -d /tmp/veil-demo.XXXXXX)
LOG="$DATA/veild.log"
SERVICES=(iam kms cos is audit)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf '%s\n' "$@" | sed 's/^/make demo: /' >&2; exit 1; }  # one argument per line
cleanup() {
  if [ -n "${VEILD_PID:-}" ] && kill -0 "$VEILD_PID" 2>/dev/null; then
    kill -TERM "$VEILD_PID"; wait "$VEILD_PID" || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }

# One line per port of base $1 that a new listener could not take: "port P (service) is in use
# by WHO". Nothing when all five are free.
ports_in_use() {
  local base=$1 port free pid who
  while IFS=$'\t' read -r port free pid who; do
    [ "$free" = 1 ] && continue
    echo "port $port (${SERVICES[port - base - 1]}) is in use by $who"
  done < <(python3 scripts/port_owners.py $(seq $((base + 1)) $((base + 5))))
}

if [ -n "${PORT_BASE:-}" ]; then
  [[ $PORT_BASE =~ ^[0-9]+$ ]] && [ "$PORT_BASE" -ge 1 ] && [ "$PORT_BASE" -le 65530 ] ||
    die "PORT_BASE must be a number from 1 to 65530, not '$PORT_BASE'"
  busy=$(ports_in_use "$PORT_BASE")
  [ -z "$busy" ] || die "$busy" "PORT_BASE=$PORT_BASE needs ports $((PORT_BASE + 1))-$((PORT_BASE \
    + 5)): stop what holds them, or leave PORT_BASE unset and the demo picks free ports."
else
  for base in $(seq 18440 10 18640); do
    busy=$(ports_in_use "$base")
    if [ -z "$busy" ]; then PORT_BASE=$base; break; fi
    echo "$busy"
    echo "  so the demo does not use ports $((base + 1))-$((base + 5)); trying the next ones"
  done
  [ -n "${PORT_BASE:-}" ] || die "no five free ports between 18441 and 18645; set PORT_BASE"
fi
PORTS="$((PORT_BASE + 1))-$((PORT_BASE + 5))"

step "Starting veild (data directory $DATA/data, ports $PORTS)"
"$BIN/veild" --data-dir "$DATA/data" --port-base "$PORT_BASE" >"$LOG" 2>&1 &
VEILD_PID=$!
# Ready when its log says so for this data directory; up to 60 s (a loaded machine is slow to
# make the first HSM token and signing key).
for _ in $(seq 1 600); do
  grep -qF "ready (version" "$LOG" && break
  if ! kill -0 "$VEILD_PID" 2>/dev/null; then
    echo "veild exited before it was ready; its log:"; sed 's/^/  /' "$LOG"
    VEILD_PID=
    busy=$(ports_in_use "$PORT_BASE")
    [ -z "$busy" ] || die "$busy" "(taken after the demo checked the ports: run make demo again)"
    die "veild did not start"
  fi
  sleep 0.1
done
grep -qF "ready (version" "$LOG" || { sed 's/^/  /' "$LOG"; die "veild not ready after 60 s"; }

# Is the veild answering the one just started? Whatever else listens on these ports (an old
# demo, another veild, any server) must not be mistaken for it.
step "Checking that the veild answering on $PORTS is the one just started (pid $VEILD_PID)"
VERSION=$("$BIN/veild" --version | awk '{print $2}')
grep -qF "ready (version $VERSION, data directory $DATA/data)" "$LOG" ||
  die "veild's log does not say it serves $DATA/data"
while IFS=$'\t' read -r port _ pid who; do
  [ "$pid" = "$VEILD_PID" ] ||
    die "port $port is held by $who, not by the veild the demo started (pid $VEILD_PID)"
done < <(python3 scripts/port_owners.py $(seq $((PORT_BASE + 1)) $((PORT_BASE + 5))))
for k in 1 2 3 4 5; do
  service=${SERVICES[k - 1]}
  health=$(curl -fsS --max-time 5 "http://127.0.0.1:$((PORT_BASE + k))/healthz") ||
    die "GET /healthz on port $((PORT_BASE + k)) ($service) failed"
  answer=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["service"], d["version"])' \
    <<<"$health" 2>/dev/null || true)
  [ "$answer" = "$service $VERSION" ] ||
    die "port $((PORT_BASE + k)) answers $health, not $service $VERSION"
done
# Only this veild knows the admin API key it has just written into its data directory.
answer=$(curl -sS --max-time 30 -X POST "http://127.0.0.1:$((PORT_BASE + 1))/identity/token" \
  --data-urlencode 'grant_type=urn:ibm:params:oauth:grant-type:apikey' \
  --data-urlencode "apikey@$DATA/data/admin-apikey") || answer=
token=$(json_field '.get("access_token", "")' <<<"$answer" 2>/dev/null || true)
[ -n "$token" ] || die "the iam service on port $((PORT_BASE + 1)) refused the admin API key \
that veild (pid $VEILD_PID) wrote into $DATA/data: it is not that veild"
unset token answer
echo "veild pid $VEILD_PID holds ports $PORTS, logged that it serves $DATA/data,"
echo "answers /healthz as iam, kms, cos, is and audit $VERSION, and accepted the admin API key it"
echo "wrote there: the demo talks to this veild."
export VEIL_ENDPOINT="http://127.0.0.1:${PORT_BASE}"

step "veil status"
"$BIN/veil" status

step "veil status --output json"
"$BIN/veil" status --output json

# Identity and access: log in with the admin key veild wrote on its first start, then give a
# program its own identity, key and one policy. VEIL_HOME keeps the demo's login inside its
# temporary directory: the user's ~/.veil is untouched.
export VEIL_HOME="$DATA/veil-home"
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

# Preparing an encrypted image, IBM's classic "Preparing your encrypted images" in one command: a
# disk with a partition table, the DEK's base64 text as the passphrase (IBM's secret.dek),
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

step "The key file, IBM's classic way: the base64 text of a 32-byte DEK, no newline"
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

# Uploading the encrypted image: an SSE-KP bucket under the root key (the object storage reads
# the key once it is authorized), the image and its WDEK put with veil cos.
step "veil resource instance create demo-cos --service cloud-object-storage"
"$BIN/veil" resource instance create demo-cos --service cloud-object-storage
step "veil iam authorization create --source cloud-object-storage --target kms --role Reader"
"$BIN/veil" iam authorization create --source cloud-object-storage --target kms --role Reader
CRK_CRN=$("$BIN/veil" --output json kms key show images | json_field '["crn"]')
step "veil cos bucket create demo-images --kms-key $CRK_CRN"
"$BIN/veil" cos bucket create demo-images --instance demo-cos --kms-key "$CRK_CRN"
"$BIN/veil" cos bucket head demo-images
step "veil cos put disk.luks s3://demo-images/disk.luks (and the WDEK beside it)"
"$BIN/veil" cos put "$IMG/disk.luks" s3://demo-images/disk.luks
"$BIN/veil" cos put "$DATA/image.wdek" s3://demo-images/disk.wdek
"$BIN/veil" cos ls s3://demo-images

step "Stopping veild (SIGTERM, graceful)"
kill -TERM "$VEILD_PID"
wait "$VEILD_PID"
echo "veild exited with status $?"
VEILD_PID=
echo; echo "veild log (without access lines):"; grep -v " access " "$LOG" | sed "s/^/  /"
echo; echo "Demo finished."
