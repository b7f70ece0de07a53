// Test helpers for src/disk: temporary directories, deterministic image contents, running the real
// qemu-img / qemu-io / cryptsetup, and a reference AES-XTS (OpenSSL EVP, independent of
// src/crypto) for the qcow2-LUKS tests. Header-only: included by *_test.cc and *_itest.cc only.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "disk/disk_reader.h"

namespace veil::disk::testutil {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "veil-disk-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();
}

inline std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// xorshift64*: deterministic bytes that do not compress.
inline void FillRandom(std::span<uint8_t> out, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < out.size(); ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    out[i] = static_cast<uint8_t>((x * 0x2545f4914f6cdd1dULL) >> 56);
  }
}

// A disk with every kind of region: random data, long zero runs (holes), repeated bytes (which
// compress), data ending mid-cluster, and data in the last bytes. `size` a multiple of 1 MiB,
// at least 8 MiB.
inline std::vector<uint8_t> PatternDisk(uint64_t size) {
  std::vector<uint8_t> d(size, 0);
  const uint64_t mib = 1 << 20;
  FillRandom(std::span(d).subspan(0, mib), 1);                  // [0, 1M) random
  std::memset(d.data() + 3 * mib, 0xab, mib);                   // [3M, 4M) 0xab
  FillRandom(std::span(d).subspan(5 * mib + 4096, 100000), 2);  // unaligned random
  for (uint64_t i = 6 * mib; i < 7 * mib; ++i) d[i] = static_cast<uint8_t>(i / 512);  // text-ish
  FillRandom(std::span(d).subspan(size - 70000, 70000), 3);                           // the tail
  return d;
}

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// QEMU benchmarks PBKDF2 with getrusage() when it creates a LUKS header, and on a busy machine it
// now and then fails with "Unable to get accurate CPU usage". Commands that create LUKS headers
// run through this, which retries that one failure, backing off: under a full `ctest -j` the
// burst outlasted five quick retries (68 ms in all) on a fresh-clone CI run. The same policy as
// luks/itest_support.h's RunQemuImgRetrying.
inline CommandResult RunCommandRetryingPbkdfBenchmark(const std::string& command) {
  CommandResult result;
  for (int attempt = 0; attempt < 12; ++attempt) {
    result = RunCommand(command);
    if (result.status == 0 ||
        result.output.find("Unable to get accurate CPU usage") == std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  }
  return result;
}

inline bool HaveTool(const std::string& name) {
  return RunCommand("command -v " + name + " >/dev/null").status == 0;
}

// Reads the whole disk in chunks of `chunk` bytes.
inline std::vector<uint8_t> ReadAll(const DiskReader& reader, size_t chunk = 1 << 20) {
  std::vector<uint8_t> out(reader.virtual_size());
  for (uint64_t pos = 0; pos < out.size();) {
    size_t len = static_cast<size_t>(std::min<uint64_t>(chunk, out.size() - pos));
    auto n = reader.ReadAt(pos, std::span(out).subspan(pos, len));
    if (!n || *n != len) {
      ADD_FAILURE() << "ReadAt(" << pos << ", " << len
                    << ") failed: " << (n ? std::to_string(*n) : n.error().ToString());
      return {};
    }
    pos += len;
  }
  return out;
}

inline std::string HexOf(std::span<const uint8_t> bytes) { return HexEncode(bytes); }

// The volume key of a LUKS header file, from `cryptsetup luksDump --dump-volume-key`.
inline std::vector<uint8_t> DumpVolumeKey(const std::string& header_path,
                                          const std::string& passphrase_path) {
  CommandResult r = RunCommand("cryptsetup luksDump --dump-volume-key --batch-mode --key-file " +
                               passphrase_path + " " + header_path);
  std::vector<uint8_t> key;
  if (r.status != 0) {
    ADD_FAILURE() << r.output;
    return key;
  }
  std::istringstream lines(r.output);
  std::string line;
  bool in_dump = false;
  while (std::getline(lines, line)) {
    size_t at = line.find("MK dump:");
    if (at != std::string::npos) {
      in_dump = true;
      line = line.substr(at + 8);
    } else if (!in_dump) {
      continue;
    }
    std::istringstream words(line);
    std::string word;
    size_t before = key.size();
    while (words >> word) {
      if (word.size() != 2 || !std::isxdigit(word[0]) || !std::isxdigit(word[1])) break;
      key.push_back(static_cast<uint8_t>(std::stoi(word, nullptr, 16)));
    }
    if (key.size() == before) break;
  }
  return key;
}

// AES-XTS with plain64 IVs over 512-byte sectors, the first being `first_sector`: the reference
// for qcow2-LUKS data, independent of Veil's own cipher code.
inline bool Xts512(std::span<const uint8_t> key, std::span<uint8_t> data, uint64_t first_sector,
                   bool encrypt) {
  const EVP_CIPHER* cipher = key.size() == 64 ? EVP_aes_256_xts() : EVP_aes_128_xts();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  bool ok = data.size() % 512 == 0;
  for (size_t off = 0; ok && off < data.size(); off += 512) {
    uint8_t iv[16] = {};
    uint64_t sector = first_sector + off / 512;
    for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(sector >> (8 * i));
    int len = 0;
    ok = EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), iv, encrypt ? 1 : 0) == 1 &&
         EVP_CipherUpdate(ctx, data.data() + off, &len, data.data() + off, 512) == 1 && len == 512;
  }
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

}  // namespace veil::disk::testutil

namespace veil::disk::testutil {

// `qemu-img map --output=json` as extents: data = the "data" member of each line.
inline std::vector<Extent> QemuMap(const std::string& image_args) {
  CommandResult r = RunCommand("qemu-img map --output=json " + image_args);
  std::vector<Extent> extents;
  if (r.status != 0) {
    ADD_FAILURE() << r.output;
    return extents;
  }
  std::istringstream lines(r.output);
  std::string line;
  auto number = [&](const std::string& key) -> uint64_t {
    size_t at = line.find("\"" + key + "\": ");
    return at == std::string::npos ? 0 : std::stoull(line.substr(at + key.size() + 4));
  };
  while (std::getline(lines, line)) {
    if (line.find("\"start\"") == std::string::npos) continue;
    AppendExtent(&extents, number("start"), number("length"),
                 line.find("\"data\": true") != std::string::npos);
  }
  return extents;
}

}  // namespace veil::disk::testutil
