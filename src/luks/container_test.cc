// CreateHeader and OpenVolumeKey with the real libcryptsetup, in process and in memory (no CLI,
// no device-mapper), with the lowest PBKDF costs cryptsetup allows so that each test is fast.
#include "luks/container.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/log.h"
#include "luks/inspect.h"
#include "luks/sector_cipher.h"
#include "luks/test_support.h"

namespace veil::luks {
namespace {

namespace json = boost::json;
using testing::EditLuks2Json;
using testing::StoreBe32At;

const std::span<const uint8_t> kPass = AsBytes("correct horse battery staple");

CreateOptions FastOptions(Version version) {
  CreateOptions o;
  o.version = version;
  if (version == Version::kLuks1) {
    o.pbkdf.type = "pbkdf2";
    o.pbkdf.iterations = 1000;
  } else {
    o.pbkdf.type = "argon2id";
    o.pbkdf.iterations = 4;
    o.pbkdf.memory_kib = 32;
    o.pbkdf.parallel = 1;
  }
  return o;
}

SecretBytes Key(size_t n = 64, uint64_t seed = 1) {
  SeededRandom random(seed);
  return GenerateVolumeKey(random, n).value();
}

TEST(CreateHeader, Luks1DefaultsAndOpen) {
  const SecretBytes key = Key();
  auto blob = CreateHeader(FastOptions(Version::kLuks1), key, kPass);
  ASSERT_TRUE(blob) << blob.error().ToString();
  EXPECT_EQ(blob->layout.version, Version::kLuks1);
  EXPECT_EQ(blob->layout.cipher_spec, "aes-xts-plain64");
  EXPECT_EQ(blob->layout.key_bytes, 64u);
  EXPECT_EQ(blob->layout.sector_size, 512u);
  EXPECT_EQ(blob->layout.payload_offset_bytes, 2u << 20);  // cryptsetup 2.6: 4096 sectors
  EXPECT_EQ(blob->bytes.size(), blob->layout.payload_offset_bytes);
  EXPECT_FALSE(blob->layout.uuid.empty());

  auto opened = OpenVolumeKey(std::span<const uint8_t>(blob->bytes), kPass);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->volume_key.Equals(key));
  EXPECT_EQ(opened->keyslot, 0u);
  EXPECT_EQ(opened->layout.payload_offset_bytes, blob->layout.payload_offset_bytes);
  EXPECT_EQ(opened->layout.uuid, blob->layout.uuid);
}

TEST(CreateHeader, Luks2Argon2idSector4096Label) {
  const SecretBytes key = Key(32, 2);
  CreateOptions o = FastOptions(Version::kLuks2);
  o.key_bytes = 32;
  o.sector_size = 4096;
  o.label = "veil-test";
  o.uuid = "0b7b2ecb-93a4-4d7e-9d3a-000000000001";
  auto blob = CreateHeader(o, key, kPass);
  ASSERT_TRUE(blob) << blob.error().ToString();
  EXPECT_EQ(blob->layout.payload_offset_bytes, 16u << 20);  // cryptsetup 2.6 LUKS2 default
  EXPECT_EQ(blob->layout.sector_size, 4096u);
  EXPECT_EQ(blob->layout.uuid, o.uuid);
  auto info = Inspect(blob->bytes);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->label, "veil-test");
  EXPECT_EQ(info->keyslots.at(0).kdf.type, "argon2id");
  EXPECT_EQ(info->keyslots.at(0).kdf.time, 4u);
  EXPECT_EQ(info->keyslots.at(0).kdf.memory_kib, 32u);
  EXPECT_TRUE(info->warnings.empty());
  auto opened = OpenVolumeKey(std::span<const uint8_t>(blob->bytes), kPass);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->volume_key.Equals(key));
}

TEST(CreateHeader, ExplicitDataOffset) {
  CreateOptions o = FastOptions(Version::kLuks2);
  o.data_offset_bytes = 4u << 20;
  o.pbkdf.type = "pbkdf2";
  o.pbkdf.iterations = 1000;
  auto blob = CreateHeader(o, Key(), kPass);
  ASSERT_TRUE(blob) << blob.error().ToString();
  EXPECT_EQ(blob->layout.payload_offset_bytes, 4u << 20);
  EXPECT_EQ(blob->bytes.size(), 4u << 20);

  CreateOptions small = FastOptions(Version::kLuks1);
  small.data_offset_bytes = 4096;  // smaller than a LUKS1 header with 8 key-material areas
  auto refused = CreateHeader(small, Key(), kPass);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << refused.error().ToString();
}

TEST(CreateHeader, InconsistentOptionsAreRefused) {
  struct Case {
    std::function<void(CreateOptions&)> edit;
    ErrorCode code;
  };
  for (const Case& c : {
           Case{[](CreateOptions& o) { o.pbkdf.type = "argon2id"; }, ErrorCode::kInvalidArgument},
           Case{[](CreateOptions& o) { o.sector_size = 4096; }, ErrorCode::kInvalidArgument},
           Case{[](CreateOptions& o) { o.label = "x"; }, ErrorCode::kInvalidArgument},
           Case{[](CreateOptions& o) { o.mode = "cbc-essiv:sha256"; }, ErrorCode::kUnimplemented},
           Case{[](CreateOptions& o) { o.cipher = "serpent"; }, ErrorCode::kUnimplemented},
           Case{[](CreateOptions& o) { o.key_bytes = 32; }, ErrorCode::kInvalidArgument},
           Case{[](CreateOptions& o) { o.pbkdf.type = "scrypt"; }, ErrorCode::kInvalidArgument},
           Case{[](CreateOptions& o) { o.data_offset_bytes = 1000; }, ErrorCode::kInvalidArgument},
       }) {
    CreateOptions o = FastOptions(Version::kLuks1);
    c.edit(o);
    auto blob = CreateHeader(o, Key(64), kPass);
    ASSERT_FALSE(blob);
    EXPECT_EQ(blob.error().code, c.code) << blob.error().ToString();
  }
  auto empty = CreateHeader(FastOptions(Version::kLuks1), Key(), {});
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
}

TEST(GenerateVolumeKey, SizesAndRandomness) {
  SeededRandom random(5);
  auto a = GenerateVolumeKey(random, 64);
  auto b = GenerateVolumeKey(random, 64);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 64u);
  EXPECT_FALSE(a->Equals(*b));
  EXPECT_TRUE(GenerateVolumeKey(random, 32));
  EXPECT_EQ(GenerateVolumeKey(random, 48).error().code, ErrorCode::kInvalidArgument);
}

class OpenVolumeKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key1_ = new SecretBytes(Key(64, 11));
    auto l1 = CreateHeader(FastOptions(Version::kLuks1), *key1_, kPass);
    ASSERT_TRUE(l1) << l1.error().ToString();
    luks1_ = new HeaderBlob(std::move(*l1));
    key2_ = new SecretBytes(Key(64, 12));
    auto l2 = CreateHeader(FastOptions(Version::kLuks2), *key2_, kPass);
    ASSERT_TRUE(l2) << l2.error().ToString();
    luks2_ = new HeaderBlob(std::move(*l2));
  }
  static void TearDownTestSuite() {
    delete luks1_;
    delete luks2_;
    delete key1_;
    delete key2_;
  }

  // Runs OpenVolumeKey and checks that it failed with `code`.
  static Error ExpectFastFailure(std::span<const uint8_t> bytes, ErrorCode code,
                                 const OpenLimits& limits = {}) {
    auto opened = OpenVolumeKey(bytes, kPass, limits);
    EXPECT_FALSE(opened);
    if (opened) return Error();
    EXPECT_EQ(opened.error().code, code) << opened.error().ToString();
    // kResourceExhausted comes only from the limit checks, which run before any derivation
    // (OpenVolumeKey never reaches libcryptsetup with an over-limit keyslot): no timing needed.
    return opened.error();
  }

  static inline SecretBytes* key1_ = nullptr;
  static inline SecretBytes* key2_ = nullptr;
  static inline HeaderBlob* luks1_ = nullptr;
  static inline HeaderBlob* luks2_ = nullptr;
};

TEST_F(OpenVolumeKeyTest, WrongPassphraseIsPermissionDenied) {
  for (const HeaderBlob* blob : {luks1_, luks2_}) {
    auto opened = OpenVolumeKey(std::span<const uint8_t>(blob->bytes), AsBytes("wrong"));
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kPermissionDenied);
    EXPECT_EQ(opened.error().message, "no keyslot opens with this passphrase");
  }
}

TEST_F(OpenVolumeKeyTest, AbsurdArgon2MemoryIsRefusedBeforeDerivation) {
  auto b = luks2_->bytes;
  EditLuks2Json(b, [](json::object& o) {
    o["keyslots"].as_object()["0"].as_object()["kdf"].as_object()["memory"] = 67108864;  // 64 GiB
  });
  auto info = Inspect(b);
  ASSERT_TRUE(info) << info.error().ToString();  // a valid header, just too expensive
  const Error e = ExpectFastFailure(b, ErrorCode::kResourceExhausted);
  EXPECT_NE(e.message.find("Argon2 memory cost 67108864 KiB"), std::string::npos) << e.message;

  // The limit is configurable: the genuine 32 KiB slot is refused under a 16 KiB cap.
  OpenLimits tight;
  tight.argon2_max_memory_kib = 16;
  ExpectFastFailure(luks2_->bytes, ErrorCode::kResourceExhausted, tight);
}

TEST_F(OpenVolumeKeyTest, AbsurdPbkdf2IterationsAreRefusedBeforeDerivation) {
  auto slot = luks1_->bytes;
  StoreBe32At(slot, 208 + 4, 0xffffffff);  // keyslot 0 iterations
  const Error e = ExpectFastFailure(slot, ErrorCode::kResourceExhausted);
  EXPECT_NE(e.message.find("keyslot 0: PBKDF2 iterations 4294967295"), std::string::npos);
  auto digest = luks1_->bytes;
  StoreBe32At(digest, 164, 0xffffffff);  // master-key digest iterations
  ExpectFastFailure(digest, ErrorCode::kResourceExhausted);
}

TEST_F(OpenVolumeKeyTest, KeyslotsTogetherWithinTheTotalWork) {
  // All eight LUKS1 keyslots active, each at the fixture's 1000 iterations (slots 1-7 hold no
  // valid key material): under a 2000-iteration limit each costs 1.0 with its digest, so one
  // passphrase is tried against two of them, and the other six are left out, before any
  // derivation.
  auto b = luks1_->bytes;
  for (size_t slot = 1; slot < 8; ++slot) {
    StoreBe32At(b, 208 + 48 * slot, 0x00AC71F3);  // active
    StoreBe32At(b, 208 + 48 * slot + 4, 1000);    // iterations
  }
  auto info = Inspect(b);
  ASSERT_TRUE(info) << info.error().ToString();
  OpenLimits limits;
  limits.pbkdf2_max_iterations = 2000;
  auto wrong = OpenVolumeKey(std::span<const uint8_t>(b), AsBytes("wrong"), limits);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(wrong.error().message,
            "no keyslot opens with this passphrase (other keyslots were not tried: keyslot 2: not "
            "tried, the keyslots before it take the key-derivation work allowed for one "
            "passphrase (2 keyslots at the limits))");
  auto right = OpenVolumeKey(std::span<const uint8_t>(b), kPass, limits);
  ASSERT_TRUE(right) << right.error().ToString();
  EXPECT_EQ(right->keyslot, 0u);
  EXPECT_TRUE(right->volume_key.Equals(*key1_));
}

TEST_F(OpenVolumeKeyTest, TruncatedOrDamagedHeaders) {
  // Keyslot area cut off.
  std::vector<uint8_t> cut(luks2_->bytes.begin(), luks2_->bytes.begin() + 65536);
  const Error e = ExpectFastFailure(cut, ErrorCode::kDataLoss);
  EXPECT_NE(e.message.find("truncated"), std::string::npos);
  // Both checksums broken.
  auto b = luks2_->bytes;
  b[4100] ^= 1;
  b[16384 + 4100] ^= 1;
  ExpectFastFailure(b, ErrorCode::kDataLoss);
  // Not LUKS at all.
  std::vector<uint8_t> zeros(1 << 20);
  const Error n = ExpectFastFailure(zeros, ErrorCode::kInvalidArgument);
  EXPECT_EQ(n.message, "not a LUKS image (no LUKS header magic)");
}

TEST_F(OpenVolumeKeyTest, UnsupportedPayloadCipherIsUnimplemented) {
  auto b = luks2_->bytes;
  EditLuks2Json(b, [](json::object& o) {
    o["segments"].as_object()["0"].as_object()["encryption"] = "twofish-xts-plain64";
  });
  const Error e = ExpectFastFailure(b, ErrorCode::kUnimplemented);
  EXPECT_NE(e.message.find("twofish-xts-plain64"), std::string::npos);
}

TEST_F(OpenVolumeKeyTest, OnlyTheValidatedCopyReachesLibcryptsetup) {
  // Primary damaged: refused before libcryptsetup could recover it from the secondary (which it
  // refuses to do on a device holding another signature, and Veil cannot probe for those).
  auto b = luks2_->bytes;
  b[4100] ^= 1;
  const Error damaged = ExpectFastFailure(b, ErrorCode::kDataLoss);
  EXPECT_NE(damaged.message.find("only one of the two LUKS2 metadata copies"), std::string::npos)
      << damaged.message;

  // A newer secondary with an absurd cost: Veil follows cryptsetup's choice (higher seqid) and
  // refuses, rather than validating the primary while libcryptsetup would use the secondary.
  auto newer = luks2_->bytes;
  const size_t hdr = 16384;
  testing::StoreBe64At(newer, hdr + 16, testing::LoadBe64At(newer, 16) + 1);
  json::value v = json::parse(testing::GetLuks2Json(newer, hdr));
  v.at("keyslots").at("0").at("kdf").as_object()["memory"] = 67108864;
  testing::SetLuks2Json(newer, hdr, json::serialize(v));
  ExpectFastFailure(newer, ErrorCode::kResourceExhausted);
}

TEST_F(OpenVolumeKeyTest, Luks2SegmentWithAnIvTweakOpens) {
  // libcryptsetup reports no IV offset for LUKS2 (crypt_get_iv_offset is 0): that is not a
  // disagreement with Veil's parser, which reads the segment's iv_tweak.
  auto b = luks2_->bytes;
  EditLuks2Json(
      b, [](json::object& o) { o["segments"].as_object()["0"].as_object()["iv_tweak"] = "8"; });
  auto opened = OpenVolumeKey(std::span<const uint8_t>(b), kPass);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->volume_key.Equals(*key2_));
  EXPECT_EQ(opened->layout.iv_tweak, 8u);
}

TEST_F(OpenVolumeKeyTest, NoKeyslotForTheSegment) {
  auto b = luks1_->bytes;
  StoreBe32At(b, 208, 0x0000DEAD);  // disable slot 0
  ExpectFastFailure(b, ErrorCode::kFailedPrecondition);
}

TEST_F(OpenVolumeKeyTest, FromAFileChecksItsSize) {
  testing::TempDir dir;
  std::vector<uint8_t> image = luks1_->bytes;
  image.resize(image.size() + 8192, 0xab);
  testing::WriteFile(dir / "ok.img", image);
  auto opened = OpenVolumeKey(dir / "ok.img", kPass);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->volume_key.Equals(*key1_));

  image.resize(1 << 20);  // cut inside the keyslot areas
  testing::WriteFile(dir / "short.img", image);
  auto cut = OpenVolumeKey(dir / "short.img", kPass);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::kDataLoss);
  auto inspected = InspectFile(dir / "short.img");
  ASSERT_FALSE(inspected);
  EXPECT_EQ(inspected.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(InspectFile(dir / "absent.img").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace veil::luks

namespace veil::luks {
namespace {

// Security invariant: the passphrase and the volume key never reach the log (where
// libcryptsetup's lines go) or an error message.
TEST(Secrets, NeitherPassphraseNorVolumeKeyReachLogsOrErrors) {
  testing::TempDir dir;
  const std::string log_path = dir / "log";
  const log::Level previous = log::GetLevel();
  log::SetLevel(log::Level::kDebug);
  ASSERT_TRUE(log::SetFile(log_path));
  const std::string pass = "p4ss-phrase-that-must-not-leak";
  const SecretBytes key = Key(64, 99);
  std::vector<std::string> errors;
  auto blob = CreateHeader(FastOptions(Version::kLuks2), key, AsBytes(pass));
  ASSERT_TRUE(blob) << blob.error().ToString();
  EXPECT_TRUE(OpenVolumeKey(std::span<const uint8_t>(blob->bytes), AsBytes(pass)));
  auto wrong = OpenVolumeKey(std::span<const uint8_t>(blob->bytes), AsBytes(pass + "x"));
  ASSERT_FALSE(wrong);
  errors.push_back(wrong.error().ToString());
  CreateOptions bad = FastOptions(Version::kLuks1);
  bad.data_offset_bytes = 4096;
  auto refused = CreateHeader(bad, key, AsBytes(pass));
  ASSERT_FALSE(refused);
  errors.push_back(refused.error().ToString());
  log::SetFile("");
  log::SetLevel(previous);

  const auto bytes = testing::ReadFile(log_path);
  const std::string logged(bytes.begin(), bytes.end());
  EXPECT_NE(logged.find("libcryptsetup:"), std::string::npos) << "the log routing is not tested";
  const std::string key_hex = testing::Hex(key.Reveal());
  for (const std::string& text : std::vector<std::string>{logged, errors[0], errors[1]}) {
    EXPECT_EQ(text.find(pass), std::string::npos) << text;
    EXPECT_EQ(text.find(key_hex.substr(0, 16)), std::string::npos) << text;
    EXPECT_EQ(text.find(Base64Encode(key.Reveal()).substr(0, 12)), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace veil::luks
