// Fuzz target for Veil's own LUKS parsing: Inspect() (LUKS1 phdr, LUKS2 binary headers and
// checksums, the JSON metadata) and the CLI's HeaderInfoToJson (apps/veil/image_json.h) on whatever
// it accepts. LUKS2-looking inputs are also inspected once more with their checksums recomputed,
// so that mutations reach the JSON.
//
// Two builds from this one file:
//   - libFuzzer (docs/formats/luks.md):
//       clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DVEIL_LIBFUZZER ...
//   - the default: a plain program (target luks_header_fuzz) whose main() replays every file
//     given, or every file in every directory given, through the same entry point; ctest runs
//     it on fuzz/corpus/luks/ (label unit) so the corpus stays a regression test.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <vector>

#include "crypto/hash.h"
#include "image_json.h"
#include "luks/inspect.h"

namespace {

void InspectOne(std::span<const uint8_t> bytes) {
  auto info = veil::luks::Inspect(bytes);
  if (info) {
    // Whatever Inspect accepts must be describable, and self-consistent.
    (void)veil::cli::HeaderInfoToJson(*info);
    if (info->metadata_end_bytes < info->header_size_bytes) __builtin_trap();
  }
}

uint64_t Be64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | b[at + i];
  return v;
}

// Re-signs the LUKS2 binary header at `offset` (SHA-256 over hdr_size bytes, csum zeroed) when
// hdr_size fits: without this the fuzzer would almost never get past the checksum into the JSON.
void Resign(std::vector<uint8_t>& b, size_t offset) {
  if (b.size() < offset + 4096) return;
  const uint64_t hdr_size = Be64(b, offset + 8);
  if (hdr_size < 4096 || hdr_size > b.size() - offset) return;
  std::fill(b.begin() + static_cast<ptrdiff_t>(offset + 448),
            b.begin() + static_cast<ptrdiff_t>(offset + 512), 0);
  const auto sum = veil::crypto::Sha256(std::span<const uint8_t>(b).subspan(offset, hdr_size));
  std::copy(sum.begin(), sum.end(), b.begin() + static_cast<ptrdiff_t>(offset + 448));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  InspectOne(input);
  if (size >= 4096 && data[6] == 0 && data[7] == 2) {
    std::vector<uint8_t> signed_copy(input.begin(), input.end());
    Resign(signed_copy, 0);
    Resign(signed_copy, static_cast<size_t>(std::min<uint64_t>(Be64(signed_copy, 8), size)));
    InspectOne(signed_copy);
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

namespace {

void Replay(const std::vector<uint8_t>& bytes) {
  // Every prefix length that matters for the parser (truncations).
  veil::fuzz::ReplayWithPrefixes(bytes, {0, 6, 8, 591, 592, 4095, 4096, bytes.size() / 2,
                                         bytes.empty() ? 0 : bytes.size() - 1});
}

}  // namespace

int main(int argc, char** argv) {
  return veil::fuzz::ReplayCorpus(argc, argv, "luks_header_fuzz", Replay);
}
#endif
