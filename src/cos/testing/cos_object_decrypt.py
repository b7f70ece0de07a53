#!/usr/bin/env python3
"""An independent reader (and writer) of Veil's object storage data files, version 1.

Written from docs/formats/cos-object.md alone with the `cryptography` package (Debian's
python3-cryptography), to check the C++ ObjectFileWriter against a second implementation.

  cos_object_decrypt.py --dek-hex HEX --object-id ID [--part N] FILE [-o OUT]
      writes FILE's plaintext to OUT (default stdout); exit 1 when a chunk does not authenticate,
      2 when the file is not in this format.
  cos_object_decrypt.py --check-writer WRITER
      the ctest cos.object_file_python_decrypts: runs the C++ writer tool (cos_object_file_writer)
      on several sizes, decrypts its files here, checks the plaintext's SHA-256 and that
      encrypting again with the file's salt gives the same bytes, and that tampered files fail.
      Exits 1 when the cryptography package is missing (make deps installs it).
"""

import argparse
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError:  # reported by main()
    AESGCM = None

MAGIC = b"VEILCOS1"
HEADER_SIZE = 48
TAG_SIZE = 16


class FormatError(Exception):
    """The bytes are not a version 1 object file (before any authentication)."""


def file_key(dek, salt, object_id, part_number):
    info = (b"veil-cos-object-v1" + struct.pack(">I", len(object_id)) + object_id +
            struct.pack(">I", part_number))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(dek)


def nonce(index):
    return b"\x00" * 4 + struct.pack(">Q", index)


def chunk_aad(header, index, final):
    return header + struct.pack(">QB", index, 1 if final else 0)


def parse_header(data):
    if len(data) < HEADER_SIZE + TAG_SIZE:
        raise FormatError("shorter than a header and one tag")
    header = data[:HEADER_SIZE]
    if header[:8] != MAGIC:
        raise FormatError("bad magic")
    if header[8] != 1:
        raise FormatError("unsupported version %d" % header[8])
    if header[9:12] != b"\x00\x00\x00":
        raise FormatError("reserved bytes not zero")
    chunk_size = struct.unpack(">I", header[12:16])[0]
    if chunk_size < 4096 or chunk_size > 16 << 20 or chunk_size & (chunk_size - 1):
        raise FormatError("bad chunk size %d" % chunk_size)
    return header, chunk_size, header[16:48]


def decrypt(data, dek, object_id, part_number):
    """The plaintext of `data`; raises FormatError, or InvalidTag when a chunk does not verify."""
    header, chunk_size, salt = parse_header(data)
    body = data[HEADER_SIZE:]
    stride = chunk_size + TAG_SIZE
    count = -(-len(body) // stride)
    last = len(body) - (count - 1) * stride
    if last < TAG_SIZE or (last == TAG_SIZE and count > 1):
        raise FormatError("impossible file size %d" % len(data))
    aead = AESGCM(file_key(dek, salt, object_id, part_number))
    out = []
    for i in range(count):
        sealed = body[i * stride:(i + 1) * stride]
        out.append(aead.decrypt(nonce(i), sealed, chunk_aad(header, i, i == count - 1)))
    return b"".join(out)


def encrypt(plaintext, dek, salt, object_id, part_number, chunk_size=65536):
    """The file the format prescribes for these inputs (the salt is normally random)."""
    header = (MAGIC + bytes([1, 0, 0, 0]) + struct.pack(">I", chunk_size) + salt)
    assert len(header) == HEADER_SIZE
    aead = AESGCM(file_key(dek, salt, object_id, part_number))
    count = max(1, -(-len(plaintext) // chunk_size))
    out = [header]
    for i in range(count):
        piece = plaintext[i * chunk_size:(i + 1) * chunk_size]
        out.append(aead.encrypt(nonce(i), piece, chunk_aad(header, i, i == count - 1)))
    return b"".join(out)


def expect_rejected(what, data, dek, object_id, part_number):
    try:
        decrypt(data, dek, object_id, part_number)
    except (InvalidTag, FormatError):
        return
    raise AssertionError("%s: decrypted without error" % what)


def check_writer(writer):
    dek_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    dek = bytes.fromhex(dek_hex)
    object_id = b"obj-python-check"
    with tempfile.TemporaryDirectory(prefix="veil-cos-py-") as tmp:
        cases = [(0, 65536, 0), (1, 65536, 1), (65535, 65536, 7), (65536, 65536, 10000),
                 (65537, 65536, 0), (3 * 65536, 65536, 2), (1234567, 65536, 3), (20000, 4096, 0)]
        for n, (size, chunk_size, part) in enumerate(cases):
            path = os.path.join(tmp, "f%d" % n)
            digest = subprocess.run(
                [writer, path, dek_hex, object_id.decode(), str(part), str(size), str(chunk_size)],
                check=True, capture_output=True, text=True).stdout.strip()
            data = open(path, "rb").read()
            plain = decrypt(data, dek, object_id, part)
            assert len(plain) == size, (size, len(plain))
            assert hashlib.sha256(plain).hexdigest() == digest, "size %d: plaintext differs" % size
            again = encrypt(plain, dek, data[16:48], object_id, part, chunk_size)
            assert again == data, "size %d: the C++ file differs from the spec's bytes" % size
            print("ok: %7d bytes, chunk %5d, part %5d: %d-byte file decrypts and re-encrypts "
                  "to the same bytes" % (size, chunk_size, part, len(data)))
        data = open(os.path.join(tmp, "f5"), "rb").read()  # 3 full chunks of 64 KiB
        stride = 65536 + TAG_SIZE
        chunk = lambda i: data[HEADER_SIZE + i * stride:HEADER_SIZE + (i + 1) * stride]
        flip = lambda at: data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
        expect_rejected("a flipped salt byte", flip(20), dek, object_id, 2)
        expect_rejected("a flipped chunk size", flip(13), dek, object_id, 2)
        expect_rejected("a flipped ciphertext byte", flip(HEADER_SIZE + stride + 5), dek,
                        object_id, 2)
        expect_rejected("a flipped tag byte", flip(HEADER_SIZE + stride - 1), dek, object_id, 2)
        expect_rejected("truncated at a chunk boundary", data[:HEADER_SIZE + 2 * stride], dek,
                        object_id, 2)
        expect_rejected("truncated mid-chunk", data[:-100], dek, object_id, 2)
        expect_rejected("chunks 0 and 1 swapped", data[:HEADER_SIZE] + chunk(1) + chunk(0) +
                        chunk(2), dek, object_id, 2)
        expect_rejected("a chunk appended", data + chunk(2), dek, object_id, 2)
        expect_rejected("another part number", data, dek, object_id, 3)
        expect_rejected("another object id", data, dek, b"obj-python-check2", 2)
        expect_rejected("another DEK", data, bytes(32), object_id, 2)
        print("ok: tampered files and wrong keys are rejected")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check-writer", metavar="WRITER")
    parser.add_argument("--dek-hex")
    parser.add_argument("--object-id")
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("-o", "--output")
    parser.add_argument("file", nargs="?")
    args = parser.parse_args()
    if AESGCM is None:
        print("the python3 cryptography package is missing: run make deps (it installs "
              "python3-cryptography)", file=sys.stderr)
        return 1
    if args.check_writer:
        return check_writer(args.check_writer)
    if not (args.dek_hex and args.object_id and args.file):
        parser.error("--dek-hex, --object-id and FILE are required")
    data = open(args.file, "rb").read()
    try:
        plain = decrypt(data, bytes.fromhex(args.dek_hex), args.object_id.encode(), args.part)
    except InvalidTag:
        print("%s: a chunk does not authenticate" % args.file, file=sys.stderr)
        return 1
    except FormatError as e:
        print("%s: not an object file: %s" % (args.file, e), file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "wb") as f:
            f.write(plain)
    else:
        sys.stdout.buffer.write(plain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
