#!/usr/bin/env bash
# Remakes the seed corpus of fuzz/disk_image_fuzz.cc in fuzz/corpus/disk/: small images of every
# container src/disk reads (512-byte qcow2 clusters and 4 KiB VHD blocks keep them a few KiB).
# Needs qemu-img and qemu-io (qemu-utils) and python3.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/corpus/disk
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp/src.raw" <<'PY'
import sys
d = bytearray(64 * 1024)
d[0:1024] = bytes((i * 7) % 251 for i in range(1024))
d[8192:8192 + 3000] = b"veil" * 750
d[-512:] = bytes(range(256)) * 2
open(sys.argv[1], "wb").write(d)
PY

qemu-img create -q -f qcow2 -o cluster_size=512 "$out/qcow2-v3-c512.qcow2" 64K
qemu-io -f qcow2 -c 'write -P 0x11 0 1k' -c 'write -z 4k 1k' -c 'write -P 0x22 60k 700' \
  -c 'discard 512 512' "$out/qcow2-v3-c512.qcow2" >/dev/null
qemu-img convert -f raw -O qcow2 -c -o compat=0.10,cluster_size=512 "$tmp/src.raw" \
  "$out/qcow2-v2-compressed-c512.qcow2"
qemu-img convert -f raw -O qcow2 -c -o cluster_size=4k "$tmp/src.raw" \
  "$out/qcow2-v3-compressed-c4k.qcow2"
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$tmp/src.raw" "$out/vhd-fixed.vhd"
qemu-img create -q -f vpc "$out/vhd-dynamic-empty.vhd" 64K
head -c 3000 "$tmp/src.raw" > "$out/raw.img"

# Hand-made: a qcow2 with a (fake, 1 KiB) LUKS header and 512-byte clusters, and a dynamic VHD
# with 4 KiB blocks; qemu-img makes neither this small.
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
cs = 512
# qcow2 v3: header | LUKS header (2 clusters) | L1 (2 entries) | L2 | data | refcount table |
# refcount block
luks = bytearray(1024); luks[0:8] = b"LUKS\xba\xbe\x00\x01"
size = 64 * 1024
l1_off, l2_off, data_off, rt_off, rb_off = 3 * cs, 4 * cs, 5 * cs, 6 * cs, 7 * cs
img = bytearray(8 * cs)
hdr = struct.pack(">IIQIIQIIQQIIQQQQII", 0x514649fb, 3, 0, 0, 9, size, 2, 2, l1_off, rt_off, 1,
                  0, 0, 0, 0, 0, 4, 112)
img[0:len(hdr)] = hdr
img[112:136] = struct.pack(">IIQQ", 0x0537be77, 16, cs, len(luks))
img[cs:cs + len(luks)] = luks
img[l1_off:l1_off + 8] = struct.pack(">Q", (1 << 63) | l2_off)
img[l2_off:l2_off + 8] = struct.pack(">Q", (1 << 63) | data_off)
img[data_off:data_off + cs] = bytes((i * 13) % 256 for i in range(cs))
img[rt_off:rt_off + 8] = struct.pack(">Q", rb_off)
for c in range(8):
    img[rb_off + 2 * c:rb_off + 2 * c + 2] = struct.pack(">H", 1)
open(out + "/qcow2-luks-fake-c512.qcow2", "wb").write(img)

def checksum(buf, at):
    b = bytearray(buf); b[at:at + 4] = b"\0\0\0\0"
    return (~sum(b)) & 0xffffffff

block, vsize = 4096, 16384
footer = bytearray(512)
footer[0:8] = b"conectix"
struct.pack_into(">IIQI4sI4sQQHBBI", footer, 8, 2, 0x00010000, 512, 0, b"win ", 0x00050003,
                 b"Wi2k", vsize, vsize, 0, 0, 0, 3)
struct.pack_into(">I", footer, 64, checksum(footer, 64))
dyn = bytearray(1024)
dyn[0:8] = b"cxsparse"
struct.pack_into(">QQIII", dyn, 8, 0xffffffffffffffff, 1536, 0x00010000, vsize // block, block)
struct.pack_into(">I", dyn, 36, checksum(dyn, 36))
bat = bytearray(b"\xff" * 512)
blk_sector = (1536 + 512) // 512
struct.pack_into(">I", bat, 4, blk_sector)  # block 1 allocated, the rest not
blk = bytearray(b"\xff" * 512) + bytes((i * 5) % 256 for i in range(block))
open(out + "/vhd-dynamic-4k.vhd", "wb").write(bytes(footer) + dyn + bat + blk + footer)
PY
ls -l "$out"
