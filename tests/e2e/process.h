// Test helper: runs the built binaries as child processes, with their output in a file.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace veil::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 if killed by a signal or timed out
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv to completion (killed after `timeout`).
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30),
                         const std::vector<std::string>& extra_env = {});

// A background process (veild); stopped with SIGTERM on destruction.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log_path);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  bool Alive() const;
  // Sends `signal` and waits; returns the exit code, or -1 (signal/timeout).
  int Stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

std::string ReadFile(const std::string& path);
// A fresh directory under /tmp, removed by the caller.
std::string MakeTempDir();
// A port base whose +1..+5 are free now (best effort).
int FreePortBase();

#ifdef VEIL_BIN_DIR
// The build's bin/ directory (veild, veil, the benches), set by tests/CMakeLists.txt.
inline const std::string kBin = VEIL_BIN_DIR;
#endif

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace veil::testing
