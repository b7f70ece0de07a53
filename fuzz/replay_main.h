// The corpus-replay driver shared by Veil's fuzz targets when they are built as plain programs
// (without -fsanitize=fuzzer): ctest runs each over its committed corpus as a regression test.
//
// Thread-safety: single-threaded program entry only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace veil::fuzz {

// Feeds `bytes` whole, then each prefix of the lengths in `cuts` that is shorter (truncations).
inline void ReplayWithPrefixes(const std::vector<uint8_t>& bytes,
                               std::initializer_list<size_t> cuts) {
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  for (size_t cut : cuts) {
    if (cut < bytes.size()) LLVMFuzzerTestOneInput(bytes.data(), cut);
  }
}

// Reads every regular file of every directory argument and every file argument, and hands its
// bytes to `replay` (void(const std::vector<uint8_t>&)). Exit code 0 only if something was
// replayed and every file could be read.
template <typename Replay>
int ReplayCorpus(int argc, char** argv, const char* name, Replay replay) {
  int failures = 0;
  size_t files = 0;
  auto run_file = [&](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read %s\n", name, path.c_str());
      return 1;
    }
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    replay(bytes);
    return 0;
  };
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (!entry.is_regular_file()) continue;
        failures += run_file(entry.path());
        ++files;
      }
    } else {
      failures += run_file(arg);
      ++files;
    }
  }
  std::printf("%s: replayed %zu inputs\n", name, files);
  return failures == 0 && files > 0 ? 0 : 1;
}

// The main() of a request-parser target: replays each corpus file whole and cut to 1 and 2 bytes,
// half its length and one byte short.
inline int ReplayRequestCorpus(int argc, char** argv, const char* name) {
  return ReplayCorpus(argc, argv, name, [](const std::vector<uint8_t>& bytes) {
    ReplayWithPrefixes(bytes, {1, 2, bytes.size() / 2, bytes.empty() ? 0 : bytes.size() - 1});
  });
}

}  // namespace veil::fuzz
