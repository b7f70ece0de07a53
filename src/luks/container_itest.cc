// Headers made by Veil, checked by the real cryptsetup; headers made by cryptsetup (and QEMU),
// opened by Veil. Low PBKDF costs keep every case well under a second.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/encoding.h"
#include "luks/container.h"
#include "luks/inspect.h"
#include "luks/itest_support.h"
#include "luks/sector_cipher.h"

namespace veil::luks {
namespace {

namespace json = boost::json;
using testing::DumpVolumeKeyHex;
using testing::Hex;
using testing::Pattern;
using testing::ReadFile;
using testing::RunCommand;
using testing::Slice;
using testing::TempDir;
using testing::WriteFile;

constexpr std::string_view kPass = "correct horse battery staple";
constexpr size_t kPayload = 256 * 1024;

// ---- Veil's headers, cryptsetup's verdict ----

struct VeilCase {
  const char* name;
  Version version;
  size_t key_bytes;
  uint32_t sector_size;
  const char* pbkdf;
};

class VeilHeaderInCryptsetup : public ::testing::TestWithParam<VeilCase> {};

TEST_P(VeilHeaderInCryptsetup, AcceptedOpenedAndSameKeyAndData) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  const VeilCase& c = GetParam();
  TempDir dir;
  CreateOptions o;
  o.version = c.version;
  o.key_bytes = c.key_bytes;
  o.sector_size = c.sector_size;
  o.pbkdf.type = c.pbkdf;
  const bool argon2 = std::string_view(c.pbkdf) != "pbkdf2";
  o.pbkdf.iterations = argon2 ? 4 : 1000;
  o.pbkdf.memory_kib = 32;
  o.pbkdf.parallel = 1;
  SeededRandom random(42);
  const SecretBytes key = GenerateVolumeKey(random, c.key_bytes).value();
  auto blob = CreateHeader(o, key, AsBytes(kPass));
  ASSERT_TRUE(blob) << blob.error().ToString();

  // The image: Veil's header, then a payload encrypted by SectorCipher.
  const std::vector<uint8_t> plain = Pattern(kPayload, 9);
  std::vector<uint8_t> payload = plain;
  auto cipher = SectorCipher::Create(blob->layout, key);
  ASSERT_TRUE(cipher) << cipher.error().ToString();
  ASSERT_TRUE(cipher->Encrypt(payload, 0));
  std::vector<uint8_t> image = blob->bytes;
  image.insert(image.end(), payload.begin(), payload.end());
  const std::string img = dir / "veil.img";
  WriteFile(img, image);
  WriteFile(dir / "pass", kPass);
  WriteFile(dir / "wrong", std::string_view("not the passphrase"));

  const auto dump = RunCommand("cryptsetup luksDump " + img);
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(
      dump.output.find(c.version == Version::kLuks1 ? "Version:       \t1" : "Version:       \t2"),
      std::string::npos)
      << dump.output;
  EXPECT_NE(dump.output.find("xts-plain64"), std::string::npos);
  if (c.version == Version::kLuks2) {
    EXPECT_NE(dump.output.find("sector: " + std::to_string(c.sector_size) + " [bytes]"),
              std::string::npos)
        << dump.output;
    EXPECT_NE(dump.output.find(std::string("PBKDF:      ") + c.pbkdf), std::string::npos);
  }
  const auto test =
      RunCommand("cryptsetup open --test-passphrase --key-file " + (dir / "pass") + " " + img);
  EXPECT_EQ(test.exit_code, 0) << test.output;
  const auto wrong =
      RunCommand("cryptsetup open --test-passphrase --key-file " + (dir / "wrong") + " " + img);
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;
  EXPECT_EQ(DumpVolumeKeyHex(img, dir / "pass"), Hex(key.Reveal()));

  // The payload, decrypted by Python with cryptsetup's copy of the key.
  if (testing::HavePythonCryptography()) {
    const std::string script = testing::WriteXtsScript(dir);
    ASSERT_EQ(testing::RunXtsScript(script, "dec", img, DumpVolumeKeyHex(img, dir / "pass"),
                                    blob->layout.payload_offset_bytes, kPayload, c.sector_size, 0),
              0);
    EXPECT_EQ(Slice(ReadFile(img), blob->layout.payload_offset_bytes, kPayload), plain);
  }

  auto opened = OpenVolumeKey(img, AsBytes(kPass));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->volume_key.Equals(key));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VeilHeaderInCryptsetup,
    ::testing::Values(VeilCase{"Luks1Pbkdf2Aes256", Version::kLuks1, 64, 512, "pbkdf2"},
                      VeilCase{"Luks1Pbkdf2Aes128", Version::kLuks1, 32, 512, "pbkdf2"},
                      VeilCase{"Luks2Argon2idSector512", Version::kLuks2, 64, 512, "argon2id"},
                      VeilCase{"Luks2Argon2idSector4096", Version::kLuks2, 64, 4096, "argon2id"},
                      VeilCase{"Luks2Argon2iSector4096Aes128", Version::kLuks2, 32, 4096,
                               "argon2i"},
                      VeilCase{"Luks2Pbkdf2Sector512Aes128", Version::kLuks2, 32, 512, "pbkdf2"},
                      VeilCase{"Luks2Pbkdf2Sector4096", Version::kLuks2, 64, 4096, "pbkdf2"}),
    [](const auto& p) { return std::string(p.param.name); });

// ---- cryptsetup's headers, Veil's verdict ----

struct FormatCase {
  const char* name;
  const char* args;
  const char* cipher;
  uint32_t sector_size;
};

class CryptsetupHeaderInVeil : public ::testing::TestWithParam<FormatCase> {};

TEST_P(CryptsetupHeaderInVeil, OpenedWithTheSameKeyAndDataReadable) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  const FormatCase& c = GetParam();
  TempDir dir;
  const std::string img = dir / "cs.img";
  const std::string pass = dir / "pass";
  WriteFile(pass, kPass);
  ASSERT_EQ(RunCommand("truncate -s 20M " + img).exit_code, 0);
  const auto format = RunCommand("cryptsetup luksFormat -q " + std::string(c.args) +
                                 " --key-file " + pass + " " + img);
  ASSERT_EQ(format.exit_code, 0) << format.output;
  const std::string key_hex = DumpVolumeKeyHex(img, pass);
  ASSERT_FALSE(key_hex.empty());

  auto info = InspectFile(img);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->layout.cipher_spec, c.cipher);
  EXPECT_EQ(info->layout.sector_size, c.sector_size);

  auto opened = OpenVolumeKey(img, AsBytes(kPass));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(Hex(opened->volume_key.Reveal()), key_hex);
  EXPECT_EQ(opened->layout.payload_offset_bytes, info->layout.payload_offset_bytes);

  auto wrong = OpenVolumeKey(img, AsBytes("Correct horse battery staple"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kPermissionDenied);

  // Data encrypted by Python with cryptsetup's key, decrypted by Veil (XTS cases).
  if (std::string_view(c.cipher) == "aes-xts-plain64" && testing::HavePythonCryptography()) {
    const uint64_t off = info->layout.payload_offset_bytes;
    const std::vector<uint8_t> plain = Pattern(kPayload, 4);
    std::vector<uint8_t> image = ReadFile(img);
    std::copy(plain.begin(), plain.end(), image.begin() + static_cast<ptrdiff_t>(off));
    WriteFile(img, image);
    const std::string script = testing::WriteXtsScript(dir);
    ASSERT_EQ(testing::RunXtsScript(script, "enc", img, key_hex, off, kPayload, c.sector_size, 0),
              0);
    std::vector<uint8_t> data = Slice(ReadFile(img), off, kPayload);
    EXPECT_NE(data, plain);
    auto cipher = SectorCipher::Create(opened->layout, opened->volume_key);
    ASSERT_TRUE(cipher);
    ASSERT_TRUE(cipher->Decrypt(data, 0));
    EXPECT_EQ(data, plain);
  }
}

constexpr const char* kArgon2Fast =
    "--pbkdf-memory 32 --pbkdf-parallel 1 --pbkdf-force-iterations 4";

INSTANTIATE_TEST_SUITE_P(
    Cases, CryptsetupHeaderInVeil,
    ::testing::Values(
        FormatCase{"Luks1Pbkdf2", "--type luks1 --pbkdf-force-iterations 1000", "aes-xts-plain64",
                   512},
        FormatCase{"Luks1Pbkdf2Aes128", "--type luks1 --key-size 256 --pbkdf-force-iterations 1000",
                   "aes-xts-plain64", 512},
        FormatCase{"Luks1CbcEssiv",
                   "--type luks1 --cipher aes-cbc-essiv:sha256 --key-size 256 "
                   "--pbkdf-force-iterations 1000",
                   "aes-cbc-essiv:sha256", 512},
        FormatCase{"Luks2Argon2idSector512",
                   "--type luks2 --pbkdf argon2id --sector-size 512 "
                   "--pbkdf-memory 32 --pbkdf-parallel 1 --pbkdf-force-iterations 4",
                   "aes-xts-plain64", 512},
        FormatCase{"Luks2Argon2iSector4096",
                   "--type luks2 --pbkdf argon2i --sector-size 4096 "
                   "--pbkdf-memory 32 --pbkdf-parallel 1 --pbkdf-force-iterations 4",
                   "aes-xts-plain64", 4096},
        FormatCase{"Luks2Pbkdf2Sector4096",
                   "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --sector-size 4096",
                   "aes-xts-plain64", 4096},
        FormatCase{"Luks2DefaultsSectorOnAFile",  // cryptsetup 2.6 picks 4096 for a file
                   "--type luks2 --pbkdf-memory 32 --pbkdf-parallel 1 --pbkdf-force-iterations 4",
                   "aes-xts-plain64", 4096},
        FormatCase{"Luks2CbcEssiv",
                   "--type luks2 --cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 512 "
                   "--pbkdf pbkdf2 --pbkdf-force-iterations 1000",
                   "aes-cbc-essiv:sha256", 512}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(CryptsetupHeaderInVeil, QemuImgLuks1) {
  VEIL_REQUIRE_TOOL("qemu-img");
  VEIL_REQUIRE_TOOL("cryptsetup");
  TempDir dir;
  const std::string img = dir / "q.luks";
  const auto made = testing::QemuImgCreate(
      "-f luks --object secret,id=s0,data=" + std::string(kPass.substr(0, 7)) +
      " -o key-secret=s0,iter-time=10 " + img + " 1M");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  WriteFile(dir / "pass", kPass.substr(0, 7));
  auto opened = OpenVolumeKey(img, AsBytes(kPass.substr(0, 7)));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(Hex(opened->volume_key.Reveal()), DumpVolumeKeyHex(img, dir / "pass"));
  EXPECT_EQ(opened->layout.version, Version::kLuks1);
}

// A slot over the limit is skipped, not tried; the others still open.
TEST(CryptsetupHeaderInVeil, KeyslotOverTheLimitIsNotTried) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  TempDir dir;
  const std::string img = dir / "two.img";
  WriteFile(dir / "pass0", kPass);
  WriteFile(dir / "pass1", std::string_view("second passphrase"));
  ASSERT_EQ(RunCommand("truncate -s 4M " + img).exit_code, 0);
  ASSERT_EQ(
      RunCommand("cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file " +
                 (dir / "pass0") + " " + img)
          .exit_code,
      0);
  const auto add =
      RunCommand("cryptsetup luksAddKey -q --pbkdf-force-iterations 300000 --key-file " +
                 (dir / "pass0") + " " + img + " " + (dir / "pass1"));
  ASSERT_EQ(add.exit_code, 0) << add.output;
  OpenLimits limits;
  limits.pbkdf2_max_iterations = 100000;

  auto first = OpenVolumeKey(img, AsBytes(kPass), limits);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->keyslot, 0u);
  auto second = OpenVolumeKey(img, AsBytes("second passphrase"), limits);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(second.error().message.find("keyslot 1: PBKDF2 iterations 300000"), std::string::npos)
      << second.error().message;
  EXPECT_TRUE(OpenVolumeKey(img, AsBytes("second passphrase")));  // default limits

  ASSERT_EQ(
      RunCommand("cryptsetup luksKillSlot -q --key-file " + (dir / "pass1") + " " + img + " 0")
          .exit_code,
      0);
  auto only_expensive = OpenVolumeKey(img, AsBytes("second passphrase"), limits);
  ASSERT_FALSE(only_expensive);
  EXPECT_EQ(only_expensive.error().code, ErrorCode::kResourceExhausted);
}

// A genuine cryptsetup header whose JSON (checksum fixed) asks for 64 GiB: cryptsetup itself
// still reads it as valid; Veil refuses it before any derivation.
TEST(CryptsetupHeaderInVeil, AbsurdArgon2MemoryRefusedFast) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  TempDir dir;
  const std::string img = dir / "big.img";
  WriteFile(dir / "pass", kPass);
  ASSERT_EQ(RunCommand("truncate -s 20M " + img).exit_code, 0);
  ASSERT_EQ(RunCommand("cryptsetup luksFormat -q --type luks2 --pbkdf argon2id " +
                       std::string(kArgon2Fast) + " --key-file " + (dir / "pass") + " " + img)
                .exit_code,
            0);
  std::vector<uint8_t> image = ReadFile(img);
  testing::EditLuks2Json(image, [](json::object& o) {
    o["keyslots"].as_object()["0"].as_object()["kdf"].as_object()["memory"] = 67108864;
  });
  WriteFile(img, image);
  const auto dump = RunCommand("cryptsetup luksDump " + img);
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("67108864"), std::string::npos);

  auto opened = OpenVolumeKey(img, AsBytes(kPass));
  ASSERT_FALSE(opened);
  // kResourceExhausted is decided by the limit checks, before any key derivation.
  EXPECT_EQ(opened.error().code, ErrorCode::kResourceExhausted) << opened.error().ToString();

  // Overlapping keyslots in the same genuine header: refused as corrupt.
  std::vector<uint8_t> overlap = ReadFile(img);
  testing::EditLuks2Json(overlap, [](json::object& o) {
    auto& slots = o["keyslots"].as_object();
    slots["0"].as_object()["kdf"].as_object()["memory"] = 32;
    json::object copy = slots["0"].as_object();
    copy["area"].as_object()["offset"] = "65536";
    slots["1"] = copy;
  });
  WriteFile(img, overlap);
  auto refused = OpenVolumeKey(img, AsBytes(kPass));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss) << refused.error().ToString();
}

TEST(CryptsetupHeaderInVeil, TruncatedImageIsDataLoss) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  TempDir dir;
  const std::string img = dir / "t.img";
  WriteFile(dir / "pass", kPass);
  ASSERT_EQ(RunCommand("truncate -s 20M " + img).exit_code, 0);
  ASSERT_EQ(RunCommand("cryptsetup luksFormat -q --type luks2 " + std::string(kArgon2Fast) +
                       " --key-file " + (dir / "pass") + " " + img)
                .exit_code,
            0);
  ASSERT_EQ(RunCommand("truncate -s 1M " + img).exit_code, 0);
  auto opened = OpenVolumeKey(img, AsBytes(kPass));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(opened.error().message.find("truncated"), std::string::npos);
}

// ---- The passphrase conventions of IBM's image flows (docs/api-compatibility.md) ----

TEST(PassphraseConventions, Base64TextOfTheDekOrItsBytes) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  TempDir dir;
  SeededRandom random(2018);
  const SecretBytes dek = random.Secret(32);
  const std::string b64 = Base64Encode(dek.Reveal());
  CreateOptions o;
  o.pbkdf.iterations = 1000;
  const SecretBytes key = GenerateVolumeKey(random, 64).value();

  // Classic (2018): the key file holds the base64 text, no newline; it is the passphrase.
  auto classic = CreateHeader(o, key, AsBytes(b64));
  ASSERT_TRUE(classic) << classic.error().ToString();
  WriteFile(dir / "classic.img", classic->bytes);
  WriteFile(dir / "secret.dek", b64);
  WriteFile(dir / "secret.dek.nl", b64 + "\n");
  WriteFile(dir / "dek.bin", dek.Reveal());
  auto test = [&](const std::string& img, const std::string& key_file) {
    return RunCommand("cryptsetup open --test-passphrase --key-file " + (dir / key_file) + " " +
                      (dir / img))
        .exit_code;
  };
  EXPECT_EQ(test("classic.img", "secret.dek"), 0);
  EXPECT_NE(test("classic.img", "secret.dek.nl"), 0);  // key files are exact bytes
  EXPECT_NE(test("classic.img", "dek.bin"), 0);

  // VPC / vhd-util: the passphrase is the decoded DEK bytes.
  auto vpc = CreateHeader(o, key, dek.Reveal());
  ASSERT_TRUE(vpc) << vpc.error().ToString();
  WriteFile(dir / "vpc.img", vpc->bytes);
  EXPECT_EQ(test("vpc.img", "dek.bin"), 0);
  EXPECT_NE(test("vpc.img", "secret.dek"), 0);

  EXPECT_TRUE(OpenVolumeKey(dir / "classic.img", AsBytes(b64)));
  EXPECT_TRUE(OpenVolumeKey(dir / "vpc.img", dek.Reveal()));
}

}  // namespace
}  // namespace veil::luks
