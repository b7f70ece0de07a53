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

// Exit codes of the image commands (docs/image-tool.md). ExitCode() turns one into the process's
// exit status where a command hands it back.
enum class ImageExit : int {
  kOk = 0,
  kInternal = 1,
  kUsage = 2,
  kWrongPassphrase = 3,
  kNotLuks = 4,
  kCorruptHeader = 5,
  kUnsupported = 6,
  kPbkdfLimit = 7,
  kInputTruncated = 8,
  kIo = 9,
  kNotADisk = 10,
  kInterrupted = 130,
};
constexpr int ExitCode(ImageExit e) { return static_cast<int>(e); }

// The exit code for an error of the image operations (one canonical code per case).
ImageExit ImageExitCode(const Error& error);

// Adds `image` and its four subcommands to `app`. `output` is the global --output value (read when
// a command runs); `exit_code` receives the command's exit code.
void RegisterImageCommands(CLI::App& app, const std::string& output, int& exit_code);

}  // namespace veil::cli
