// Qcow2Reader: the DiskReader of qcow2 images, versions 2 and 3 (QEMU docs/interop/qcow2.txt):
// standard, zero-flagged, unallocated and zlib-compressed clusters, and LUKS encryption
// (crypt_method 2) through the Decryptor hook. Internal snapshots are ignored (the active L1 table
// is read); refcounts are not needed to read and are only bounds-checked.
//
// Refused: backing files, external data files, extended L2 entries (subclusters), non-zlib
// compression, QEMU's legacy AES encryption (crypt_method 1), images marked corrupt, unknown
// incompatible features (kInvalidArgument); damaged or truncated images (kDataLoss).
//
// Thread-safety: see disk_reader.h. Per read: one pread for the needed L2 entries of each L2 table
// touched, one per host-contiguous run of clusters; no cache, no lock.
#pragma once

#include <memory>
#include <optional>

#include "disk/disk_reader.h"

namespace veil::disk {

class Qcow2Reader final : public DiskReader {
 public:
  // Parses and checks the header, its extensions and the L1 table; reads the LUKS header bytes
  // of an encrypted image.
  [[nodiscard]] static Result<std::unique_ptr<Qcow2Reader>> Open(
      std::shared_ptr<const RandomAccessFile> file);

  DiskFormat format() const override { return DiskFormat::kQcow2; }
  std::string format_name() const override { return "qcow2"; }
  uint64_t virtual_size() const override { return size_; }
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const override;
  [[nodiscard]] Result<std::vector<Extent>> Allocation(uint64_t offset,
                                                       uint64_t length) const override;
  const EncryptionInfo* encryption() const override {
    return encryption_ ? &*encryption_ : nullptr;
  }
  [[nodiscard]] Status SetDecryptor(Decryptor decryptor, uint32_t sector_size) override;
  [[nodiscard]] Result<std::vector<RawRun>> ReadRawAt(uint64_t offset,
                                                      std::span<uint8_t> out) const override;

  uint32_t version() const { return version_; }
  uint32_t cluster_size() const { return uint32_t{1} << cluster_bits_; }

 private:
  // One guest range of uniform kind, as the L2 tables map it.
  struct Piece {
    enum class Kind { kZero, kData, kCompressed };
    uint64_t guest = 0;
    uint64_t length = 0;
    Kind kind = Kind::kZero;
    uint64_t host = 0;        // kData: host offset of `guest`
    uint64_t descriptor = 0;  // kCompressed: the L2 entry
  };

  Qcow2Reader() = default;

  // Calls `visit` with the pieces of guest range [offset, offset + length) (within the virtual
  // size), in order; adjacent kZero pieces and host-contiguous kData pieces are merged.
  template <typename Visit>
  Status ForEachPiece(uint64_t offset, uint64_t length, Visit&& visit) const;
  // Reads host bytes for a kData piece; bytes past the end of the file read as zeros (as QEMU).
  Status ReadHost(uint64_t host, std::span<uint8_t> out) const;
  // Decompresses the cluster of a kCompressed piece into `cluster` (cluster_size() bytes).
  Status ReadCompressedCluster(uint64_t descriptor, std::span<uint8_t> cluster) const;
  // Reads a kData piece into `out` and decrypts it, using sector-aligned bounce reads when the
  // piece does not start and end on sector boundaries.
  Status ReadDecrypted(const Piece& piece, std::span<uint8_t> out) const;

  std::shared_ptr<const RandomAccessFile> file_;
  uint32_t version_ = 0;
  uint32_t cluster_bits_ = 16;
  uint64_t size_ = 0;
  std::vector<uint64_t> l1_;
  std::optional<EncryptionInfo> encryption_;
  Decryptor decryptor_;
  uint32_t sector_size_ = 512;
};

}  // namespace veil::disk
