// The CK_RV table and attribute templates (hermetic: no module is loaded).
#include "hsm/internal/pkcs11.h"

#include <gtest/gtest.h>

#include <cstring>

namespace veil::hsm::internal {
namespace {

TEST(RvTest, NamesAndCodes) {
  EXPECT_EQ(RvName(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(RvCode(CKR_PIN_INCORRECT), ErrorCode::kUnauthenticated);
  EXPECT_EQ(RvCode(CKR_WRAPPED_KEY_INVALID), ErrorCode::kDataLoss);
  EXPECT_EQ(RvCode(CKR_ENCRYPTED_DATA_INVALID), ErrorCode::kDataLoss);
  EXPECT_EQ(RvCode(CKR_DEVICE_ERROR), ErrorCode::kUnavailable);
  EXPECT_EQ(RvCode(CKR_HOST_MEMORY), ErrorCode::kResourceExhausted);
  EXPECT_EQ(RvName(0x8000abcdUL), "CKR_0x8000abcd");
  EXPECT_EQ(RvCode(0x8000abcdUL), ErrorCode::kInternal);
  Error e = RvError("C_Login", CKR_PIN_LOCKED);
  EXPECT_EQ(e.message, "C_Login: CKR_PIN_LOCKED");
  EXPECT_EQ(e.code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(CheckRv("x", CKR_OK));
  EXPECT_FALSE(CheckRv("x", CKR_GENERAL_ERROR));
}

TEST(TemplateTest, ValuesAndReferences) {
  const uint8_t secret[4] = {1, 2, 3, 4};
  Template t;
  t.Bool(CKA_TOKEN, true).Ulong(CKA_VALUE_LEN, 32).String(CKA_LABEL, "veil").Ref(CKA_VALUE, secret);
  auto attrs = t.attrs();
  ASSERT_EQ(attrs.size(), 4u);
  EXPECT_EQ(attrs[0].type, static_cast<CK_ATTRIBUTE_TYPE>(CKA_TOKEN));
  EXPECT_EQ(*static_cast<CK_BBOOL*>(attrs[0].pValue), CK_TRUE);
  CK_ULONG len = 0;
  std::memcpy(&len, attrs[1].pValue, sizeof(len));
  EXPECT_EQ(len, 32u);
  EXPECT_EQ(attrs[2].ulValueLen, 4u);
  EXPECT_EQ(attrs[3].pValue, static_cast<const void*>(secret)) << "a reference, not a copy";
}

TEST(TokenLabelTest, StripsPadding) {
  CK_TOKEN_INFO info{};
  std::memset(info.label, ' ', sizeof(info.label));
  std::memcpy(info.label, "veil", 4);
  EXPECT_EQ(TokenLabel(info), "veil");
}

}  // namespace
}  // namespace veil::hsm::internal
