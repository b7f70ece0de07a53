// DiskReader: random access to the guest-visible bytes of a disk image, whatever its container
// (raw, qcow2 v2/v3 with zlib-compressed clusters, qcow2 with LUKS inside, VHD fixed and dynamic),
// and OpenDisk, which detects the container from content. The image pipeline (veil image
// encrypt/decrypt/inspect/verify) reads every input through this interface; src/luks supplies the
// key for qcow2-LUKS through the Decryptor hook, so this library knows no cipher.
//
// Formats, limits and the byte-exact rules followed are in docs/formats/disk-formats.md.
//
// Untrusted input: every header, table and descriptor is checked before use; a malformed image is
// refused with kInvalidArgument (a feature Veil does not support: backing files, differencing
// VHDs, external data files, extended L2 entries, zstd) or kDataLoss (damaged or truncated: bad
// checksums, tables or clusters past the end of the file, sizes that do not add up). Memory is
// bounded by the size of the input file, never by a size the image claims: only the qcow2 L1 table
// (at most 32 MiB) and the VHD BAT (at most 64 MiB) are held, and both must lie inside the file.
//
// Thread-safety: once opened (and after SetDecryptor, if used), ReadAt, ReadRawAt and Allocation
// are const and may run concurrently from many threads on any ranges: reads use pread, no shared
// position, no cache. SetDecryptor must happen before reads start.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "disk/extent.h"
#include "disk/file.h"

namespace veil::disk {

// What the content says the file is.
enum class DiskFormat {
  kRaw,    // anything else: the bytes are the disk
  kLuks,   // a raw LUKS1/LUKS2 container ("LUKS\xba\xbe" at offset 0); read as raw bytes
  kQcow2,  // "QFI\xfb" at offset 0
  kVhd,    // "conectix" at offset 0 (dynamic) or in the last 512 bytes (fixed)
};
std::string_view DiskFormatName(DiskFormat format);  // "raw", "luks", "qcow2", "vhd"

// Detects the container from the first and last bytes of `file`. Reads at most 2 x 512 bytes.
// Only I/O errors fail; anything unrecognised is kRaw.
[[nodiscard]] Result<DiskFormat> DetectFormat(const RandomAccessFile& file);
// The format named by the magic at offset 0 of `head`, kRaw when there is none. Cannot see a fixed
// VHD (its footer is at the end).
DiskFormat DetectFormatFromHead(std::span<const uint8_t> head);

// The encryption of a qcow2 image with crypt_method 2 (encrypt.format=luks).
struct EncryptionInfo {
  // "luks": the only method supported (crypt_method 1, QEMU's legacy AES-CBC, is refused).
  std::string method;
  // Where the LUKS1 header lies in the host file (qcow2 "full disk encryption header pointer"
  // extension 0x0537be77). Its keyslot offsets are relative to header_offset.
  uint64_t header_offset = 0;
  // The header_length bytes stored there: a LUKS1 header and its keyslot areas, as libcryptsetup
  // reads from a detached header file.
  std::vector<uint8_t> header;
};

// Decrypts `data` in place. `data` is a whole number of sectors (the sector size given to
// SetDecryptor) of one host-contiguous run; `iv_offset` is the HOST FILE offset in bytes of its
// first byte, a multiple of the sector size. For qcow2-LUKS (QEMU's crypt_physical_offset, proven
// in qcow2_luks_itest.cc) the plain64 IV of each 512-byte sector is iv_offset / 512 + i, i.e. the
// sector number in the qcow2 FILE, not in the guest disk. Called concurrently from reader threads:
// it must be thread-safe. An error fails the read that called it.
using Decryptor = std::function<Status(std::span<uint8_t> data, uint64_t iv_offset)>;

// One run of a ReadRawAt answer: guest bytes [offset, offset + length) of the request.
struct RawRun {
  uint64_t offset = 0;
  uint64_t length = 0;
  // true: still-encrypted bytes copied from host offset `iv_offset` (contiguous in the file);
  // false: unallocated or zero cluster, the output holds zeros and there is nothing to decrypt.
  bool data = false;
  uint64_t iv_offset = 0;
};

class DiskReader {
 public:
  virtual ~DiskReader() = default;

  virtual DiskFormat format() const = 0;
  // Detailed name for messages and `inspect`: "raw", "luks", "qcow2" (v2 or v3), "vhd-fixed",
  // "vhd-dynamic".
  virtual std::string format_name() const = 0;
  // Guest-visible size in bytes.
  virtual uint64_t virtual_size() const = 0;

  // Reads guest bytes [offset, offset + out.size()) into `out`; unallocated ranges read as zeros.
  // Returns the count read: out.size(), or less only when the range crosses virtual_size().
  // kOutOfRange when offset > virtual_size(); kDataLoss for a damaged or truncated image;
  // kFailedPrecondition for an encrypted qcow2 before SetDecryptor; kInternal on I/O errors.
  [[nodiscard]] virtual Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const = 0;

  // Which parts of guest range [offset, offset + length) (clipped to virtual_size()) hold data and
  // which read as zeros without being stored. Extents cover the clipped range in order, adjacent
  // extents differ in `data`. "data" is conservative: an allocated range may still hold zeros.
  // Call it window by window on huge disks: the answer grows with fragmentation.
  [[nodiscard]] virtual Result<std::vector<Extent>> Allocation(uint64_t offset,
                                                               uint64_t length) const = 0;
  // Allocation(0, virtual_size()).
  [[nodiscard]] Result<std::vector<Extent>> FullAllocation() const {
    return Allocation(0, virtual_size());
  }

  // Encryption of the container itself (qcow2 crypt_method 2), or nullptr. A raw LUKS file is not
  // "encrypted" here: it is format() kLuks and reads as its raw bytes.
  virtual const EncryptionInfo* encryption() const { return nullptr; }

  // Installs the hook that makes ReadAt return plaintext for an encrypted image. sector_size: the
  // cipher's data unit (512 for qcow2-LUKS, which is LUKS1); a power of two in [512, 4096], at most
  // the cluster size. kFailedPrecondition when the image is not encrypted. Not thread-safe: call
  // before reading.
  [[nodiscard]] virtual Status SetDecryptor(Decryptor decryptor, uint32_t sector_size = 512);

  // qcow2 (meant for encrypted ones): reads guest range [offset, offset + out.size()) WITHOUT
  // decrypting, and says which host offset (the IV base) each run came from; unallocated runs are
  // zeros. For the bytes to be decryptable, ask for sector-aligned ranges. kFailedPrecondition for
  // a compressed cluster (it has no host-contiguous ciphertext) and for formats other than qcow2;
  // kOutOfRange when offset > virtual_size().
  [[nodiscard]] virtual Result<std::vector<RawRun>> ReadRawAt(uint64_t offset,
                                                              std::span<uint8_t> out) const;
};

// Opens `path` read-only and detects its container (DetectFormat), then parses it. Errors: those of
// PosixFile::Open (kFailedPrecondition for a pipe: use OpenStream), then those of the format's
// parser (see above).
[[nodiscard]] Result<std::unique_ptr<DiskReader>> OpenDisk(const std::string& path);
// The same on an already opened file (a MemoryFile in tests and fuzzing).
[[nodiscard]] Result<std::unique_ptr<DiskReader>> OpenDiskFile(
    std::shared_ptr<const RandomAccessFile> file);

}  // namespace veil::disk
