// Security invariant (issue 11, item 9): Veil refuses every LUKS2 header that libcryptsetup 2.6
// refuses, since OpenVolumeKey hands the headers it accepts to libcryptsetup. Each test here is a
// case the differential fuzz target (fuzz/luks_cryptsetup_diff_fuzz.cc) and its generated corpus
// (fuzz/luks_corpus_gen.py) found Veil accepting: both copies of a genuine cryptsetup header are
// edited and re-signed, as a forger would, and the test shows Veil refusing the result and
// libcryptsetup refusing it too (so that the case is a real one; the genuine header is accepted by
// both, which keeps the check from passing by accident).
#include "luks/luks2_metadata.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>

#include "luks/inspect.h"
#include "luks/test_support.h"

namespace veil::luks {
namespace {

namespace json = boost::json;
using testing::CryptsetupLoads;
using testing::EditLuks2Json;
using testing::Fixture;
using testing::GetLuks2Json;
using testing::SetLuks2Json;

using testing::kHdr;
using testing::Seg0;

std::vector<uint8_t> Argon2() { return Fixture("luks2-argon2id-4096.bin"); }
std::vector<uint8_t> Pbkdf2() { return Fixture("luks2-pbkdf2-aes128-4096.bin"); }

json::object& Slot(json::object& o, const char* id = "0") {
  return o["keyslots"].as_object()[id].as_object();
}
json::object& Digest0(json::object& o) { return o["digests"].as_object()["0"].as_object(); }

std::vector<uint8_t> Edited(std::vector<uint8_t> img,
                            const std::function<void(json::object&)>& edit) {
  EditLuks2Json(img, edit);
  return img;
}

// Veil refuses `img` with kDataLoss naming `message`, and so does libcryptsetup.
void ExpectBothRefuse(const std::vector<uint8_t>& img, const std::string& message) {
  auto info = Inspect(img);
  ASSERT_FALSE(info) << "Veil accepts it";
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << info.error().ToString();
  EXPECT_NE(info.error().message.find(message), std::string::npos) << info.error().message;
  EXPECT_FALSE(CryptsetupLoads(img)) << "libcryptsetup accepts it: not a case of item 9";
}

TEST(Luks2Refuses, NothingThatBothAccept) {
  // The control: the genuine headers pass both parsers, so a refusal below is the edit's doing.
  for (const auto& img : {Argon2(), Pbkdf2()}) {
    auto info = Inspect(img);
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_TRUE(CryptsetupLoads(img));
  }
}

TEST(Luks2Refuses, JsonAreaThatDoesNotStartWithABrace) {
  auto img = Argon2();
  const std::string text = " " + GetLuks2Json(img);
  SetLuks2Json(img, 0, text);
  SetLuks2Json(img, kHdr, text);
  ExpectBothRefuse(img, "does not start with '{'");
}

TEST(Luks2Refuses, KeyslotThatNoDigestCovers) {
  ExpectBothRefuse(
      Edited(Argon2(), [](json::object& o) { Digest0(o)["keyslots"] = json::array{}; }),
      "keyslot 0: no digest covers it");
}

TEST(Luks2Refuses, SegmentThatNoDigestCovers) {
  ExpectBothRefuse(
      Edited(Argon2(), [](json::object& o) { Digest0(o)["segments"] = json::array{}; }),
      "data segment 0: no digest covers it");
}

TEST(Luks2Refuses, SegmentFlagsOfTheWrongType) {
  ExpectBothRefuse(Edited(Argon2(), [](json::object& o) { Seg0(o)["flags"] = "hello"; }),
                   "segments.0.flags: not an array");
  ExpectBothRefuse(Edited(Argon2(), [](json::object& o) { Seg0(o)["flags"] = json::array{1}; }),
                   "segments.0.flags[0]: not a string");
}

TEST(Luks2Refuses, SegmentFlaggedAsABackup) {
  // A lone "backup-final" segment leaves no regular segment: invalid to libcryptsetup. Veil refuses
  // every segment flag (they record a reencryption's state), as unimplemented.
  auto img =
      Edited(Argon2(), [](json::object& o) { Seg0(o)["flags"] = json::array{"backup-final"}; });
  auto info = Inspect(img);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kUnimplemented) << info.error().ToString();
  EXPECT_NE(info.error().message.find("segment flags"), std::string::npos);
  EXPECT_FALSE(CryptsetupLoads(img));
}

TEST(Luks2Refuses, CryptSegmentWithEmptyEncryption) {
  ExpectBothRefuse(Edited(Argon2(), [](json::object& o) { Seg0(o)["encryption"] = ""; }),
                   "segments.0.encryption: empty");
}

TEST(Luks2Refuses, ZeroSegmentSize) {
  ExpectBothRefuse(Edited(Argon2(), [](json::object& o) { Seg0(o)["size"] = "0"; }),
                   "segments.0.size: zero");
}

TEST(Luks2Refuses, OnlySegmentNotNamedZero) {
  // libcryptsetup numbers segments from 0 without gaps ("Gap at key 0 in segments object").
  ExpectBothRefuse(Edited(Argon2(),
                          [](json::object& o) {
                            json::object& segments = o["segments"].as_object();
                            segments["1"] = segments["0"];
                            segments.erase("0");
                            Digest0(o)["segments"] = json::array{"1"};
                          }),
                   "the only segment is not segment 0");
}

TEST(Luks2Refuses, KeyslotNamedWithALeadingZero) {
  // "00" is a second name for keyslot 0; libcryptsetup then finds no digest for keyslot "0".
  ExpectBothRefuse(Edited(Argon2(),
                          [](json::object& o) {
                            json::object& keyslots = o["keyslots"].as_object();
                            keyslots["00"] = keyslots["0"];
                            keyslots.erase("0");
                            Digest0(o)["keyslots"] = json::array{"00"};
                          }),
                   "keyslots.00: object name is not a decimal number without leading zeros");
}

TEST(Luks2Refuses, DigestReferenceWithALeadingZero) {
  // libcryptsetup compares references as strings: "00" names no keyslot and no segment.
  ExpectBothRefuse(
      Edited(Argon2(), [](json::object& o) { Digest0(o)["keyslots"] = json::array{"00"}; }),
      "digests.0.keyslots[0]: object name is not a decimal number without leading zeros");
  ExpectBothRefuse(
      Edited(Argon2(), [](json::object& o) { Digest0(o)["segments"] = json::array{"00"}; }),
      "digests.0.segments[0]: object name is not a decimal number without leading zeros");
}

TEST(Luks2Refuses, TokenReferenceWithALeadingZero) {
  ExpectBothRefuse(
      Edited(Argon2(),
             [](json::object& o) {
               o["tokens"].as_object()["0"] =
                   json::object{{"type", "veil-test"}, {"keyslots", json::array{"00"}}};
             }),
      "tokens.0.keyslots[0]: object name is not a decimal number without leading zeros");
}

TEST(Luks2Refuses, RequirementsThatAreNotAnObject) {
  ExpectBothRefuse(
      Edited(Argon2(),
             [](json::object& o) { o["config"].as_object()["requirements"] = json::array{}; }),
      "config.requirements: not an object");
}

// Every string field libcryptsetup reads must be non-empty (its json_contains_string); Veil
// accepted an empty one in each of these.
struct EmptyField {
  const char* name;
  std::function<void(json::object&)> edit;
  const char* message;
  bool pbkdf2 = false;
};

class Luks2RefusesEmpty : public ::testing::TestWithParam<EmptyField> {};

TEST_P(Luks2RefusesEmpty, StringLibcryptsetupRequires) {
  const EmptyField& p = GetParam();
  ExpectBothRefuse(Edited(p.pbkdf2 ? Pbkdf2() : Argon2(), p.edit), p.message);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, Luks2RefusesEmpty,
    ::testing::Values(
        EmptyField{"KeyslotType", [](json::object& o) { Slot(o)["type"] = ""; },
                   "keyslots.0.type: empty"},
        EmptyField{"KdfType", [](json::object& o) { Slot(o)["kdf"].as_object()["type"] = ""; },
                   "keyslots.0.kdf.type: empty"},
        EmptyField{"KdfSalt", [](json::object& o) { Slot(o)["kdf"].as_object()["salt"] = ""; },
                   "keyslots.0.kdf.salt: empty"},
        EmptyField{"Pbkdf2Hash", [](json::object& o) { Slot(o)["kdf"].as_object()["hash"] = ""; },
                   "keyslots.0.kdf.hash: empty", true},
        EmptyField{"AfHash", [](json::object& o) { Slot(o)["af"].as_object()["hash"] = ""; },
                   "keyslots.0.af.hash: empty"},
        EmptyField{"AreaEncryption",
                   [](json::object& o) { Slot(o)["area"].as_object()["encryption"] = ""; },
                   "keyslots.0.area.encryption: empty"},
        EmptyField{"AreaTypeOfAnUnknownKeyslot",
                   [](json::object& o) {
                     json::object other = Slot(o);
                     other["type"] = "veil-future";
                     other["area"].as_object()["offset"] = "290816";
                     other["area"].as_object()["type"] = "";
                     o["keyslots"].as_object()["1"] = other;
                   },
                   "keyslots.1.area.type: empty"},
        EmptyField{"DigestType", [](json::object& o) { Digest0(o)["type"] = ""; },
                   "digests.0.type: empty"},
        EmptyField{"TokenType",
                   [](json::object& o) {
                     o["tokens"].as_object()["0"] =
                         json::object{{"type", ""}, {"keyslots", json::array{"0"}}};
                   },
                   "tokens.0.type: empty"}),
    [](const auto& p) { return std::string(p.param.name); });

// Veil's own limits (docs/formats/luks.md): headers libcryptsetup accepts that Veil refuses.
TEST(Luks2Limits, SegmentFlagsAreUnimplemented) {
  auto img =
      Edited(Argon2(), [](json::object& o) { Seg0(o)["flags"] = json::array{"in-reencryption"}; });
  EXPECT_TRUE(CryptsetupLoads(img));
  auto info = Inspect(img);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kUnimplemented) << info.error().ToString();
}

TEST(Luks2Limits, ObjectNamesWithALeadingZeroAreRefused) {
  // libcryptsetup never looks a digest up by its name, so "00" passes there; Veil wants one
  // spelling for every id.
  auto img = Edited(Argon2(), [](json::object& o) {
    json::object& digests = o["digests"].as_object();
    digests["00"] = digests["0"];
    digests.erase("0");
  });
  EXPECT_TRUE(CryptsetupLoads(img));
  auto info = Inspect(img);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << info.error().ToString();
}

// The "primary and secondary headers that disagree on the metadata size": a secondary
// whose hdr_size is not its offset is no secondary, to libcryptsetup as to Veil, however new its
// seqid. libcryptsetup reads the primary; Veil refuses an image with one usable copy (a limit,
// see Luks2Limits.OneDamagedCopyIsRefused in luks2_header_test.cc).
TEST(Luks2Limits, SecondaryThatDisagreesOnTheMetadataSizeIsNoCopy) {
  auto img = Argon2();
  img.resize(3 * kHdr);
  testing::StoreBe64At(img, kHdr + 8, 2 * kHdr);                           // hdr_size
  testing::StoreBe64At(img, kHdr + 16, testing::LoadBe64At(img, 16) + 1);  // newer seqid
  json::value v = json::parse(GetLuks2Json(img, kHdr));
  v.at("config").as_object()["json_size"] = std::to_string(2 * kHdr - 4096);
  SetLuks2Json(img, kHdr, json::serialize(v));
  EXPECT_TRUE(CryptsetupLoads(img));
  auto info = Inspect(img);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("hdr_size 32768 does not match its position"),
            std::string::npos)
      << info.error().message;
}

}  // namespace
}  // namespace veil::luks
