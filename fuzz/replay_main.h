// The corpus-replay driver shared by Veil's fuzz targets when they are built as plain programs
// (without -fsanitize=fuzzer): ctest runs each over its committed corpus as a regression test.
//
// Thread-safety: single-threaded program entry only.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>

namespace veil::fuzz {

// Runs `run_file` (returns the number of failures for one input file) on every regular file of
// every directory argument and on every file argument. Exit code 0 only if something was replayed
// and nothing failed.
template <typename RunFile>
int ReplayCorpus(int argc, char** argv, const char* name, RunFile run_file) {
  int failures = 0;
  size_t files = 0;
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

}  // namespace veil::fuzz
