#!/usr/bin/python3
"""Regenerates the hostile seeds of fuzz/corpus/luks/ from the genuine cryptsetup headers there.

The genuine seeds were made by cryptsetup 2.6.1 and qemu-img 7.2 (first 1 KiB of a LUKS1
container, first 32 KiB = both metadata copies of a LUKS2 one):
  cryptsetup luksFormat --type luks1 --pbkdf-force-iterations 1000 \
      --uuid 11111111-2222-4333-8444-555555555555               -> luks1-aes-xts-plain64-sha256.bin
  cryptsetup luksFormat --type luks1 --cipher aes-cbc-essiv:sha256 --key-size 256 ...
                                                                -> luks1-aes-cbc-essiv-sha256.bin
  qemu-img create -f luks -o key-secret=s0,iter-time=10         -> luks1-qemu-img.bin
  cryptsetup luksFormat --type luks2 --pbkdf argon2id --pbkdf-memory 32 \
      --pbkdf-force-iterations 4 --pbkdf-parallel 1 --label veil-fixture
                                                                -> luks2-argon2id-4096.bin
  cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
      --sector-size 4096 --key-size 256                         -> luks2-pbkdf2-aes128-4096.bin
Every hostile seed is refused: by Inspect (corrupt or unsupported metadata), or, for the two
absurd-cost seeds (which parse), by OpenVolumeKey's limits. src/luks/*_test.cc check the same
cases.
Run: /usr/bin/python3 fuzz/luks_corpus_gen.py
"""
import hashlib
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "luks")
HDR = 16384


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return bytearray(f.read())


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(bytes(data))


def resign(img, offset):
    size = struct.unpack(">Q", img[offset + 8:offset + 16])[0]
    img[offset + 448:offset + 512] = bytes(64)
    img[offset + 448:offset + 480] = hashlib.sha256(img[offset:offset + size]).digest()


def set_json(img, text):
    for off in (0, HDR):
        area = text.encode()
        img[off + 4096:off + HDR] = area + bytes(HDR - 4096 - len(area))
        resign(img, off)


def edit_json(name, out, fn):
    img = read(name)
    meta = json.loads(img[4096:HDR].split(b"\0", 1)[0])
    fn(meta)
    set_json(img, json.dumps(meta, separators=(",", ":")))
    write(out, img)


LUKS2 = "luks2-argon2id-4096.bin"
slot0 = lambda m: m["keyslots"]["0"]

edit_json(LUKS2, "hostile-luks2-argon2-64gib.bin",
          lambda m: slot0(m)["kdf"].update(memory=67108864))
edit_json(LUKS2, "hostile-luks2-area-over-header.bin",
          lambda m: slot0(m)["area"].update(offset="16384"))
edit_json(LUKS2, "hostile-luks2-area-past-end.bin",
          lambda m: slot0(m)["area"].update(offset="16773120"))


def overlap(m):
    copy = json.loads(json.dumps(slot0(m)))
    copy["area"]["offset"] = "36864"
    m["keyslots"]["1"] = copy


edit_json(LUKS2, "hostile-luks2-overlapping-keyslots.bin", overlap)
edit_json(LUKS2, "hostile-luks2-reencrypt.bin",
          lambda m: m["config"].update(requirements={"mandatory": ["online-reencrypt-v2"]}))

img = read(LUKS2)
text = img[4096:HDR].split(b"\0", 1)[0].decode()
set_json(img, text.replace('"memory":32,', '"memory":32,"memory":67108864,'))
write("hostile-luks2-duplicate-key.bin", img)

img = read(LUKS2)
img[4096 + 10] ^= 1
img[HDR + 4096 + 10] ^= 1
write("hostile-luks2-bad-checksums.bin", img)
write("hostile-luks2-truncated.bin", read(LUKS2)[:HDR - 1])

img = read("luks1-aes-xts-plain64-sha256.bin")
img[208 + 4:208 + 8] = struct.pack(">I", 0xFFFFFFFF)  # keyslot 0 iterations: absurd, parseable
write("hostile-luks1-absurd-iterations.bin", img)
img = read("luks1-aes-xts-plain64-sha256.bin")
img[208 + 48 + 40:208 + 48 + 44] = struct.pack(">I", 8)  # keyslot 1 on keyslot 0
write("hostile-luks1-overlapping-keyslots.bin", img)
write("hostile-luks1-truncated.bin", read("luks1-aes-xts-plain64-sha256.bin")[:591])
