// Helpers for the integration tests of src/luks: the real cryptsetup, qemu-img/qemu-io and
// Python's `cryptography` driven on temporary files (header-only; not part of the library).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <string>
#include <thread>

#include "luks/test_support.h"

namespace veil::luks::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

#define VEIL_REQUIRE_TOOL(tool)                                            \
  do {                                                                     \
    if (!::veil::luks::testing::HaveTool(tool))                            \
      GTEST_FAIL() << tool << " is not installed (make deps installs it)"; \
  } while (0)

inline bool HavePythonCryptography() {
  return RunCommand(std::string(kPython) + " -c 'import cryptography'").exit_code == 0;
}

// The volume key as cryptsetup prints it, in lower-case hex ("" on failure).
inline std::string DumpVolumeKeyHex(const std::string& image, const std::string& key_file) {
  const RunResult r = RunCommand("cryptsetup luksDump --dump-volume-key --batch-mode --key-file " +
                                 key_file + " " + image);
  const size_t at = r.output.find("MK dump:");
  if (r.exit_code != 0 || at == std::string::npos) return "";
  std::string hex;
  for (size_t i = at + 8; i < r.output.size(); ++i) {
    const char c = r.output[i];
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (c != ' ' && c != '\t' && c != '\n') {
      break;
    }
  }
  return hex;
}

// A Python program that encrypts or decrypts, in place, `length` bytes of a file at `offset` with
// AES-XTS as dm-crypt: sectors of `sector` bytes, tweak = (iv_tweak + position / 512) as a 16-byte
// little-endian number, where position counts bytes from `offset`.
inline std::string WriteXtsScript(const TempDir& dir) {
  const std::string path = dir / "xts.py";
  WriteFile(path, std::string_view(R"PY(import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
op, path, keyhex, offset, length, sector, tweak = sys.argv[1:8]
key = bytes.fromhex(keyhex)
offset, length, sector, tweak = int(offset), int(length), int(sector), int(tweak)
with open(path, 'r+b') as f:
    f.seek(offset)
    data = f.read(length)
    out = bytearray()
    for i in range(0, len(data), sector):
        iv = ((tweak + i // 512) % (1 << 64)).to_bytes(16, 'little')
        c = Cipher(algorithms.AES(key), modes.XTS(iv))
        x = c.encryptor() if op == 'enc' else c.decryptor()
        out += x.update(data[i:i + sector]) + x.finalize()
    f.seek(offset)
    f.write(out)
)PY"));
  return path;
}

inline int RunXtsScript(const std::string& script, const std::string& op, const std::string& file,
                        const std::string& key_hex, uint64_t offset, uint64_t length,
                        uint32_t sector, uint64_t tweak) {
  return RunCommand(std::string(kPython) + " " + script + " " + op + " " + file + " " + key_hex +
                    " " + std::to_string(offset) + " " + std::to_string(length) + " " +
                    std::to_string(sector) + " " + std::to_string(tweak))
      .exit_code;
}

// qemu-img benchmarks its PBKDF with getrusage when it creates a LUKS header, and now and then
// fails on a busy machine ("Unable to get accurate CPU usage"): runs `qemu-img ARGS`, retrying
// that one failure (after removing `output`, when given, so the retry starts clean).
inline RunResult RunQemuImgRetrying(const std::string& args, const std::string& output = "") {
  RunResult r;
  for (int attempt = 0; attempt < 12; ++attempt) {
    if (!output.empty()) ::unlink(output.c_str());
    r = RunCommand("qemu-img " + args);
    if (r.exit_code == 0 || r.output.find("accurate CPU usage") == std::string::npos) break;
    // Under a full ctest -j the burst can outlast a few quick retries: back off a little.
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  }
  return r;
}

inline RunResult QemuImgCreate(const std::string& args) {
  return RunQemuImgRetrying("create " + args);
}

inline std::vector<uint8_t> Slice(const std::vector<uint8_t>& b, uint64_t offset, uint64_t size) {
  EXPECT_LE(offset + size, b.size());
  if (offset + size > b.size()) return {};
  return {b.begin() + static_cast<ptrdiff_t>(offset),
          b.begin() + static_cast<ptrdiff_t>(offset + size)};
}

}  // namespace veil::luks::testing
