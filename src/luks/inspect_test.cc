#include "luks/inspect.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>

#include "luks/test_support.h"

namespace veil::luks {
namespace {

using testing::EditLuks2Json;
using testing::FixLuks2Checksum;
using testing::Fixture;
using testing::GetLuks2Json;
using testing::SetLuks2Json;
using testing::StoreBe32At;
using testing::StoreBe64At;
namespace json = boost::json;

using testing::kHdr;
using testing::Seg0;

// ---- LUKS1 ----

TEST(InspectLuks1, CryptsetupHeaderAllFields) {
  auto info = Inspect(Fixture("luks1-aes-xts-plain64-sha256.bin"));
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->version, Version::kLuks1);
  EXPECT_EQ(info->layout.cipher_spec, "aes-xts-plain64");
  EXPECT_EQ(info->layout.key_bytes, 64u);
  EXPECT_EQ(info->layout.sector_size, 512u);
  EXPECT_EQ(info->layout.payload_offset_bytes, 4096u * 512);
  EXPECT_EQ(info->layout.iv_tweak, 0u);
  EXPECT_FALSE(info->layout.payload_size_bytes);
  EXPECT_EQ(info->layout.uuid, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(info->hash_spec, "sha256");
  ASSERT_EQ(info->keyslots.size(), 8u);
  EXPECT_EQ(info->keyslots[0].state, KeyslotState::kActive);
  EXPECT_EQ(info->keyslots[0].kdf.type, "pbkdf2");
  EXPECT_EQ(info->keyslots[0].kdf.iterations, 1000u);
  EXPECT_EQ(info->keyslots[0].area_offset, 4096u);
  EXPECT_EQ(info->keyslots[0].area_size, 256000u);  // 64 bytes x 4000 stripes
  for (int i = 1; i < 8; ++i) EXPECT_EQ(info->keyslots[i].state, KeyslotState::kInactive);
  ASSERT_EQ(info->digests.size(), 1u);
  EXPECT_EQ(info->digests[0].keyslots, std::vector<uint32_t>{0});
  EXPECT_EQ(info->metadata_end_bytes, info->keyslots[7].area_offset + 256000);
  EXPECT_TRUE(info->warnings.empty());
}

TEST(InspectLuks1, CbcEssivAndQemuHeaders) {
  auto cbc = Inspect(Fixture("luks1-aes-cbc-essiv-sha256.bin"));
  ASSERT_TRUE(cbc) << cbc.error().ToString();
  EXPECT_EQ(cbc->layout.cipher_spec, "aes-cbc-essiv:sha256");
  EXPECT_EQ(cbc->layout.key_bytes, 32u);
  auto qemu = Inspect(Fixture("luks1-qemu-img.bin"));
  ASSERT_TRUE(qemu) << qemu.error().ToString();
  EXPECT_EQ(qemu->layout.cipher_spec, "aes-xts-plain64");
  EXPECT_EQ(qemu->layout.payload_offset_bytes, 4040u * 512);  // QEMU does not align to 1 MiB
}

TEST(InspectLuks1, TruncatedHeaderIsDataLoss) {
  auto b = Fixture("luks1-aes-xts-plain64-sha256.bin");
  b.resize(591);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(info.error().message.find("truncated"), std::string::npos);
}

struct Luks1Mutation {
  const char* name;
  std::function<void(std::vector<uint8_t>&)> mutate;
  const char* message;
};

class InspectLuks1Hostile : public ::testing::TestWithParam<Luks1Mutation> {};

TEST_P(InspectLuks1Hostile, RefusedAsDataLoss) {
  auto b = Fixture("luks1-aes-xts-plain64-sha256.bin");
  GetParam().mutate(b);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << info.error().ToString();
  EXPECT_NE(info.error().message.find(GetParam().message), std::string::npos)
      << info.error().message;
}

constexpr size_t kSlot = 208, kSlotSize = 48;

INSTANTIATE_TEST_SUITE_P(
    Mutations, InspectLuks1Hostile,
    ::testing::Values(
        Luks1Mutation{"SlotsOverlap", [](auto& b) { StoreBe32At(b, kSlot + kSlotSize + 40, 8); },
                      "overlap"},
        Luks1Mutation{"SlotOverlapsHeader", [](auto& b) { StoreBe32At(b, kSlot + 40, 1); },
                      "overlaps the header"},
        Luks1Mutation{"SlotOverlapsPayload", [](auto& b) { StoreBe32At(b, 104, 2048); },
                      "overlaps the payload"},
        Luks1Mutation{"InvalidSlotState", [](auto& b) { StoreBe32At(b, kSlot, 0x12345678); },
                      "invalid state"},
        Luks1Mutation{"WrongStripes", [](auto& b) { StoreBe32At(b, kSlot + 44, 1); }, "stripes"},
        Luks1Mutation{"ZeroKeyBytes", [](auto& b) { StoreBe32At(b, 108, 0); }, "key size"},
        Luks1Mutation{"HugeKeyBytes", [](auto& b) { StoreBe32At(b, 108, 0x40000000); }, "key size"},
        Luks1Mutation{"ZeroIterations", [](auto& b) { StoreBe32At(b, kSlot + 4, 0); },
                      "zero PBKDF2"},
        Luks1Mutation{"UnterminatedCipher", [](auto& b) { std::fill_n(&b[8], 32, 'a'); },
                      "NUL-terminated"},
        Luks1Mutation{"EscapeInCipher", [](auto& b) { b[9] = 0x1b; }, "control characters"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(InspectLuks1, DetachedHeaderWithZeroPayloadOffsetIsAccepted) {
  auto b = Fixture("luks1-aes-xts-plain64-sha256.bin");
  StoreBe32At(b, 104, 0);
  auto info = Inspect(b);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->layout.payload_offset_bytes, 0u);
}

// ---- Not LUKS, other versions ----

TEST(Inspect, NotLuksIsInvalidArgument) {
  for (const auto& bytes : {std::vector<uint8_t>{}, std::vector<uint8_t>(5, 'L'),
                            std::vector<uint8_t>(65536, 0), testing::Pattern(65536, 7)}) {
    auto info = Inspect(bytes);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(info.error().message, "not a LUKS image (no LUKS header magic)");
  }
}

TEST(Inspect, UnknownVersionIsUnimplemented) {
  auto b = Fixture("luks1-aes-xts-plain64-sha256.bin");
  b[7] = 3;
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kUnimplemented);
}

// ---- LUKS2 ----

TEST(InspectLuks2, CryptsetupArgon2idHeader) {
  auto info = Inspect(Fixture("luks2-argon2id-4096.bin"));
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->version, Version::kLuks2);
  EXPECT_EQ(info->label, "veil-fixture");
  EXPECT_EQ(info->header_size_bytes, kHdr);
  EXPECT_EQ(info->keyslots_area_bytes, 16744448u);
  EXPECT_EQ(info->metadata_end_bytes, 16u << 20);
  EXPECT_EQ(info->layout.cipher_spec, "aes-xts-plain64");
  EXPECT_EQ(info->layout.key_bytes, 64u);
  EXPECT_EQ(info->layout.sector_size, 4096u);
  EXPECT_EQ(info->layout.payload_offset_bytes, 16u << 20);
  EXPECT_EQ(info->layout.iv_tweak, 0u);
  EXPECT_FALSE(info->layout.payload_size_bytes);
  ASSERT_EQ(info->keyslots.size(), 1u);
  const KeyslotInfo& k = info->keyslots[0];
  EXPECT_EQ(k.type, "luks2");
  EXPECT_EQ(k.kdf.type, "argon2id");
  EXPECT_EQ(k.kdf.time, 4u);
  EXPECT_EQ(k.kdf.memory_kib, 32u);
  EXPECT_EQ(k.kdf.parallel, 1u);
  EXPECT_EQ(k.kdf.salt_bytes, 32u);
  EXPECT_EQ(k.area_offset, 32768u);
  EXPECT_EQ(k.area_size, 258048u);
  EXPECT_EQ(k.area_encryption, "aes-xts-plain64");
  ASSERT_TRUE(k.digest);
  EXPECT_EQ(*k.digest, 0u);
  ASSERT_EQ(info->digests.size(), 1u);
  EXPECT_EQ(info->digests[0].iterations, 1000u);
  EXPECT_TRUE(info->warnings.empty());
}

TEST(InspectLuks2, CryptsetupPbkdf2Aes128Header) {
  auto info = Inspect(Fixture("luks2-pbkdf2-aes128-4096.bin"));
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->layout.key_bytes, 32u);
  EXPECT_EQ(info->keyslots[0].kdf.type, "pbkdf2");
  EXPECT_EQ(info->keyslots[0].kdf.hash, "sha256");
  EXPECT_EQ(info->keyslots[0].kdf.iterations, 1000u);
}

TEST(InspectLuks2, PrimaryOnlyIsAcceptedWithAWarning) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  b.resize(kHdr);
  auto info = Inspect(b);
  ASSERT_TRUE(info) << info.error().ToString();
  ASSERT_EQ(info->warnings.size(), 1u);
  EXPECT_NE(info->warnings[0].find("secondary"), std::string::npos);
}

TEST(InspectLuks2, TruncatedPrimaryIsDataLoss) {
  for (size_t cut : {size_t{8}, size_t{4095}, size_t{4096}, kHdr - 1}) {
    auto b = Fixture("luks2-argon2id-4096.bin");
    b.resize(cut);
    auto info = Inspect(b);
    ASSERT_FALSE(info) << cut;
    EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << cut;
  }
}

TEST(InspectLuks2, BadChecksumOnBothCopiesIsDataLoss) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  b[4096 + 10] ^= 1;         // a byte of the primary JSON
  b[kHdr + 4096 + 10] ^= 1;  // and of the secondary
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(info.error().message.find("checksum mismatch"), std::string::npos);
}

TEST(InspectLuks2, OneDamagedCopyIsRefusedThoughTheOtherIsValid) {
  // libcryptsetup would recover the damaged copy, after a blkid probe Veil cannot make (see
  // Luks2Refuses.ForeignSignatureWhereACopyIsDamaged): the image must be repaired first.
  auto b = Fixture("luks2-argon2id-4096.bin");
  b[4096 + 10] ^= 1;
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(info.error().message.find("the secondary at 16384 is valid"), std::string::npos)
      << info.error().message;
  EXPECT_NE(info.error().message.find("only one of the two LUKS2 metadata copies is usable"),
            std::string::npos);

  // Even with the primary wiped entirely (cryptsetup scans for the secondary too).
  std::fill_n(b.begin(), 4096, 0);
  info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("the secondary at 16384 is valid"), std::string::npos);

  // And the other way round.
  b = Fixture("luks2-argon2id-4096.bin");
  b[kHdr + 4096 + 10] ^= 1;
  info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("the secondary LUKS2 header is unusable"), std::string::npos)
      << info.error().message;
}

TEST(InspectLuks2, NewerSecondaryWins) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  StoreBe64At(b, kHdr + 16, testing::LoadBe64At(b, 16) + 1);  // secondary seqid + 1
  json::value v = json::parse(GetLuks2Json(b, kHdr));
  v.at("segments").at("0").as_object()["iv_tweak"] = "8";
  SetLuks2Json(b, kHdr, json::serialize(v));
  auto info = Inspect(b);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->layout.iv_tweak, 8u);
  EXPECT_NE(info->warnings.at(0).find("differ"), std::string::npos);
}

TEST(InspectLuks2, BinaryHeaderSanity) {
  struct Case {
    size_t at;
    uint64_t value;
    const char* message;
  };
  for (const Case& c : {Case{8, 12345, "invalid hdr_size"}, Case{256, 512, "hdr_offset"}}) {
    auto b = Fixture("luks2-argon2id-4096.bin");
    StoreBe64At(b, c.at, c.value);
    StoreBe64At(b, kHdr + c.at, c.value);
    auto info = Inspect(b);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code, ErrorCode::kDataLoss);
    EXPECT_NE(info.error().message.find(c.message), std::string::npos) << info.error().message;
  }
  // Non-zero padding is refused even with a forged checksum.
  auto b = Fixture("luks2-argon2id-4096.bin");
  b[300] = 1;
  FixLuks2Checksum(b, 0);
  b[kHdr + 300] = 1;
  FixLuks2Checksum(b, kHdr);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("padding"), std::string::npos);
}

struct JsonEdit {
  const char* name;
  std::function<void(json::object&)> edit;
  ErrorCode code;
  const char* message;
};

class InspectLuks2Hostile : public ::testing::TestWithParam<JsonEdit> {};

TEST_P(InspectLuks2Hostile, Refused) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  EditLuks2Json(b, GetParam().edit);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, GetParam().code) << info.error().ToString();
  EXPECT_NE(info.error().message.find(GetParam().message), std::string::npos)
      << info.error().message;
}

json::object& Slot0(json::object& o) { return o["keyslots"].as_object()["0"].as_object(); }

INSTANTIATE_TEST_SUITE_P(
    Edits, InspectLuks2Hostile,
    ::testing::Values(
        JsonEdit{"AreaOverlapsTheHeaders",
                 [](json::object& o) { Slot0(o)["area"].as_object()["offset"] = "16384"; },
                 ErrorCode::kDataLoss, "outside the keyslots area"},
        JsonEdit{"AreaPastTheKeyslotsArea",
                 [](json::object& o) { Slot0(o)["area"].as_object()["offset"] = "16773120"; },
                 ErrorCode::kDataLoss, "outside the keyslots area"},
        JsonEdit{
            "AreaSizeOverflows",
            [](json::object& o) { Slot0(o)["area"].as_object()["size"] = "18446744073709551615"; },
            ErrorCode::kDataLoss, "outside the keyslots area"},
        JsonEdit{"KeyslotsOverlap",
                 [](json::object& o) {
                   json::object copy = Slot0(o);
                   copy["area"].as_object()["offset"] = "36864";
                   o["keyslots"].as_object()["1"] = copy;
                 },
                 ErrorCode::kDataLoss, "areas overlap"},
        JsonEdit{"AreaTooSmallForTheKey",
                 [](json::object& o) { Slot0(o)["area"].as_object()["size"] = "4096"; },
                 ErrorCode::kDataLoss, "smaller than its split key"},
        JsonEdit{"MemoryAsString",
                 [](json::object& o) { Slot0(o)["kdf"].as_object()["memory"] = "32"; },
                 ErrorCode::kDataLoss, "not an integer"},
        JsonEdit{"NegativeMemory",
                 [](json::object& o) { Slot0(o)["kdf"].as_object()["memory"] = -1; },
                 ErrorCode::kDataLoss, "negative"},
        JsonEdit{"FractionalTime",
                 [](json::object& o) { Slot0(o)["kdf"].as_object()["time"] = 4.5; },
                 ErrorCode::kDataLoss, "non-integral number"},
        JsonEdit{"BadSalt",
                 [](json::object& o) { Slot0(o)["kdf"].as_object()["salt"] = "not base64!"; },
                 ErrorCode::kDataLoss, "invalid base64"},
        JsonEdit{"NonNumericKeyslotName",
                 [](json::object& o) { o["keyslots"].as_object()["x"] = Slot0(o); },
                 ErrorCode::kDataLoss, "not a decimal number"},
        JsonEdit{"JsonSizeMismatch",
                 [](json::object& o) { o["config"].as_object()["json_size"] = "4096"; },
                 ErrorCode::kDataLoss, "json_size"},
        JsonEdit{"SegmentOverlapsKeyslots", [](json::object& o) { Seg0(o)["offset"] = "1048576"; },
                 ErrorCode::kDataLoss, "overlaps the metadata"},
        JsonEdit{"BadSectorSize", [](json::object& o) { Seg0(o)["sector_size"] = 8192; },
                 ErrorCode::kDataLoss, "sector_size"},
        JsonEdit{"DigestNamesAbsentKeyslot",
                 [](json::object& o) {
                   o["digests"].as_object()["0"].as_object()["keyslots"] = json::array{"0", "5"};
                 },
                 ErrorCode::kDataLoss, "absent"},
        JsonEdit{"MissingConfig", [](json::object& o) { o.erase("config"); }, ErrorCode::kDataLoss,
                 "config"},
        JsonEdit{"Reencryption",
                 [](json::object& o) {
                   o["config"].as_object()["requirements"] =
                       json::object{{"mandatory", json::array{"online-reencrypt-v2"}}};
                 },
                 ErrorCode::kUnimplemented, "online-reencrypt-v2"},
        JsonEdit{"TwoSegments", [](json::object& o) { o["segments"].as_object()["1"] = Seg0(o); },
                 ErrorCode::kUnimplemented, "2 data segments"},
        JsonEdit{"Integrity",
                 [](json::object& o) {
                   Seg0(o)["integrity"] = json::object{{"type", "hmac(sha256)"}};
                 },
                 ErrorCode::kUnimplemented, "integrity"},
        JsonEdit{"LinearSegment", [](json::object& o) { Seg0(o)["type"] = "linear"; },
                 ErrorCode::kUnimplemented, "linear"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(InspectLuks2, DuplicateJsonKeyIsRefused) {
  // json-c (cryptsetup) keeps the last duplicate: a second "memory" could hide from a parser
  // that keeps the first.
  auto b = Fixture("luks2-argon2id-4096.bin");
  std::string text = GetLuks2Json(b);
  const std::string needle = "\"memory\":32,";
  const size_t at = text.find(needle);
  ASSERT_NE(at, std::string::npos) << text;
  text.insert(at + needle.size(), "\"memory\":67108864,");
  SetLuks2Json(b, 0, text);
  SetLuks2Json(b, kHdr, text);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(info.error().message.find("duplicate key \"memory\""), std::string::npos)
      << info.error().message;
}

TEST(InspectLuks2, DeepNestingIsRefused) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  std::string text = GetLuks2Json(b);
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  const size_t at = text.find("\"tokens\":{");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 10, "\"0\":{\"type\":\"x\",\"keyslots\":[],\"deep\":" + deep + "}");
  SetLuks2Json(b, 0, text);
  SetLuks2Json(b, kHdr, text);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss);
}

TEST(InspectLuks2, GarbageAfterTheJsonIsRefused) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  const std::string text = GetLuks2Json(b);
  b[4096 + text.size() + 5] = 'x';
  FixLuks2Checksum(b, 0);
  b[kHdr + 4096 + text.size() + 5] = 'x';
  FixLuks2Checksum(b, kHdr);
  auto info = Inspect(b);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("after the terminating NUL"), std::string::npos);
}

TEST(InspectLuks2, UnknownKdfIsShownNotRefused) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  EditLuks2Json(b, [](json::object& o) { Slot0(o)["kdf"].as_object()["type"] = "scrypt"; });
  auto info = Inspect(b);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->keyslots[0].kdf.type, "scrypt");
}
}  // namespace
}  // namespace veil::luks
