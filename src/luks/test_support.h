// Helpers shared by the tests of src/luks (header-only; not part of the library).
#pragma once

#include <gtest/gtest.h>
#include <libcryptsetup.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/hash.h"

namespace veil::luks::testing {

inline std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<uint8_t> bytes(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

inline void WriteFile(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline void WriteFile(const std::string& path, std::string_view text) {
  WriteFile(path,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

inline std::vector<uint8_t> Fixture(const std::string& name) {
  return ReadFile(std::string(VEIL_SOURCE_DIR) + "/fuzz/corpus/luks/" + name);
}

// A private directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  // Under TMPDIR, or under `base` (e.g. /dev/shm for a tmpfs).
  explicit TempDir(const std::string& base = "") {
    std::string tmpl =
        (base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base)) /
        "veil-luks-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

inline RunResult RunCommand(const std::string& command) {
  RunResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline bool HaveTool(const std::string& name) {
  return RunCommand("command -v " + name + " >/dev/null").exit_code == 0;
}

inline std::string Hex(std::span<const uint8_t> b) { return HexEncode(b); }

// hdr_size of the LUKS2 fixtures.
inline constexpr size_t kHdr = 16384;

// Segment 0 of a LUKS2 JSON area.
inline boost::json::object& Seg0(boost::json::object& o) {
  return o["segments"].as_object()["0"].as_object();
}

// Deterministic bytes that differ in every 512-byte unit (so a wrong IV or offset shows).
inline std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (uint8_t& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

inline uint64_t LoadBe64At(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b[at + i];
  return v;
}

inline void StoreBe32At(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

inline void StoreBe64At(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

// Recomputes the SHA-256 checksum of the LUKS2 binary header at `offset` (what a forger does).
inline void FixLuks2Checksum(std::vector<uint8_t>& img, size_t offset) {
  const size_t hdr_size = static_cast<size_t>(LoadBe64At(img, offset + 8));
  std::memset(img.data() + offset + 448, 0, 64);
  const auto sum = crypto::Sha256(std::span<const uint8_t>(img.data() + offset, hdr_size));
  std::memcpy(img.data() + offset + 448, sum.data(), sum.size());
}

// Replaces the JSON text of the LUKS2 header copy at `offset` and fixes its checksum.
inline void SetLuks2Json(std::vector<uint8_t>& img, size_t offset, const std::string& text) {
  const size_t hdr_size = static_cast<size_t>(LoadBe64At(img, offset + 8));
  ASSERT_LT(text.size(), hdr_size - 4096);
  std::memset(img.data() + offset + 4096, 0, hdr_size - 4096);
  std::memcpy(img.data() + offset + 4096, text.data(), text.size());
  FixLuks2Checksum(img, offset);
}

inline std::string GetLuks2Json(const std::vector<uint8_t>& img, size_t offset = 0) {
  return std::string(reinterpret_cast<const char*>(img.data() + offset + 4096));
}

// Edits the JSON metadata of both LUKS2 copies (when present) and re-signs them.
inline void EditLuks2Json(std::vector<uint8_t>& img,
                          const std::function<void(boost::json::object&)>& edit) {
  const size_t hdr_size = static_cast<size_t>(LoadBe64At(img, 8));
  boost::json::value v = boost::json::parse(GetLuks2Json(img));
  edit(v.as_object());
  const std::string text = boost::json::serialize(v);
  SetLuks2Json(img, 0, text);
  if (img.size() >= 2 * hdr_size) SetLuks2Json(img, hdr_size, text);
}

// Whether libcryptsetup's crypt_load accepts `header` (as LUKS1 when `luks1`, else LUKS2) from an
// anonymous file holding it, padded with zeros to 32 MiB (a header alone is too small a device).
// Metadata locking is off, which also keeps libcryptsetup from repairing (writing) a copy; its log
// is dropped.
inline bool CryptsetupLoads(std::span<const uint8_t> header, bool luks1 = false) {
  crypt_metadata_locking(nullptr, 0);
  const int fd = ::memfd_create("veil-luks-test", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  if (fd < 0) return false;
  const bool written =
      ::pwrite(fd, header.data(), header.size(), 0) == static_cast<ssize_t>(header.size()) &&
      ::ftruncate(fd, std::max<off_t>(static_cast<off_t>(header.size()), off_t{32} << 20)) == 0;
  EXPECT_TRUE(written);
  crypt_device* cd = nullptr;
  int r = written ? crypt_init(&cd, ("/proc/self/fd/" + std::to_string(fd)).c_str()) : -1;
  if (r >= 0) {
    crypt_set_log_callback(
        cd, [](int, const char*, void*) {}, nullptr);
    r = crypt_load(cd, luks1 ? CRYPT_LUKS1 : CRYPT_LUKS2, nullptr);
  }
  if (cd != nullptr) crypt_free(cd);
  ::close(fd);
  return r >= 0;
}

}  // namespace veil::luks::testing
