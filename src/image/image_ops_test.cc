// EncryptImage / DecryptImage / InspectImage / VerifyImage in process, on temporary files and
// pipes, with libcryptsetup (no CLI tools: those are in image_ops_itest.cc) and the lowest PBKDF
// costs: round trips for every format, streams, every refusal and its error code, cancellation
// leaving nothing behind.
#include "image/image_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "common/bytes.h"
#include "common/random.h"
#include "disk/disk_reader.h"
#include "disk/qcow2_writer.h"
#include "luks/test_support.h"

namespace veil::image {
namespace {

using luks::testing::Pattern;
using luks::testing::ReadFile;
using luks::testing::TempDir;
using luks::testing::WriteFile;

constexpr std::string_view kPass = "correct horse battery staple";

SecretBytes Pass(std::string_view text = kPass) { return SecretBytes(AsBytes(text)); }

// A disk (at least 4 MiB): an MBR with two partitions, random data, holes, and an unaligned
// tail write.
std::vector<uint8_t> Disk(size_t size = 8 << 20) {
  EXPECT_GE(size, 4u << 20);
  std::vector<uint8_t> d(size, 0);
  d[510] = 0x55;
  d[511] = 0xaa;
  auto entry = [&](int slot, uint8_t type, uint32_t first, uint32_t count) {
    uint8_t* e = &d[446 + 16 * slot];
    e[4] = type;
    std::memcpy(e + 8, &first, 4);
    std::memcpy(e + 12, &count, 4);
  };
  entry(0, 0x83, 2048, 4096);
  entry(1, 0x82, 6144, static_cast<uint32_t>(size / 512 - 6144));
  const auto random = Pattern(1 << 20, 9);
  std::copy(random.begin(), random.end(), d.begin() + (1 << 20));
  std::fill(d.begin() + (3 << 20), d.begin() + (3 << 20) + 70000, 0xab);
  const auto tail = Pattern(5000, 10);
  std::copy(tail.begin(), tail.end(), d.end() - 5000);
  return d;
}

EncryptOptions Enc(const std::string& src, const std::string& dst,
                   EncryptFormat format = EncryptFormat::kLuks1) {
  EncryptOptions o;
  o.source = src;
  o.destination = dst;
  o.format = format;
  o.passphrase = Pass();
  o.pbkdf.type = "pbkdf2";
  o.pbkdf.iterations = 1000;
  o.copy.chunk_bytes = 256 * 1024;  // many chunks even on small disks
  o.copy.threads = 3;
  return o;
}

DecryptOptions Dec(const std::string& src, const std::string& dst,
                   DecryptFormat format = DecryptFormat::kRaw) {
  DecryptOptions o;
  o.source = src;
  o.destination = dst;
  o.format = format;
  o.passphrase = Pass();
  o.copy.chunk_bytes = 128 * 1024;
  o.copy.threads = 2;
  return o;
}

// The guest bytes of any image Veil reads (raw, qcow2, ...).
std::vector<uint8_t> GuestBytes(const std::string& path) {
  auto disk = disk::OpenDisk(path);
  EXPECT_TRUE(disk) << disk.error().ToString();
  if (!disk) return {};
  std::vector<uint8_t> out((*disk)->virtual_size());
  auto n = (*disk)->ReadAt(0, out);
  EXPECT_TRUE(n && *n == out.size());
  return out;
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

template <typename T>
ErrorCode CodeOf(const Result<T>& r) {
  return r ? ErrorCode::kOk : r.error().code;
}

TEST(ImageOps, EncryptDecryptRoundTripForEveryFormat) {
  TempDir dir;
  const std::vector<uint8_t> disk = Disk();
  WriteFile(dir / "disk.raw", disk);
  struct Case {
    EncryptFormat format;
    uint32_t sector;
    const char* name;
  };
  for (const Case& c :
       {Case{EncryptFormat::kLuks1, 512, "l1"}, Case{EncryptFormat::kLuks2, 512, "l2"},
        Case{EncryptFormat::kLuks2, 4096, "l2-4k"}, Case{EncryptFormat::kQcow2, 512, "q"}}) {
    EncryptOptions o = Enc(dir / "disk.raw", dir / (std::string(c.name) + ".enc"), c.format);
    o.sector_size = c.sector;
    auto r = EncryptImage(o);
    ASSERT_TRUE(r) << c.name << ": " << r.error().ToString();
    EXPECT_EQ(r->virtual_size, disk.size());
    EXPECT_EQ(r->source_format, "raw");
    EXPECT_EQ(r->layout.sector_size, c.sector);
    struct stat st {};
    ASSERT_EQ(::stat((dir / (std::string(c.name) + ".enc")).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << c.name;
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), r->output_bytes);

    auto raw = DecryptImage(
        Dec(dir / (std::string(c.name) + ".enc"), dir / (std::string(c.name) + ".raw")));
    ASSERT_TRUE(raw) << c.name << ": " << raw.error().ToString();
    EXPECT_EQ(raw->virtual_size, disk.size());
    EXPECT_EQ(ReadFile(dir / (std::string(c.name) + ".raw")), disk) << c.name;

    auto q = DecryptImage(Dec(dir / (std::string(c.name) + ".enc"),
                              dir / (std::string(c.name) + ".qcow2"), DecryptFormat::kQcow2));
    ASSERT_TRUE(q) << c.name << ": " << q.error().ToString();
    EXPECT_EQ(GuestBytes(dir / (std::string(c.name) + ".qcow2")), disk) << c.name;
  }
  // Only the results: no temporary file stayed behind.
  for (const std::string& name : DirEntries(dir.path())) {
    EXPECT_EQ(name.find("veil-tmp"), std::string::npos) << name;
  }
}

// O_DIRECT output (the default, where TMPDIR's file system allows it) and --buffered output give
// the same bytes, including a last chunk that is not a multiple of 4096 (written buffered).
TEST(ImageOps, DirectAndBufferedOutputsAreIdentical) {
  TempDir dir;
  const std::vector<uint8_t> disk = Disk((8 << 20) + 1536);
  WriteFile(dir / "disk.raw", disk);
  for (EncryptFormat format : {EncryptFormat::kLuks1, EncryptFormat::kLuks2}) {
    std::vector<uint8_t> payloads[2];
    for (bool direct : {true, false}) {
      const std::string name = std::string(EncryptFormatName(format)) + (direct ? "-d" : "-b");
      SeededRandom random(42);  // the same volume key both times
      EncryptOptions o = Enc(dir / "disk.raw", dir / (name + ".enc"), format);
      o.copy.random = &random;
      o.copy.direct_output = direct;
      auto r = EncryptImage(o);
      ASSERT_TRUE(r) << name << ": " << r.error().ToString();
      const std::vector<uint8_t> bytes = ReadFile(dir / (name + ".enc"));
      ASSERT_EQ(bytes.size(), r->output_bytes);
      payloads[direct ? 0 : 1].assign(bytes.begin() + r->layout.payload_offset_bytes, bytes.end());
      DecryptOptions d = Dec(dir / (name + ".enc"), dir / (name + ".raw"));
      d.copy.direct_output = direct;
      auto raw = DecryptImage(d);
      ASSERT_TRUE(raw) << name << ": " << raw.error().ToString();
      EXPECT_EQ(ReadFile(dir / (name + ".raw")), disk) << name;
    }
    EXPECT_EQ(payloads[0], payloads[1]) << EncryptFormatName(format);
  }
}

TEST(ImageOps, QcowOutputKeepsZeroClustersUnallocatedAndQcowInputRoundTrips) {
  TempDir dir;
  const std::vector<uint8_t> disk = Disk();
  WriteFile(dir / "disk.raw", disk);
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.qcow2", EncryptFormat::kQcow2)));
  auto reader = disk::OpenDisk(dir / "d.qcow2");
  ASSERT_TRUE(reader);
  ASSERT_NE((*reader)->encryption(), nullptr);
  auto extents = (*reader)->FullAllocation();
  ASSERT_TRUE(extents);
  uint64_t data = 0;
  for (const auto& e : *extents) data += e.data ? e.length : 0;
  // The MBR cluster, 1 MiB of random data, 70000 bytes of 0xab (2 clusters), the tail cluster.
  EXPECT_EQ(data, (1 + 16 + 2 + 1) * 65536u);

  // qcow2 (plain) as input, in turn: decrypt to qcow2, encrypt that to LUKS2, decrypt again.
  ASSERT_TRUE(DecryptImage(Dec(dir / "d.qcow2", dir / "plain.qcow2", DecryptFormat::kQcow2)));
  ASSERT_TRUE(EncryptImage(Enc(dir / "plain.qcow2", dir / "again.luks", EncryptFormat::kLuks2)));
  ASSERT_TRUE(DecryptImage(Dec(dir / "again.luks", dir / "again.raw")));
  EXPECT_EQ(ReadFile(dir / "again.raw"), disk);
}

TEST(ImageOps, OddSizedInputIsPaddedToWholeSectors) {
  TempDir dir;
  std::vector<uint8_t> disk = Pattern((1 << 20) + 1000, 3);
  WriteFile(dir / "odd.raw", disk);
  auto r = EncryptImage(Enc(dir / "odd.raw", dir / "odd.luks2", EncryptFormat::kLuks2));
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_TRUE(DecryptImage(Dec(dir / "odd.luks2", dir / "odd.out")));
  std::vector<uint8_t> out = ReadFile(dir / "odd.out");
  ASSERT_EQ(out.size(), (1u << 20) + 1024);
  EXPECT_TRUE(std::equal(disk.begin(), disk.end(), out.begin()));
  EXPECT_EQ(out.back(), 0);
}

// Writes `bytes` into a pipe from another thread; the read end is returned.
class PipeFeeder {
 public:
  explicit PipeFeeder(std::vector<uint8_t> bytes) {
    ::signal(SIGPIPE, SIG_IGN);  // a reader that stops early must not kill the test
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    thread_ = std::thread([fd = fds[1], b = std::move(bytes)] {
      size_t done = 0;
      while (done < b.size()) {
        ssize_t n = ::write(fd, b.data() + done, b.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      ::close(fd);
    });
  }
  ~PipeFeeder() {
    ::close(read_fd_);
    thread_.join();
  }
  int fd() const { return read_fd_; }

 private:
  int read_fd_ = -1;
  std::thread thread_;
};

// Collects everything written into a pipe.
class PipeDrain {
 public:
  PipeDrain() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    write_fd_ = fds[1];
    thread_ = std::thread([this, fd = fds[0]] {
      uint8_t buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) bytes_.insert(bytes_.end(), buf, buf + n);
      ::close(fd);
    });
  }
  int fd() const { return write_fd_; }
  std::vector<uint8_t> Finish() {
    ::close(write_fd_);
    thread_.join();
    return std::move(bytes_);
  }

 private:
  int write_fd_ = -1;
  std::thread thread_;
  std::vector<uint8_t> bytes_;
};

TEST(ImageOps, PipeInStdoutOut) {
  TempDir dir;
  const std::vector<uint8_t> disk = Disk(4 << 20);
  {
    PipeFeeder in(disk);
    EncryptOptions o = Enc(kStdio, dir / "piped.luks");
    o.copy.stdin_fd = in.fd();
    auto r = EncryptImage(o);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->virtual_size, disk.size());
    EXPECT_EQ(r->source_format, "raw (stream)");
  }
  ASSERT_TRUE(DecryptImage(Dec(dir / "piped.luks", dir / "piped.raw")));
  EXPECT_EQ(ReadFile(dir / "piped.raw"), disk);

  // Raw LUKS to stdout (in order), from a file; then decrypt that to stdout.
  WriteFile(dir / "disk.raw", disk);
  PipeDrain drain;
  EncryptOptions o = Enc(dir / "disk.raw", kStdio, EncryptFormat::kLuks2);
  o.copy.stdout_fd = drain.fd();
  ASSERT_TRUE(EncryptImage(o));
  WriteFile(dir / "stdout.luks2", drain.Finish());
  PipeDrain plain;
  DecryptOptions d = Dec(dir / "stdout.luks2", kStdio);
  d.copy.stdout_fd = plain.fd();
  ASSERT_TRUE(DecryptImage(d));
  EXPECT_EQ(plain.Finish(), disk);

  // A pipe and a promised size: shorter is kOutOfRange, and no file is left.
  PipeFeeder shorter(Pattern(1 << 20, 1));
  EncryptOptions s = Enc(kStdio, dir / "short.luks");
  s.copy.stdin_fd = shorter.fd();
  s.source_size = 2 << 20;
  EXPECT_EQ(CodeOf(EncryptImage(s)), ErrorCode::kOutOfRange);
  EXPECT_FALSE(std::filesystem::exists(dir / "short.luks"));
  // qcow2 needs the size of a pipe in advance.
  PipeFeeder unsized(Pattern(1 << 20, 1));
  EncryptOptions q = Enc(kStdio, dir / "p.qcow2", EncryptFormat::kQcow2);
  q.copy.stdin_fd = unsized.fd();
  EXPECT_EQ(CodeOf(EncryptImage(q)), ErrorCode::kInvalidArgument);
}

TEST(ImageOps, InspectDescribesWithoutSecrets) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk());
  auto plain = InspectImage(dir / "disk.raw");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->encrypted);
  EXPECT_EQ(plain->container, "raw");
  EXPECT_EQ(plain->virtual_size, 8u << 20);

  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.luks")));
  auto info = InspectImage(dir / "d.luks");
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_TRUE(info->encrypted);
  EXPECT_EQ(info->container, "luks");
  EXPECT_EQ(info->container_detail, "luks1");
  EXPECT_EQ(info->virtual_size, 8u << 20);
  ASSERT_TRUE(info->luks);
  EXPECT_EQ(info->luks->layout.cipher_spec, "aes-xts-plain64");
  EXPECT_EQ(info->luks->layout.payload_offset_bytes, 2u << 20);

  EncryptOptions q = Enc(dir / "disk.raw", dir / "d.qcow2", EncryptFormat::kQcow2);
  q.key_bytes = 32;
  ASSERT_TRUE(EncryptImage(q));
  auto qi = InspectImage(dir / "d.qcow2");
  ASSERT_TRUE(qi) << qi.error().ToString();
  EXPECT_EQ(qi->container, "qcow2");
  EXPECT_TRUE(qi->encrypted);
  EXPECT_EQ(qi->luks_header_offset, 65536u);
  EXPECT_EQ(qi->luks->layout.key_bytes, 32u);
  // QEMU's layout for a 256-bit key: 8 + 8 x 256 sectors of header.
  EXPECT_EQ(qi->luks->layout.payload_offset_bytes, 2056u * 512);
}

TEST(ImageOps, VerifyFindsTheTableAndRejectsRandomData) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk());
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.luks")));
  auto ok = VerifyImage(dir / "d.luks", AsBytes(kPass));
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_TRUE(ok->looks_like_disk);
  EXPECT_EQ(ok->table.kind, disk::TableKind::kMbr);
  ASSERT_EQ(ok->table.partitions.size(), 2u);
  EXPECT_EQ(ok->table.partitions[0].first_byte, 2048u * 512);

  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.qcow2", EncryptFormat::kQcow2)));
  auto q = VerifyImage(dir / "d.qcow2", AsBytes(kPass));
  ASSERT_TRUE(q) << q.error().ToString();
  EXPECT_TRUE(q->looks_like_disk);

  WriteFile(dir / "random.raw", Pattern(4 << 20, 77));
  ASSERT_TRUE(EncryptImage(Enc(dir / "random.raw", dir / "r.luks", EncryptFormat::kLuks2)));
  auto r = VerifyImage(dir / "r.luks", AsBytes(kPass));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->looks_like_disk);
  EXPECT_FALSE(r->table.problems.empty());

  EXPECT_EQ(CodeOf(VerifyImage(dir / "d.luks", AsBytes("wrong"))), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(VerifyImage(dir / "disk.raw", AsBytes(kPass))), ErrorCode::kFailedPrecondition);
}

TEST(ImageOps, RefusalsHaveTheirOwnCodes) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk());
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.luks")));
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.qcow2", EncryptFormat::kQcow2)));

  // Already encrypted.
  EXPECT_EQ(CodeOf(EncryptImage(Enc(dir / "d.luks", dir / "x"))), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(EncryptImage(Enc(dir / "d.qcow2", dir / "x"))), ErrorCode::kFailedPrecondition);
  // Not LUKS.
  EXPECT_EQ(CodeOf(DecryptImage(Dec(dir / "disk.raw", dir / "x"))), ErrorCode::kFailedPrecondition);
  // Wrong passphrase.
  DecryptOptions wrong = Dec(dir / "d.luks", dir / "x");
  wrong.passphrase = Pass("Correct horse battery staple");
  EXPECT_EQ(CodeOf(DecryptImage(wrong)), ErrorCode::kPermissionDenied);
  // The destination exists: refused, and left alone.
  WriteFile(dir / "exists", std::string_view("keep me"));
  EXPECT_EQ(CodeOf(EncryptImage(Enc(dir / "disk.raw", dir / "exists"))), ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(dir / "exists").size(), 7u);
  // No such input; no such output directory.
  EXPECT_EQ(CodeOf(EncryptImage(Enc(dir / "nope.raw", dir / "x"))), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(EncryptImage(Enc(dir / "disk.raw", dir / "no/such/dir/x"))),
            ErrorCode::kUnavailable);
  // Bad options.
  EncryptOptions bad = Enc(dir / "disk.raw", dir / "x");
  bad.sector_size = 4096;  // LUKS1
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.key_bytes = 48;
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", kStdio, EncryptFormat::kQcow2);
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.passphrase = SecretBytes();
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.copy.chunk_bytes = 1000;
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  // PBKDF options are checked before the copy (the header may be made only after it).
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.pbkdf.type = "argon2id";  // LUKS1
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", dir / "x", EncryptFormat::kLuks2);
  bad.pbkdf.type = "scrypt";
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.pbkdf.iterations = 10;
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  // Costs Veil itself would refuse to open with its default limits are refused up front.
  bad = Enc(dir / "disk.raw", dir / "x", EncryptFormat::kLuks2);
  bad.pbkdf.type = "argon2id";
  bad.pbkdf.memory_kib = (1 << 20) + 1;
  auto memory = EncryptImage(bad);
  EXPECT_EQ(CodeOf(memory), ErrorCode::kInvalidArgument);
  EXPECT_NE(memory.error().message.find("the most Veil opens an image with by default"),
            std::string::npos)
      << memory.error().message;
  bad.pbkdf.memory_kib = 32;
  bad.pbkdf.parallel = 17;
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad.pbkdf.parallel = 1;
  bad.pbkdf.iterations = 10'001;  // Argon2 passes
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.pbkdf.iterations = 100'000'001;  // PBKDF2
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  // A UUID libcryptsetup would refuse only when making the header, after the copy.
  bad = Enc(dir / "disk.raw", dir / "x");
  bad.uuid = "not-a-uuid";
  auto uuid = EncryptImage(bad);
  EXPECT_EQ(CodeOf(uuid), ErrorCode::kInvalidArgument);
  EXPECT_EQ(uuid.error().message, "'not-a-uuid' is not a UUID (8-4-4-4-12 hexadecimal digits)");
  bad.uuid = "0123456789ab-cdef-0123-4567-89abcdef0123";
  EXPECT_EQ(CodeOf(EncryptImage(bad)), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
  // A well-formed one is used as given.
  bad.uuid = "0123abcd-cdef-4123-8567-89abcdef0123";
  ASSERT_TRUE(EncryptImage(bad));
  auto info = InspectImage(dir / "x");
  ASSERT_TRUE(info) << info.error().ToString();
  ASSERT_TRUE(info->luks);
  EXPECT_EQ(info->luks->layout.uuid, "0123abcd-cdef-4123-8567-89abcdef0123");
}

TEST(ImageOps, DamagedHeadersAndUnsupportedCiphers) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk());
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.luks")));
  std::vector<uint8_t> image = ReadFile(dir / "d.luks");

  // Truncated: the keyslot areas run past the end of the file.
  WriteFile(dir / "truncated.luks", std::span<const uint8_t>(image).first(100000));
  EXPECT_EQ(CodeOf(DecryptImage(Dec(dir / "truncated.luks", dir / "x"))), ErrorCode::kDataLoss);
  EXPECT_EQ(CodeOf(InspectImage(dir / "truncated.luks")), ErrorCode::kDataLoss);
  // Overlapping keyslots: slot 1's key material moved onto slot 0's.
  std::vector<uint8_t> overlap = image;
  const uint32_t slot0_offset = (overlap[208 + 40] << 24) | (overlap[208 + 41] << 16) |
                                (overlap[208 + 42] << 8) | overlap[208 + 43];
  luks::testing::StoreBe32At(overlap, 208 + 48 + 40, slot0_offset + 1);
  WriteFile(dir / "overlap.luks", overlap);
  EXPECT_EQ(CodeOf(VerifyImage(dir / "overlap.luks", AsBytes(kPass))), ErrorCode::kDataLoss);
  // A cipher Veil does not implement (LUKS1 has no checksum: the name is just edited).
  std::vector<uint8_t> twofish = image;
  std::memcpy(&twofish[8], "twofish\0", 8);
  WriteFile(dir / "twofish.luks", twofish);
  EXPECT_EQ(CodeOf(DecryptImage(Dec(dir / "twofish.luks", dir / "x"))), ErrorCode::kUnimplemented);
  // LUKS2 with both header checksums damaged.
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.luks2", EncryptFormat::kLuks2)));
  std::vector<uint8_t> l2 = ReadFile(dir / "d.luks2");
  l2[4096 + 10] ^= 1;
  l2[16384 + 4096 + 10] ^= 1;
  WriteFile(dir / "bad.luks2", l2);
  EXPECT_EQ(CodeOf(DecryptImage(Dec(dir / "bad.luks2", dir / "x"))), ErrorCode::kDataLoss);
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
}

TEST(ImageOps, PbkdfCostOverTheLimitIsRefusedBeforeDerivation) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk(4 << 20));
  EncryptOptions o = Enc(dir / "disk.raw", dir / "d.luks2", EncryptFormat::kLuks2);
  o.pbkdf.type = "argon2id";
  o.pbkdf.iterations = 4;
  o.pbkdf.memory_kib = 8192;
  o.pbkdf.parallel = 1;
  ASSERT_TRUE(EncryptImage(o));
  DecryptOptions d = Dec(dir / "d.luks2", dir / "x");
  d.limits.argon2_max_memory_kib = 4096;
  auto r = DecryptImage(d);
  EXPECT_EQ(CodeOf(r), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.error().message.find("memory"), std::string::npos) << r.error().message;
  luks::OpenLimits limits;
  limits.argon2_max_memory_kib = 4096;
  EXPECT_EQ(CodeOf(VerifyImage(dir / "d.luks2", AsBytes(kPass), limits)),
            ErrorCode::kResourceExhausted);
  d.limits = luks::OpenLimits{};
  EXPECT_TRUE(DecryptImage(d));
}

TEST(ImageOps, DamagedOrTruncatedInputIsOutOfRange) {
  TempDir dir;
  // A qcow2 whose L2 table lies past the end of the file.
  {
    disk::Qcow2WriterOptions qo;
    qo.virtual_size = 4 << 20;
    auto w = disk::Qcow2Writer::Create(dir / "in.qcow2", qo);
    ASSERT_TRUE(w);
    const auto data = Pattern(65536, 4);
    for (uint64_t c = 0; c < 64; c += 2) ASSERT_TRUE((*w)->WriteCluster(c, data));
    ASSERT_TRUE((*w)->Finish());
  }
  std::vector<uint8_t> q = ReadFile(dir / "in.qcow2");
  WriteFile(dir / "cut.qcow2", std::span<const uint8_t>(q).first(q.size() / 2));
  auto r = EncryptImage(Enc(dir / "cut.qcow2", dir / "x"));
  EXPECT_EQ(CodeOf(r), ErrorCode::kOutOfRange) << (r ? "" : r.error().ToString());
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
}

TEST(ImageOps, CancelRemovesEverything) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk(16 << 20));
  for (EncryptFormat format : {EncryptFormat::kLuks1, EncryptFormat::kQcow2}) {
    std::atomic<bool> cancel{false};
    EncryptOptions o = Enc(dir / "disk.raw", dir / "out", format);
    o.copy.cancel = &cancel;
    o.copy.chunk_bytes = 64 * 1024;
    o.copy.progress = [&](const Progress& p) {
      if (p.done_bytes > (1 << 20)) cancel = true;
    };
    EXPECT_EQ(CodeOf(EncryptImage(o)), ErrorCode::kCancelled);
    EXPECT_EQ(DirEntries(dir.path()), std::vector<std::string>{"disk.raw"});
  }
  ASSERT_TRUE(EncryptImage(Enc(dir / "disk.raw", dir / "d.luks")));
  std::atomic<bool> cancel{true};
  DecryptOptions d = Dec(dir / "d.luks", dir / "plain");
  d.copy.cancel = &cancel;
  EXPECT_EQ(CodeOf(DecryptImage(d)), ErrorCode::kCancelled);
  EXPECT_EQ(DirEntries(dir.path()), (std::vector<std::string>{"d.luks", "disk.raw"}));
}

}  // namespace
}  // namespace veil::image
