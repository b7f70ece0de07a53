#include "disk/qcow2_reader.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "disk/internal/big_endian.h"
#include "disk/qcow2_format.h"

namespace veil::disk {

namespace {

using internal::LoadBe32;
using internal::LoadBe64;
using namespace qcow2;  // NOLINT: the format's constants

std::string Num(uint64_t v) { return std::to_string(v); }

std::string Hex(uint64_t v) {
  char digits[16];
  const auto end = std::to_chars(digits, digits + sizeof digits, v, 16).ptr;
  return "0x" + std::string(digits, end);
}

// Inflates a raw deflate stream into exactly out.size() bytes. qcow2 stores compressed clusters as
// raw deflate (no zlib header) and records their length only to 512-byte granularity, so the
// input may have trailing bytes: success means the output cluster was filled (QEMU's rule).
// QEMU compresses with a 4 KiB window (-12); inflating with the largest window accepts that and
// any other writer's choice.
Status Inflate(std::span<const uint8_t> in, std::span<uint8_t> out) {
  z_stream strm{};
  if (inflateInit2(&strm, -MAX_WBITS) != Z_OK) return Internal("zlib: inflateInit2 failed");
  strm.next_in = const_cast<Bytef*>(in.data());
  strm.avail_in = static_cast<uInt>(in.size());
  strm.next_out = out.data();
  strm.avail_out = static_cast<uInt>(out.size());
  int ret = inflate(&strm, Z_FINISH);
  bool full = strm.avail_out == 0;
  inflateEnd(&strm);
  if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR || ret == Z_OK) && full) return OkStatus();
  return DataLoss("qcow2 compressed cluster does not decompress to a full cluster (zlib " +
                  std::to_string(ret) + ")");
}

// Version 3's longer header: its length and the incompatible features Veil can read. Returns the
// header length.
Result<uint32_t> CheckV3Header(const RandomAccessFile& file, const uint8_t* h, uint64_t cs) {
  const uint32_t header_length = LoadBe32(h + kOffHeaderLength);
  if (header_length < kV3MinHeaderLength || header_length % 8 != 0 || header_length > cs) {
    return DataLoss("qcow2 v3 header_length " + Num(header_length) +
                    " is invalid (a multiple of 8, at least 104, at most the cluster size)");
  }
  uint64_t incompatible = LoadBe64(h + kOffIncompatibleFeatures);
  if (incompatible & kIncompatCorrupt) {
    return DataLoss("qcow2 image is marked corrupt; repair it with qemu-img check -r all");
  }
  if (incompatible & kIncompatDataFile) {
    return InvalidArgument("qcow2 with an external data file is not supported");
  }
  if (incompatible & kIncompatExtendedL2) {
    return InvalidArgument("qcow2 with extended L2 entries (subclusters) is not supported");
  }
  if (incompatible & kIncompatCompression) {
    // The compression_type byte exists only when the header is long enough.
    uint8_t type = 0;
    if (header_length > kOffCompressionType) {
      VEIL_TRY(
          ReadExactly(file, kOffCompressionType, std::span<uint8_t>(&type, 1), "qcow2 header"));
    }
    if (type != 0) {
      return InvalidArgument("qcow2 compression type " + Num(type) +
                             " (zstd) is not supported; only zlib is");
    }
  }
  // Dirty (bit 0) only means the refcounts may be stale: reading does not use them.
  uint64_t unknown = incompatible & ~(kIncompatDirty | kIncompatCorrupt | kIncompatDataFile |
                                      kIncompatCompression | kIncompatExtendedL2);
  if (unknown != 0) {
    return InvalidArgument("qcow2 has unknown incompatible features " + Hex(unknown));
  }
  uint32_t refcount_order = LoadBe32(h + kOffRefcountOrder);
  if (refcount_order > kMaxRefcountOrder) {
    return DataLoss("qcow2 refcount_order " + Num(refcount_order) + " exceeds 6");
  }
  return header_length;
}

// The refcount table is not needed to read, but a table outside the file means a damaged image.
Status CheckRefcountTable(const uint8_t* h, uint64_t cs, uint64_t file_size) {
  const uint64_t rt_offset = LoadBe64(h + kOffRefcountTableOffset);
  const uint64_t rt_clusters = LoadBe32(h + kOffRefcountTableClusters);
  if (rt_clusters == 0) return DataLoss("qcow2 has no refcount table");
  if (rt_clusters * cs > kMaxRefcountTableBytes) {
    return InvalidArgument("qcow2 refcount table of " + Num(rt_clusters) +
                           " clusters exceeds QEMU's 8 MiB limit");
  }
  if (rt_offset % cs != 0 || rt_offset == 0) {
    return DataLoss("qcow2 refcount table offset " + Hex(rt_offset) + " is invalid");
  }
  if (rt_offset > file_size || rt_clusters * cs > file_size - rt_offset) {
    return DataLoss("qcow2 refcount table at " + Hex(rt_offset) +
                    " lies past the end of the file (" + Num(file_size) + " bytes)");
  }
  return OkStatus();
}

// L1: enough entries for the virtual size, inside the file, and no more than QEMU allows. Returns
// the entries the virtual size needs, each checked to point inside the file.
Result<std::vector<uint64_t>> ReadL1(const RandomAccessFile& file, const uint8_t* h, uint32_t cb,
                                     uint64_t virtual_size) {
  const uint64_t file_size = file.size();
  const uint64_t cs = uint64_t{1} << cb;
  std::vector<uint64_t> l1;
  const uint32_t l2_bits = cb - 3;
  const uint64_t l1_needed = (virtual_size + (uint64_t{1} << (cb + l2_bits)) - 1) >> (cb + l2_bits);
  const uint64_t l1_size = LoadBe32(h + kOffL1Size);
  const uint64_t l1_offset = LoadBe64(h + kOffL1TableOffset);
  if (l1_size < l1_needed) {
    return DataLoss("qcow2 L1 table has " + Num(l1_size) + " entries, the virtual size " +
                    Num(virtual_size) + " needs " + Num(l1_needed));
  }
  if (l1_size * 8 > kMaxL1Bytes) {
    return InvalidArgument("qcow2 L1 table of " + Num(l1_size) +
                           " entries exceeds QEMU's 32 MiB limit");
  }
  if (l1_needed > 0) {
    if (l1_offset % cs != 0 || l1_offset == 0) {
      return DataLoss("qcow2 L1 table offset " + Hex(l1_offset) + " is invalid");
    }
    if (l1_offset > file_size || l1_needed * 8 > file_size - l1_offset) {
      return DataLoss("qcow2 L1 table at " + Hex(l1_offset) + " lies past the end of the file (" +
                      Num(file_size) + " bytes)");
    }
    std::vector<uint8_t> raw(l1_needed * 8);
    VEIL_TRY(ReadExactly(file, l1_offset, raw, "qcow2 L1 table"));
    l1.resize(l1_needed);
    for (uint64_t i = 0; i < l1_needed; ++i) {
      uint64_t entry = LoadBe64(&raw[i * 8]);
      uint64_t l2 = entry & kOffsetMask;
      if (l2 != 0 && (l2 % cs != 0 || l2 > file_size || cs > file_size - l2)) {
        return DataLoss("qcow2 L1 entry " + Num(i) + " points to an L2 table at " + Hex(l2) +
                        " that is unaligned or past the end of the file (" + Num(file_size) +
                        " bytes)");
      }
      l1[i] = entry;
    }
  }
  return l1;
}

// Header extensions: from the end of the header to the end of the first cluster (QEMU's
// bounds); bytes past the end of a short file read as zeros, i.e. as the end marker. Returns the
// full-disk-encryption extension's offset and length, if there is one.
Result<std::optional<std::pair<uint64_t, uint64_t>>> FindEncryptionExtension(
    const RandomAccessFile& file, uint64_t cs, uint32_t header_length, uint32_t crypt_method) {
  const uint64_t file_size = file.size();
  std::vector<uint8_t> area(cs, 0);
  {
    size_t n = static_cast<size_t>(std::min<uint64_t>(cs, file_size));
    VEIL_TRY(ReadExactly(file, 0, std::span<uint8_t>(area.data(), n), "qcow2 header cluster"));
  }
  std::optional<std::pair<uint64_t, uint64_t>> fde;  // offset, length
  uint64_t pos = header_length;
  while (pos + 8 <= cs) {
    uint32_t type = LoadBe32(&area[pos]);
    uint64_t len = LoadBe32(&area[pos + 4]);
    pos += 8;
    if (type == kExtEnd) break;
    if (len > cs - pos) {
      return DataLoss("qcow2 header extension " + Hex(type) + " of " + Num(len) +
                      " bytes overruns the first cluster");
    }
    if (type == kExtFullDiskEncryption) {
      if (crypt_method != kCryptLuks) {
        return DataLoss("qcow2 has an encryption header extension but crypt_method " +
                        Num(crypt_method));
      }
      if (len != 16) {
        return DataLoss("qcow2 encryption header extension has length " + Num(len) +
                        ", expected 16");
      }
      if (fde) return DataLoss("qcow2 has two encryption header extensions");
      fde = std::make_pair(LoadBe64(&area[pos]), LoadBe64(&area[pos + 8]));
    }
    // Others (backing format, feature names, bitmaps, data file name) need nothing to read.
    pos += (len + 7) & ~uint64_t{7};
  }
  return fde;
}

// The LUKS header a crypt_method 2 image names in its encryption extension.
Result<EncryptionInfo> ReadLuksHeader(const RandomAccessFile& file,
                                      std::pair<uint64_t, uint64_t> fde, uint64_t cs) {
  const uint64_t file_size = file.size();
  auto [hdr_offset, hdr_length] = fde;
  if (hdr_offset % cs != 0 || hdr_offset == 0) {
    return DataLoss("qcow2 LUKS header offset " + Hex(hdr_offset) +
                    " is not a cluster boundary after the header");
  }
  if (hdr_length == 0 || hdr_length > kMaxCryptoHeaderBytes) {
    return DataLoss("qcow2 LUKS header length " + Num(hdr_length) +
                    " is invalid (1 byte to 64 MiB)");
  }
  if (hdr_offset > file_size || hdr_length > file_size - hdr_offset) {
    return DataLoss("qcow2 LUKS header at " + Hex(hdr_offset) + " (" + Num(hdr_length) +
                    " bytes) lies past the end of the file (" + Num(file_size) + " bytes)");
  }
  EncryptionInfo info;
  info.method = "luks";
  info.header_offset = hdr_offset;
  info.header.resize(hdr_length);
  VEIL_TRY(ReadExactly(file, hdr_offset, info.header, "qcow2 LUKS header"));
  static constexpr uint8_t kLuksMagic[] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  if (hdr_length < sizeof(kLuksMagic) ||
      std::memcmp(info.header.data(), kLuksMagic, sizeof(kLuksMagic)) != 0) {
    return DataLoss("qcow2 encryption header is not a LUKS header (bad magic)");
  }
  return info;
}

}  // namespace

Result<std::unique_ptr<Qcow2Reader>> Qcow2Reader::Open(
    std::shared_ptr<const RandomAccessFile> file) {
  const uint64_t file_size = file->size();
  if (file_size < kV2HeaderLength) {
    return DataLoss("qcow2 header truncated: the file has " + Num(file_size) +
                    " bytes, a header needs 72");
  }
  uint8_t h[kV3MinHeaderLength] = {};
  size_t head_len = static_cast<size_t>(std::min<uint64_t>(file_size, sizeof(h)));
  VEIL_TRY(ReadExactly(*file, 0, std::span<uint8_t>(h, head_len), "qcow2 header"));

  // Fixed order of trust: identity, then the fields that size everything else, then features.
  if (LoadBe32(h) != kMagic) return InvalidArgument("not a qcow2 image (bad magic)");
  auto reader = std::unique_ptr<Qcow2Reader>(new Qcow2Reader());
  Qcow2Reader& r = *reader;
  r.version_ = LoadBe32(h + kOffVersion);
  if (r.version_ != 2 && r.version_ != 3) {
    return InvalidArgument("qcow2 version " + Num(r.version_) +
                           " is not supported (versions 2 and 3 are)");
  }
  if (r.version_ == 3 && file_size < kV3MinHeaderLength) {
    return DataLoss("qcow2 v3 header truncated: the file has " + Num(file_size) + " bytes");
  }
  r.cluster_bits_ = LoadBe32(h + kOffClusterBits);
  if (r.cluster_bits_ < kMinClusterBits || r.cluster_bits_ > kMaxClusterBits) {
    return InvalidArgument("qcow2 cluster_bits " + Num(r.cluster_bits_) +
                           " out of range (9..21: 512 bytes to 2 MiB)");
  }
  const uint32_t cb = r.cluster_bits_;
  const uint64_t cs = uint64_t{1} << cb;
  if (LoadBe64(h + kOffBackingFileOffset) != 0) {
    return InvalidArgument(
        "qcow2 with a backing file is not supported (flatten it first: "
        "qemu-img convert -O qcow2)");
  }
  r.size_ = LoadBe64(h + kOffSize);
  if (r.size_ > kMaxVirtualSize) {
    return InvalidArgument("qcow2 virtual size " + Num(r.size_) + " exceeds 2^56 bytes");
  }
  const uint32_t crypt_method = LoadBe32(h + kOffCryptMethod);
  if (crypt_method == kCryptAes) {
    return InvalidArgument(
        "qcow2 with QEMU's legacy AES encryption (crypt_method 1) is not supported: it is "
        "insecure; decrypt it with qemu-img convert first");
  }
  if (crypt_method != kCryptNone && crypt_method != kCryptLuks) {
    return InvalidArgument("qcow2 crypt_method " + Num(crypt_method) + " is unknown");
  }

  uint32_t header_length = kV2HeaderLength;
  if (r.version_ == 3) header_length = VEIL_TRY_VALUE(CheckV3Header(*file, h, cs));
  VEIL_TRY(CheckRefcountTable(h, cs, file_size));
  r.l1_ = VEIL_TRY_VALUE(ReadL1(*file, h, cb, r.size_));
  const auto fde = VEIL_TRY_VALUE(FindEncryptionExtension(*file, cs, header_length, crypt_method));
  if (crypt_method == kCryptLuks) {
    if (!fde) {
      return DataLoss("qcow2 LUKS image (crypt_method 2) lacks its encryption header extension");
    }
    r.encryption_ = VEIL_TRY_VALUE(ReadLuksHeader(*file, *fde, cs));
  }

  r.file_ = std::move(file);
  return reader;
}

template <typename Visit>
Status Qcow2Reader::ForEachPiece(uint64_t offset, uint64_t length, Visit&& visit) const {
  const uint32_t cb = cluster_bits_;
  const uint64_t cs = uint64_t{1} << cb;
  const uint32_t l2_bits = cb - 3;
  const uint64_t l2_entries = uint64_t{1} << l2_bits;
  const uint64_t file_size = file_->size();
  const uint64_t end = offset + length;

  std::optional<Piece> pending;
  auto emit = [&](const Piece& p) -> Status {
    if (pending) {
      bool touching = pending->guest + pending->length == p.guest && pending->kind == p.kind;
      bool mergeable = p.kind == Piece::Kind::kZero ||
                       (p.kind == Piece::Kind::kData && pending->host + pending->length == p.host);
      if (touching && mergeable) {
        pending->length += p.length;
        return OkStatus();
      }
      VEIL_TRY(visit(*pending));
    }
    pending = p;
    return OkStatus();
  };

  std::vector<uint8_t> entries;
  uint64_t pos = offset;
  while (pos < end) {
    const uint64_t cluster = pos >> cb;
    const uint64_t l1_index = cluster >> l2_bits;
    const uint64_t table_end = std::min(end, (l1_index + 1) << (l2_bits + cb));
    const uint64_t l2_offset = l1_[l1_index] & kOffsetMask;
    if (l2_offset == 0) {
      VEIL_TRY(emit(Piece{pos, table_end - pos, Piece::Kind::kZero, 0, 0}));
      pos = table_end;
      continue;
    }
    const uint64_t first = cluster & (l2_entries - 1);
    const uint64_t count = ((table_end - 1) >> cb) - cluster + 1;
    entries.resize(count * 8);
    VEIL_TRY(ReadExactly(*file_, l2_offset + first * 8, entries, "qcow2 L2 table"));
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t cluster_start = (cluster + i) << cb;
      const uint64_t from = std::max(pos, cluster_start);
      const uint64_t to = std::min(table_end, cluster_start + cs);
      const uint64_t entry = LoadBe64(&entries[i * 8]);
      Piece piece{from, to - from, Piece::Kind::kZero, 0, 0};
      if (entry & kFlagCompressed) {
        piece.kind = Piece::Kind::kCompressed;
        piece.descriptor = entry;
      } else {
        const uint64_t host = entry & kOffsetMask;
        const bool zero_flag = version_ >= 3 && (entry & kFlagZero) != 0;
        if (!zero_flag && host != 0) {
          if (host % cs != 0 || host >= file_size) {
            return DataLoss("qcow2 L2 entry for guest offset " + Hex(cluster_start) +
                            " points to host offset " + Hex(host) +
                            ", unaligned or past the end of the file (" + Num(file_size) +
                            " bytes)");
          }
          piece.kind = Piece::Kind::kData;
          piece.host = host + (from - cluster_start);
        }
      }
      VEIL_TRY(emit(piece));
    }
    pos = table_end;
  }
  if (pending) VEIL_TRY(visit(*pending));
  return OkStatus();
}

Status Qcow2Reader::ReadHost(uint64_t host, std::span<uint8_t> out) const {
  size_t n = VEIL_TRY_VALUE(file_->ReadAt(host, out));
  // The last cluster of a file may be short; QEMU reads the missing bytes as zeros.
  std::memset(out.data() + n, 0, out.size() - n);
  return OkStatus();
}

Status Qcow2Reader::ReadCompressedCluster(uint64_t descriptor, std::span<uint8_t> cluster) const {
  const uint32_t cb = cluster_bits_;
  const uint32_t shift = 62 - (cb - 8);
  const uint64_t host = descriptor & ((uint64_t{1} << shift) - 1);
  const uint64_t sectors = ((descriptor >> shift) & ((uint64_t{1} << (cb - 8)) - 1)) + 1;
  const uint64_t csize = sectors * 512 - (host & 511);
  const uint64_t file_size = file_->size();
  if (host >= file_size) {
    return DataLoss("qcow2 compressed cluster at host offset " + Hex(host) +
                    " lies past the end of the file (" + Num(file_size) + " bytes)");
  }
  std::vector<uint8_t> compressed(csize);
  VEIL_TRY(ReadHost(host, compressed));
  return Inflate(compressed, cluster);
}

Status Qcow2Reader::ReadDecrypted(const Piece& piece, std::span<uint8_t> out) const {
  const uint64_t ss = sector_size_;
  const uint64_t first = piece.host & ~(ss - 1);
  const uint64_t last = (piece.host + piece.length + ss - 1) & ~(ss - 1);
  if (first == piece.host && last == piece.host + piece.length) {
    VEIL_TRY(ReadHost(first, out));
    return decryptor_(out, first);
  }
  // A partial sector at either end: decrypt whole sectors (they stay inside the piece's clusters,
  // which are sector-aligned) and copy out the part asked for.
  std::vector<uint8_t> bounce(last - first);
  VEIL_TRY(ReadHost(first, bounce));
  VEIL_TRY(decryptor_(bounce, first));
  std::memcpy(out.data(), bounce.data() + (piece.host - first), piece.length);
  return OkStatus();
}

Result<size_t> Qcow2Reader::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > size_) {
    return OutOfRange("read at " + Num(offset) + " past the virtual size " + Num(size_));
  }
  if (encryption_ && !decryptor_) {
    return FailedPrecondition(
        "the qcow2 image is encrypted (LUKS): open its LUKS header and set a decryptor first");
  }
  const uint64_t n = std::min<uint64_t>(out.size(), size_ - offset);
  const uint64_t cs = cluster_size();
  std::vector<uint8_t> cluster;
  Status status = ForEachPiece(offset, n, [&](const Piece& p) -> Status {
    std::span<uint8_t> dst = out.subspan(p.guest - offset, p.length);
    switch (p.kind) {
      case Piece::Kind::kZero:
        std::memset(dst.data(), 0, dst.size());
        return OkStatus();
      case Piece::Kind::kData:
        return encryption_ ? ReadDecrypted(p, dst) : ReadHost(p.host, dst);
      case Piece::Kind::kCompressed:
        if (encryption_) {
          return InvalidArgument("compressed cluster in an encrypted qcow2 is not supported");
        }
        cluster.resize(cs);
        VEIL_TRY(ReadCompressedCluster(p.descriptor, cluster));
        std::memcpy(dst.data(), cluster.data() + (p.guest & (cs - 1)), p.length);
        return OkStatus();
    }
    return Internal("unreachable");
  });
  VEIL_TRY(status);
  return static_cast<size_t>(n);
}

Result<std::vector<RawRun>> Qcow2Reader::ReadRawAt(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > size_) {
    return OutOfRange("read at " + Num(offset) + " past the virtual size " + Num(size_));
  }
  const uint64_t n = std::min<uint64_t>(out.size(), size_ - offset);
  std::vector<RawRun> runs;
  Status status = ForEachPiece(offset, n, [&](const Piece& p) -> Status {
    std::span<uint8_t> dst = out.subspan(p.guest - offset, p.length);
    switch (p.kind) {
      case Piece::Kind::kZero:
        std::memset(dst.data(), 0, dst.size());
        runs.push_back(RawRun{p.guest, p.length, false, 0});
        return OkStatus();
      case Piece::Kind::kData:
        runs.push_back(RawRun{p.guest, p.length, true, p.host});
        return ReadHost(p.host, dst);
      case Piece::Kind::kCompressed:
        return FailedPrecondition("guest offset " + Num(p.guest) +
                                  " is a compressed cluster: it has no raw host bytes");
    }
    return Internal("unreachable");
  });
  VEIL_TRY(status);
  return runs;
}

Result<std::vector<Extent>> Qcow2Reader::Allocation(uint64_t offset, uint64_t length) const {
  std::vector<Extent> extents;
  if (offset >= size_) return extents;
  const uint64_t n = std::min(length, size_ - offset);
  Status status = ForEachPiece(offset, n, [&](const Piece& p) -> Status {
    AppendExtent(&extents, p.guest, p.length, p.kind != Piece::Kind::kZero);
    return OkStatus();
  });
  VEIL_TRY(status);
  return extents;
}

Status Qcow2Reader::SetDecryptor(Decryptor decryptor, uint32_t sector_size) {
  if (!encryption_) return FailedPrecondition("the qcow2 image is not encrypted");
  if (!decryptor) return InvalidArgument("empty decryptor");
  if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1)) != 0 ||
      sector_size > cluster_size()) {
    return InvalidArgument("decryptor sector size " + Num(sector_size) +
                           " must be a power of two in 512..4096, at most the cluster size");
  }
  decryptor_ = std::move(decryptor);
  sector_size_ = sector_size;
  return OkStatus();
}

}  // namespace veil::disk
