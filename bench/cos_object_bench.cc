// veil-cos-object-bench: the throughput of object data files (src/cos/object_file.h), PUT and GET
// of one object through ObjectFileWriter and ObjectFileReader, beside what bounds them:
//   - the same bytes written and read back without encryption (write(2) 1 MiB at a time, then
//     pread into the caller's buffer): the file system's own cost, the floor under both;
//   - AES-256-GCM alone over 64 KiB chunks in memory (crypto::AesGcm, OpenSSL's EVP): the cipher's
//     limit on one core;
//   - memcpy of the same bytes: the memory bandwidth one copy costs.
// The object is --mib MiB (256) of random bytes, handed to the writer and read back in --piece
// KiB (1024) pieces, as the service streams a body. Files go to --dir (default /dev/shm, a tmpfs:
// the page cache without a disk; the writer's fdatasync is then free). Each measurement runs
// --rounds times (3) and prints its best round: on a shared machine other load only ever lowers a
// rate. Prints "<what> <MB/s> MB/s" lines and the ratios.
//
// Usage: veil-cos-object-bench [--mib N] [--piece KIB] [--rounds R] [--dir DIR]
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/random.h"
#include "cos/object_file.h"
#include "crypto/aead.h"

namespace {

using veil::cos::ObjectFileId;
using veil::cos::ObjectFileReader;
using veil::cos::ObjectFileWriter;

struct Options {
  size_t mib = 256;
  size_t piece_kib = 1024;
  int rounds = 3;
  std::string dir = "/dev/shm";
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "veil-cos-object-bench: %s\n", what.c_str());
  std::exit(1);
}

// The best (shortest) of `rounds` runs of `run`, in seconds.
double Best(int rounds, const std::function<void()>& run) {
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count());
  }
  return best;
}

double MBs(size_t bytes, double seconds) { return static_cast<double>(bytes) / seconds / 1e6; }

void Print(const char* what, size_t bytes, double seconds) {
  std::printf("%-58s %8.0f MB/s  %6.3f s\n", what, MBs(bytes, seconds), seconds);
}

void PutObject(const std::string& path, const veil::SecretBytes& dek, const ObjectFileId& id,
               std::span<const uint8_t> data, size_t piece) {
  std::filesystem::remove(path);
  veil::OsRandom random;
  auto writer = ObjectFileWriter::Create(path, dek, id, random);
  if (!writer) Die(writer.error().ToString());
  for (size_t at = 0; at < data.size(); at += piece) {
    auto st = (*writer)->Write(data.subspan(at, std::min(piece, data.size() - at)));
    if (!st) Die(st.error().ToString());
  }
  if (auto done = (*writer)->Finish(); !done) Die(done.error().ToString());
}

void GetObject(const std::string& path, const veil::SecretBytes& dek, const ObjectFileId& id,
               std::span<uint8_t> out, size_t piece) {
  auto reader = ObjectFileReader::Open(path, dek, id);
  if (!reader) Die(reader.error().ToString());
  for (size_t at = 0; at < out.size(); at += piece) {
    auto n = (*reader)->ReadAt(at, out.subspan(at, std::min(piece, out.size() - at)));
    if (!n) Die(n.error().ToString());
  }
}

void PlainPut(const std::string& path, std::span<const uint8_t> data, size_t piece) {
  std::filesystem::remove(path);
  veil::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) Die("cannot create " + path);
  for (size_t at = 0; at < data.size(); at += piece) {
    auto st = veil::WriteAll(fd.get(), data.subspan(at, std::min(piece, data.size() - at)), path);
    if (!st) Die(st.error().ToString());
  }
  if (::fdatasync(fd.get()) != 0) Die("fdatasync " + path);
}

void PlainGet(const std::string& path, std::span<uint8_t> out, size_t piece) {
  veil::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) Die("cannot open " + path);
  for (size_t at = 0; at < out.size(); at += piece) {
    const size_t n = std::min(piece, out.size() - at);
    if (::pread(fd.get(), out.data() + at, n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
      Die("short read of " + path);
    }
  }
}

// AES-256-GCM over 64 KiB chunks of `data` into `out` (sealed: 16 more bytes per chunk).
void GcmAlone(veil::crypto::AesGcm& gcm, std::span<const uint8_t> data, std::span<uint8_t> out) {
  constexpr size_t kChunk = veil::cos::kObjectChunkSize;
  uint8_t iv[12] = {};
  for (size_t at = 0, o = 0; at < data.size(); at += kChunk, o += kChunk + 16) {
    const size_t n = std::min(kChunk, data.size() - at);
    iv[11] = static_cast<uint8_t>(at / kChunk);
    if (!gcm.SealInto(iv, {}, data.subspan(at, n), out.subspan(o, n + 16))) Die("GCM");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Object data file throughput (PUT/GET through the writer and reader)"};
  app.add_option("--mib", o.mib, "object size in MiB")->check(CLI::Range(1, 4096));
  app.add_option("--piece", o.piece_kib, "KiB per Write/ReadAt call")->check(CLI::Range(1, 65536));
  app.add_option("--rounds", o.rounds, "rounds; the best is printed")->check(CLI::Range(1, 100));
  app.add_option("--dir", o.dir, "directory of the files (default /dev/shm)");
  CLI11_PARSE(app, argc, argv);

  const size_t size = o.mib << 20;
  const size_t piece = o.piece_kib << 10;
  veil::OsRandom random;
  const std::vector<uint8_t> data = random.Bytes(size);
  std::vector<uint8_t> out(veil::cos::ObjectFileSize(size));
  const veil::SecretBytes dek = random.Secret(veil::cos::kObjectDekSize);
  const ObjectFileId id{"bench-object", 0};
  std::string tmpl = o.dir + "/veil-cos-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) Die("cannot create a directory in " + o.dir);
  const std::string object = tmpl + "/object", plain = tmpl + "/plain";

  std::printf("%zu MiB object, %zu KiB per call, files in %s, best of %d rounds\n", o.mib,
              o.piece_kib, o.dir.c_str(), o.rounds);
  const double put = Best(o.rounds, [&] { PutObject(object, dek, id, data, piece); });
  const double get =
      Best(o.rounds, [&] { GetObject(object, dek, id, std::span(out).first(size), piece); });
  if (!std::equal(data.begin(), data.end(), out.begin())) Die("GET returned other bytes");
  const double plain_put = Best(o.rounds, [&] { PlainPut(plain, data, piece); });
  const double plain_get =
      Best(o.rounds, [&] { PlainGet(plain, std::span(out).first(size), piece); });
  auto gcm = veil::crypto::AesGcm::Create(dek.Reveal());
  if (!gcm) Die(gcm.error().ToString());
  const double gcm_alone = Best(o.rounds, [&] { GcmAlone(*gcm, data, out); });
  const double copy = Best(o.rounds, [&] { std::memcpy(out.data(), data.data(), size); });
  std::filesystem::remove_all(tmpl);

  Print("PUT: ObjectFileWriter (encrypt, write, fdatasync)", size, put);
  Print("GET: ObjectFileReader::ReadAt (pread, decrypt in place)", size, get);
  Print("  plain file: write(2) + fdatasync, no encryption", size, plain_put);
  Print("  plain file: pread, no decryption", size, plain_get);
  Print("  AES-256-GCM alone, 64 KiB chunks, in memory (EVP)", size, gcm_alone);
  Print("  memcpy", size, copy);
  // One thread encrypts, then writes (or reads, then decrypts): the floor is the sum of the two.
  std::printf("%-58s %8.2f     (1.00: nothing beyond the cipher and the write)\n",
              "  PUT time / (AES-GCM alone + plain write)", put / (gcm_alone + plain_put));
  std::printf("%-58s %8.2f     (1.00: nothing beyond the cipher and the read)\n",
              "  GET time / (AES-GCM alone + plain read)", get / (gcm_alone + plain_get));
  std::printf("%-58s %8s     (targets: PUT >= 600, GET >= 1000 MB/s)\n", "", "");
  return 0;
}
