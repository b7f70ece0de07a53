#include "common/encoding.h"

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace veil {
namespace {

std::string ToString(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// RFC 4648 §10 test vectors.
struct Rfc4648Vector {
  std::string_view plain, base64, base64url, hex;
};
constexpr Rfc4648Vector kVectors[] = {
    {"", "", "", ""},
    {"f", "Zg==", "Zg", "66"},
    {"fo", "Zm8=", "Zm8", "666f"},
    {"foo", "Zm9v", "Zm9v", "666f6f"},
    {"foob", "Zm9vYg==", "Zm9vYg", "666f6f62"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE", "666f6f6261"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy", "666f6f626172"},
};

TEST(EncodingTest, Rfc4648KnownAnswers) {
  for (const auto& v : kVectors) {
    EXPECT_EQ(Base64Encode(AsBytes(v.plain)), v.base64);
    EXPECT_EQ(Base64UrlEncode(AsBytes(v.plain)), v.base64url);
    EXPECT_EQ(HexEncode(AsBytes(v.plain)), v.hex);
    EXPECT_EQ(ToString(Base64Decode(v.base64).value()), v.plain);
    EXPECT_EQ(ToString(Base64UrlDecode(v.base64url).value()), v.plain);
    EXPECT_EQ(ToString(HexDecode(v.hex).value()), v.plain);
  }
}

TEST(EncodingTest, UrlAlphabetDiffersFromStandard) {
  const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_FALSE(Base64Decode("-_-_").has_value());
  EXPECT_FALSE(Base64UrlDecode("+/+/").has_value());
}

TEST(EncodingTest, RoundTripsAllLengths) {
  std::vector<uint8_t> data;
  for (int n = 0; n < 70; ++n) {
    EXPECT_EQ(Base64Decode(Base64Encode(data)).value(), data);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(data)).value(), data);
    EXPECT_EQ(HexDecode(HexEncode(data)).value(), data);
    data.push_back(static_cast<uint8_t>(n * 37 + 11));
  }
}

TEST(EncodingTest, Base64RejectsMalformedInput) {
  for (std::string_view bad : {
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Zg===",     // too much padding
           "====",      // only padding
           "Z===",      // impossible length
           "Zm=v",      // padding in the middle
           "Zm9v\n",    // line break
           " Zm9v",     // whitespace
           "Zm 9v",     // inner whitespace
           "Zm9v!A==",  // bad character
           "Zh==",      // non-canonical: low bits of 'h' set
           "Zm9=",      // non-canonical: low bits of '9' set
       }) {
    auto r = Base64Decode(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(EncodingTest, Base64UrlRejectsPaddingAndBadInput) {
  for (std::string_view bad : {"Zg==", "Zg=", "Z", "Zm9vY", "Zh", "Zm9", "Zm9v Yg", "Zm9v+g"}) {
    EXPECT_FALSE(Base64UrlDecode(bad).has_value()) << bad;
  }
}

TEST(EncodingTest, HexAcceptsBothCasesAndRejectsBadInput) {
  EXPECT_EQ(HexDecode("DEADbeef").value(), (std::vector<uint8_t>{0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(HexEncode(HexDecode("DEADBEEF").value()), "deadbeef");
  for (std::string_view bad : {"abc", "0g", " 00", "00 ", "0x00", "-1"}) {
    EXPECT_FALSE(HexDecode(bad).has_value()) << bad;
  }
}

TEST(EncodingTest, AppendHexAndHexEncodeIntoWriteWhatHexEncodeWrites) {
  std::string out = "\\u00";
  AppendHex(&out, 0x1f);
  EXPECT_EQ(out, "\\u001f");
  out.clear();
  for (int b = 0; b < 256; ++b) AppendHex(&out, static_cast<uint8_t>(b));
  std::vector<uint8_t> all(256);
  for (int b = 0; b < 256; ++b) all[static_cast<size_t>(b)] = static_cast<uint8_t>(b);
  EXPECT_EQ(out, HexEncode(all));
  std::vector<uint8_t> into(2 * all.size());
  HexEncodeInto(all, into);
  EXPECT_EQ(ToString(into), out);
}

TEST(EncodingTest, ErrorsNameTheOffsetNotTheInput) {
  auto r = Base64Decode("c2VjcmV0cGFzc3dvcmQ*");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("offset 19"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("c2VjcmV0"), std::string::npos);
}

TEST(EncodingTest, SecretDecodersDecodeIntoSecretBytes) {
  auto b64 = DecodeBase64Secret("c2VjcmV0");
  ASSERT_TRUE(b64.has_value());
  EXPECT_TRUE(b64->Equals(AsBytes("secret")));
  EXPECT_TRUE(DecodeBase64UrlSecret("c2VjcmV0").value().Equals(AsBytes("secret")));
  EXPECT_TRUE(DecodeHexSecret("736563726574").value().Equals(AsBytes("secret")));
  EXPECT_FALSE(DecodeBase64Secret("c2VjcmV0=").has_value());
  EXPECT_FALSE(DecodeHexSecret("7365637").has_value());
}

TEST(EncodingTest, XmlEscapingSpellsTheFiveEntitiesAndBlanksUnspellableControls) {
  std::string out;
  AppendXmlEscaped(out,
                   "a<b>&\"c'\td\ne\x01"
                   "f\rg");
  EXPECT_EQ(out, "a&lt;b&gt;&amp;&quot;c&apos;\td\ne f g");
}

}  // namespace
}  // namespace veil
