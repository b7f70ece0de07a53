// Qcow2Writer: writes a new qcow2 version 3 image (QEMU docs/interop/qcow2.txt), optionally with
// LUKS encryption (crypt_method 2, encrypt.format=luks), from guest clusters given in increasing
// order. Clusters never written stay unallocated, so holes cost nothing and read as zeros.
//
// Layout (every structure cluster-aligned, every cluster referenced exactly once):
//   cluster 0                header (112 bytes), then the full disk encryption header extension
//                            0x0537be77 when encrypted, then the end-of-extensions marker
//   next clusters            the LUKS header bytes given (encrypted images only), zero-padded
//   next clusters            the L1 table (written by Finish)
//   then, in order of calls  data clusters, each L2 table after the data clusters it maps
//   end                      refcount table, then refcount blocks (refcount_order 4: 16 bits,
//                            all 1 for clusters in use: nothing is ever shared or freed)
// The result passes `qemu-img check` with no errors and no leaks.
//
// Encryption: the caller encrypts. For qcow2-LUKS, QEMU computes each 512-byte sector's plain64 IV
// from the sector's offset in the qcow2 FILE (host offset / 512), not from the guest offset: so a
// cluster's host offset must be known before it is encrypted. AllocateCluster() returns it; the
// caller encrypts the cluster with IV base host_offset / 512 and writes it with
// WriteAllocatedCluster(). An all-zero plaintext cluster should simply not be allocated.
//
// Memory: the L1 table (at most 32 MiB, QEMU's limit) and one L2 table (one cluster).
//
// Thread-safety: AllocateCluster and WriteCluster from one thread (the order of guest clusters);
// WriteAllocatedCluster from any number of threads concurrently, also concurrently with
// AllocateCluster; Finish once, after every write returned. A writer destroyed before Finish
// succeeded removes its file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace veil::disk {

struct Qcow2WriterOptions {
  // Guest-visible size in bytes: a positive multiple of 512, at most 2^56 (and what keeps the L1
  // table within 32 MiB: 2^(2*cluster_bits - 3) bytes per L1 entry).
  uint64_t virtual_size = 0;
  // Cluster size 2^cluster_bits, 9..21 (512 bytes to 2 MiB); 16 (64 KiB) is QEMU's default.
  uint32_t cluster_bits = 16;
  // A LUKS1 header with its keyslot areas (offsets relative to the header's start), as produced
  // for a detached header. Present: the image is encrypted (crypt_method 2) and the bytes are
  // stored after the qcow2 header, referenced by the encryption header extension.
  std::optional<std::vector<uint8_t>> luks_header;
  // Permissions of the new file.
  mode_t mode = 0600;
};

class Qcow2Writer {
 public:
  // Creates `path`, which must not exist (O_EXCL), and writes the LUKS header if any.
  // kInvalidArgument for bad options (size, cluster_bits, a LUKS header without LUKS magic);
  // file errors as FileWriter::Create.
  [[nodiscard]] static Result<std::unique_ptr<Qcow2Writer>> Create(
      const std::string& path, const Qcow2WriterOptions& options);
  ~Qcow2Writer();
  Qcow2Writer(const Qcow2Writer&) = delete;
  Qcow2Writer& operator=(const Qcow2Writer&) = delete;

  uint32_t cluster_size() const { return uint32_t{1} << cluster_bits_; }
  // Guest clusters: ceil(virtual_size / cluster_size).
  uint64_t cluster_count() const { return guest_clusters_; }

  // Reserves the host cluster for guest cluster `guest_cluster`, which must be greater than every
  // one allocated before and below cluster_count() (kInvalidArgument otherwise). Returns its host
  // offset: the byte offset in the file where the cluster's data goes, and for encrypted images
  // the IV base (sector i of the cluster has plain64 IV host_offset / 512 + i).
  [[nodiscard]] Result<uint64_t> AllocateCluster(uint64_t guest_cluster);
  // Writes one full cluster (cluster_size() bytes; the caller zero-pads the last, partial one) at a
  // host offset AllocateCluster returned. Thread-safe.
  [[nodiscard]] Status WriteAllocatedCluster(uint64_t host_offset, std::span<const uint8_t> data);
  // Unencrypted convenience: `data` is the cluster's plaintext (cluster_size() bytes, or the rest
  // of the disk for the last cluster; zero-padded). All zeros: nothing is allocated. Otherwise
  // AllocateCluster + WriteAllocatedCluster. kFailedPrecondition on an encrypted image (the
  // cipher needs the host offset first).
  [[nodiscard]] Status WriteCluster(uint64_t guest_cluster, std::span<const uint8_t> data);

  // Writes the last L2 table, the L1 table, the refcount structures and the header, then fsyncs
  // and closes. kFailedPrecondition when called twice.
  [[nodiscard]] Status Finish();

 private:
  Qcow2Writer(int fd, std::string path, const Qcow2WriterOptions& options);
  Status FlushL2();  // mutex_ held

  int fd_;
  std::string path_;
  uint64_t virtual_size_;
  uint32_t cluster_bits_;
  bool encrypted_;
  uint64_t guest_clusters_ = 0;
  uint64_t luks_offset_ = 0;
  uint64_t luks_length_ = 0;
  uint64_t l1_offset_ = 0;
  std::vector<uint64_t> l1_;

  std::mutex mutex_;        // guards what follows
  uint64_t next_free_ = 0;  // host offset of the next free cluster
  std::optional<uint64_t> last_allocated_;
  uint64_t l2_index_ = 0;  // L1 index of l2_
  std::vector<uint64_t> l2_;
  bool l2_dirty_ = false;
  bool finished_ = false;
};

}  // namespace veil::disk
