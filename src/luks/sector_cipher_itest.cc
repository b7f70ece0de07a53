// The data path against third-party implementations of dm-crypt's sector encryption:
//   - cryptsetup's own userspace encryption (`cryptsetup reencrypt --encrypt`, which needs no
//     device-mapper for LUKS2), for the IV convention of LUKS2 sectors (512 and 4096 bytes) and
//     the three ciphers SectorCipher implements;
//   - cryptsetup decrypting Veil's data (`reencrypt` to a new volume key, offline);
//   - QEMU (qemu-img / qemu-io, LUKS1 only) writing and reading data;
//   - Python's `cryptography` AES-XTS, both ways, with an iv_tweak.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "crypto/xts.h"
#include "luks/container.h"
#include "luks/inspect.h"
#include "luks/itest_support.h"
#include "luks/sector_cipher.h"

namespace veil::luks {
namespace {

using testing::DumpVolumeKeyHex;
using testing::Pattern;
using testing::ReadFile;
using testing::RunCommand;
using testing::Slice;
using testing::TempDir;
using testing::WriteFile;

constexpr std::string_view kSectorPass = "sector cipher test";
constexpr uint64_t kData = 1 << 20;

std::vector<uint8_t> DecryptPayload(const std::string& img, uint64_t length) {
  auto opened = OpenVolumeKey(img, AsBytes(kSectorPass));
  EXPECT_TRUE(opened) << opened.error().ToString();
  if (!opened) return {};
  std::vector<uint8_t> data = Slice(ReadFile(img), opened->layout.payload_offset_bytes, length);
  auto cipher = SectorCipher::Create(opened->layout, opened->volume_key);
  EXPECT_TRUE(cipher) << cipher.error().ToString();
  if (!cipher) return {};
  EXPECT_TRUE(cipher->Decrypt(data, 0));
  return data;
}

struct ReencryptCase {
  const char* name;
  const char* cipher;
  int key_bits;
  uint32_t sector_size;
};

class CryptsetupEncryptsVeilDecrypts : public ::testing::TestWithParam<ReencryptCase> {};

// The proof of the IV convention: cryptsetup encrypts known data with its own code, Veil
// decrypts it. For 4096-byte sectors a negative control shows that IVs counted in 4096-byte units
// (dm-crypt's iv_large_sectors) would NOT decrypt it: cryptsetup counts 512-byte units.
TEST_P(CryptsetupEncryptsVeilDecrypts, IvsCount512ByteUnits) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  const ReencryptCase& c = GetParam();
  TempDir dir;
  const std::string img = dir / "plain.img";
  const std::vector<uint8_t> plain = Pattern(kData, 11);
  std::vector<uint8_t> image = plain;
  image.resize(kData + (8 << 20));  // room for the header: --reduce-device-size 8M
  WriteFile(img, image);
  WriteFile(dir / "pass", kSectorPass);
  const auto enc =
      RunCommand("cryptsetup reencrypt --encrypt --batch-mode --type luks2 --cipher " +
                 std::string(c.cipher) + " --key-size " + std::to_string(c.key_bits) +
                 " --sector-size " + std::to_string(c.sector_size) +
                 " --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --reduce-device-size 8M"
                 " --key-file " +
                 (dir / "pass") + " " + img);
  ASSERT_EQ(enc.exit_code, 0) << enc.output;
  auto info = InspectFile(img);
  ASSERT_TRUE(info) << info.error().ToString();
  ASSERT_EQ(info->layout.cipher_spec, c.cipher);
  ASSERT_EQ(info->layout.sector_size, c.sector_size);
  ASSERT_NE(Slice(ReadFile(img), info->layout.payload_offset_bytes, kData), plain);

  EXPECT_EQ(DecryptPayload(img, kData), plain);

  if (c.sector_size == 4096 && std::string_view(c.cipher) == "aes-xts-plain64") {
    auto opened = OpenVolumeKey(img, AsBytes(kSectorPass));
    ASSERT_TRUE(opened);
    auto xts = crypto::XtsCipher::Create(opened->volume_key.Reveal());
    ASSERT_TRUE(xts);
    std::vector<uint8_t> data = Slice(ReadFile(img), opened->layout.payload_offset_bytes, kData);
    ASSERT_TRUE(xts->DecryptSectors(data, 0, 4096));         // IV n for sector n: large-sector IVs
    EXPECT_EQ(Slice(data, 0, 4096), Slice(plain, 0, 4096));  // sector 0: IV 0 either way
    EXPECT_NE(Slice(data, 4096, 4096), Slice(plain, 4096, 4096));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CryptsetupEncryptsVeilDecrypts,
    ::testing::Values(ReencryptCase{"XtsPlain64Sector4096", "aes-xts-plain64", 512, 4096},
                      ReencryptCase{"XtsPlain64Sector512", "aes-xts-plain64", 512, 512},
                      ReencryptCase{"XtsPlain64Aes128Sector4096", "aes-xts-plain64", 256, 4096},
                      ReencryptCase{"XtsPlainSector4096", "aes-xts-plain", 512, 4096},
                      ReencryptCase{"CbcEssivSector512", "aes-cbc-essiv:sha256", 256, 512},
                      ReencryptCase{"CbcEssivSector4096", "aes-cbc-essiv:sha256", 256, 4096}),
    [](const auto& p) { return std::string(p.param.name); });

class VeilEncryptsCryptsetupDecrypts : public ::testing::TestWithParam<uint32_t> {};

// cryptsetup re-keys a Veil image offline: it decrypts every sector with Veil's key and IVs and
// re-encrypts it under a new key. If Veil's data were wrong, the result would be garbage.
TEST_P(VeilEncryptsCryptsetupDecrypts, OfflineReencryptKeepsThePlaintext) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  const uint32_t sector_size = GetParam();
  TempDir dir;
  CreateOptions o;
  o.version = Version::kLuks2;
  o.sector_size = sector_size;
  o.pbkdf.type = "pbkdf2";
  o.pbkdf.iterations = 1000;
  SeededRandom random(sector_size);
  const SecretBytes key = GenerateVolumeKey(random, 64).value();
  auto blob = CreateHeader(o, key, AsBytes(kSectorPass));
  ASSERT_TRUE(blob) << blob.error().ToString();
  const std::vector<uint8_t> plain = Pattern(kData, 12);
  std::vector<uint8_t> payload = plain;
  auto cipher = SectorCipher::Create(blob->layout, key);
  ASSERT_TRUE(cipher);
  ASSERT_TRUE(cipher->Encrypt(payload, 0));
  std::vector<uint8_t> image = blob->bytes;
  image.insert(image.end(), payload.begin(), payload.end());
  const std::string img = dir / "veil.img";
  WriteFile(img, image);
  WriteFile(dir / "pass", kSectorPass);

  const auto re = RunCommand(
      "cryptsetup reencrypt --force-offline-reencrypt --batch-mode --pbkdf pbkdf2"
      " --pbkdf-force-iterations 1000 --key-file " +
      (dir / "pass") + " " + img);
  ASSERT_EQ(re.exit_code, 0) << re.output;
  auto opened = OpenVolumeKey(img, AsBytes(kSectorPass));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_FALSE(opened->volume_key.Equals(key));  // really re-keyed
  EXPECT_EQ(DecryptPayload(img, kData), plain);
}

INSTANTIATE_TEST_SUITE_P(SectorSizes, VeilEncryptsCryptsetupDecrypts,
                         ::testing::Values(512u, 4096u));

// QEMU's own LUKS1 implementation (the reader of Veil's default output), both directions.
struct QemuCase {
  const char* name;
  const char* create_opts;
  const char* cipher;
};

class QemuLuks1 : public ::testing::TestWithParam<QemuCase> {};

TEST_P(QemuLuks1, QemuWritesVeilReads) {
  VEIL_REQUIRE_TOOL("qemu-img");
  VEIL_REQUIRE_TOOL("qemu-io");
  const QemuCase& c = GetParam();
  TempDir dir;
  const std::string img = dir / "q.luks";
  const std::string secret = "--object secret,id=s0,data=" + std::string("qemupass");
  const auto made = testing::QemuImgCreate("-f luks " + secret + " -o key-secret=s0,iter-time=10" +
                                           c.create_opts + " " + img + " 1M");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto wrote = RunCommand("qemu-io " + secret + " --image-opts driver=luks,key-secret=s0," +
                                "file.filename=" + img + " -c 'write -P 0x5a 0 512k'" +
                                " -c 'write -P 0xa5 512k 512k'");
  ASSERT_EQ(wrote.exit_code, 0) << wrote.output;
  auto opened = OpenVolumeKey(img, AsBytes("qemupass"));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(opened->layout.cipher_spec, c.cipher);
  std::vector<uint8_t> data = Slice(ReadFile(img), opened->layout.payload_offset_bytes, kData);
  auto cipher = SectorCipher::Create(opened->layout, opened->volume_key);
  ASSERT_TRUE(cipher) << cipher.error().ToString();
  ASSERT_TRUE(cipher->Decrypt(data, 0));
  std::vector<uint8_t> expected(kData, 0x5a);
  std::fill(expected.begin() + kData / 2, expected.end(), 0xa5);
  EXPECT_EQ(data, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Ciphers, QemuLuks1,
    ::testing::Values(QemuCase{"XtsPlain64", "", "aes-xts-plain64"},
                      QemuCase{"CbcEssivSha256",
                               ",cipher-alg=aes-256,cipher-mode=cbc,ivgen-alg=essiv,"
                               "ivgen-hash-alg=sha256",
                               "aes-cbc-essiv:sha256"},
                      QemuCase{"XtsPlain", ",ivgen-alg=plain", "aes-xts-plain"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(QemuLuks1Read, VeilWritesQemuReads) {
  VEIL_REQUIRE_TOOL("qemu-io");
  TempDir dir;
  CreateOptions o;
  o.pbkdf.iterations = 1000;
  SeededRandom random(7);
  const SecretBytes key = GenerateVolumeKey(random, 64).value();
  auto blob = CreateHeader(o, key, AsBytes(kSectorPass));
  ASSERT_TRUE(blob) << blob.error().ToString();
  std::vector<uint8_t> payload(kData, 0x3c);
  std::fill(payload.begin() + 4096, payload.begin() + 8192, 0xc3);
  auto cipher = SectorCipher::Create(blob->layout, key);
  ASSERT_TRUE(cipher);
  ASSERT_TRUE(cipher->Encrypt(payload, 0));
  std::vector<uint8_t> image = blob->bytes;
  image.insert(image.end(), payload.begin(), payload.end());
  const std::string img = dir / "veil.luks";
  WriteFile(img, image);
  const auto read =
      RunCommand("qemu-io --object secret,id=s0,data='" + std::string(kSectorPass) +
                 "' --image-opts driver=luks,key-secret=s0,file.filename=" + img +
                 " -c 'read -P 0x3c 0 4k' -c 'read -P 0xc3 4k 4k' -c 'read -P 0x3c 8k 1016k'");
  ASSERT_EQ(read.exit_code, 0) << read.output;
  EXPECT_EQ(read.output.find("Pattern verification failed"), std::string::npos) << read.output;
  EXPECT_NE(read.output.find("read 1040384/1040384 bytes"), std::string::npos) << read.output;
}

// Python with the dumped key, both directions, with a non-zero iv_tweak.
TEST(PythonXts, BothDirectionsWithIvTweak) {
  if (!testing::HavePythonCryptography())
    GTEST_FAIL() << "python3-cryptography is not installed (make deps)";
  TempDir dir;
  const std::string script = testing::WriteXtsScript(dir);
  for (uint32_t sector_size : {512u, 4096u}) {
    Layout l;
    l.version = Version::kLuks2;
    l.cipher_spec = "aes-xts-plain64";
    l.key_bytes = 64;
    l.sector_size = sector_size;
    l.iv_tweak = 123456789;
    SeededRandom random(sector_size);
    const SecretBytes key = GenerateVolumeKey(random, 64).value();
    const std::string key_hex = testing::Hex(key.Reveal());
    auto cipher = SectorCipher::Create(l, key);
    ASSERT_TRUE(cipher);
    const std::vector<uint8_t> plain = Pattern(kData, sector_size);

    std::vector<uint8_t> veil = plain;
    ASSERT_TRUE(cipher->Encrypt(veil, 0));
    WriteFile(dir / "v.bin", veil);
    ASSERT_EQ(testing::RunXtsScript(script, "dec", dir / "v.bin", key_hex, 0, kData, sector_size,
                                    l.iv_tweak),
              0);
    EXPECT_EQ(ReadFile(dir / "v.bin"), plain) << sector_size;

    WriteFile(dir / "p.bin", plain);
    ASSERT_EQ(testing::RunXtsScript(script, "enc", dir / "p.bin", key_hex, 0, kData, sector_size,
                                    l.iv_tweak),
              0);
    std::vector<uint8_t> theirs = ReadFile(dir / "p.bin");
    EXPECT_EQ(theirs, veil) << sector_size;
    ASSERT_TRUE(cipher->Decrypt(theirs, 0));
    EXPECT_EQ(theirs, plain) << sector_size;
  }
}

}  // namespace
}  // namespace veil::luks
