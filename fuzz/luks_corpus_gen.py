#!/usr/bin/python3
"""Regenerates Veil's LUKS fuzz corpora from the genuine cryptsetup headers in fuzz/corpus/luks/.

1. fuzz/corpus/luks/hostile-*.bin: hostile seeds of luks_header_fuzz (Inspect alone).
2. fuzz/corpus/luks-diff/*.bin and fuzz/luks_cryptsetup_diff.expected: the corpus of
   luks_cryptsetup_diff_fuzz, replayed by ctest (luks.cryptsetup_differential_corpus) against the
   real libcryptsetup. Made the way cryptsetup's own validation tests make theirs
   (tests/generators/*.sh, run by tests/luks2-validation-test): take a valid image, edit its JSON
   metadata (they use jq, we use Python's json), recompute the checksum, write it back; or edit a
   field of the binary header. Each case states what libcryptsetup 2.6 must answer and what Veil
   must answer; where Veil refuses what libcryptsetup accepts, the words of Veil's reason, which
   docs/formats/luks.md lists as a Veil limit. The replay fails if either parser answers otherwise,
   and whenever Veil accepts what libcryptsetup refuses.

The genuine seeds were made by cryptsetup 2.6.1 and qemu-img 7.2 (first 1 KiB of a LUKS1
container, first 32 KiB = both metadata copies of a LUKS2 one):
  cryptsetup luksFormat --type luks1 --pbkdf-force-iterations 1000 \\
      --uuid 11111111-2222-4333-8444-555555555555               -> luks1-aes-xts-plain64-sha256.bin
  cryptsetup luksFormat --type luks1 --cipher aes-cbc-essiv:sha256 --key-size 256 ...
                                                                -> luks1-aes-cbc-essiv-sha256.bin
  qemu-img create -f luks -o key-secret=s0,iter-time=10         -> luks1-qemu-img.bin
  cryptsetup luksFormat --type luks2 --pbkdf argon2id --pbkdf-memory 32 \\
      --pbkdf-force-iterations 4 --pbkdf-parallel 1 --label veil-fixture
                                                                -> luks2-argon2id-4096.bin
  cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \\
      --sector-size 4096 --key-size 256                         -> luks2-pbkdf2-aes128-4096.bin
Every hostile seed of part 1 is refused: by Inspect (corrupt or unsupported metadata), or, for the
two absurd-cost seeds (which parse), by OpenVolumeKey's limits. src/luks/*_test.cc check the same
cases.
Deterministic: the same seeds give the same bytes. Run: /usr/bin/python3 fuzz/luks_corpus_gen.py
"""
import copy
import hashlib
import json
import os
import struct

FUZZ = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.join(FUZZ, "corpus", "luks")
DIFF = os.path.join(FUZZ, "corpus", "luks-diff")
EXPECTED = os.path.join(FUZZ, "luks_cryptsetup_diff.expected")
HDR = 16384


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return bytearray(f.read())


def write(name, data, where=HERE):
    with open(os.path.join(where, name), "wb") as f:
        f.write(bytes(data))


def be64(img, at):
    return struct.unpack(">Q", img[at:at + 8])[0]


def resign(img, offset, alg="sha256"):
    size = be64(img, offset + 8)
    img[offset + 448:offset + 512] = bytes(64)
    digest = hashlib.new(alg, bytes(img[offset:offset + size])).digest()
    img[offset + 448:offset + 448 + len(digest)] = digest


def set_json(img, text, copies=(0, HDR)):
    for off in copies:
        area = text.encode() if isinstance(text, str) else text
        size = be64(img, off + 8)
        img[off + 4096:off + size] = area + bytes(size - 4096 - len(area))
        resign(img, off)


def get_json(img, off=0):
    return json.loads(img[off + 4096:off + be64(img, off + 8)].split(b"\0", 1)[0])


def compact(meta):
    return json.dumps(meta, separators=(",", ":"))


def edit_json(name, out, fn):
    img = read(name)
    meta = get_json(img)
    fn(meta)
    set_json(img, compact(meta))
    write(out, img)


# ---- Part 1: hostile seeds of luks_header_fuzz ----

LUKS2 = "luks2-argon2id-4096.bin"
slot0 = lambda m: m["keyslots"]["0"]

edit_json(LUKS2, "hostile-luks2-argon2-64gib.bin",
          lambda m: slot0(m)["kdf"].update(memory=67108864))
edit_json(LUKS2, "hostile-luks2-area-over-header.bin",
          lambda m: slot0(m)["area"].update(offset="16384"))
edit_json(LUKS2, "hostile-luks2-area-past-end.bin",
          lambda m: slot0(m)["area"].update(offset="16773120"))


def overlap(m):
    copy_ = json.loads(json.dumps(slot0(m)))
    copy_["area"]["offset"] = "36864"
    m["keyslots"]["1"] = copy_


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

# ---- Part 2: the differential corpus (fuzz/corpus/luks-diff/) ----
#
# A case is (file name, libcryptsetup's verdict, Veil's verdict, Veil's reason, bytes). The
# verdicts are "accept" or "refuse", judged on the bytes padded with zeros to what the header
# declares (a header alone is too small a device for both). The reason is given only where Veil
# refuses what libcryptsetup accepts: words that Veil's error must contain.

ARGON = "luks2-argon2id-4096.bin"
PBKDF2 = "luks2-pbkdf2-aes128-4096.bin"
LUKS1 = "luks1-aes-xts-plain64-sha256.bin"
cases = []


def case(name, cryptsetup, veil, data, reason=""):
    assert cryptsetup in ("accept", "refuse") and veil in ("accept", "refuse"), name
    assert (reason != "") == (cryptsetup == "accept" and veil == "refuse"), name
    cases.append((name + ".bin", cryptsetup, veil, reason, bytes(data)))


def meta_of(base=ARGON):
    return get_json(read(base))


def with_json(text, base=ARGON, copies=(0, HDR)):
    img = read(base)
    set_json(img, text, copies)
    return img


def edited(fn, base=ARGON):
    """Both metadata copies with fn applied to the JSON (and re-signed)."""
    meta = meta_of(base)
    fn(meta)
    return with_json(compact(meta), base)


def kill_secondary(img, offset=HDR):
    img[offset:offset + 6] = b"VACUUM"  # as cryptsetup's generators' kill_bin_hdr
    return img


def edited_primary(fn, base=ARGON):
    """Only the primary copy edited, the secondary destroyed (cryptsetup's mangle_json_hdr0)."""
    meta = meta_of(base)
    fn(meta)
    return kill_secondary(with_json(compact(meta), base, copies=(0,)))


def kdf(m, slot="0"):
    return m["keyslots"][slot]["kdf"]


def af(m):
    return m["keyslots"]["0"]["af"]


def area(m, slot="0"):
    return m["keyslots"][slot]["area"]


def seg(m, name="0"):
    return m["segments"][name]


def digest(m):
    return m["digests"]["0"]


def config(m):
    return m["config"]


def setter(get, **fields):
    return lambda m: get(m).update(fields)


def deleter(get, key):
    return lambda m: get(m).pop(key)


def resized(size, base=ARGON, secondary_only=False):
    """Both copies rewritten for another metadata size (hdr_size), keyslot areas moved behind
    them, as cryptsetup's generate-luks2-metadata-size-*.img.sh do."""
    old = read(base)
    meta = get_json(old)
    meta["config"]["json_size"] = str(size - 4096)
    meta["config"]["keyslots_size"] = str(16 * 1024 * 1024 - 2 * size)
    meta["keyslots"]["0"]["area"]["offset"] = str(2 * size)
    img = bytearray(2 * size)
    for new_off, old_off in ((0, 0), (size, HDR)):
        img[new_off:new_off + 4096] = old[old_off:old_off + 4096]
        img[new_off + 8:new_off + 16] = struct.pack(">Q", size)
        img[new_off + 256:new_off + 264] = struct.pack(">Q", new_off)
    set_json(img, compact(meta), copies=(0, size))
    if secondary_only:
        img[0:4096] = bytes(4096)
    return img


def token(m, **fields):
    t = {"type": "veil-test", "keyslots": ["0"]}
    t.update(fields)
    m["tokens"]["0"] = t


def second_keyslot(m, **changes):
    """Keyslot 1: a copy of keyslot 0 with its own area after it."""
    ks = copy.deepcopy(m["keyslots"]["0"])
    ks["area"]["offset"] = "290816"
    ks.update(changes)
    m["keyslots"]["1"] = ks


def rename(section, old, new, refs=()):
    def fn(m):
        m[section][new] = m[section].pop(old)
        for ref in refs:
            for d in m["digests"].values():
                d[ref] = [new if x == old else x for x in d[ref]]
    return fn


def both(*fns):
    def fn(m):
        for f in fns:
            f(m)
    return fn


# Genuine headers, as cryptsetup and QEMU wrote them.
case("valid-luks2-argon2id", "accept", "accept", read(ARGON))
case("valid-luks2-pbkdf2", "accept", "accept", read(PBKDF2))
case("valid-luks2-compact-rewrite", "accept", "accept", edited(lambda m: None))
case("valid-luks2-pretty-printed", "accept", "accept",
     with_json(json.dumps(meta_of(), indent=2)))
case("valid-luks2-metadata-size-32k", "accept", "accept", resized(32768))
case("valid-luks2-metadata-size-64k", "accept", "accept", resized(65536))
case("limit-luks2-metadata-size-64k-secondary-only", "accept", "refuse",
     resized(65536, secondary_only=True), "only one of the two LUKS2 metadata copies")
case("valid-luks2-fixed-size-segment", "accept", "accept", edited(setter(seg, size="1048576")))
case("valid-luks2-detached-header", "accept", "accept", edited(setter(seg, offset="0")))
case("valid-luks2-config-flags", "accept", "accept",
     edited(setter(config, flags=["allow-discards"])))
case("valid-luks2-empty-requirements", "accept", "accept",
     edited(setter(config, requirements={"mandatory": []})))
case("valid-luks2-token", "accept", "accept", edited(lambda m: token(m, key_description="x")))
case("valid-luks2-two-keyslots", "accept", "accept",
     edited(both(second_keyslot, lambda m: digest(m)["keyslots"].append("1"))))
case("valid-luks2-unknown-keyslot-type", "accept", "accept",
     edited(lambda m: second_keyslot(m, type="veil-future")))
case("valid-luks2-unknown-kdf-type", "accept", "accept",
     edited(lambda m: kdf(m).update(type="veil-kdf")))
# cryptsetup repairs these in memory (luks2_keyslot_repair): leftovers of another KDF.
case("valid-luks2-argon2-leftover-params", "accept", "accept",
     edited(setter(kdf, hash="sha256", iterations=1000)))
case("valid-luks2-pbkdf2-leftover-params", "accept", "accept",
     edited(setter(kdf, time=4, memory=32, cpus=1), base=PBKDF2))
txt = compact(meta_of())


def filled_to(length):
    """The metadata with a token whose padding makes the JSON text exactly `length` bytes."""
    meta = meta_of()
    token(meta, keyslots=[], pad="")
    meta["tokens"]["0"]["pad"] = "p" * (length - len(compact(meta)))
    assert len(compact(meta)) == length
    return compact(meta)


case("valid-luks2-json-fills-the-area", "accept", "accept", with_json(filled_to(12287)))

# One damaged copy: libcryptsetup recovers it from the other unless blkid finds another
# signature on the device; Veil, which cannot probe as blkid does, refuses them all.
img = read(ARGON)
img[4096 + 10] ^= 1
case("limit-luks2-invalid-checksum-hdr0", "accept", "refuse", img, "only one of the two LUKS2 metadata copies")
img = read(ARGON)
img[HDR + 4096 + 10] ^= 1
case("limit-luks2-invalid-checksum-hdr1", "accept", "refuse", img, "only one of the two LUKS2 metadata copies")
img = read(ARGON)
img[0:8] = b"-rom1fs-"  # found by luks_cryptsetup_diff_fuzz: a romfs, and a LUKS2 by its secondary
case("luks2-foreign-signature-over-the-primary", "refuse", "refuse", img)
img = read(ARGON)
img[HDR + 16:HDR + 24] = struct.pack(">Q", be64(img, 16) + 1)
resign(img, HDR)
case("valid-luks2-newer-secondary", "accept", "accept", img)
img = read(ARGON)
img[HDR + 16:HDR + 24] = struct.pack(">Q", be64(img, 16) + 1)
m2 = meta_of()
seg(m2)["sector_size"] = 512
set_json(img, compact(m2), copies=(HDR,))
case("valid-luks2-newer-secondary-differs", "accept", "accept", img)
img = read(ARGON)
set_json(img, compact(m2), copies=(HDR,))
case("valid-luks2-same-seqid-secondary-differs", "accept", "accept", img)
img = read(ARGON)
img[0:4096] = bytes(4096)
case("limit-luks2-primary-wiped", "accept", "refuse", img, "only one of the two LUKS2 metadata copies")

# What libcryptsetup accepts and Veil refuses: Veil's documented limits.
case("limit-luks2-segment-unknown-type", "accept", "refuse",
     edited(setter(seg, type="veil-future")), "data segment of type")
case("limit-luks2-two-segments", "accept", "refuse",
     edited(both(setter(seg, size="1048576"),
                 lambda m: m["segments"].update({"1": dict(seg(m), offset="17825792",
                                                           size="dynamic")}),
                 lambda m: digest(m)["segments"].append("1"))),
     "2 data segments")
case("limit-luks2-integrity", "accept", "refuse",
     edited(setter(seg, integrity={"type": "hmac(sha256)", "journal_encryption": "none",
                                   "journal_integrity": "none"})),
     "integrity")
case("limit-luks2-unknown-requirement", "accept", "refuse",
     edited(setter(config, requirements={"mandatory": ["veil-future"]})),
     "requirement not supported")
case("limit-luks2-segment-flags", "accept", "refuse",
     edited(setter(seg, flags=["in-reencryption"])), "segment flags")
case("limit-luks2-uint64-max-segment-size", "accept", "refuse",
     edited(setter(seg, size="18446744073709547520")), "out of range")
case("limit-luks2-sector-size-8192", "accept", "refuse",
     edited(setter(seg, sector_size=8192)), "not 512, 1024, 2048 or 4096")
case("limit-luks2-keyslot-id-32", "accept", "refuse",
     edited(both(rename("keyslots", "0", "32", refs=("keyslots",)))), "id out of range")
case("limit-luks2-digest-name-leading-zero", "accept", "refuse",
     edited(rename("digests", "0", "00")), "decimal number without leading zeros")
case("limit-luks2-priority-5", "accept", "refuse",
     edited(lambda m: m["keyslots"]["0"].update(priority=5)), "not 0, 1 or 2")
case("limit-luks2-af-stripes-1", "accept", "refuse", edited(setter(af, stripes=1)),
     "only 4000 is valid")
case("limit-luks2-key-size-1024", "accept", "refuse",
     edited(lambda m: m["keyslots"]["0"].update(key_size=1024)), "key_size: out of range")
case("limit-luks2-token-id-32", "accept", "refuse",
     edited(lambda m: m["tokens"].update({"32": {"type": "veil-test", "keyslots": []}})),
     "id out of range")
case("limit-luks2-negative-integer", "accept", "refuse", edited(setter(kdf, time=-4)), "negative")
case("limit-luks2-non-integral-number", "accept", "refuse",
     edited(lambda m: token(m, keyslots=[], ratio=0.5)), "non-integral number")
case("limit-luks2-json-comment", "accept", "refuse",
     with_json(txt.replace('"tokens":{}', '"tokens":{/* c */}')), "invalid JSON")
case("limit-luks2-invalid-utf8", "accept", "refuse",
     with_json(txt.replace('"tokens":{}', '"tokens":{"0":{"type":"t","keyslots":[],"x":"\xff"}}')
               .encode("latin-1")), "invalid JSON")
case("limit-luks2-duplicate-key", "accept", "refuse",
     with_json(txt.replace('"memory":32,', '"memory":32,"memory":64,')), "duplicate key")
img = read(ARGON)
for off in (0, HDR):
    img[off + 72:off + 104] = b"sha512".ljust(32, b"\0")
    resign(img, off, "sha512")
case("limit-luks2-sha512-checksum", "accept", "refuse", img, "checksum algorithm")
img = read(ARGON)
for off in (0, HDR):
    img[off + 24:off + 72] = b"L" * 48
    resign(img, off)
case("limit-luks2-label-not-terminated", "accept", "refuse", img, "NUL-terminated")
case("limit-luks2-corrupted-hdr0-with-correct-checksum", "accept", "refuse",
     with_json(txt[:-1], copies=(0,)), "invalid JSON")
case("limit-luks2-corrupted-hdr1-with-correct-checksum", "accept", "refuse",
     with_json(txt[:-1], copies=(HDR,)), "invalid JSON")

# JSON area framing (cryptsetup's generate-luks2-*-json0.img.sh).
case("luks2-invalid-checksum-both-hdrs", "refuse", "refuse",
     read("hostile-luks2-bad-checksums.bin"))
case("luks2-corrupted-json-both", "refuse", "refuse", with_json(txt[:-1]))
case("luks2-invalid-opening-char", "refuse", "refuse", with_json(" " + txt))
# json-c reads past whitespace after the object: libcryptsetup accepts it, and so does Veil.
case("valid-luks2-trailing-whitespace", "accept", "accept", with_json(txt + "\n"))
case("luks2-invalid-object-type", "refuse", "refuse", with_json("[" + txt + "]"))
case("luks2-missing-trailing-null-byte", "refuse", "refuse", with_json(filled_to(12288)))
img = with_json(txt)
img[4096 + len(txt)] = ord("x")
resign(img, 0)
case("luks2-non-null-byte-beyond-json", "refuse", "refuse", kill_secondary(img))
img = with_json(txt)
img[4096 + len(txt) + 1000] = ord("x")
resign(img, 0)
case("luks2-non-null-bytes-beyond-json", "refuse", "refuse", kill_secondary(img))
case("luks2-deep-nesting", "refuse", "refuse",
     edited(lambda m: token(m, keyslots=[], deep=json.loads("[" * 100 + "]" * 100))))
# json-c's limit: 32 levels in all (the top object, tokens, the token, then 29 arrays).
case("valid-luks2-nesting-32", "accept", "accept",
     edited(lambda m: token(m, keyslots=[], deep=json.loads("[" * 29 + "]" * 29))))
case("luks2-nesting-33", "refuse", "refuse",
     edited(lambda m: token(m, keyslots=[], deep=json.loads("[" * 30 + "]" * 30))))

# Binary header.
img = read(ARGON)
for off in (0, HDR):
    img[off + 8:off + 16] = struct.pack(">Q", 12345)  # not in the spec's table
case("luks2-metadata-size-invalid", "refuse", "refuse", img)
img = read(ARGON)
for off in (0, HDR):
    img[off + 256:off + 264] = struct.pack(">Q", off + 512)
    resign(img, off)
case("luks2-hdr-offset-wrong", "refuse", "refuse", img)
img = resized(32768)
img[0:4096] = bytes(4096)
img2 = bytearray(img[32768:])
img2 = bytearray(HDR) + img2  # the 32 KiB secondary moved to offset 16 KiB
img2[HDR + 256:HDR + 264] = struct.pack(">Q", HDR)
resign(img2, HDR)
case("luks2-secondary-size-not-its-offset", "refuse", "refuse", img2)
img = bytearray(read(ARGON)[:HDR]) + bytearray(resized(32768)[32768:])
img[HDR + 256:HDR + 264] = struct.pack(">Q", HDR)
img[HDR + 16:HDR + 24] = struct.pack(">Q", be64(img, 16) + 1)
resign(img, HDR)
case("limit-luks2-primary-and-secondary-disagree-on-size", "accept", "refuse", img,
     "does not match its position")

# Found by luks_cryptsetup_diff_fuzz: a primary whose checksum verifies is there, whatever its
# hdr_size within 16 KiB..4 MiB; libcryptsetup then looks for the secondary at that size only.
img = read(ARGON)
img[8:16] = struct.pack(">Q", 16505)
resign(img, 0)
case("luks2-checksummed-primary-of-odd-size", "refuse", "refuse", img)
img = read(ARGON)
img[8:16] = struct.pack(">Q", 32768)
resign(img, 0)
case("luks2-checksummed-primary-over-the-secondary", "refuse", "refuse", img + bytearray(HDR))

# config (generate-luks2-invalid-{json,keyslots}-size-*.img.sh).
case("luks2-config-missing", "refuse", "refuse", edited(lambda m: m.pop("config")))
case("luks2-config-not-object", "refuse", "refuse", edited(lambda m: m.update(config=[])))
case("luks2-json-size-c0", "refuse", "refuse", edited(setter(config, json_size="12287")))
case("luks2-json-size-c1", "refuse", "refuse", edited(setter(config, json_size="-1")))
case("luks2-json-size-c2", "refuse", "refuse", edited(setter(config, json_size="28672")))
case("luks2-json-size-number", "refuse", "refuse", edited(setter(config, json_size=12288)))
case("luks2-keyslots-size-too-large", "refuse", "refuse",
     edited(setter(config, keyslots_size="134221824")))
case("luks2-keyslots-size-unaligned", "refuse", "refuse",
     edited(setter(config, keyslots_size="16744447")))
case("luks2-keyslots-size-too-small", "refuse", "refuse",
     edited(setter(config, keyslots_size="4096")))
case("luks2-keyslots-size-over-segment", "refuse", "refuse",
     edited(setter(config, keyslots_size="16777216")))
case("luks2-config-flags-not-array", "refuse", "refuse",
     edited(setter(config, flags="allow-discards")))
case("luks2-config-flags-element", "refuse", "refuse", edited(setter(config, flags=[1])))
case("luks2-requirements-array", "refuse", "refuse", edited(setter(config, requirements=[])))
case("luks2-requirements-mandatory-not-array", "refuse", "refuse",
     edited(setter(config, requirements={"mandatory": "x"})))
case("luks2-requirements-mandatory-element", "refuse", "refuse",
     edited(setter(config, requirements={"mandatory": [1]})))
case("luks2-reencrypt-requirement-without-keyslot", "refuse", "refuse",
     edited(setter(config, requirements={"mandatory": ["online-reencrypt-v2"]})))

# keyslots (generate-luks2-keyslot-*.img.sh, -overlapping-areas-*, -area-in-json-hdr-space).
case("luks2-keyslots-missing", "refuse", "refuse", edited(lambda m: m.pop("keyslots")))
case("luks2-keyslots-not-object", "refuse", "refuse", edited(lambda m: m.update(keyslots=[])))
case("luks2-keyslot-name-not-numbered", "refuse", "refuse",
     edited(rename("keyslots", "0", "x", refs=("keyslots",))))
case("luks2-keyslot-name-leading-zero", "refuse", "refuse",
     edited(rename("keyslots", "0", "00", refs=("keyslots",))))
case("luks2-keyslot-not-object", "refuse", "refuse",
     edited(lambda m: m["keyslots"].update({"0": "luks2"})))
case("luks2-keyslot-missing-type", "refuse", "refuse",
     edited(deleter(lambda m: m["keyslots"]["0"], "type")))
case("luks2-keyslot-empty-type", "refuse", "refuse",
     edited(lambda m: m["keyslots"]["0"].update(type="")))
case("luks2-keyslot-key-size-string", "refuse", "refuse",
     edited(lambda m: m["keyslots"]["0"].update(key_size="64")))
case("luks2-keyslot-key-size-negative", "refuse", "refuse",
     edited(lambda m: m["keyslots"]["0"].update(key_size=-64)))
case("luks2-keyslot-missing-digest", "refuse", "refuse",
     edited(setter(digest, keyslots=[])))
case("luks2-keyslot-too-many-digests", "refuse", "refuse",
     edited(lambda m: m["digests"].update({"1": dict(digest(m), segments=[])})))
case("luks2-missing-keyslot-referenced-in-digest", "refuse", "refuse",
     edited(setter(digest, keyslots=["0", "1"])))
case("luks2-unknown-keyslot-empty-area-type", "refuse", "refuse",
     edited(lambda m: second_keyslot(m, type="veil-future",
                                     area=dict(area(m), offset="290816", type=""))))
for part in ("kdf", "af", "area"):
    case("luks2-keyslot-%s-not-object" % part, "refuse", "refuse",
         edited(lambda m, p=part: m["keyslots"]["0"].update({p: "x"})))
case("luks2-kdf-missing-type", "refuse", "refuse", edited(deleter(kdf, "type")))
case("luks2-kdf-empty-type", "refuse", "refuse", edited(setter(kdf, type="")))
case("luks2-kdf-empty-salt", "refuse", "refuse", edited(setter(kdf, salt="")))
case("luks2-kdf-argon2-missing-cpus", "refuse", "refuse", edited(deleter(kdf, "cpus")))
case("luks2-kdf-argon2-time-string", "refuse", "refuse", edited(setter(kdf, time="4")))
case("luks2-kdf-pbkdf2-missing-hash", "refuse", "refuse",
     edited(deleter(kdf, "hash"), base=PBKDF2))
case("luks2-kdf-pbkdf2-empty-hash", "refuse", "refuse",
     edited(setter(kdf, hash=""), base=PBKDF2))
case("luks2-kdf-pbkdf2-iterations-string", "refuse", "refuse",
     edited(setter(kdf, iterations="1000"), base=PBKDF2))
case("luks2-af-type-luks2", "refuse", "refuse", edited(setter(af, type="luks2")))
case("luks2-af-missing-hash", "refuse", "refuse", edited(deleter(af, "hash")))
case("luks2-af-empty-hash", "refuse", "refuse", edited(setter(af, hash="")))
case("luks2-af-stripes-string", "refuse", "refuse", edited(setter(af, stripes="4000")))
case("luks2-area-type-unknown", "refuse", "refuse", edited(setter(area, type="veil")))
case("luks2-area-missing-encryption", "refuse", "refuse", edited(deleter(area, "encryption")))
case("luks2-area-empty-encryption", "refuse", "refuse", edited(setter(area, encryption="")))
case("luks2-area-key-size-string", "refuse", "refuse", edited(setter(area, key_size="64")))
case("luks2-area-offset-number", "refuse", "refuse", edited(setter(area, offset=32768)))
case("luks2-area-size-zero", "refuse", "refuse", edited(setter(area, size="0")))
case("luks2-area-in-json-hdr-space", "refuse", "refuse", edited(setter(area, offset="16384")))
case("luks2-area-past-keyslots-area", "refuse", "refuse",
     edited(setter(area, offset="16773120")))
case("luks2-area-offset-overflow", "refuse", "refuse",
     edited(setter(area, offset="18446744073709551615")))
case("luks2-overlapping-areas-c0", "refuse", "refuse",
     edited(lambda m: second_keyslot(m, area=dict(area(m)))))
case("luks2-overlapping-areas-c1", "refuse", "refuse",
     edited(lambda m: second_keyslot(m, area=dict(area(m), offset="36864"))))
case("luks2-overlapping-areas-c2", "refuse", "refuse",
     edited(lambda m: second_keyslot(m, area=dict(area(m), offset="286720"))))

# digests (generate-luks2-missing-*-referenced-in-digest.img.sh).
case("luks2-digests-missing", "refuse", "refuse", edited(lambda m: m.pop("digests")))
case("luks2-digests-not-object", "refuse", "refuse", edited(lambda m: m.update(digests=[])))
case("luks2-digest-missing-type", "refuse", "refuse", edited(deleter(digest, "type")))
case("luks2-digest-empty-type", "refuse", "refuse", edited(setter(digest, type="")))
case("luks2-digest-keyslots-not-array", "refuse", "refuse", edited(setter(digest, keyslots="0")))
case("luks2-digest-keyslot-not-string", "refuse", "refuse", edited(setter(digest, keyslots=[0])))
case("luks2-digest-keyslot-leading-zero", "refuse", "refuse",
     edited(setter(digest, keyslots=["00"])))
case("luks2-digest-segment-leading-zero", "refuse", "refuse",
     edited(setter(digest, segments=["00"])))
case("luks2-missing-segment-referenced-in-digest", "refuse", "refuse",
     edited(setter(digest, segments=["0", "1"])))

# segments (generate-luks2-segment-*.img.sh, -uint64-*-segment-size).
case("luks2-segments-missing", "refuse", "refuse", edited(lambda m: m.pop("segments")))
case("luks2-segments-empty", "refuse", "refuse",
     edited(both(lambda m: m.update(segments={}), setter(digest, segments=[]))))
case("luks2-segment-missing-type", "refuse", "refuse", edited(deleter(seg, "type")))
case("luks2-segment-wrong-type", "refuse", "refuse", edited(setter(seg, type=42)))
case("luks2-segment-missing-offset", "refuse", "refuse", edited(deleter(seg, "offset")))
case("luks2-segment-wrong-offset", "refuse", "refuse", edited(setter(seg, offset="-42")))
case("luks2-segment-unaligned-offset", "refuse", "refuse",
     edited(setter(seg, offset="16777217")))
case("luks2-segment-missing-size", "refuse", "refuse", edited(deleter(seg, "size")))
case("luks2-segment-size-zero", "refuse", "refuse", edited(setter(seg, size="0")))
case("luks2-segment-wrong-size", "refuse", "refuse", edited(setter(seg, size="dynamics")))
case("luks2-segment-unaligned-size", "refuse", "refuse", edited(setter(seg, size="1000")))
case("luks2-uint64-overflow-segment-size", "refuse", "refuse",
     edited(setter(seg, size="18446744073709551616")))
case("luks2-uint64-signed-segment-size", "refuse", "refuse", edited(setter(seg, size="-42")))
case("luks2-segment-crypt-missing-encryption", "refuse", "refuse",
     edited(deleter(seg, "encryption")))
case("luks2-segment-crypt-wrong-encryption", "refuse", "refuse",
     edited(setter(seg, encryption=42)))
case("luks2-segment-crypt-empty-encryption", "refuse", "refuse",
     edited(setter(seg, encryption="")))
case("luks2-segment-crypt-missing-ivoffset", "refuse", "refuse",
     edited(deleter(seg, "iv_tweak")))
case("luks2-segment-crypt-wrong-ivoffset", "refuse", "refuse", edited(setter(seg, iv_tweak="-1")))
case("luks2-segment-crypt-ivoffset-number", "refuse", "refuse", edited(setter(seg, iv_tweak=0)))
case("luks2-segment-crypt-missing-sectorsize", "refuse", "refuse",
     edited(deleter(seg, "sector_size")))
for label, value in (("0", 0), ("4097", 4097), ("negative", -1), ("string", "4096")):
    case("luks2-segment-crypt-sectorsize-" + label, "refuse", "refuse",
         edited(setter(seg, sector_size=value)))
case("luks2-segment-wrong-flags", "refuse", "refuse", edited(setter(seg, flags="hello")))
case("luks2-segment-wrong-flags-element", "refuse", "refuse", edited(setter(seg, flags=[1])))
case("luks2-segment-backup-only", "refuse", "refuse",
     edited(setter(seg, flags=["backup-final"])))
case("luks2-segment-named-1", "refuse", "refuse",
     edited(rename("segments", "0", "1", refs=("segments",))))
case("luks2-segment-without-digest", "refuse", "refuse", edited(setter(digest, segments=[])))
case("luks2-segment-overlaps-keyslots", "refuse", "refuse", edited(setter(seg, offset="1048576")))
case("luks2-segment-incomplete-integrity", "refuse", "refuse",
     edited(setter(seg, integrity={"type": "hmac(sha256)"})))

# tokens (generate-luks2-invalid-tokens.img.sh, -missing-keyslot-referenced-in-token).
case("luks2-tokens-missing", "refuse", "refuse", edited(lambda m: m.pop("tokens")))
case("luks2-tokens-not-object", "refuse", "refuse", edited(lambda m: m.update(tokens=[])))
case("luks2-token-name-not-numbered", "refuse", "refuse",
     edited(lambda m: m["tokens"].update(x={"type": "t", "keyslots": []})))
case("luks2-token-missing-type", "refuse", "refuse",
     edited(both(token, lambda m: m["tokens"]["0"].pop("type"))))
case("luks2-token-empty-type", "refuse", "refuse", edited(lambda m: token(m, type="")))
case("luks2-token-keyslots-not-array", "refuse", "refuse",
     edited(lambda m: token(m, keyslots="0")))
case("luks2-missing-keyslot-referenced-in-token", "refuse", "refuse",
     edited(lambda m: token(m, keyslots=["1"])))
case("luks2-token-keyslot-leading-zero", "refuse", "refuse",
     edited(lambda m: token(m, keyslots=["00"])))

# LUKS1: the phdr (cryptsetup's lib/luks1/keymanage.c checks).
KS, KSZ = 208, 48


def luks1(**fields):
    img = read(LUKS1)
    for at, value in fields.values():
        img[at:at + len(value)] = value
    return img


def be32(v):
    return struct.pack(">I", v)


case("valid-luks1-aes-xts-plain64", "accept", "accept", read(LUKS1))
case("valid-luks1-aes-cbc-essiv", "accept", "accept", read("luks1-aes-cbc-essiv-sha256.bin"))
case("valid-luks1-qemu-img", "accept", "accept", read("luks1-qemu-img.bin"))
case("valid-luks1-detached", "accept", "accept", luks1(payload=(104, be32(0))))
# Every hash Veil reads (luks1_header.cc), and one libcryptsetup reads that Veil does not.
for h in ("sha1", "sha224", "sha384", "sha512", "ripemd160", "sha3-224", "sha3-256", "sha3-384",
          "sha3-512", "blake2b-512", "blake2s-256"):
    case("valid-luks1-hash-" + h, "accept", "accept",
         luks1(hash=(72, h.encode().ljust(32, b"\0"))))
case("limit-luks1-hash-whirlpool", "accept", "refuse",
     luks1(hash=(72, b"whirlpool".ljust(32, b"\0"))), "hash spec 'whirlpool' is not supported")
case("luks1-hash-unknown", "refuse", "refuse",
     luks1(hash=(72, b"sha257".ljust(32, b"\0"))))
case("luks1-hash-md5", "refuse", "refuse", luks1(hash=(72, b"md5".ljust(32, b"\0"))))
case("luks1-hash-empty", "refuse", "refuse", luks1(hash=(72, bytes(32))))
case("luks1-truncated", "refuse", "refuse", read(LUKS1)[:591])
case("luks1-version-3", "refuse", "refuse", luks1(version=(6, b"\0\3")))
case("luks1-stripes-1", "refuse", "refuse", luks1(stripes=(KS + 44, be32(1))))
case("luks1-keyslot-over-header", "refuse", "refuse", luks1(offset=(KS + 40, be32(1))))
case("luks1-keyslot-past-payload", "refuse", "refuse", luks1(payload=(104, be32(2048))))
case("luks1-keyslots-overlap", "refuse", "refuse", luks1(offset=(KS + KSZ + 40, be32(8))))
case("luks1-key-material-offset-overflow", "refuse", "refuse",
     luks1(payload=(104, be32(0)), offset=(KS + 7 * KSZ + 40, be32(0x00800000))))
case("limit-luks1-invalid-keyslot-state", "accept", "refuse",
     luks1(state=(KS + KSZ, be32(0x12345678))), "invalid state field")
case("limit-luks1-zero-iterations", "accept", "refuse", luks1(iter=(KS + 4, be32(0))),
     "zero PBKDF2 iterations")
case("limit-luks1-zero-mk-digest-iterations", "accept", "refuse", luks1(mk=(164, be32(0))),
     "zero master-key digest iterations")
case("limit-luks1-unterminated-cipher", "accept", "refuse", luks1(cipher=(8, b"a" * 32)),
     "NUL-terminated")

os.makedirs(DIFF, exist_ok=True)
for old in os.listdir(DIFF):
    os.remove(os.path.join(DIFF, old))
names = set()
with open(EXPECTED, "w") as out:
    out.write("# Written by fuzz/luks_corpus_gen.py: the verdicts the replay of\n"
              "# fuzz/corpus/luks-diff/ checks (luks.cryptsetup_differential_corpus).\n"
              "# file  libcryptsetup  Veil  [words of Veil's documented reason]\n")
    for name, cs, veil, reason, data in cases:
        assert name not in names, name
        names.add(name)
        write(name, data, DIFF)
        out.write(" ".join(x for x in (name, cs, veil, reason) if x) + "\n")
