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

TEST(StringsTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Authorization", "authorization"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_TRUE(EqualsIgnoreCase("PRE-Activation", "pre-activation"));
  EXPECT_FALSE(EqualsIgnoreCase("Authorization", "Authorizatio"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
  // '@' and '`' are one bit away from 'A' and 'a' but are not letters.
  EXPECT_FALSE(EqualsIgnoreCase("@", "`"));
  EXPECT_FALSE(EqualsIgnoreCase("[", "{"));
  EXPECT_FALSE(EqualsIgnoreCase("\xc9", "\xe9"));  // Latin-1 É and é: not ASCII
}

TEST(StringsTest, EndsWithIgnoreCase) {
  EXPECT_TRUE(EndsWithIgnoreCase("X-Amz-Signature", "signature"));
  EXPECT_TRUE(EndsWithIgnoreCase("token", "TOKEN"));
  EXPECT_TRUE(EndsWithIgnoreCase("anything", ""));
  EXPECT_FALSE(EndsWithIgnoreCase("ken", "token"));
  EXPECT_FALSE(EndsWithIgnoreCase("tokens", "token"));
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
}  // namespace veil
