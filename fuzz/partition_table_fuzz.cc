// Fuzz target for Veil's partition-table sanity check (src/disk/partition_table.h), the parser
// `veil image verify` and the image service run on the decrypted start of an untrusted image.
//
// Input: 8 bytes little-endian disk size, then the first bytes of the disk (reads past them return
// zeros up to the disk size). Inputs with a GPT signature are checked a second time with their
// CRC32s recomputed, so that mutations reach the header fields and the entries.
//
// Two builds from this one file, as luks_header_fuzz.cc:
//   - libFuzzer:
//       clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DVEIL_LIBFUZZER -Isrc
//         fuzz/partition_table_fuzz.cc src/disk/partition_table.cc src/common/result.cc -lz
//         -o /tmp/partition_table_fuzz      (one command line)
//       /tmp/partition_table_fuzz -max_len=70000 -max_total_time=300 /tmp/fuzz-pt
//   - the default: a plain program (target partition_table_fuzz) replaying every file given, or
//     every file in every directory given; ctest runs it on fuzz/corpus/partition/ (label unit).
// fuzz/partition_table_seeds.sh regenerates the corpus with sfdisk.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <vector>

#include "disk/partition_table.h"

namespace {

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t Le64(const uint8_t* p) { return uint64_t{Le32(p)} | uint64_t{Le32(p + 4)} << 32; }
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void CheckOne(std::span<const uint8_t> head, uint64_t disk_size) {
  auto read = [&](uint64_t offset, std::span<uint8_t> out) -> veil::Result<size_t> {
    if (offset >= disk_size) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), disk_size - offset));
    for (size_t i = 0; i < n; ++i) {
      out[i] = offset + i < head.size() ? head[static_cast<size_t>(offset + i)] : 0;
    }
    return n;
  };
  auto table = veil::disk::FindPartitionTable(read, disk_size);
  if (!table) __builtin_trap();  // the read cannot fail
  // A table is sane only with partitions.
  if (table->kind != veil::disk::TableKind::kNone && table->partitions.empty()) __builtin_trap();
  for (const auto& p : table->partitions) {
    // A sane table never points past the disk.
    if (p.size_bytes == 0 || p.first_byte + p.size_bytes > disk_size) __builtin_trap();
  }
}

// Recomputes the entry-array and header CRC32s of a GPT whose header is at `block`.
void Resign(std::vector<uint8_t>& d, size_t block) {
  if (d.size() < block + 92 || std::memcmp(&d[block], "EFI PART", 8) != 0) return;
  const uint32_t header_size = Le32(&d[block + 12]);
  if (header_size < 92 || header_size > block || block + header_size > d.size()) return;
  const uint64_t entries = Le64(&d[block + 72]) * block;
  const uint64_t bytes = uint64_t{Le32(&d[block + 80])} * Le32(&d[block + 84]);
  if (entries < d.size() && bytes <= d.size() - entries) {
    Put32(&d[block + 88],
          static_cast<uint32_t>(crc32(crc32(0, Z_NULL, 0), &d[entries], static_cast<uInt>(bytes))));
  }
  Put32(&d[block + 16], 0);
  Put32(&d[block + 16], static_cast<uint32_t>(crc32(crc32(0, Z_NULL, 0), &d[block], header_size)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  // At most 1 TiB: big enough for any table, small enough that offsets never overflow.
  const uint64_t disk_size = Le64(data) & ((uint64_t{1} << 40) - 1);
  const std::span<const uint8_t> head(data + 8, size - 8);
  CheckOne(head, disk_size);
  std::vector<uint8_t> copy(head.begin(), head.end());
  for (size_t block : {size_t{512}, size_t{4096}}) Resign(copy, block);
  CheckOne(copy, disk_size);
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

namespace {

void Replay(const std::vector<uint8_t>& bytes) {
  // Truncations, and the same head on smaller disks.
  veil::fuzz::ReplayWithPrefixes(bytes, {8, 520, 1032, bytes.size() / 2});
  std::vector<uint8_t> smaller = bytes;
  for (uint64_t disk : {uint64_t{0}, uint64_t{4096}, uint64_t{1} << 20}) {
    if (smaller.size() < 8) break;
    for (int i = 0; i < 8; ++i) smaller[i] = static_cast<uint8_t>(disk >> (8 * i));
    LLVMFuzzerTestOneInput(smaller.data(), smaller.size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  return veil::fuzz::ReplayCorpus(argc, argv, "partition_table_fuzz", Replay);
}
#endif
