#include "kms/wdek.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace veil::kms {
namespace {

std::string B64(std::string_view s) {
  return Base64Encode({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

TEST(WdekTest, FormatIsByteExact) {
  Wdek w;
  w.sealed = std::vector<uint8_t>(48, 0xab);
  w.iv = std::vector<uint8_t>(12, 0x01);
  w.handle = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  std::string text = FormatWdek(w);
  auto json = Base64Decode(text);
  ASSERT_TRUE(json);
  EXPECT_EQ(std::string(json->begin(), json->end()),
            "{\"ciphertext\":\"" + Base64Encode(w.sealed) +
                "\",\"iv\":\"AQEBAQEBAQEBAQEB\","
                "\"version\":\"4.0.0\",\"handle\":\"1b4e28ba-2fa1-41d2-883f-0016d3cca427\"}");
  auto parsed = ParseWdek(text);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->sealed, w.sealed);
  EXPECT_EQ(parsed->iv, w.iv);
  EXPECT_EQ(parsed->handle, w.handle);
}

TEST(WdekTest, ParseRefusesEverythingElse) {
  const std::string handle = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  const std::string ct = Base64Encode(std::vector<uint8_t>(48, 1));
  const std::string iv = Base64Encode(std::vector<uint8_t>(12, 2));
  auto doc = [&](std::string c, std::string i, std::string v, std::string h) {
    return B64("{\"ciphertext\":\"" + c + "\",\"iv\":\"" + i + "\",\"version\":\"" + v +
               "\",\"handle\":\"" + h + "\"}");
  };
  EXPECT_TRUE(ParseWdek(doc(ct, iv, "4.0.0", handle)));
  EXPECT_FALSE(ParseWdek(""));
  EXPECT_FALSE(ParseWdek("!!!"));
  EXPECT_FALSE(ParseWdek(B64("[1,2]")));
  EXPECT_FALSE(ParseWdek(B64("{\"ciphertext\":\"x\"}")));
  EXPECT_FALSE(ParseWdek(doc(ct, iv, "3.0.0", handle)));
  EXPECT_FALSE(ParseWdek(doc(ct, iv, "4.0.0", "not-a-uuid")));
  EXPECT_FALSE(ParseWdek(doc(ct, Base64Encode(std::vector<uint8_t>(16, 2)), "4.0.0", handle)));
  EXPECT_FALSE(ParseWdek(doc(Base64Encode(std::vector<uint8_t>(16, 1)), iv, "4.0.0", handle)));
  EXPECT_FALSE(ParseWdek(std::string(kMaxWdekText + 1, 'A')));
  auto extra = B64("{\"ciphertext\":\"" + ct + "\",\"iv\":\"" + iv +
                   "\",\"version\":\"4.0.0\",\"handle\":\"" + handle + "\",\"x\":\"y\"}");
  EXPECT_FALSE(ParseWdek(extra));
}

// The same sealed key used to have many texts: any key order, spaces, escapes and repeated keys
// parsed. Only FormatWdek's spelling is a WDEK.
TEST(WdekTest, NonCanonicalSpellingIsRefused) {
  const std::string handle = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  const std::string ct = Base64Encode(std::vector<uint8_t>(48, 1));
  const std::string iv = Base64Encode(std::vector<uint8_t>(12, 2));
  const std::string canonical = "{\"ciphertext\":\"" + ct + "\",\"iv\":\"" + iv +
                                "\",\"version\":\"4.0.0\",\"handle\":\"" + handle + "\"}";
  ASSERT_TRUE(ParseWdek(B64(canonical)));
  const std::string variants[] = {
      "{\"iv\":\"" + iv + "\",\"ciphertext\":\"" + ct + "\",\"version\":\"4.0.0\",\"handle\":\"" +
          handle + "\"}",
      "{ \"ciphertext\":\"" + ct + "\",\"iv\":\"" + iv + "\",\"version\":\"4.0.0\",\"handle\":\"" +
          handle + "\"}",
      canonical + "\n",
      "{\"ciphertext\":\"" + ct + "\",\"\\u0069v\":\"" + iv +
          "\",\"version\":\"4.0.0\",\"handle\":\"" + handle + "\"}",
      "{\"ciphertext\":\"x\",\"ciphertext\":\"" + ct + "\",\"iv\":\"" + iv +
          "\",\"version\":\"4.0.0\",\"handle\":\"" + handle + "\"}",
  };
  for (const std::string& v : variants) EXPECT_FALSE(ParseWdek(B64(v))) << v;
}

TEST(WdekTest, AadSeparatesTheListItems) {
  EXPECT_NE(WdekAad("v", {"ab", "c"}), WdekAad("v", {"a", "bc"}));
  EXPECT_NE(WdekAad("v", {}), WdekAad("v", {""}));
  EXPECT_NE(WdekAad("v1", {"a"}), WdekAad("v2", {"a"}));
  std::vector<uint8_t> expected;
  for (char c : std::string("veil-kms-wdek/v1")) expected.push_back(static_cast<uint8_t>(c));
  expected.push_back(0);
  expected.push_back('v');
  expected.push_back(0);
  for (int b : {0, 0, 0, 2, int{'h'}, int{'i'}}) expected.push_back(static_cast<uint8_t>(b));
  EXPECT_EQ(WdekAad("v", {"hi"}), expected);
}

}  // namespace
}  // namespace veil::kms
