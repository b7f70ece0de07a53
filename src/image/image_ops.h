// The four image operations behind `veil image encrypt | decrypt | inspect | verify`, as library
// functions: the CLI calls them, and the image service runs VerifyImage at import.
//
//   EncryptImage  raw, qcow2 (v2/v3, compressed) or VHD (fixed/dynamic) input, detected from
//                 content (raw only on a pipe) -> LUKS1, LUKS2 (raw containers: header from
//                 CreateHeader, then the payload encrypted sector by sector) or qcow2 with LUKS
//                 inside (QEMU's encrypt.format=luks: a LUKS1 header laid out as QEMU lays it out,
//                 data clusters encrypted with IVs from their HOST offset, zero clusters left
//                 unallocated). Input that is already LUKS is refused.
//   DecryptImage  raw LUKS1/LUKS2 or qcow2-LUKS -> raw (sparse: zero blocks stay holes) or qcow2
//                 (zero clusters unallocated).
//   InspectImage  container and LUKS facts; never needs or shows a secret.
//   VerifyImage   the passphrase opens a keyslot and the decrypted start of the payload holds a
//                 sane MBR or GPT (partition_table.h).
//
// Engine: pipeline.h: a producer, N workers each with its own SectorCipher clone, a fixed pool of
// chunk buffers (peak memory ~ buffers x chunk + the LUKS header: well under 256 MiB whatever the
// image size), encryption in place, pwrite at offsets (an ordered step only for stdout and for
// qcow2 cluster allocation); a raw output file is written with O_DIRECT from the chunk buffers
// where the file system allows it (CopyOptions::direct_output).
//
// Output: a new file in the destination's directory (O_EXCL, mode 0600, named
// ".<name>.veil-tmp-<random>"), fsynced, then renamed to the destination without replacing
// anything (renameat2 RENAME_NOREPLACE) and the directory fsynced. A failed or cancelled run
// removes the temporary file and leaves nothing under the destination's name; a killed process
// (SIGKILL) may leave the temporary file, never a partial destination. Raw output may go to a
// file descriptor instead ("-": stdout), in order.
//
// Errors: canonical codes with one meaning each, so that callers can tell the cases apart (the
// CLI's exit codes, docs/image-tool.md):
//   kInvalidArgument     bad options (sizes, formats, a qcow2 or dynamic VHD on a pipe)
//   kAlreadyExists       the destination exists
//   kPermissionDenied    wrong passphrase: no keyslot opens with it (or none is usable)
//   kFailedPrecondition  not a LUKS image (decrypt, verify), or already one (encrypt)
//   kDataLoss            corrupt or truncated LUKS header
//   kUnimplemented       unsupported cipher, LUKS feature or input format feature (backing file,
//                        differencing VHD, ...)
//   kResourceExhausted   a keyslot's PBKDF cost is over OpenLimits
//   kOutOfRange          input smaller than it claims or damaged: qcow2/VHD tables or data past
//                        the end of the file, a pipe shorter than its promised size, a file that
//                        shrank while being read
//   kNotFound            the input does not exist
//   kUnavailable         I/O error: cannot open, read or write a file, disk full, closed pipe
//   kCancelled           the cancel flag was raised (SIGINT/SIGTERM in the CLI)
//   kInternal            a bug or an unexpected library failure
//
// Secrets: passphrases and volume keys stay in SecretBytes (and, per worker, in OpenSSL's key
// schedules); no error message, result or log line contains one.
//
// Thread-safety: each call is independent and blocks for its whole duration (PBKDF, then the
// copy); run them off any event loop. Progress callbacks run on the calling thread.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "disk/partition_table.h"
#include "luks/container.h"
#include "luks/header_info.h"
#include "luks/layout.h"
#include "luks/limits.h"

namespace veil::image {

// "-" as a source or destination: the caller's stdin / stdout (the descriptors in the options).
inline constexpr const char* kStdio = "-";

enum class EncryptFormat { kLuks1, kLuks2, kQcow2 };
enum class DecryptFormat { kRaw, kQcow2 };
std::string_view EncryptFormatName(EncryptFormat format);  // "luks1", "luks2", "qcow2"
std::string_view DecryptFormatName(DecryptFormat format);  // "raw", "qcow2"

struct Progress {
  // Bytes of the virtual disk done so far.
  uint64_t done_bytes = 0;
  // The disk's size, when known (unknown for a pipe without a promised size).
  std::optional<uint64_t> total_bytes;
};
using ProgressFn = std::function<void(const Progress&)>;

// What every copy shares.
struct CopyOptions {
  // Worker threads; 0 = every online CPU.
  size_t threads = 0;
  // Chunk size: a multiple of 64 KiB (the qcow2 cluster size) from 64 KiB to 64 MiB.
  size_t chunk_bytes = size_t{1} << 20;
  // Polled; raising it stops the run with kCancelled (and removes the temporary file).
  const std::atomic<bool>* cancel = nullptr;
  ProgressFn progress;
  // Used for "-".
  int stdin_fd = STDIN_FILENO;
  int stdout_fd = STDOUT_FILENO;
  // Volume keys and temporary names; nullptr = the OS CSPRNG.
  Random* random = nullptr;
  // Raw output to a file (LUKS1/LUKS2 from encrypt, raw from decrypt): write the payload with
  // O_DIRECT where the file system allows it, straight from the pipeline's buffers to the disk,
  // instead of through the page cache (disk/file_writer.h). The output is fsynced before its
  // rename either way. false: buffered writes (the page cache keeps a copy of the output).
  bool direct_output = true;
};

struct EncryptOptions {
  // A path (raw, qcow2, VHD; a FIFO or character device is read as a raw stream) or "-" (stdin).
  std::string source;
  // For a stream: the size the producer promises; the input must then have exactly this size
  // (kOutOfRange when it ends early). Unset: the payload is whatever arrives. For a file, if set,
  // it must equal the disk's virtual size.
  std::optional<uint64_t> source_size;
  // A new path, or "-" (stdout; LUKS1/LUKS2 only).
  std::string destination;
  EncryptFormat format = EncryptFormat::kLuks1;
  SecretBytes passphrase;
  // cryptsetup-like costs (iter_time_ms, memory_kib, parallel, type; iterations for tests).
  luks::PbkdfOptions pbkdf;
  // LUKS2: 512 (default, so that the image can be re-headed as LUKS1 for QEMU) or 4096. LUKS1 and
  // qcow2: 512.
  uint32_t sector_size = 512;
  // 64 (AES-256-XTS, cryptsetup's and QEMU's default) or 32.
  size_t key_bytes = 64;
  // Empty: random.
  std::string uuid;
  CopyOptions copy;
};

struct EncryptResult {
  // The input's container ("raw", "qcow2", "vhd-dynamic", ...) and its virtual size.
  std::string source_format;
  uint64_t virtual_size = 0;
  EncryptFormat format = EncryptFormat::kLuks1;
  // What was written: the header's layout (payload offset, sector size, UUID, ...).
  luks::Layout layout;
  // Bytes of the output (header included).
  uint64_t output_bytes = 0;
  size_t threads = 0;
  // What ran the cipher: "vaes-avx512" or "openssl" (SectorCipher::engine_name).
  std::string engine;
  // Wall time of the whole call; of the copy alone (reading, encrypting, writing and syncing the
  // payload, without the key derivation, even where that ran alongside the copy and the copy
  // waited for it at its end); and of the key derivation (the PBKDF2 calibration and the
  // keyslot's PBKDF).
  double seconds = 0;
  double copy_seconds = 0;
  double kdf_seconds = 0;
  // The key derivation ran on its own thread during the copy (a raw LUKS file), not before it.
  bool kdf_during_copy = false;
};

// Encrypts options.source into a new LUKS container at options.destination. See the top of this
// file for the errors.
[[nodiscard]] Result<EncryptResult> EncryptImage(const EncryptOptions& options);

struct DecryptOptions {
  // A raw LUKS1/LUKS2 container or a qcow2 with LUKS inside (a path; no pipes).
  std::string source;
  // A new path, or "-" (stdout; raw only).
  std::string destination;
  DecryptFormat format = DecryptFormat::kRaw;
  SecretBytes passphrase;
  // What an image from someone else may ask of the PBKDF.
  luks::OpenLimits limits;
  CopyOptions copy;
};

struct DecryptResult {
  // "luks1", "luks2" (raw containers) or "qcow2" (LUKS inside).
  std::string source_format;
  luks::Layout layout;
  uint32_t keyslot = 0;
  // Bytes of plaintext disk written.
  uint64_t virtual_size = 0;
  size_t threads = 0;
  std::string engine;  // as in EncryptResult
  double seconds = 0;
  double copy_seconds = 0;
  // Wall time of opening the keyslot: the PBKDF of each keyslot tried, before the copy.
  double kdf_seconds = 0;
};

[[nodiscard]] Result<DecryptResult> DecryptImage(const DecryptOptions& options);

struct ImageInfo {
  std::string path;
  // "raw", "luks" (a raw LUKS container), "qcow2", "vhd-fixed", "vhd-dynamic".
  std::string container;
  // The container's own details ("qcow2" becomes e.g. "qcow2 v3").
  std::string container_detail;
  uint64_t file_size = 0;
  // Guest-visible bytes: the qcow2/VHD virtual size, a raw file's size, or a raw LUKS container's
  // payload (what cryptsetup would map).
  uint64_t virtual_size = 0;
  bool encrypted = false;
  // The LUKS header, when encrypted.
  std::optional<luks::HeaderInfo> luks;
  // qcow2-LUKS: where the LUKS header lies in the file.
  uint64_t luks_header_offset = 0;
};

// Describes the image at `path` (any supported container, encrypted or not). Errors: kNotFound,
// kUnavailable (I/O), kDataLoss (corrupt LUKS header), kOutOfRange (damaged container),
// kUnimplemented.
[[nodiscard]] Result<ImageInfo> InspectImage(const std::string& path);

struct VerifyReport {
  ImageInfo image;
  uint32_t keyslot = 0;
  // A sane MBR or GPT at the start of the decrypted payload.
  bool looks_like_disk = false;
  disk::PartitionTable table;
};

// Opens the LUKS image at `path` with `passphrase` (within `limits`) and looks for a partition
// table in its plaintext. A payload without one is not an error: looks_like_disk is false and
// table.problems say why. Errors as DecryptImage.
[[nodiscard]] Result<VerifyReport> VerifyImage(const std::string& path,
                                               std::span<const uint8_t> passphrase,
                                               const luks::OpenLimits& limits = {});

}  // namespace veil::image
