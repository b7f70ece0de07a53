#include "image/image_ops.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/encoding.h"
#include "common/file.h"
#include "crypto/hash.h"
#include "disk/disk_reader.h"
#include "disk/file.h"
#include "disk/file_writer.h"
#include "disk/mapped_file.h"
#include "disk/qcow2_writer.h"
#include "disk/sequential_reader.h"
#include "image/pipeline.h"
#include "luks/inspect.h"
#include "luks/sector_cipher.h"

namespace veil::image {

// The LUKS format and the partition-table check this engine drives.
using disk::FindPartitionTable;
using disk::TableKind;
using luks::CheckContainerSize;
using luks::CheckKeyslotCost;
using luks::CreateHeader;
using luks::CreateOptions;
using luks::GenerateVolumeKey;
using luks::HeaderBlob;
using luks::HeaderInfo;
using luks::Inspect;
using luks::KdfInfo;
using luks::KeyslotInfo;
using luks::KeyslotState;
using luks::kMaxPassphraseBytes;
using luks::Layout;
using luks::OpenedVolume;
using luks::OpenLimits;
using luks::OpenVolumeKey;
using luks::ReadMetadataRegion;
using luks::SectorCipher;
using luks::Version;
using luks::VersionName;

std::string_view EncryptFormatName(EncryptFormat format) {
  switch (format) {
    case EncryptFormat::kLuks2:
      return "luks2";
    case EncryptFormat::kQcow2:
      return "qcow2";
    case EncryptFormat::kLuks1:
      break;
  }
  return "luks1";
}

std::string_view DecryptFormatName(DecryptFormat format) {
  return format == DecryptFormat::kQcow2 ? "qcow2" : "raw";
}

namespace {

constexpr size_t kClusterBytes = 64 * 1024;  // Qcow2Writer's default (QEMU's) cluster size
constexpr size_t kMaxChunkBytes = size_t{64} << 20;

// ---- Errors: one canonical code per case (image_ops.h) ----------------------------------------

Error Recode(const Error& e, ErrorCode code, std::string_view context = {}) {
  Error out(code, e.message);
  return context.empty() ? out : out.Wrap(context);
}

// Errors of src/disk while opening or reading the INPUT image.
Error InputError(const Error& e, std::string_view context) {
  switch (e.code) {
    case ErrorCode::kNotFound:
    case ErrorCode::kUnimplemented:
    case ErrorCode::kOutOfRange:
    case ErrorCode::kCancelled:
      return Recode(e, e.code, context);
    case ErrorCode::kDataLoss:  // tables or data past the end of the file, bad checksums
      return Recode(e, ErrorCode::kOutOfRange, context);
    case ErrorCode::kInvalidArgument:  // a format feature Veil does not read
      return Recode(e, ErrorCode::kUnimplemented, context);
    case ErrorCode::kFailedPrecondition:  // qcow2/VHD on a pipe
      return Recode(e, ErrorCode::kInvalidArgument, context);
    default:  // permissions, I/O
      return Recode(e, ErrorCode::kUnavailable, context);
  }
}

// Errors of the writers (the OUTPUT).
Error OutputError(const Error& e, std::string_view context) {
  switch (e.code) {
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kCancelled:
      return Recode(e, e.code, context);
    default:  // no such directory, permissions, disk full, I/O, closed pipe
      return Recode(e, ErrorCode::kUnavailable, context);
  }
}

// Errors of Inspect/ReadMetadataRegion/OpenVolumeKey on an image to open.
Error HeaderError(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:  // no LUKS magic
      return Recode(e, ErrorCode::kFailedPrecondition);
    case ErrorCode::kFailedPrecondition:  // no active keyslot protects the data
      return Recode(e, ErrorCode::kPermissionDenied);
    case ErrorCode::kDataLoss:
    case ErrorCode::kUnimplemented:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kPermissionDenied:  // the passphrase (files are read before)
    case ErrorCode::kNotFound:
    case ErrorCode::kCancelled:
    case ErrorCode::kInternal:
      return e;
    default:
      return Recode(e, ErrorCode::kUnavailable);
  }
}

// ReadMetadataRegion reads the file itself: its kPermissionDenied is the file's, not a passphrase.
Error MetadataReadError(const Error& e) {
  if (e.code == ErrorCode::kPermissionDenied || e.code == ErrorCode::kUnavailable) {
    return Recode(e, ErrorCode::kUnavailable);
  }
  return HeaderError(e);
}

// ---- Small helpers ------------------------------------------------------------------------------

bool IsAllZero(std::span<const uint8_t> b) {
  return b.empty() || (b[0] == 0 && std::memcmp(b.data(), b.data() + 1, b.size() - 1) == 0);
}

uint64_t RoundUp(uint64_t v, uint64_t unit) { return (v + unit - 1) / unit * unit; }

// The CPUs this process may run on (its affinity mask: a container or `taskset` may allow fewer
// than the machine has).
size_t ThreadCount(size_t asked) {
  if (asked != 0) return asked;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<size_t>(CPU_COUNT(&set));
  }
  return std::max<size_t>(1, std::thread::hardware_concurrency());
}

Status CheckCopyOptions(const CopyOptions& c) {
  if (c.chunk_bytes < kClusterBytes || c.chunk_bytes > kMaxChunkBytes ||
      c.chunk_bytes % kClusterBytes != 0) {
    return InvalidArgument("chunk size must be a multiple of 64 KiB from 64 KiB to 64 MiB");
  }
  if (c.threads > 1024) return InvalidArgument("at most 1024 threads");
  return OkStatus();
}

bool Cancelled(const CopyOptions& c) {
  return c.cancel != nullptr && c.cancel->load(std::memory_order_relaxed);
}

Status CheckCancel(const CopyOptions& c) {
  if (Cancelled(c)) return MakeError(ErrorCode::kCancelled, "interrupted");
  return OkStatus();
}

// QEMU's payload offset for a LUKS1 header inside qcow2 (crypto/block-luks.c,
// qcrypto_block_luks_create): 4 KiB of header, then 8 key-material areas of key_bytes x 4000
// bytes, each rounded up to 4 KiB; qcow2 stores exactly that many bytes of header.
uint64_t QemuLuksHeaderBytes(size_t key_bytes) {
  const uint64_t split_sectors = RoundUp(RoundUp(key_bytes * 4000, 512) / 512, 8);
  return (8 + 8 * split_sectors) * 512;
}

// Thread CPU time in seconds (the PBKDF benchmark must not count time the scheduler gave others).
double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// cryptsetup's --iter-time for PBKDF2, calibrated by Veil: libcryptsetup's own benchmark runs
// PBKDF2 until one run exceeds 500 ms, twice for LUKS1 (keyslot and volume-key digest): 2-3 s
// whatever the iter-time. This one measures for ~35 ms of CPU time with the keyslot's output
// length, then asks libcryptsetup for that fixed count. The volume-key digest then gets
// libcryptsetup's minimum of 1000 iterations (its default is ~125 ms): a passphrase guess costs the
// keyslot's iter-time either way, and the digest of a random 256/512-bit key protects nothing.
Result<uint32_t> CalibratePbkdf2(const std::string& hash, size_t key_bytes, uint32_t iter_time_ms) {
  crypto::Pbkdf2Params params;
  if (hash == "sha256") {
    params.hash = crypto::HashAlgorithm::kSha256;
  } else if (hash == "sha512") {
    params.hash = crypto::HashAlgorithm::kSha512;
  } else if (hash == "sha1") {
    params.hash = crypto::HashAlgorithm::kSha1;
  } else {
    return InvalidArgument("PBKDF2 hash '" + hash + "' is not sha1, sha256 or sha512");
  }
  params.length = key_bytes;
  const std::vector<uint8_t> password = {'v', 'e', 'i', 'l'};
  const std::vector<uint8_t> salt(32, 0x5a);
  // Grow the count until one run takes >= 20 ms of CPU (~35 ms in all), then extrapolate.
  double iterations = 1024;
  for (;;) {
    params.iterations = static_cast<uint32_t>(iterations);
    const double start = ThreadCpuSeconds();
    auto out = crypto::Pbkdf2Hmac(params, password, salt);
    if (!out) return tl::unexpected(out.error());
    const double seconds = ThreadCpuSeconds() - start;
    if (seconds >= 0.02 || iterations >= 1e9) {
      const double wanted = iterations / std::max(seconds, 1e-6) * iter_time_ms / 1000.0;
      // At most what Veil opens by default (~26 s here): a longer iter-time gets that.
      return static_cast<uint32_t>(
          std::clamp(wanted, 1000.0, static_cast<double>(OpenLimits{}.pbkdf2_max_iterations)));
    }
    iterations *= std::clamp(0.025 / std::max(seconds, 1e-4), 2.0, 16.0);
  }
}

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", hexadecimal digits (what libcryptsetup's uuid_parse
// takes).
bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// ---- Temporary output, renamed into place on success --------------------------------------------

class TempPath {
 public:
  // Picks ".<name>.veil-tmp-<hex>" beside `destination`, which must not exist.
  static Result<TempPath> Reserve(const std::string& destination, Random& random) {
    if (destination.empty()) return InvalidArgument("empty destination path");
    struct stat st {};
    if (::lstat(destination.c_str(), &st) == 0) {
      return AlreadyExists(destination + " already exists: remove it or choose another name");
    }
    if (errno != ENOENT) {
      return Unavailable("cannot check " + destination + ": " + std::strerror(errno));
    }
    const std::filesystem::path dst(destination);
    std::string dir = dst.parent_path().string();
    if (dir.empty()) dir = ".";
    const std::vector<uint8_t> tag = random.Bytes(6);
    const std::string suffix = HexEncode(tag);
    TempPath t;
    t.destination_ = destination;
    t.dir_ = dir;
    t.path_ = dir + "/." + dst.filename().string() + ".veil-tmp-" + suffix;
    return t;
  }

  TempPath() = default;
  TempPath(TempPath&& o) noexcept
      : path_(std::move(o.path_)),
        destination_(std::move(o.destination_)),
        dir_(std::move(o.dir_)),
        committed_(o.committed_) {
    o.path_.clear();
  }
  TempPath& operator=(TempPath&&) = delete;
  ~TempPath() {
    if (!committed_ && !path_.empty()) ::unlink(path_.c_str());
  }

  const std::string& path() const { return path_; }

  // Renames the (complete, fsynced) temporary file to the destination without replacing
  // anything, then fsyncs the directory so that the name survives a crash.
  Status Commit() {
    if (::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, destination_.c_str(), RENAME_NOREPLACE) !=
        0) {
      if (errno == EEXIST) {
        return AlreadyExists(destination_ + " appeared while writing; the result was discarded");
      }
      if (errno != EINVAL && errno != ENOSYS) {
        return Unavailable("rename to " + destination_ + ": " + std::strerror(errno));
      }
      // A file system without RENAME_NOREPLACE: link() does not replace either.
      if (::link(path_.c_str(), destination_.c_str()) != 0) {
        if (errno == EEXIST) return AlreadyExists(destination_ + " appeared while writing");
        return Unavailable("link to " + destination_ + ": " + std::strerror(errno));
      }
      ::unlink(path_.c_str());
    }
    committed_ = true;
    return SyncDirectory(dir_);
  }

 private:
  std::string path_, destination_, dir_;
  bool committed_ = false;
};

// ---- Inputs -------------------------------------------------------------------------------------

// A disk to read: random access (a file) or a stream (a pipe, stdin).
struct Source {
  std::shared_ptr<disk::DiskReader> disk;
  std::unique_ptr<disk::MappedFile> mapped;  // a raw file's bytes, when they could be mapped
  std::unique_ptr<disk::SequentialReader> stream;
  Fd owned_fd;  // a FIFO we opened
  std::string format_name;
  std::optional<uint64_t> size;
};

bool IsStreamPath(const struct stat& st) {
  return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode);
}

Result<Source> OpenStreamSource(int fd, std::optional<uint64_t> size, const std::string& name,
                                Fd owned) {
  auto stream = disk::OpenStream(fd, disk::StreamOptions{size});
  if (!stream) return tl::unexpected(InputError(stream.error(), name));
  Source s;
  s.owned_fd = std::move(owned);
  s.stream = std::move(*stream);
  s.format_name = s.stream->format() == disk::DiskFormat::kLuks ? "luks" : "raw (stream)";
  s.size = size;
  if (s.stream->format() == disk::DiskFormat::kLuks) {
    return FailedPrecondition(name + " is already a LUKS container: decrypt it first, or copy it");
  }
  return s;
}

Result<Source> OpenEncryptSource(const EncryptOptions& o) {
  if (o.source == kStdio) {
    return OpenStreamSource(o.copy.stdin_fd, o.source_size, "stdin", Fd());
  }
  struct stat st {};
  if (::stat(o.source.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound(o.source + ": no such file");
    return Unavailable(o.source + ": " + std::strerror(err));
  }
  if (IsStreamPath(st)) {
    Fd fd(::open(o.source.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return Unavailable("open " + o.source + ": " + std::strerror(errno));
    const int raw_fd = fd.get();
    return OpenStreamSource(raw_fd, o.source_size, o.source, std::move(fd));
  }
  auto disk = disk::OpenDisk(o.source);
  if (!disk) return tl::unexpected(InputError(disk.error(), o.source));
  Source s;
  s.disk = std::move(*disk);
  s.format_name = s.disk->format_name();
  s.size = s.disk->virtual_size();
  if (s.disk->format() == disk::DiskFormat::kLuks) {
    return FailedPrecondition(o.source +
                              " is already a LUKS container: decrypt it first, or copy it");
  }
  if (s.disk->encryption() != nullptr) {
    return FailedPrecondition(o.source + " is a qcow2 image with LUKS encryption already");
  }
  if (o.source_size && *o.source_size != *s.size) {
    return InvalidArgument("--size " + std::to_string(*o.source_size) + " but " + o.source +
                           " holds a disk of " + std::to_string(*s.size) + " bytes");
  }
  if (s.disk->format() == disk::DiskFormat::kRaw) {
    s.mapped = disk::MappedFile::Map(o.source, st, *s.size);  // else read with pread
  }
  return s;
}

// An opened LUKS image: a raw container or a qcow2 with LUKS inside.
struct LuksSource {
  std::shared_ptr<disk::DiskReader> disk;  // raw bytes (kLuks/kRaw) or the qcow2
  bool qcow2 = false;
  HeaderInfo header;
  std::vector<uint8_t> header_bytes;  // metadata and keyslots, as checked
  uint64_t file_size = 0;
  uint64_t payload_size = 0;  // plaintext bytes: the virtual disk
  std::string format_name;    // "luks1", "luks2", "qcow2"
};

Result<LuksSource> OpenLuksSource(const std::string& path) {
  auto disk = disk::OpenDisk(path);
  if (!disk) return tl::unexpected(InputError(disk.error(), path));
  LuksSource s;
  s.disk = std::move(*disk);
  const disk::DiskFormat format = s.disk->format();
  if (format == disk::DiskFormat::kQcow2) {
    const disk::EncryptionInfo* enc = s.disk->encryption();
    if (enc == nullptr) {
      return FailedPrecondition("not a LUKS image: " + path + " is a qcow2 image without " +
                                "encryption");
    }
    auto info = Inspect(enc->header);
    if (!info) return tl::unexpected(HeaderError(info.error()).Wrap("LUKS header inside qcow2"));
    s.qcow2 = true;
    s.header = std::move(*info);
    s.header_bytes = enc->header;
    s.payload_size = s.disk->virtual_size();
    s.format_name = "qcow2";
    if (s.payload_size % 512 != 0) {
      return OutOfRange("qcow2 virtual size " + std::to_string(s.payload_size) +
                        " is not a multiple of 512");
    }
    return s;
  }
  if (format == disk::DiskFormat::kVhd) {
    return FailedPrecondition("not a LUKS image: " + path + " is a VHD image");
  }
  // kLuks, or kRaw with a damaged primary LUKS2 header but a secondary one: Inspect decides.
  auto region = ReadMetadataRegion(path);
  if (!region) {
    Error e = MetadataReadError(region.error());
    if (e.code == ErrorCode::kFailedPrecondition) {
      e.message = "not a LUKS image: " + path + " is " + s.disk->format_name() + " data (" +
                  e.message + ")";
    }
    return tl::unexpected(e);
  }
  auto info = Inspect(region->bytes);
  if (!info) return tl::unexpected(HeaderError(info.error()));
  if (auto size_ok = CheckContainerSize(*info, region->file_size); !size_ok) {
    return tl::unexpected(size_ok.error());  // kDataLoss or kOutOfRange: truncated
  }
  const Layout& l = info->layout;
  if (l.payload_offset_bytes == 0) {
    return FailedPrecondition(path + " is a detached LUKS header: it holds no payload");
  }
  s.file_size = region->file_size;
  s.header = std::move(*info);
  s.header_bytes = std::move(region->bytes);
  if (l.payload_size_bytes) {
    s.payload_size = *l.payload_size_bytes;
  } else {
    // What cryptsetup maps: whole sectors after the payload offset.
    const uint64_t rest =
        s.file_size > l.payload_offset_bytes ? s.file_size - l.payload_offset_bytes : 0;
    s.payload_size = rest / l.sector_size * l.sector_size;
  }
  s.format_name = std::string(VersionName(s.header.version));
  return s;
}

Result<OpenedVolume> Unlock(const LuksSource& s, std::span<const uint8_t> passphrase,
                            const OpenLimits& limits) {
  auto opened = OpenVolumeKey(std::span<const uint8_t>(s.header_bytes), passphrase, limits);
  if (!opened) return tl::unexpected(HeaderError(opened.error()));
  if (s.qcow2) {
    // QEMU's IVs count from the start of the qcow2 FILE: the cipher gets host offsets, the
    // LUKS header's own payload offset is meaningless here.
    opened->layout.iv_tweak = 0;
    opened->layout.payload_size_bytes.reset();
  }
  return opened;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// What InspectImage says about an opened LUKS image.
ImageInfo LuksImageInfo(const std::string& path, const LuksSource& src) {
  ImageInfo info;
  info.path = path;
  info.container = src.qcow2 ? "qcow2" : "luks";
  info.container_detail = src.qcow2 ? src.disk->format_name() : src.format_name;
  info.file_size = FileSize(path);
  info.virtual_size = src.payload_size;
  info.encrypted = true;
  info.luks = src.header;
  if (const disk::EncryptionInfo* enc = src.disk->encryption(); enc != nullptr) {
    info.luks_header_offset = enc->header_offset;
  }
  return info;
}

Result<std::vector<SectorCipher>> CipherPerWorker(const Layout& layout, const SecretBytes& key,
                                                  size_t threads) {
  std::vector<SectorCipher> ciphers;
  auto first = SectorCipher::Create(layout, key);
  if (!first) return tl::unexpected(HeaderError(first.error()));
  for (size_t i = 1; i < threads; ++i) {
    auto clone = first->Clone();
    if (!clone) return tl::unexpected(clone.error());
    ciphers.push_back(std::move(*clone));
  }
  ciphers.push_back(std::move(*first));
  return ciphers;
}

// ---- The copy job: one input, one transform, one output -----------------------------------------

struct CopyPlan {
  // Input: exactly one of these.
  const disk::DiskReader* disk = nullptr;      // plaintext, random access (ReadAt)
  const disk::MappedFile* mapped = nullptr;    // disk or luks_raw's file, mapped (optional)
  disk::SequentialReader* stream = nullptr;    // plaintext, in order (read by the producer)
  const disk::DiskReader* luks_raw = nullptr;  // a raw LUKS container's bytes
  uint64_t luks_payload_offset = 0;
  const disk::DiskReader* qcow2_luks = nullptr;  // a qcow2 with LUKS (ReadRawAt)
  // Size of the virtual disk, when known (all but a stream without a promised size).
  std::optional<uint64_t> size;

  // Transform: encrypt plaintext (raw LUKS output: at the payload offset of each byte; qcow2: at
  // host offsets), or decrypt (luks_raw / qcow2_luks input). Both need the ciphers.
  bool encrypt = false;
  std::vector<SectorCipher>* ciphers = nullptr;
  // The last chunk is padded with zeros to a multiple of this (the LUKS sector size).
  uint32_t pad_to = 512;

  // Output: exactly one of these.
  disk::FileWriter* file = nullptr;  // at file_base + disk offset
  uint64_t file_base = 0;
  // Another descriptor of the output file, to start its writeback early (or -1).
  int writeback_fd = -1;
  disk::StreamWriter* out = nullptr;
  disk::Qcow2Writer* qcow2 = nullptr;  // zero clusters unallocated; encrypt: at host offsets

  size_t chunk_bytes = 0;
};

class CopyJob final : public PipelineJob {
 public:
  explicit CopyJob(const CopyPlan& plan) : p_(plan) {
    // Reading and the cipher run in parallel; writes to one file are serialised (the kernel would
    // serialise them on the inode lock anyway, with the waiting core spinning).
    steps_.push_back(Step::kFill);
    if (p_.file != nullptr) {
      steps_.push_back(Step::kWriteFile);
    } else if (p_.out != nullptr) {
      steps_.push_back(Step::kWriteStream);
    } else {
      steps_.push_back(Step::kAllocateClusters);
      if (p_.encrypt) steps_.push_back(Step::kEncryptClusters);
      steps_.push_back(Step::kWriteClusters);
    }
  }

  uint64_t total() const { return position_; }  // bytes of virtual disk produced

  Result<bool> Next(Chunk& chunk) override {
    size_t valid = 0;
    if (p_.stream != nullptr) {
      auto n = p_.stream->Read(chunk.buffer.first(p_.chunk_bytes));
      if (!n) return tl::unexpected(InputError(n.error(), "input"));
      valid = *n;
    } else {
      if (position_ >= *p_.size) return false;
      valid = static_cast<size_t>(std::min<uint64_t>(p_.chunk_bytes, *p_.size - position_));
    }
    if (valid == 0) return false;
    chunk.offset = position_;
    chunk.length = valid;
    position_ += valid;
    return true;
  }

  std::vector<StageKind> stages() const override {
    std::vector<StageKind> kinds;
    for (Step step : steps_) {
      switch (step) {
        case Step::kFill:
        case Step::kEncryptClusters:
          kinds.push_back(StageKind::kParallel);
          break;
        case Step::kWriteFile:
        case Step::kWriteClusters:
          kinds.push_back(StageKind::kSerial);
          break;
        case Step::kWriteStream:
        case Step::kAllocateClusters:
          kinds.push_back(StageKind::kSerialInOrder);
          break;
      }
    }
    return kinds;
  }

  Status Run(size_t stage, Chunk& chunk, size_t worker) override {
    switch (steps_[stage]) {
      case Step::kFill:
        return FillAndTransform(chunk, worker);
      case Step::kWriteFile: {
        auto st = p_.file->WriteAt(p_.file_base + chunk.offset, chunk.buffer.first(Padded(chunk)));
        if (!st) return tl::unexpected(OutputError(st.error(), "write"));
        StartWriteback(Padded(chunk));
        return OkStatus();
      }
      case Step::kWriteStream: {
        auto st = p_.out->Write(chunk.buffer.first(Padded(chunk)));
        if (!st) return tl::unexpected(OutputError(st.error(), "write"));
        return OkStatus();
      }
      case Step::kAllocateClusters: {
        const uint64_t cs = p_.qcow2->cluster_size();
        for (Piece& piece : chunk.pieces) {
          auto host = p_.qcow2->AllocateCluster((chunk.offset + piece.begin) / cs);
          if (!host) return tl::unexpected(OutputError(host.error(), "qcow2"));
          piece.output_offset = *host;
          piece.cipher_offset = *host;
        }
        return OkStatus();
      }
      case Step::kEncryptClusters:
        for (const Piece& piece : chunk.pieces) {
          // QEMU's IVs: the cluster's host offset in the qcow2 file.
          auto st = (*p_.ciphers)[worker].Encrypt(chunk.buffer.subspan(piece.begin, piece.length),
                                                  piece.cipher_offset);
          if (!st) return tl::unexpected(st.error());
        }
        return OkStatus();
      case Step::kWriteClusters:
        for (const Piece& piece : chunk.pieces) {
          auto st = p_.qcow2->WriteAllocatedCluster(
              piece.output_offset, chunk.buffer.subspan(piece.begin, piece.length));
          if (!st) return tl::unexpected(OutputError(st.error(), "write qcow2"));
        }
        return OkStatus();
    }
    return Internal("unknown pipeline step");
  }

 private:
  enum class Step {
    kFill,              // read (and decrypt) the input; encrypt for a raw LUKS output
    kWriteFile,         // pwrite at file_base + offset
    kWriteStream,       // write to stdout, in order
    kAllocateClusters,  // qcow2: host offsets for the clusters holding data, in guest order
    kEncryptClusters,   // qcow2-LUKS: encrypt each cluster at its host offset
    kWriteClusters,     // qcow2: pwrite each cluster
  };

  // Every kWritebackBytes written, asks the kernel to start writing the file's dirty pages to
  // disk (sync_file_range, asynchronous): the disk works while the cores encrypt, and the final
  // fsync has little left to do. Serial stage only.
  void StartWriteback(size_t written) {
    if (p_.writeback_fd < 0) return;
    unflushed_ += written;
    if (unflushed_ < kWritebackBytes) return;
    unflushed_ = 0;
    ::sync_file_range(p_.writeback_fd, 0, 0, SYNC_FILE_RANGE_WRITE);  // a hint: errors ignored
  }

  Status FillAndTransform(Chunk& chunk, size_t worker) {
    if (p_.encrypt && p_.qcow2 == nullptr && p_.mapped != nullptr) {
      return EncryptMapped(chunk, worker);
    }
    VEIL_TRY(Fill(chunk, worker));
    if (p_.qcow2 != nullptr) {
      // Which clusters hold data (the rest stays unallocated).
      const size_t cs = p_.qcow2->cluster_size();
      const size_t end = static_cast<size_t>(RoundUp(chunk.length, cs));
      for (size_t at = 0; at < end; at += cs) {
        if (IsAllZero(chunk.buffer.subspan(at, cs))) continue;
        chunk.pieces.push_back(Piece{at, cs, true, 0, 0});
      }
      return OkStatus();
    }
    if (p_.encrypt) {
      auto st = (*p_.ciphers)[worker].Encrypt(chunk.buffer.first(Padded(chunk)), chunk.offset);
      if (!st) return tl::unexpected(st.error());
    }
    return OkStatus();
  }

  // Encrypts the chunk from the mapped input into its buffer; a last partial sector is copied and
  // zero-padded first.
  Status EncryptMapped(Chunk& chunk, size_t worker) {
    const std::span<const uint8_t> mapped = p_.mapped->bytes();
    if (chunk.offset > mapped.size() || chunk.length > mapped.size() - chunk.offset) {
      return ShortInput(mapped.size());
    }
    const std::span<const uint8_t> in = mapped.subspan(chunk.offset, chunk.length);
    const size_t whole = chunk.length - chunk.length % p_.pad_to;
    SectorCipher& cipher = (*p_.ciphers)[worker];
    if (whole > 0) {
      auto st = cipher.Encrypt(in.first(whole), chunk.buffer.first(whole), chunk.offset);
      if (!st) return tl::unexpected(st.error());
    }
    if (whole < chunk.length) {
      // The last, partial sector: zero-padded in place, then encrypted there.
      const std::span<uint8_t> tail = chunk.buffer.subspan(whole, p_.pad_to);
      std::memcpy(tail.data(), in.data() + whole, chunk.length - whole);
      std::memset(tail.data() + (chunk.length - whole), 0, p_.pad_to - (chunk.length - whole));
      auto st = cipher.Encrypt(tail, chunk.offset + whole);
      if (!st) return tl::unexpected(st.error());
    }
    // Done with these input pages: out of the page tables, so the resident size stays bounded.
    p_.mapped->Release(chunk.offset, chunk.length);
    // The file shrank under the mapping: the bytes past its new end read as zeros.
    if (p_.mapped->faulted()) return Shrunk();
    return OkStatus();
  }

  // chunk.length rounded up to the padding unit; the tail is zero-filled by Fill.
  size_t Padded(const Chunk& chunk) const {
    return static_cast<size_t>(RoundUp(chunk.length, p_.pad_to));
  }

  // Puts the chunk's plaintext into its buffer, zero-padded up to the next cluster boundary.
  Status Fill(Chunk& chunk, size_t worker) {
    const std::span<uint8_t> bytes = chunk.buffer.first(chunk.length);
    if (p_.disk != nullptr) {
      auto n = p_.disk->ReadAt(chunk.offset, bytes);
      if (!n) return tl::unexpected(InputError(n.error(), "read input"));
      if (*n != bytes.size()) return ShortInput(chunk.offset + *n);
    } else if (p_.luks_raw != nullptr && p_.mapped != nullptr) {
      const std::span<const uint8_t> file = p_.mapped->bytes();
      const uint64_t at = p_.luks_payload_offset + chunk.offset;
      if (at > file.size() || bytes.size() > file.size() - at) return ShortInput(file.size());
      auto st = (*p_.ciphers)[worker].Decrypt(file.subspan(at, bytes.size()), bytes, chunk.offset);
      if (!st) return tl::unexpected(st.error());
      p_.mapped->Release(at, bytes.size());
      if (p_.mapped->faulted()) return Shrunk();
    } else if (p_.luks_raw != nullptr) {
      auto n = p_.luks_raw->ReadAt(p_.luks_payload_offset + chunk.offset, bytes);
      if (!n) return tl::unexpected(InputError(n.error(), "read input"));
      if (*n != bytes.size()) return ShortInput(p_.luks_payload_offset + chunk.offset + *n);
      auto st = (*p_.ciphers)[worker].Decrypt(bytes, chunk.offset);
      if (!st) return tl::unexpected(st.error());
    } else if (p_.qcow2_luks != nullptr) {
      auto runs = p_.qcow2_luks->ReadRawAt(chunk.offset, bytes);
      if (!runs) return tl::unexpected(InputError(runs.error(), "read input"));
      for (const disk::RawRun& run : *runs) {
        if (!run.data) continue;
        auto st = (*p_.ciphers)[worker].Decrypt(
            bytes.subspan(static_cast<size_t>(run.offset - chunk.offset),
                          static_cast<size_t>(run.length)),
            run.iv_offset);
        if (!st) return tl::unexpected(st.error());
      }
    }  // a stream chunk was read by Next()
    const size_t unit = p_.qcow2 != nullptr ? p_.qcow2->cluster_size() : p_.pad_to;
    const size_t end = static_cast<size_t>(RoundUp(chunk.length, unit));
    std::memset(chunk.buffer.data() + chunk.length, 0, end - chunk.length);
    return OkStatus();
  }

  static Status Shrunk() {
    return OutOfRange(
        "the input shrank while being read: input smaller than it claims (did it change?)");
  }

  static Status ShortInput(uint64_t at) {
    return OutOfRange("the input ended at byte " + std::to_string(at) +
                      " while being read: input smaller than it claims (did it change?)");
  }

  static constexpr uint64_t kWritebackBytes = uint64_t{64} << 20;

  const CopyPlan p_;
  std::vector<Step> steps_;
  uint64_t unflushed_ = 0;  // kWriteFile (serial) only
  uint64_t position_ = 0;   // producer only
};

// cryptsetup 2.6's default payload offsets.
constexpr uint64_t kLuks1PayloadOffset = uint64_t{2} << 20;
constexpr uint64_t kLuks2PayloadOffset = uint64_t{16} << 20;

// Whether this process may move a thread from SCHED_IDLE back to SCHED_OTHER: Linux allows it with
// CAP_SYS_NICE, or when RLIMIT_NICE would allow the thread's nice value (sched(7)).
bool MayLeaveSchedIdle() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) == 0 &&
      (data[CAP_TO_INDEX(CAP_SYS_NICE)].effective & CAP_TO_MASK(CAP_SYS_NICE)) != 0) {
    return true;
  }
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, 0);
  struct rlimit limit {};
  return errno == 0 && ::getrlimit(RLIMIT_NICE, &limit) == 0 &&
         (limit.rlim_cur == RLIM_INFINITY || static_cast<rlim_t>(20 - nice) <= limit.rlim_cur);
}

// kInvalidArgument when a keyslot with this KDF would be refused by OpenVolumeKey's default
// limits (the same check, so encrypt and open cannot disagree).
Status CheckWithinOpenLimits(const KdfInfo& kdf) {
  KeyslotInfo keyslot;
  keyslot.kdf = kdf;
  if (auto cost = CheckKeyslotCost(keyslot, OpenLimits{}); !cost) {
    return InvalidArgument(cost.error().message +
                           " (the most Veil opens an image with by default)");
  }
  return OkStatus();
}

// The same for every keyslot of a header Veil just made, whose costs libcryptsetup's benchmark
// chose.
Status CheckOwnKeyslots(std::span<const uint8_t> header) {
  auto info = Inspect(header);
  if (!info) return tl::unexpected(Recode(info.error(), ErrorCode::kInternal));
  for (const KeyslotInfo& k : info->keyslots) {
    if (k.state != KeyslotState::kActive) continue;
    if (auto cost = CheckWithinOpenLimits(k.kdf); !cost) {
      return InvalidArgument("the --iter-time gave a key derivation Veil would refuse to open: " +
                             cost.error().message +
                             "; choose a shorter --iter-time or more --pbkdf-memory");
    }
  }
  return OkStatus();
}

// CreateHeader, after calibrating PBKDF2 when `calibrate` (iter-time semantics), on a thread of its
// own when `background` (or at once when a thread cannot be started). The options, key and
// passphrase must outlive the object; the destructor waits for the thread (a PBKDF cannot be
// interrupted: at most the iter-time).
//
// The background thread runs under SCHED_IDLE while the payload is copied, when the process may
// lift that again: the header's ~0.15 s of CPU then fills what the copy leaves idle (the
// encrypting core waits on the single writer much of the time) instead of taking turns with the
// writer, ~5 % off a 2 GiB run on two cores (docs/benchmarks.md). Get() and the destructor put it
// back to SCHED_OTHER before waiting for it, so it never starves behind other processes. Where the
// policy cannot be lifted (no CAP_SYS_NICE, RLIMIT_NICE below 20) the thread keeps the normal one.
// Calibration counts the thread's CPU time, so the iterations are right either way.
class HeaderMaker {
 public:
  HeaderMaker(const CreateOptions& create, bool calibrate, const SecretBytes& key,
              std::span<const uint8_t> passphrase, bool background) {
    auto make = [this, create, calibrate, &key, passphrase]() -> Result<HeaderBlob> {
      const auto start = std::chrono::steady_clock::now();
      struct Timed {  // however make() returns: its wall time, read after Join()
        std::chrono::steady_clock::time_point start;
        double& seconds;
        ~Timed() {
          seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
      } timed{start, seconds_};
      CreateOptions options = create;
      if (calibrate) {
        auto iterations =
            CalibratePbkdf2(options.pbkdf.hash, options.key_bytes, options.pbkdf.iter_time_ms);
        if (!iterations) return tl::unexpected(iterations.error());
        options.pbkdf.iterations = *iterations;
      }
      auto blob = CreateHeader(options, key, passphrase);
      if (!blob && blob.error().code != ErrorCode::kInvalidArgument &&
          blob.error().code != ErrorCode::kResourceExhausted) {  // e.g. no memory for Argon2
        return tl::unexpected(Recode(blob.error(), ErrorCode::kInternal));
      }
      if (blob && !calibrate && !options.pbkdf.iterations) {
        // libcryptsetup's Argon2 benchmark chose the costs: a long iter-time with little memory
        // can go past the time-cost limit.
        VEIL_TRY(CheckOwnKeyslots(blob->bytes));
      }
      return blob;
    };
    if (background) {
      try {
        const bool idle = MayLeaveSchedIdle();
        thread_ = std::thread([this, make, idle] {
          if (idle) {
            std::lock_guard lock(mu_);
            const sched_param none{};
            if (!joining_ && ::sched_setscheduler(0, SCHED_IDLE, &none) == 0) tid_ = ::gettid();
          }
          auto made = make();
          std::lock_guard lock(mu_);
          result_ = std::move(made);
          tid_ = 0;
        });
        return;
      } catch (const std::system_error&) {
        // Fall through: make it now.
      }
    }
    result_ = make();
  }
  ~HeaderMaker() { Join(); }
  HeaderMaker(const HeaderMaker&) = delete;
  HeaderMaker& operator=(const HeaderMaker&) = delete;

  // The header (waits for it). Once.
  Result<HeaderBlob> Get() {
    Join();
    return std::move(*result_);
  }

  // The wall time of making the header (the key derivation, mostly), once Get() returned.
  double seconds() const { return seconds_; }

 private:
  // Back to the normal policy if still running under SCHED_IDLE (the copy is over: nothing left to
  // give way to), then waits.
  void Join() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);  // the thread cannot finish (and its id be reused) meanwhile
      joining_ = true;            // nor go idle after this
      if (tid_ != 0) {
        const sched_param normal{};
        (void)::sched_setscheduler(tid_, SCHED_OTHER, &normal);
        tid_ = 0;
      }
    }
    thread_.join();
  }

  std::mutex mu_;
  pid_t tid_ = 0;         // the thread, while it runs under SCHED_IDLE
  bool joining_ = false;  // Join() has begun
  double seconds_ = 0;    // written by make() as it returns; read after Join()
  std::optional<Result<HeaderBlob>> result_;
  std::thread thread_;
};

// Runs `job` and turns the pipeline's bookkeeping into progress reports.
Status RunCopy(CopyJob& job, const CopyOptions& copy, size_t threads, size_t chunk_bytes,
               std::optional<uint64_t> total) {
  PipelineOptions po;
  po.threads = threads;
  po.chunk_bytes = chunk_bytes;
  po.cancel = copy.cancel;
  if (copy.progress) {
    po.progress = [&copy, total](uint64_t done) { copy.progress(Progress{done, total}); };
  }
  return RunPipeline(job, po);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Status CheckPassphraseSize(const SecretBytes& passphrase) {
  if (passphrase.empty()) return InvalidArgument("empty passphrase");
  if (passphrase.size() > kMaxPassphraseBytes) {
    return InvalidArgument("passphrase longer than 8 MiB (cryptsetup's key file limit)");
  }
  return OkStatus();
}

Status CheckOutputKind(bool to_stdout, bool qcow2) {
  if (to_stdout && qcow2) {
    return InvalidArgument("qcow2 output cannot go to stdout (it is written out of order)");
  }
  return OkStatus();
}

// ---- The output of a copy: a qcow2 file, a raw file or a stream --------------------------------

struct OutputSpec {
  enum class Kind { kQcow2, kStream, kFile };
  Kind kind = Kind::kFile;
  // The destination as the user named it (for messages) and its temporary file (kQcow2, kFile).
  std::string destination;
  const TempPath* temp = nullptr;
  // kQcow2.
  disk::Qcow2WriterOptions qcow2;
  // kStream: the descriptor, and bytes written before the payload (encrypt's LUKS header).
  int stream_fd = -1;
  std::span<const uint8_t> stream_prefix;
  // kFile: its size when known, where the payload starts, and whether to try O_DIRECT.
  std::optional<uint64_t> file_size;
  uint64_t file_base = 0;
  bool direct = false;
};

// Owns the writer that a CopyPlan points to. Neither copied nor moved once opened: the plan holds
// pointers into it.
class Output {
 public:
  Output() = default;
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // Creates the writer `spec` names and points `plan`'s output at it.
  Status Open(OutputSpec spec, CopyPlan& plan) {
    switch (spec.kind) {
      case OutputSpec::Kind::kQcow2: {
        auto w = disk::Qcow2Writer::Create(spec.temp->path(), spec.qcow2);
        if (!w) return tl::unexpected(OutputError(w.error(), "create " + spec.destination));
        qcow2_ = std::move(*w);
        plan.qcow2 = qcow2_.get();
        return OkStatus();
      }
      case OutputSpec::Kind::kStream: {
        out_.emplace(spec.stream_fd);
        if (!spec.stream_prefix.empty()) {
          auto st = out_->Write(spec.stream_prefix);
          if (!st) return tl::unexpected(OutputError(st.error(), "write header"));
        }
        plan.out = &*out_;
        return OkStatus();
      }
      case OutputSpec::Kind::kFile:
        break;
    }
    disk::FileWriterOptions fo;
    fo.size = spec.file_size;
    fo.direct = spec.direct;
    auto w = disk::FileWriter::Create(spec.temp->path(), fo);
    if (!w) return tl::unexpected(OutputError(w.error(), "create " + spec.destination));
    file_ = std::move(*w);
    plan.file = file_.get();
    plan.file_base = spec.file_base;
    if (!file_->direct()) {  // O_DIRECT leaves nothing in the page cache to write back early
      writeback_ = Fd(::open(spec.temp->path().c_str(), O_RDONLY | O_CLOEXEC));
      plan.writeback_fd = writeback_.get();
    }
    return OkStatus();
  }

  // The raw file, when the output is one.
  disk::FileWriter* file() const { return file_.get(); }

  // Flushes and fsyncs what was written.
  Status Finish() {
    if (qcow2_) {
      auto st = qcow2_->Finish();
      if (!st) return tl::unexpected(OutputError(st.error(), "finish qcow2"));
    } else if (file_) {
      auto st = file_->Finish();
      if (!st) return tl::unexpected(OutputError(st.error(), "finish"));
    } else {
      auto st = out_->Finish();
      if (!st) return tl::unexpected(OutputError(st.error(), "finish"));
    }
    return OkStatus();
  }

 private:
  std::unique_ptr<disk::FileWriter> file_;
  std::unique_ptr<disk::Qcow2Writer> qcow2_;
  std::optional<disk::StreamWriter> out_;
  Fd writeback_;
};

// The end of EncryptImage and DecryptImage once the copy ran: makes the output durable, then
// (unless cancelled meanwhile) gives the temporary file its name.
struct Finished {
  // The copy's wall time, up to the output being durable.
  double copy_seconds = 0;
  // The size of the file written (0 for a stream).
  uint64_t output_bytes = 0;
};
Result<Finished> FinishOutput(Output& output, std::optional<TempPath>& temp,
                              const CopyOptions& copy,
                              std::chrono::steady_clock::time_point copy_start) {
  VEIL_TRY(output.Finish());
  Finished finished;
  finished.copy_seconds = SecondsSince(copy_start);
  VEIL_TRY(CheckCancel(copy));
  if (!temp) return finished;
  struct stat st {};
  if (::stat(temp->path().c_str(), &st) == 0) {
    finished.output_bytes = static_cast<uint64_t>(st.st_size);
  }
  VEIL_TRY(temp->Commit());
  return finished;
}

// ---- EncryptImage's steps -----------------------------------------------------------------------

// Checks every option before anything is opened or created; returns whether the keyslot uses
// Argon2 (else PBKDF2).
Result<bool> CheckEncryptOptions(const EncryptOptions& o) {
  VEIL_TRY(CheckCopyOptions(o.copy));
  VEIL_TRY(CheckPassphraseSize(o.passphrase));
  if (o.key_bytes != 32 && o.key_bytes != 64) {
    return InvalidArgument("key size must be 256 or 512 bits (AES-128/256-XTS)");
  }
  if (o.format == EncryptFormat::kLuks2 ? (o.sector_size != 512 && o.sector_size != 4096)
                                        : o.sector_size != 512) {
    return InvalidArgument(std::string("sector size ") + std::to_string(o.sector_size) +
                           " is not possible for " + std::string(EncryptFormatName(o.format)) +
                           (o.format == EncryptFormat::kLuks2 ? " (512 or 4096)" : " (512 only)"));
  }
  VEIL_TRY(CheckOutputKind(o.destination == kStdio, o.format == EncryptFormat::kQcow2));
  // The PBKDF options, checked now: the header may be made only after the copy.
  const std::string& kdf = o.pbkdf.type;
  if (!kdf.empty() && kdf != "pbkdf2" && kdf != "argon2id" && kdf != "argon2i") {
    return InvalidArgument("PBKDF '" + kdf + "' is not pbkdf2, argon2id or argon2i");
  }
  const bool argon2 =
      kdf == "argon2id" || kdf == "argon2i" || (kdf.empty() && o.format == EncryptFormat::kLuks2);
  if (argon2 && o.format != EncryptFormat::kLuks2) {
    return InvalidArgument("LUKS1 (and qcow2, which holds LUKS1) keyslots use PBKDF2 only");
  }
  if (o.pbkdf.iterations && *o.pbkdf.iterations < (argon2 ? 4u : 1000u)) {
    return InvalidArgument(argon2 ? "Argon2 needs a time cost of at least 4"
                                  : "PBKDF2 needs at least 1000 iterations");
  }
  if (argon2 && (o.pbkdf.memory_kib < 32 || o.pbkdf.parallel < 1)) {
    return InvalidArgument("Argon2 needs at least 32 KiB of memory and one lane");
  }
  if (o.pbkdf.iter_time_ms == 0) return InvalidArgument("the iteration time must be positive");
  // Never write an image that Veil itself (and so the image service at import) would refuse to
  // open with its default limits: the costs known now (an iter-time's once they are chosen).
  KdfInfo planned;
  planned.type = argon2 ? "argon2id" : "pbkdf2";
  if (argon2) {
    planned.time = o.pbkdf.iterations.value_or(0);
    planned.memory_kib = o.pbkdf.memory_kib;
    planned.parallel = o.pbkdf.parallel;
  } else {
    planned.iterations = o.pbkdf.iterations.value_or(0);
  }
  VEIL_TRY(CheckWithinOpenLimits(planned));
  if (!o.uuid.empty() && !IsUuid(o.uuid)) {
    return InvalidArgument("'" + o.uuid + "' is not a UUID (8-4-4-4-12 hexadecimal digits)");
  }
  if (o.pbkdf.hash != "sha256" && o.pbkdf.hash != "sha512" && o.pbkdf.hash != "sha1") {
    return InvalidArgument("PBKDF hash '" + o.pbkdf.hash + "' is not sha256, sha512 or sha1");
  }
  return argon2;
}

// The header to make: keyslot 0 under the passphrase. `overlap`: the header is made while the
// payload is encrypted, so its payload offset is fixed now.
CreateOptions PlanHeader(const EncryptOptions& o, bool argon2, bool overlap) {
  CreateOptions create;
  create.version = o.format == EncryptFormat::kLuks2 ? Version::kLuks2 : Version::kLuks1;
  create.key_bytes = o.key_bytes;
  create.sector_size = o.sector_size;
  create.pbkdf = o.pbkdf;
  if (!argon2) create.pbkdf.type = "pbkdf2";
  create.uuid = o.uuid;
  if (o.format == EncryptFormat::kQcow2) {
    create.data_offset_bytes = QemuLuksHeaderBytes(o.key_bytes);
  } else if (overlap) {
    // cryptsetup's defaults, fixed so that the payload can start before the header exists.
    create.data_offset_bytes =
        create.version == Version::kLuks1 ? kLuks1PayloadOffset : kLuks2PayloadOffset;
  }
  return create;
}

// The layout the payload is written with before the header exists (overlap).
Layout PlannedLayout(const CreateOptions& create) {
  Layout layout;
  layout.version = create.version;
  layout.cipher_spec = create.cipher + "-" + create.mode;
  layout.key_bytes = create.key_bytes;
  layout.sector_size = create.sector_size;
  layout.payload_offset_bytes = create.data_offset_bytes;
  return layout;
}

// The header made during the copy, written in front of the payload once it agrees with the
// layout the payload was written with.
Result<Layout> WriteHeaderMadeMeanwhile(HeaderMaker& header, const Layout& layout,
                                        disk::FileWriter& file) {
  HeaderBlob blob = VEIL_TRY_VALUE(header.Get());
  const Layout& made = blob.layout;
  if (made.payload_offset_bytes != layout.payload_offset_bytes ||
      made.cipher_spec != layout.cipher_spec || made.key_bytes != layout.key_bytes ||
      made.sector_size != layout.sector_size || made.iv_tweak != 0 ||
      blob.bytes.size() != layout.payload_offset_bytes) {
    return Internal("libcryptsetup laid the header out differently than the payload was written");
  }
  auto st = file.WriteAt(0, blob.bytes);
  if (!st) return tl::unexpected(OutputError(st.error(), "write header"));
  return made;
}

// Where EncryptImage writes: the header (unless made during the copy) and the encrypted payload.
Result<OutputSpec> EncryptOutputSpec(const EncryptOptions& o, const Source& src,
                                     const std::optional<TempPath>& temp,
                                     std::optional<HeaderBlob>& blob, uint64_t header_bytes) {
  OutputSpec spec;
  spec.destination = o.destination;
  spec.temp = temp ? &*temp : nullptr;
  if (o.format == EncryptFormat::kQcow2) {
    spec.kind = OutputSpec::Kind::kQcow2;
    spec.qcow2.virtual_size = RoundUp(*src.size, 512);
    spec.qcow2.luks_header = std::move(blob->bytes);
    if (spec.qcow2.virtual_size == 0) return InvalidArgument("the input disk is empty");
  } else if (!temp) {
    spec.kind = OutputSpec::Kind::kStream;
    spec.stream_fd = o.copy.stdout_fd;
    spec.stream_prefix = blob->bytes;
  } else {
    spec.kind = OutputSpec::Kind::kFile;
    if (src.size) spec.file_size = header_bytes + RoundUp(*src.size, o.sector_size);
    spec.file_base = header_bytes;
    spec.direct = o.copy.direct_output;
  }
  return spec;
}

// ---- DecryptImage's steps -----------------------------------------------------------------------

Status CheckDecryptOptions(const DecryptOptions& o) {
  VEIL_TRY(CheckCopyOptions(o.copy));
  VEIL_TRY(CheckPassphraseSize(o.passphrase));
  VEIL_TRY(CheckOutputKind(o.destination == kStdio, o.format == DecryptFormat::kQcow2));
  if (o.source == kStdio) {
    return InvalidArgument("decrypt reads a file, not a pipe (the LUKS header must be read first)");
  }
  return OkStatus();
}

// Where DecryptImage writes the plaintext disk.
Result<OutputSpec> DecryptOutputSpec(const DecryptOptions& o, uint64_t payload_size,
                                     const std::optional<TempPath>& temp) {
  OutputSpec spec;
  spec.destination = o.destination;
  spec.temp = temp ? &*temp : nullptr;
  if (o.format == DecryptFormat::kQcow2) {
    if (payload_size == 0) return OutOfRange("the LUKS payload is empty");
    spec.kind = OutputSpec::Kind::kQcow2;
    spec.qcow2.virtual_size = payload_size;
  } else if (!temp) {
    spec.kind = OutputSpec::Kind::kStream;
    spec.stream_fd = o.copy.stdout_fd;
  } else {
    spec.kind = OutputSpec::Kind::kFile;
    spec.file_size = payload_size;
    spec.direct = o.copy.direct_output;
  }
  return spec;
}

}  // namespace

// ---- EncryptImage -------------------------------------------------------------------------------

Result<EncryptResult> EncryptImage(const EncryptOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const bool argon2 = VEIL_TRY_VALUE(CheckEncryptOptions(o));
  const bool to_stdout = o.destination == kStdio;
  OsRandom os_random;
  Random& random = o.copy.random != nullptr ? *o.copy.random : os_random;

  // 1. The input (nothing is created before it is known to be usable).
  Source src = VEIL_TRY_VALUE(OpenEncryptSource(o));
  if (o.format == EncryptFormat::kQcow2 && !src.size) {
    return InvalidArgument("qcow2 output needs the disk size in advance: give --size for a pipe");
  }
  std::optional<TempPath> temp;
  if (!to_stdout) temp.emplace(VEIL_TRY_VALUE(TempPath::Reserve(o.destination, random)));

  // 2. The header: a fresh volume key in keyslot 0 under the passphrase. The PBKDF takes the
  // iter-time by design (2 s by default); for a raw LUKS file it runs on its own thread while the
  // payload is encrypted (which needs only the volume key and the payload offset), and the header
  // is written last. qcow2 needs the header bytes when the file is created, stdout first.
  const bool overlap = o.format != EncryptFormat::kQcow2 && !to_stdout;
  const CreateOptions create = PlanHeader(o, argon2, overlap);
  // PBKDF2 with an iter-time: Veil calibrates it (with the header, maybe during the copy).
  const bool calibrate = !argon2 && !create.pbkdf.iterations;
  auto key = GenerateVolumeKey(random, o.key_bytes);
  if (!key) return tl::unexpected(key.error());
  HeaderMaker header(create, calibrate, *key, o.passphrase.Reveal(), overlap);
  std::optional<HeaderBlob> blob;
  Layout layout;
  if (overlap) {
    layout = PlannedLayout(create);
  } else {
    blob = VEIL_TRY_VALUE(header.Get());
    layout = blob->layout;
    VEIL_TRY(CheckCancel(o.copy));
  }

  EncryptResult result;
  result.source_format = src.format_name;
  result.format = o.format;
  result.layout = layout;
  const size_t threads = ThreadCount(o.copy.threads);
  result.threads = threads;

  Layout cipher_layout = layout;
  if (o.format == EncryptFormat::kQcow2) cipher_layout.iv_tweak = 0;  // host offsets
  std::vector<SectorCipher> ciphers = VEIL_TRY_VALUE(CipherPerWorker(cipher_layout, *key, threads));
  result.engine = ciphers.front().engine_name();

  CopyPlan plan;
  plan.disk = src.disk.get();
  plan.mapped = src.mapped.get();
  plan.stream = src.stream.get();
  plan.size = src.size;
  plan.encrypt = true;
  plan.ciphers = &ciphers;
  plan.pad_to = o.sector_size;
  plan.chunk_bytes = o.copy.chunk_bytes;

  const uint64_t header_bytes = layout.payload_offset_bytes;
  Output output;
  OutputSpec spec = VEIL_TRY_VALUE(EncryptOutputSpec(o, src, temp, blob, header_bytes));
  VEIL_TRY(output.Open(std::move(spec), plan));
  // A header already written needs not stay in memory during the copy (up to 16 MiB for LUKS2).
  if (blob) std::vector<uint8_t>().swap(blob->bytes);

  CopyJob job(plan);
  const auto copy_start = std::chrono::steady_clock::now();
  VEIL_TRY(RunCopy(job, o.copy, threads, o.copy.chunk_bytes, src.size));
  result.virtual_size = job.total();
  if (src.size && job.total() != *src.size) {
    return OutOfRange("the input ended after " + std::to_string(job.total()) + " of " +
                      std::to_string(*src.size) + " bytes");
  }
  if (!src.size && job.total() == 0) return InvalidArgument("the input stream was empty");
  // The wait for a header still being made is the key derivation's time, not the copy's.
  double header_wait_seconds = 0;
  if (overlap) {
    const auto wait_start = std::chrono::steady_clock::now();
    result.layout = VEIL_TRY_VALUE(WriteHeaderMadeMeanwhile(header, layout, *output.file()));
    header_wait_seconds = SecondsSince(wait_start);
  }
  key->Clear();
  result.kdf_seconds = header.seconds();
  result.kdf_during_copy = overlap;

  // 3. Make it durable, then give it its name.
  const Finished finished = VEIL_TRY_VALUE(FinishOutput(output, temp, o.copy, copy_start));
  result.copy_seconds = std::max(0.0, finished.copy_seconds - header_wait_seconds);
  result.output_bytes =
      temp ? finished.output_bytes : header_bytes + RoundUp(job.total(), o.sector_size);
  result.seconds = SecondsSince(start);
  return result;
}

// ---- DecryptImage -------------------------------------------------------------------------------

Result<DecryptResult> DecryptImage(const DecryptOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  VEIL_TRY(CheckDecryptOptions(o));
  OsRandom os_random;
  Random& random = o.copy.random != nullptr ? *o.copy.random : os_random;

  LuksSource src = VEIL_TRY_VALUE(OpenLuksSource(o.source));
  std::optional<TempPath> temp;
  if (o.destination != kStdio)
    temp.emplace(VEIL_TRY_VALUE(TempPath::Reserve(o.destination, random)));
  const auto unlock_start = std::chrono::steady_clock::now();
  OpenedVolume opened = VEIL_TRY_VALUE(Unlock(src, o.passphrase.Reveal(), o.limits));
  const double kdf_seconds = SecondsSince(unlock_start);
  VEIL_TRY(CheckCancel(o.copy));
  // The metadata (up to 136 MiB for a hostile LUKS2 header) is not needed for the copy.
  std::vector<uint8_t>().swap(src.header_bytes);

  DecryptResult result;
  result.source_format = src.format_name;
  result.layout = opened.layout;
  result.keyslot = opened.keyslot;
  result.kdf_seconds = kdf_seconds;
  const size_t threads = ThreadCount(o.copy.threads);
  result.threads = threads;
  std::vector<SectorCipher> ciphers =
      VEIL_TRY_VALUE(CipherPerWorker(opened.layout, opened.volume_key, threads));
  result.engine = ciphers.front().engine_name();
  opened.volume_key.Clear();

  CopyPlan plan;
  std::unique_ptr<disk::MappedFile> mapped;
  if (src.qcow2) {
    plan.qcow2_luks = src.disk.get();
  } else {
    plan.luks_raw = src.disk.get();
    plan.luks_payload_offset = opened.layout.payload_offset_bytes;
    // Decrypted straight from the page cache into the buffers, as encrypt reads a raw input.
    struct stat st {};
    if (::stat(o.source.c_str(), &st) == 0) {
      mapped = disk::MappedFile::Map(o.source, st, src.disk->virtual_size());
      plan.mapped = mapped.get();
    }
  }
  plan.size = src.payload_size;
  plan.ciphers = &ciphers;
  plan.pad_to = 512;
  plan.chunk_bytes = o.copy.chunk_bytes;

  Output output;
  OutputSpec spec = VEIL_TRY_VALUE(DecryptOutputSpec(o, src.payload_size, temp));
  VEIL_TRY(output.Open(std::move(spec), plan));

  CopyJob job(plan);
  const auto copy_start = std::chrono::steady_clock::now();
  VEIL_TRY(RunCopy(job, o.copy, threads, o.copy.chunk_bytes, src.payload_size));
  result.virtual_size = job.total();
  result.copy_seconds = VEIL_TRY_VALUE(FinishOutput(output, temp, o.copy, copy_start)).copy_seconds;
  result.seconds = SecondsSince(start);
  return result;
}

// ---- InspectImage
// -------------------------------------------------------------------------------

Result<ImageInfo> InspectImage(const std::string& path) {
  auto disk = disk::OpenDisk(path);
  if (!disk) return tl::unexpected(InputError(disk.error(), path));
  const disk::DiskFormat format = (*disk)->format();
  if (format == disk::DiskFormat::kLuks ||
      (format == disk::DiskFormat::kQcow2 && (*disk)->encryption() != nullptr)) {
    const LuksSource src = VEIL_TRY_VALUE(OpenLuksSource(path));
    return LuksImageInfo(path, src);
  }
  ImageInfo info;
  info.path = path;
  info.container = std::string(disk::DiskFormatName(format));
  info.container_detail = (*disk)->format_name();
  info.virtual_size = (*disk)->virtual_size();
  info.file_size = FileSize(path);
  return info;
}

// ---- VerifyImage
// --------------------------------------------------------------------------------

Result<VerifyReport> VerifyImage(const std::string& path, std::span<const uint8_t> passphrase,
                                 const OpenLimits& limits) {
  if (passphrase.empty()) return InvalidArgument("empty passphrase");
  LuksSource src = VEIL_TRY_VALUE(OpenLuksSource(path));
  OpenedVolume opened = VEIL_TRY_VALUE(Unlock(src, passphrase, limits));
  auto cipher = SectorCipher::Create(opened.layout, opened.volume_key);
  if (!cipher) return tl::unexpected(HeaderError(cipher.error()));
  opened.volume_key.Clear();

  VerifyReport report;
  report.keyslot = opened.keyslot;
  report.image = LuksImageInfo(path, src);

  // Plaintext reads of the payload: whole sectors decrypted, then the asked bytes copied out.
  const uint32_t ss = opened.layout.sector_size;
  const uint64_t payload_offset = opened.layout.payload_offset_bytes;
  const uint64_t size = src.payload_size;
  std::vector<uint8_t> scratch;
  auto read = [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    const uint64_t end = std::min<uint64_t>(size, offset + out.size());
    const uint64_t first = offset / ss * ss;
    const uint64_t last = RoundUp(end, ss);
    scratch.assign(static_cast<size_t>(last - first), 0);
    if (src.qcow2) {
      auto runs = src.disk->ReadRawAt(first, scratch);
      if (!runs) return tl::unexpected(InputError(runs.error(), "read input"));
      for (const disk::RawRun& run : *runs) {
        if (!run.data) continue;
        VEIL_TRY(cipher->Decrypt(std::span(scratch).subspan(static_cast<size_t>(run.offset - first),
                                                            static_cast<size_t>(run.length)),
                                 run.iv_offset));
      }
    } else {
      auto n = src.disk->ReadAt(payload_offset + first, scratch);
      if (!n) return tl::unexpected(InputError(n.error(), "read input"));
      if (*n != scratch.size()) return OutOfRange("the LUKS payload is shorter than it claims");
      VEIL_TRY(cipher->Decrypt(scratch, first));
    }
    const size_t count = static_cast<size_t>(end - offset);
    std::memcpy(out.data(), scratch.data() + (offset - first), count);
    return count;
  };
  report.table = VEIL_TRY_VALUE(FindPartitionTable(read, size));
  report.looks_like_disk = report.table.kind != TableKind::kNone;
  return report;
}

}  // namespace veil::image
