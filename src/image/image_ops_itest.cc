// The image operations against the real tools: Veil's LUKS1/LUKS2/qcow2 output opened by
// cryptsetup, qemu-img, qemu-io and Python's `cryptography`; containers made by cryptsetup and
// qemu-img decrypted by Veil; qcow2 (compressed) and VHD inputs; partition tables made by sfdisk.
// PBKDF costs are the lowest each tool allows, images a few MiB, so the suite stays fast.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <boost/json.hpp>
#include <cstring>
#include <thread>

#include "common/bytes.h"
#include "disk/disk_reader.h"
#include "disk/testing/disk_test_util.h"
#include "image/image_ops.h"
#include "luks/itest_support.h"

namespace veil::image {
namespace {

using luks::testing::DumpVolumeKeyHex;
using luks::testing::Pattern;
using luks::testing::ReadFile;
using luks::testing::RunCommand;
using luks::testing::Slice;
using luks::testing::TempDir;
using luks::testing::WriteFile;

// IBM's classic convention: the key file holds the base64 text of the DEK, no newline.
constexpr std::string_view kPass = "q0tVNjmAYk2pB8tdM9hzZ3f6o2kUeqZcq1r8DeS0z1o=";
constexpr uint64_t kMiB = 1 << 20;

// A 16 MiB disk with recognisable patterns (for qemu-io read -P), random data and holes.
// A disk of `size` bytes (a multiple of 1 MiB, at least 1 MiB): zeros with a filled run at 1/16,
// a short unaligned run after 5/16, random bytes over [1/2, 5/8) and a filled last 4 KiB. Every
// feature is placed relative to the size, so a smaller disk keeps them all inside it (the 16 MiB
// default is laid out at 1, 5 and 8 MiB).
std::vector<uint8_t> PatternedDisk(uint64_t size = 16 * kMiB) {
  EXPECT_TRUE(size >= kMiB && size % kMiB == 0) << size;
  std::vector<uint8_t> d(size, 0);
  const uint64_t unit = size / 16;
  std::fill(d.begin() + unit, d.begin() + unit + 65536, 0xa5);
  std::fill(d.begin() + 5 * unit + 512, d.begin() + 5 * unit + 512 + 4096, 0x3c);
  const auto random = Pattern(2 * unit, 11);
  std::copy(random.begin(), random.end(), d.begin() + 8 * unit);
  std::fill(d.end() - 4096, d.end(), 0x77);
  return d;
}

std::string Secret(const std::string& key_file) {
  return "--object secret,id=s,file=" + key_file + " ";
}

class ImageTools : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(key_, kPass);
    disk_ = PatternedDisk();
    WriteFile(src_, disk_);
  }

  EncryptOptions Enc(const std::string& dst, EncryptFormat format) const {
    EncryptOptions o;
    o.source = src_;
    o.destination = dst;
    o.format = format;
    o.passphrase = SecretBytes(AsBytes(kPass));
    o.pbkdf.type = "pbkdf2";
    o.pbkdf.iterations = 1000;
    return o;
  }

  std::vector<uint8_t> DecryptToBytes(const std::string& image) {
    DecryptOptions o;
    o.source = image;
    o.destination = dir_ / "decrypted.raw";
    std::filesystem::remove(o.destination);
    o.passphrase = SecretBytes(AsBytes(kPass));
    auto r = DecryptImage(o);
    EXPECT_TRUE(r) << r.error().ToString();
    return ReadFile(o.destination);
  }

  TempDir dir_;
  const std::string key_ = dir_ / "secret.dek";
  const std::string src_ = dir_ / "src.raw";
  std::vector<uint8_t> disk_;
};

TEST_F(ImageTools, VeilLuks1OpensInCryptsetupQemuImgAndQemuIo) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  VEIL_REQUIRE_TOOL("qemu-img");
  VEIL_REQUIRE_TOOL("qemu-io");
  for (size_t key_bytes : {64, 32}) {
    const std::string img = dir_ / ("veil" + std::to_string(key_bytes) + ".luks");
    EncryptOptions o = Enc(img, EncryptFormat::kLuks1);
    o.key_bytes = key_bytes;
    ASSERT_TRUE(EncryptImage(o));

    const auto dump = RunCommand("cryptsetup luksDump " + img);
    ASSERT_EQ(dump.exit_code, 0) << dump.output;
    EXPECT_NE(dump.output.find("Version:       \t1"), std::string::npos) << dump.output;
    EXPECT_NE(dump.output.find("xts-plain64"), std::string::npos);
    EXPECT_NE(dump.output.find("MK bits:       \t" + std::to_string(key_bytes * 8)),
              std::string::npos);
    EXPECT_EQ(
        RunCommand("cryptsetup open --test-passphrase --key-file " + key_ + " " + img).exit_code,
        0);
    WriteFile(dir_ / "wrong", std::string(kPass) + "\n");  // a newline makes it another passphrase
    EXPECT_NE(
        RunCommand("cryptsetup open --test-passphrase --key-file " + (dir_ / "wrong") + " " + img)
            .exit_code,
        0);

    const std::string opts = "driver=luks,key-secret=s,file.filename=" + img;
    const auto convert = RunCommand("qemu-img convert " + Secret(key_) + "--image-opts " + opts +
                                    " -O raw " + (dir_ / "qemu.raw"));
    ASSERT_EQ(convert.exit_code, 0) << convert.output;
    EXPECT_EQ(ReadFile(dir_ / "qemu.raw"), disk_);
    std::filesystem::remove(dir_ / "qemu.raw");

    const auto io = RunCommand("qemu-io " + Secret(key_) + "--image-opts " + opts +
                               " -c 'read -P 0xa5 1M 64k' -c 'read -P 0x3c 5243392 4096'" +
                               " -c 'read -P 0x77 16773120 4096' -c 'read -P 0 2M 1M'");
    EXPECT_EQ(io.exit_code, 0) << io.output;
    EXPECT_EQ(io.output.find("Pattern verification failed"), std::string::npos) << io.output;
    const auto bad =
        RunCommand("qemu-io " + Secret(key_) + "--image-opts " + opts + " -c 'read -P 0xa5 2M 4k'");
    EXPECT_NE(bad.output.find("Pattern verification failed"), std::string::npos)
        << "negative control: " << bad.output;
  }
}

// Every input path of the encrypting pipeline, with a raw image whose size is not a multiple of
// the sector: a regular file (encrypted straight from its mapping) and a pipe (read in order), on
// disk and in a tmpfs (where `make bench` runs). qemu-img decrypts each to the source, zero-padded
// to the sector.
TEST_F(ImageTools, EveryInputAndOutputPathEncryptsTheSameBytes) {
  VEIL_REQUIRE_TOOL("qemu-img");
  struct statfs fs {};
  ASSERT_EQ(::statfs("/dev/shm", &fs), 0) << "this test needs the tmpfs at /dev/shm";
  ASSERT_EQ(static_cast<unsigned long>(fs.f_type), TMPFS_MAGIC) << "/dev/shm is not a tmpfs";
  TempDir shm("/dev/shm");
  std::vector<uint8_t> odd = PatternedDisk(4 * kMiB);
  const auto tail = Pattern(1234, 5);
  odd.insert(odd.end(), tail.begin(), tail.end());
  for (const TempDir* where : {&dir_, &shm}) {
    const std::string src = *where / "odd.raw";
    WriteFile(src, odd);
    for (bool from_pipe : {false, true}) {
      const std::string img = *where / (from_pipe ? "piped.luks" : "mapped.luks");
      EncryptOptions o = Enc(img, EncryptFormat::kLuks1);
      o.source = src;
      if (from_pipe) {
        const std::string fifo = *where / "fifo";
        ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
        o.source = fifo;
        o.source_size = odd.size();
        std::thread feed([&] { WriteFile(fifo, odd); });
        auto r = EncryptImage(o);
        feed.join();
        ASSERT_TRUE(r) << r.error().ToString();
        std::filesystem::remove(fifo);
      } else {
        auto r = EncryptImage(o);
        ASSERT_TRUE(r) << r.error().ToString();
      }
      const std::string out = *where / "qemu.raw";
      const auto convert = RunCommand("qemu-img convert " + Secret(key_) +
                                      "--image-opts driver=luks,key-secret=s,file.filename=" + img +
                                      " -O raw " + out);
      ASSERT_EQ(convert.exit_code, 0) << convert.output;
      std::vector<uint8_t> expected = odd;
      expected.resize((odd.size() + 511) / 512 * 512, 0);
      EXPECT_EQ(ReadFile(out), expected) << img;
      std::filesystem::remove(out);
      std::filesystem::remove(img);
    }
  }
}

TEST_F(ImageTools, VeilLuks2AcceptedByCryptsetupAndItsPayloadDecryptsWithPython) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  if (!luks::testing::HavePythonCryptography())
    GTEST_FAIL() << "python3 cryptography is not installed (make deps)";
  const std::string script = luks::testing::WriteXtsScript(dir_);
  struct Case {
    uint32_t sector;
    const char* pbkdf;
  };
  for (const Case& c : {Case{512, "pbkdf2"}, Case{4096, "pbkdf2"}, Case{4096, "argon2id"}}) {
    const std::string img = dir_ / ("veil-" + std::to_string(c.sector) + c.pbkdf + ".luks2");
    EncryptOptions o = Enc(img, EncryptFormat::kLuks2);
    o.sector_size = c.sector;
    o.pbkdf.type = c.pbkdf;
    if (o.pbkdf.type == "argon2id") {
      o.pbkdf.iterations = 4;
      o.pbkdf.memory_kib = 32;
      o.pbkdf.parallel = 1;
    }
    auto r = EncryptImage(o);
    ASSERT_TRUE(r) << r.error().ToString();
    const auto dump = RunCommand("cryptsetup luksDump " + img);
    ASSERT_EQ(dump.exit_code, 0) << dump.output;
    EXPECT_NE(dump.output.find("sector: " + std::to_string(c.sector)), std::string::npos)
        << dump.output;
    EXPECT_NE(dump.output.find(c.pbkdf), std::string::npos);
    ASSERT_EQ(
        RunCommand("cryptsetup open --test-passphrase --key-file " + key_ + " " + img).exit_code,
        0);
    const std::string key_hex = DumpVolumeKeyHex(img, key_);
    ASSERT_EQ(key_hex.size(), 128u);
    const uint64_t offset = r->layout.payload_offset_bytes;
    ASSERT_EQ(
        luks::testing::RunXtsScript(script, "dec", img, key_hex, offset, disk_.size(), c.sector, 0),
        0);
    EXPECT_EQ(Slice(ReadFile(img), offset, disk_.size()), disk_) << c.sector << " " << c.pbkdf;
  }
}

TEST_F(ImageTools, VeilQcow2IsIdenticalForQemuCleanAndSparse) {
  VEIL_REQUIRE_TOOL("qemu-img");
  for (size_t key_bytes : {64, 32}) {
    const std::string img = dir_ / ("veil" + std::to_string(key_bytes) + ".qcow2");
    EncryptOptions o = Enc(img, EncryptFormat::kQcow2);
    o.key_bytes = key_bytes;
    ASSERT_TRUE(EncryptImage(o));
    const std::string opts = Secret(key_) +
                             "--image-opts driver=qcow2,encrypt.key-secret=s,"
                             "file.filename=" +
                             img;
    const auto info = RunCommand("qemu-img info " + opts);
    EXPECT_NE(info.output.find("encrypted: yes"), std::string::npos) << info.output;
    const auto compare =
        RunCommand("qemu-img compare " + opts + " driver=raw,file.filename=" + src_);
    EXPECT_EQ(compare.exit_code, 0) << compare.output;
    EXPECT_NE(compare.output.find("Images are identical."), std::string::npos) << compare.output;
    const auto check = RunCommand("qemu-img check " + opts);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_NE(check.output.find("No errors were found"), std::string::npos) << check.output;
    // Zero clusters are holes in QEMU's map, data clusters data.
    std::vector<disk::Extent> expected;
    for (uint64_t c = 0; c < disk_.size() / 65536; ++c) {
      const bool zero = std::all_of(disk_.begin() + c * 65536, disk_.begin() + (c + 1) * 65536,
                                    [](uint8_t b) { return b == 0; });
      disk::AppendExtent(&expected, c * 65536, 65536, !zero);
    }
    EXPECT_EQ(disk::testutil::QemuMap(opts), expected);
    EXPECT_EQ(DecryptToBytes(img), disk_);
  }
}

struct CryptsetupCase {
  const char* name;
  const char* args;
  uint32_t sector;
};

class CryptsetupContainers : public ImageTools,
                             public ::testing::WithParamInterface<CryptsetupCase> {};

TEST_P(CryptsetupContainers, DecryptedByVeilToTheSameBytes) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  if (!luks::testing::HavePythonCryptography())
    GTEST_FAIL() << "python3 cryptography is not installed (make deps)";
  const CryptsetupCase& c = GetParam();
  const std::string img = dir_ / "cs.img";
  ASSERT_EQ(RunCommand("truncate -s 40M " + img).exit_code, 0);
  const auto format = RunCommand("cryptsetup luksFormat -q " + std::string(c.args) +
                                 " --key-file " + key_ + " " + img);
  ASSERT_EQ(format.exit_code, 0) << format.output;
  auto info = InspectImage(img);
  ASSERT_TRUE(info) << info.error().ToString();
  const uint64_t offset = info->luks->layout.payload_offset_bytes;
  // Plaintext at the payload, encrypted in place by Python with cryptsetup's volume key (there is
  // no device-mapper to write through).
  std::vector<uint8_t> image = ReadFile(img);
  ASSERT_LE(offset + disk_.size(), image.size());
  std::copy(disk_.begin(), disk_.end(), image.begin() + static_cast<ptrdiff_t>(offset));
  image.resize(offset + disk_.size());
  WriteFile(img, image);
  const std::string key_hex = DumpVolumeKeyHex(img, key_);
  ASSERT_FALSE(key_hex.empty());
  ASSERT_EQ(luks::testing::RunXtsScript(luks::testing::WriteXtsScript(dir_), "enc", img, key_hex,
                                        offset, disk_.size(), c.sector, 0),
            0);
  EXPECT_EQ(DecryptToBytes(img), disk_);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CryptsetupContainers,
    ::testing::Values(
        CryptsetupCase{"Luks1Pbkdf2", "--type luks1 --pbkdf-force-iterations 1000", 512},
        CryptsetupCase{"Luks2Argon2id512",
                       "--type luks2 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-parallel 1 "
                       "--pbkdf-force-iterations 4 --sector-size 512",
                       512},
        CryptsetupCase{"Luks2Argon2id4096",
                       "--type luks2 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-parallel 1 "
                       "--pbkdf-force-iterations 4 --sector-size 4096",
                       4096},
        CryptsetupCase{"Luks2Pbkdf2_512",
                       "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
                       "--sector-size 512",
                       512},
        CryptsetupCase{"Luks2Pbkdf2_4096",
                       "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
                       "--sector-size 4096",
                       4096}),
    [](const auto& p) { return std::string(p.param.name); });

TEST_F(ImageTools, QemuMadeRawLuksAndQcow2LuksDecryptedByVeil) {
  VEIL_REQUIRE_TOOL("qemu-img");
  // qemu-img convert -O luks: QEMU's own LUKS1 header and its own encryption of the data.
  const std::string raw_luks = dir_ / "qemu.luks";
  luks::testing::RunResult r = luks::testing::RunQemuImgRetrying(
      "convert " + Secret(key_) + "-f raw -O luks -o key-secret=s,iter-time=10 " + src_ + " " +
          raw_luks,
      raw_luks);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(DecryptToBytes(raw_luks), disk_);

  // qemu-img convert -O qcow2 -o encrypt.format=luks: qcow2 with LUKS inside, host-offset IVs.
  const std::string qcow = dir_ / "qemu.qcow2";
  r = luks::testing::RunQemuImgRetrying("convert " + Secret(key_) + "-f raw -O qcow2 " +
                                            "-o encrypt.format=luks,encrypt.key-secret=s," +
                                            "encrypt.iter-time=10 " + src_ + " " + qcow,
                                        qcow);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(DecryptToBytes(qcow), disk_);

  // Veil's decryption to qcow2 is what QEMU reads; verify needs no partition table to open it.
  DecryptOptions o;
  o.source = qcow;
  o.destination = dir_ / "plain.qcow2";
  o.format = DecryptFormat::kQcow2;
  o.passphrase = SecretBytes(AsBytes(kPass));
  ASSERT_TRUE(DecryptImage(o));
  const auto compare = RunCommand("qemu-img compare " + o.destination + " " + src_);
  EXPECT_EQ(compare.exit_code, 0) << compare.output;
  const auto check = RunCommand("qemu-img check " + o.destination);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  auto report = VerifyImage(qcow, AsBytes(kPass));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->looks_like_disk);  // PatternedDisk has no partition table
}

TEST_F(ImageTools, CompressedQcow2AndVhdInputsRoundTrip) {
  VEIL_REQUIRE_TOOL("qemu-img");
  struct Input {
    const char* name;
    const char* args;
  };
  for (const Input& in :
       {Input{"c.qcow2", "-c -O qcow2"}, Input{"v2.qcow2", "-O qcow2 -o compat=0.10"},
        Input{"fixed.vhd", "-O vpc -o subformat=fixed"},
        Input{"dynamic.vhd", "-O vpc -o subformat=dynamic"}}) {
    const std::string path = dir_ / in.name;
    auto r =
        RunCommand("qemu-img convert -f raw " + std::string(in.args) + " " + src_ + " " + path);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // What QEMU reads from it (a VHD's size is rounded up to a CHS geometry).
    const std::string expected_path = dir_ / (std::string(in.name) + ".raw");
    r = RunCommand(
        "qemu-img convert " +
        std::string(std::string_view(in.name).ends_with(".vhd") ? "-f vpc " : "-f qcow2 ") + path +
        " -O raw " + expected_path);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::vector<uint8_t> expected = ReadFile(expected_path);
    for (EncryptFormat format : {EncryptFormat::kLuks1, EncryptFormat::kQcow2}) {
      const std::string out =
          dir_ / (std::string(in.name) + "." + std::string(EncryptFormatName(format)));
      EncryptOptions o = Enc(out, format);
      o.source = path;
      auto e = EncryptImage(o);
      ASSERT_TRUE(e) << in.name << ": " << e.error().ToString();
      EXPECT_EQ(e->virtual_size, expected.size()) << in.name;
      std::vector<uint8_t> back = DecryptToBytes(out);
      back.resize(expected.size());  // LUKS pads to a whole sector
      EXPECT_EQ(back, expected) << in.name << " via " << EncryptFormatName(format);
    }
  }
}

TEST_F(ImageTools, VerifyFindsSfdiskTablesAndRejectsRandomPayloads) {
  VEIL_REQUIRE_TOOL("sfdisk");
  struct Table {
    const char* label;
    const char* script;
    const char* kind;
  };
  for (const Table& t :
       {Table{"dos", "label: dos\nsize=8M, type=83, bootable\nsize=4M, type=82\ntype=83\n", "mbr"},
        Table{"gpt", "label: gpt\nsize=2M, type=U\nsize=8M, type=L, name=root\ntype=L, name=home\n",
              "gpt"}}) {
    const std::string raw = dir_ / (std::string(t.label) + ".raw");
    ASSERT_EQ(RunCommand("truncate -s 32M " + raw).exit_code, 0);
    auto r = RunCommand("printf '" + std::string(t.script) + "' | sfdisk -q " + raw);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto json = RunCommand("sfdisk --json " + raw);
    ASSERT_EQ(json.exit_code, 0) << json.output;
    const auto parts = boost::json::parse(json.output).at("partitiontable").at("partitions");

    const std::string img = dir_ / (std::string(t.label) + ".luks");
    EncryptOptions o = Enc(img, EncryptFormat::kLuks1);
    o.source = raw;
    ASSERT_TRUE(EncryptImage(o));
    auto report = VerifyImage(img, AsBytes(kPass));
    ASSERT_TRUE(report) << report.error().ToString();
    ASSERT_TRUE(report->looks_like_disk) << t.label;
    EXPECT_EQ(disk::TableKindName(report->table.kind), t.kind);
    ASSERT_EQ(report->table.partitions.size(), parts.as_array().size());
    for (size_t i = 0; i < parts.as_array().size(); ++i) {
      const auto& p = parts.as_array()[i];
      EXPECT_EQ(report->table.partitions[i].first_byte, p.at("start").to_number<uint64_t>() * 512);
      EXPECT_EQ(report->table.partitions[i].size_bytes, p.at("size").to_number<uint64_t>() * 512);
    }
    if (report->table.kind == disk::TableKind::kGpt) {
      EXPECT_EQ(report->table.partitions[1].name, "root");
      EXPECT_EQ(report->table.partitions[1].type_name, "Linux filesystem");
      EXPECT_TRUE(report->table.warnings.empty());
    } else {
      EXPECT_TRUE(report->table.partitions[0].bootable);
      EXPECT_EQ(report->table.partitions[1].type_name, "Linux swap");
    }
  }
  // A payload of random bytes: the passphrase opens it, but it is no disk.
  auto r = VerifyImage(dir_ / "dos.luks", AsBytes(kPass));
  ASSERT_TRUE(r);
  WriteFile(dir_ / "random.raw", Pattern(4 * kMiB, 5));
  EncryptOptions o = Enc(dir_ / "random.luks", EncryptFormat::kLuks1);
  o.source = dir_ / "random.raw";
  ASSERT_TRUE(EncryptImage(o));
  auto random = VerifyImage(dir_ / "random.luks", AsBytes(kPass));
  ASSERT_TRUE(random);
  EXPECT_FALSE(random->looks_like_disk);
}

TEST_F(ImageTools, CryptsetupCipherVeilDoesNotImplementIsUnsupported) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  const std::string img = dir_ / "cbc.img";
  ASSERT_EQ(RunCommand("truncate -s 8M " + img).exit_code, 0);
  const auto format = RunCommand(
      "cryptsetup luksFormat -q --type luks1 --cipher aes-cbc-plain64 --key-size 256 "
      "--pbkdf-force-iterations 1000 --key-file " +
      key_ + " " + img);
  ASSERT_EQ(format.exit_code, 0) << format.output;
  DecryptOptions o;
  o.source = img;
  o.destination = dir_ / "out";
  o.passphrase = SecretBytes(AsBytes(kPass));
  auto r = DecryptImage(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnimplemented) << r.error().ToString();
  EXPECT_NE(r.error().message.find("aes-cbc-plain64"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(o.destination));
}

}  // namespace
}  // namespace veil::image
