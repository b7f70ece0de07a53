#include "disk/qcow2_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "disk/file_writer.h"
#include "disk/internal/big_endian.h"
#include "disk/qcow2_format.h"

namespace veil::disk {

namespace {

using internal::StoreBe16;
using internal::StoreBe32;
using internal::StoreBe64;
using namespace qcow2;  // NOLINT: the format's constants

constexpr uint32_t kRefcountOrder = 4;  // 16-bit refcounts, QEMU's default
constexpr uint8_t kLuksMagic[] = {'L', 'U', 'K', 'S', 0xba, 0xbe};

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace

Qcow2Writer::Qcow2Writer(int fd, std::string path, const Qcow2WriterOptions& options)
    : fd_(fd),
      path_(std::move(path)),
      virtual_size_(options.virtual_size),
      cluster_bits_(options.cluster_bits),
      encrypted_(options.luks_header.has_value()) {}

Result<std::unique_ptr<Qcow2Writer>> Qcow2Writer::Create(const std::string& path,
                                                         const Qcow2WriterOptions& options) {
  const uint64_t vs = options.virtual_size;
  if (vs == 0 || vs % 512 != 0 || vs > kMaxVirtualSize) {
    return InvalidArgument("qcow2 virtual size " + std::to_string(vs) +
                           " must be a positive multiple of 512 of at most 2^56");
  }
  const uint32_t cb = options.cluster_bits;
  if (cb < kMinClusterBits || cb > kMaxClusterBits) {
    return InvalidArgument("qcow2 cluster_bits " + std::to_string(cb) + " out of range 9..21");
  }
  const uint64_t cs = uint64_t{1} << cb;
  const uint64_t guest_clusters = CeilDiv(vs, cs);
  const uint64_t l1_entries = CeilDiv(guest_clusters, cs / 8);
  if (l1_entries * 8 > kMaxL1Bytes) {
    return InvalidArgument("qcow2 virtual size " + std::to_string(vs) +
                           " needs an L1 table over QEMU's 32 MiB limit: use larger clusters");
  }
  uint64_t luks_clusters = 0;
  if (options.luks_header) {
    const auto& header = *options.luks_header;
    if (header.size() < sizeof(kLuksMagic) ||
        std::memcmp(header.data(), kLuksMagic, sizeof(kLuksMagic)) != 0) {
      return InvalidArgument("the LUKS header to embed does not start with the LUKS magic");
    }
    if (header.size() > kMaxCryptoHeaderBytes) {
      return InvalidArgument("the LUKS header to embed exceeds 64 MiB");
    }
    luks_clusters = CeilDiv(header.size(), cs);
  }
  const uint64_t l1_clusters = CeilDiv(l1_entries * 8, cs);
  // Worst case (every cluster allocated): the refcount table must stay within QEMU's 8 MiB.
  const uint64_t worst = 1 + luks_clusters + l1_clusters + guest_clusters + l1_entries;
  const uint64_t worst_blocks = CeilDiv(worst, cs / 2) + 1;
  if (CeilDiv(worst_blocks * 8, cs) * cs > kMaxRefcountTableBytes) {
    return InvalidArgument("qcow2 virtual size " + std::to_string(vs) +
                           " needs a refcount table over QEMU's 8 MiB limit: use larger clusters");
  }

  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) {
    int err = errno;
    std::string message = "create " + path + ": " + std::strerror(err);
    if (err == EEXIST) return AlreadyExists(message);
    if (err == ENOENT || err == ENOTDIR) return NotFound(message);
    if (err == EACCES || err == EPERM || err == EROFS) return PermissionDenied(message);
    return Internal(message);
  }
  auto writer = std::unique_ptr<Qcow2Writer>(new Qcow2Writer(fd, path, options));
  Qcow2Writer& w = *writer;
  w.guest_clusters_ = guest_clusters;
  w.luks_offset_ = cs;
  w.l1_offset_ = cs * (1 + luks_clusters);
  w.next_free_ = w.l1_offset_ + l1_clusters * cs;
  w.l1_.assign(l1_entries, 0);
  w.l2_.assign(cs / 8, 0);
  if (options.luks_header) {
    w.luks_length_ = options.luks_header->size();
    VEIL_TRY(PwriteAll(fd, w.luks_offset_, *options.luks_header, path));
  }
  return writer;
}

Qcow2Writer::~Qcow2Writer() {
  if (!finished_) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

Status Qcow2Writer::FlushL2() {
  const uint64_t cs = cluster_size();
  std::vector<uint8_t> table(cs);
  for (size_t i = 0; i < l2_.size(); ++i) StoreBe64(&table[i * 8], l2_[i]);
  const uint64_t host = next_free_;
  VEIL_TRY(PwriteAll(fd_, host, table, path_));
  next_free_ += cs;
  l1_[l2_index_] = host | kFlagCopied;
  std::fill(l2_.begin(), l2_.end(), 0);
  l2_dirty_ = false;
  return OkStatus();
}

Result<uint64_t> Qcow2Writer::AllocateCluster(uint64_t guest_cluster) {
  std::lock_guard lock(mutex_);
  if (finished_) return FailedPrecondition("the qcow2 writer is finished");
  if (guest_cluster >= guest_clusters_) {
    return InvalidArgument("guest cluster " + std::to_string(guest_cluster) +
                           " is past the virtual size (" + std::to_string(guest_clusters_) +
                           " clusters)");
  }
  if (last_allocated_ && guest_cluster <= *last_allocated_) {
    return InvalidArgument("guest cluster " + std::to_string(guest_cluster) +
                           " allocated out of order (after " + std::to_string(*last_allocated_) +
                           ")");
  }
  const uint32_t l2_bits = cluster_bits_ - 3;
  const uint64_t l1_index = guest_cluster >> l2_bits;
  if (l2_dirty_ && l1_index != l2_index_) VEIL_TRY(FlushL2());
  l2_index_ = l1_index;
  const uint64_t host = next_free_;
  next_free_ += cluster_size();
  l2_[guest_cluster & ((uint64_t{1} << l2_bits) - 1)] = host | kFlagCopied;
  l2_dirty_ = true;
  last_allocated_ = guest_cluster;
  return host;
}

Status Qcow2Writer::WriteAllocatedCluster(uint64_t host_offset, std::span<const uint8_t> data) {
  const uint64_t cs = cluster_size();
  if (data.size() != cs) {
    return InvalidArgument("a qcow2 cluster write takes " + std::to_string(cs) + " bytes, not " +
                           std::to_string(data.size()));
  }
  uint64_t limit;
  {
    std::lock_guard lock(mutex_);
    limit = next_free_;
  }
  const uint64_t first_data = l1_offset_ + CeilDiv(l1_.size() * 8, cs) * cs;
  if (host_offset % cs != 0 || host_offset < first_data || host_offset + cs > limit) {
    return InvalidArgument("host offset " + std::to_string(host_offset) +
                           " was not returned by AllocateCluster");
  }
  return PwriteAll(fd_, host_offset, data, path_);
}

Status Qcow2Writer::WriteCluster(uint64_t guest_cluster, std::span<const uint8_t> data) {
  if (encrypted_) {
    return FailedPrecondition(
        "encrypted qcow2: use AllocateCluster, encrypt with its host offset, then "
        "WriteAllocatedCluster");
  }
  const uint64_t cs = cluster_size();
  if (guest_cluster >= guest_clusters_) {
    return InvalidArgument("guest cluster " + std::to_string(guest_cluster) +
                           " is past the virtual size");
  }
  const uint64_t rest = std::min(cs, virtual_size_ - guest_cluster * cs);
  if (data.size() != rest && data.size() != cs) {
    return InvalidArgument("cluster " + std::to_string(guest_cluster) + " takes " +
                           std::to_string(rest) + " bytes, not " + std::to_string(data.size()));
  }
  if (internal::IsAllZero(data.data(), data.size())) return OkStatus();
  uint64_t host = VEIL_TRY_VALUE(AllocateCluster(guest_cluster));
  if (data.size() == cs) return WriteAllocatedCluster(host, data);
  std::vector<uint8_t> padded(cs, 0);
  std::memcpy(padded.data(), data.data(), data.size());
  return WriteAllocatedCluster(host, padded);
}

Status Qcow2Writer::Finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return FailedPrecondition("Qcow2Writer::Finish called twice");
  if (l2_dirty_) VEIL_TRY(FlushL2());
  const uint64_t cs = cluster_size();

  // Refcount structures cover every cluster including themselves: find the fixed point of
  // blocks = ceil(total / entries per block), table = ceil(blocks * 8 / cs), total = used + both.
  const uint64_t used = next_free_ / cs;
  const uint64_t per_block = cs * 8 / (uint64_t{1} << kRefcountOrder);
  uint64_t blocks = 0;
  uint64_t table_clusters = 0;
  for (;;) {
    const uint64_t total = used + blocks + table_clusters;
    const uint64_t b = CeilDiv(total, per_block);
    const uint64_t t = CeilDiv(b * 8, cs);
    if (b == blocks && t == table_clusters) break;
    blocks = b;
    table_clusters = t;
  }
  const uint64_t total = used + table_clusters + blocks;
  const uint64_t table_offset = used * cs;
  const uint64_t blocks_offset = table_offset + table_clusters * cs;

  std::vector<uint8_t> table(table_clusters * cs, 0);
  for (uint64_t i = 0; i < blocks; ++i) StoreBe64(&table[i * 8], blocks_offset + i * cs);
  VEIL_TRY(PwriteAll(fd_, table_offset, table, path_));
  std::vector<uint8_t> block(cs);
  for (uint64_t i = 0; i < blocks; ++i) {
    for (uint64_t j = 0; j < per_block; ++j) {
      StoreBe16(&block[j * 2], i * per_block + j < total ? 1 : 0);
    }
    VEIL_TRY(PwriteAll(fd_, blocks_offset + i * cs, block, path_));
  }

  std::vector<uint8_t> l1(l1_.size() * 8);
  for (size_t i = 0; i < l1_.size(); ++i) StoreBe64(&l1[i * 8], l1_[i]);
  VEIL_TRY(PwriteAll(fd_, l1_offset_, l1, path_));

  // The header last: until it is written the file is not a qcow2 image at all.
  std::vector<uint8_t> header(cs, 0);
  uint8_t* h = header.data();
  StoreBe32(h, kMagic);
  StoreBe32(h + kOffVersion, 3);
  StoreBe32(h + kOffClusterBits, cluster_bits_);
  StoreBe64(h + kOffSize, virtual_size_);
  StoreBe32(h + kOffCryptMethod, encrypted_ ? kCryptLuks : kCryptNone);
  StoreBe32(h + kOffL1Size, static_cast<uint32_t>(l1_.size()));
  StoreBe64(h + kOffL1TableOffset, l1_offset_);
  StoreBe64(h + kOffRefcountTableOffset, table_offset);
  StoreBe32(h + kOffRefcountTableClusters, static_cast<uint32_t>(table_clusters));
  StoreBe32(h + kOffRefcountOrder, kRefcountOrder);
  StoreBe32(h + kOffHeaderLength, kV3HeaderLength);
  // compression_type (byte 104) 0 = zlib; features, snapshots: none.
  if (encrypted_) {
    uint8_t* ext = h + kV3HeaderLength;
    StoreBe32(ext, kExtFullDiskEncryption);
    StoreBe32(ext + 4, 16);
    StoreBe64(ext + 8, luks_offset_);
    StoreBe64(ext + 16, luks_length_);
    // The end-of-extensions marker (8 zero bytes) follows.
  }
  VEIL_TRY(PwriteAll(fd_, 0, header, path_));

  if (::fsync(fd_) != 0) return Internal("fsync " + path_ + ": " + std::strerror(errno));
  finished_ = true;
  if (::close(fd_) != 0) return Internal("close " + path_ + ": " + std::strerror(errno));
  return OkStatus();
}

}  // namespace veil::disk
