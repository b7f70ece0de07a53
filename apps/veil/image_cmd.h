// `veil image encrypt | decrypt | inspect | verify`: the CLI11 wiring of src/image/image_ops.h,
// registered by main.cc. Key files, the progress bar on a terminal, SIGINT/SIGTERM turned into the
// pipeline's cancel flag, rendering (table or JSON) and the exit codes of docs/image-tool.md.
//
// Thread-safety: runs on the main thread; the signal handler only stores to a lock-free atomic.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/result.h"

namespace veil::cli {

// Exit codes of the image commands (docs/image-tool.md).
enum ImageExit : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitUsage = 2,
  kExitWrongPassphrase = 3,
  kExitNotLuks = 4,
  kExitCorruptHeader = 5,
  kExitUnsupported = 6,
  kExitPbkdfLimit = 7,
  kExitInputTruncated = 8,
  kExitIo = 9,
  kExitNotADisk = 10,
  kExitInterrupted = 130,
};

// The exit code for an error of the image operations (one canonical code per case).
int ImageExitCode(const Error& error);

// Adds `image` and its four subcommands to `app`. `output` is the global --output value (read when
// a command runs); `exit_code` receives the command's exit code.
void RegisterImageCommands(CLI::App& app, const std::string& output, int& exit_code);

}  // namespace veil::cli
