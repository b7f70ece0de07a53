// Fuzz target for src/disk: format detection and the qcow2, VHD and raw readers (OpenDiskFile on an
// in-memory file), then reads, allocation maps and raw qcow2 reads over the start of the disk.
// Invariants checked beyond "no crash, no hang, bounded memory": ReadAt never returns more than
// asked, and Allocation covers the asked range exactly, in order, with merged neighbours.
//
// Two builds from this one file, as fuzz/luks_header_fuzz.cc:
//   - libFuzzer:
//       clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DVEIL_LIBFUZZER -Isrc
//         fuzz/disk_image_fuzz.cc $(ls src/disk/*.cc src/disk/internal/*.cc | grep -v test)
//         src/common/result.cc -lz -o disk_image_fuzz
//       ./disk_image_fuzz -max_len=1048576 -rss_limit_mb=512 corpus_dir fuzz/corpus/disk
//     (seed it with fuzz/corpus/disk/; fuzz/disk_image_fuzz_seeds.sh remakes those seeds);
//   - the default: a plain program (target disk_image_fuzz) whose main() replays every file given,
//     or every file in every directory given, and truncations of each; ctest runs it on
//     fuzz/corpus/disk/ (label unit) so the corpus stays a regression test.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <vector>

#include "disk/disk_reader.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckExtents(const std::vector<veil::disk::Extent>& extents, uint64_t offset,
                  uint64_t length) {
  uint64_t pos = offset;
  for (size_t i = 0; i < extents.size(); ++i) {
    Check(extents[i].offset == pos && extents[i].length > 0);
    if (i > 0) Check(extents[i].data != extents[i - 1].data);
    pos += extents[i].length;
  }
  Check(pos == offset + length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace veil::disk;  // NOLINT
  auto file = std::make_shared<MemoryFile>(std::vector<uint8_t>(data, data + size), "fuzz");
  auto opened = OpenDiskFile(file);
  if (!opened) return 0;
  DiskReader& reader = **opened;
  if (reader.encryption() != nullptr) {
    Check(!reader.encryption()->header.empty());
    auto installed = reader.SetDecryptor(
        [](std::span<uint8_t> bytes, uint64_t iv_offset) -> veil::Status {
          Check(bytes.size() % 512 == 0 && iv_offset % 512 == 0);
          return {};
        },
        512);
    Check(installed.has_value());
  }
  const uint64_t vsize = reader.virtual_size();
  // The first 4 MiB in 64 KiB steps at an odd phase, and the last bytes of the disk.
  std::vector<uint8_t> buf(64 << 10);
  for (uint64_t pos = 0; pos < std::min<uint64_t>(vsize, 4 << 20); pos += buf.size() - 3) {
    auto n = reader.ReadAt(pos, buf);
    if (!n) break;
    Check(*n <= buf.size() && *n == std::min<uint64_t>(buf.size(), vsize - pos));
  }
  if (vsize > 1000) {
    auto n = reader.ReadAt(vsize - 1000, buf);
    if (n) Check(*n == 1000);
  }
  Check(!reader.ReadAt(vsize + 1, buf));
  const uint64_t window = std::min<uint64_t>(vsize, 256 << 20);
  auto extents = reader.Allocation(0, window);
  if (extents) CheckExtents(*extents, 0, window);
  auto runs = reader.ReadRawAt(0, buf);
  if (runs) {
    uint64_t pos = 0;
    for (const RawRun& run : *runs) {
      Check(run.offset == pos);
      pos += run.length;
    }
    Check(pos == std::min<uint64_t>(buf.size(), vsize));
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

namespace {

void Replay(const std::vector<uint8_t>& bytes) {
  // Truncations: inside the header, after the first 512-byte sector and cluster, half, one short.
  veil::fuzz::ReplayWithPrefixes(bytes, {0, 4, 71, 104, 512, 1536, 4096, bytes.size() / 2,
                                         bytes.empty() ? 0 : bytes.size() - 1});
}

}  // namespace

int main(int argc, char** argv) {
  return veil::fuzz::ReplayCorpus(argc, argv, "disk_image_fuzz", Replay);
}
#endif
