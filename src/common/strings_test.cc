#include "common/strings.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(StringsTest, CaseMappingIsAsciiOnly) {
  EXPECT_EQ(AsciiLower("Content-LENGTH 09@[`{"), "content-length 09@[`{");
  EXPECT_EQ(AsciiUpper("veil_kms_endpoint-09@[`{"), "VEIL_KMS_ENDPOINT-09@[`{");
  // Bytes above 0x7f (here UTF-8 for "É" and Latin-1 0xC9) are left as they are.
  EXPECT_EQ(AsciiLower("\xc3\x89\xc9"), "\xc3\x89\xc9");
  EXPECT_EQ(AsciiUpper("\xc3\xa9\xe9"), "\xc3\xa9\xe9");
  static_assert(AsciiLower('Q') == 'q' && AsciiLower('q') == 'q' && AsciiLower('@') == '@');
  static_assert(AsciiUpper('q') == 'Q' && AsciiUpper('Q') == 'Q' && AsciiUpper('`') == '`');
}

// {a, b, EqualsIgnoreCase(a, b), EndsWithIgnoreCase(a, b)}
struct CaseVector {
  std::string_view a, b;
  bool equal, ends_with;
};
constexpr CaseVector kCaseVectors[] = {
    {"Authorization", "authorization", true, true},
    {"", "", true, true},
    {"PRE-Activation", "pre-activation", true, true},
    {"X-Amz-Signature", "signature", false, true},
    {"anything", "", false, true},
    {"Authorization", "Authorizatio", false, false},
    {"ken", "token", false, false},
    {"tokens", "TOKEN", false, false},
    {"a", "b", false, false},
    // '@' and '`', '[' and '{' are a case bit apart but are not letters.
    {"@", "`", false, false},
    {"[", "{", false, false},
    {"\xc9", "\xe9", false, false},  // Latin-1 É and é: not ASCII
};

TEST(StringsTest, EqualsAndEndsWithIgnoreCase) {
  for (const CaseVector& v : kCaseVectors) {
    EXPECT_EQ(EqualsIgnoreCase(v.a, v.b), v.equal) << v.a << " / " << v.b;
    EXPECT_EQ(EndsWithIgnoreCase(v.a, v.b), v.ends_with) << v.a << " / " << v.b;
  }
}

TEST(StringsTest, TrimAsciiSpace) {
  EXPECT_EQ(TrimAsciiSpace(" \t\n\v\f\rkey = value\r\n"), "key = value");
  EXPECT_EQ(TrimAsciiSpace("inner  space"), "inner  space");
  EXPECT_EQ(TrimAsciiSpace(" \r\n "), "");
  EXPECT_EQ(TrimAsciiSpace(""), "");
  EXPECT_EQ(TrimAsciiSpace("\xa0x\xa0"), "\xa0x\xa0");  // no-break space is not ASCII
}

TEST(StringsTest, TrimAsciiBlankKeepsLineEnds) {
  EXPECT_EQ(TrimAsciiBlank(" \t value \t"), "value");
  EXPECT_EQ(TrimAsciiBlank(" value\r"), "value\r");
  EXPECT_EQ(TrimAsciiBlank("\nvalue"), "\nvalue");
  EXPECT_EQ(TrimAsciiBlank(" \t "), "");
}

}  // namespace
TEST(StringsTest, SplitOnKeepsEmptyPieces) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(SplitOn("a,b", ','), (V{"a", "b"}));
  EXPECT_EQ(SplitOn("", ','), (V{""}));
  EXPECT_EQ(SplitOn(",a,", ','), (V{"", "a", ""}));
}

TEST(StringsTest, ParseUint64TakesDigitsOnlyAndRefusesOverflow) {
  EXPECT_EQ(ParseUint64("0"), 0u);
  EXPECT_EQ(ParseUint64("007"), 7u);
  EXPECT_EQ(ParseUint64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseUint64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseUint64(""), std::nullopt);
  EXPECT_EQ(ParseUint64("-1"), std::nullopt);
  EXPECT_EQ(ParseUint64("+1"), std::nullopt);
  EXPECT_EQ(ParseUint64(" 1"), std::nullopt);
  EXPECT_EQ(ParseUint64("1x"), std::nullopt);
}

}  // namespace veil
