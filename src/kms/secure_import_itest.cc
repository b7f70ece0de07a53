// Attacks on secure import (issue 11, item 4) against KmsService on SQLite and a real SoftHSM2
// token: plain material slipped in through rotate or restore when the instance enforces the
// import token, a captured import body replayed, a token used more often than it was retrieved
// or after it expired, and a restore of an imported key with some other material.
#include <gtest/gtest.h>

#include "kms/errors.h"
#include "kms/testing/kms_fixture.h"
#include "kms/testing/secure_import.h"

namespace veil::kms {
namespace {

using namespace std::chrono_literals;
using testing::KnownKey;
using testing::PlainMaterial;
using testing::SecureMaterial;

using testing::ReasonCode;

class SecureImportTest : public ::testing::Test {
 protected:
  KmsService& kms() { return *f_.service; }

  // A token of `retrievals`, retrieved `times` times: the view of the last retrieval.
  ImportTokenView Token(int64_t retrievals, int times = 1, int64_t expiration_s = 600) {
    EXPECT_TRUE(kms().CreateImportToken(f_.instance, expiration_s, retrievals));
    ImportTokenView view;
    for (int i = 0; i < times; ++i) {
      auto got = kms().RetrieveImportToken(f_.instance);
      EXPECT_TRUE(got) << got.error().ToString();
      if (got) view = std::move(*got);
    }
    return view;
  }

  Result<Key> Import(const ImportedMaterial& material, bool standard = false) {
    CreateKeySpec spec;
    spec.name = standard ? "imported-standard" : "imported-root";
    spec.extractable = standard;
    spec.material = material;
    return kms().CreateKey(f_.instance, spec, f_.user);
  }

  Key MustImport(const ImportedMaterial& material, bool standard = false) {
    auto key = Import(material, standard);
    EXPECT_TRUE(key) << key.error().ToString();
    return key.value_or(Key{});
  }

  void EnforceToken() {
    ASSERT_TRUE(kms().PutInstancePolicy(f_.instance, "keyCreateImportAccess",
                                        R"({"enabled":true,"attributes":{"enforce_token":true}})",
                                        f_.user));
  }

  int64_t KeyCount() {
    auto n = kms().CountKeys(f_.instance, {});
    EXPECT_TRUE(n);
    return n.value_or(-1);
  }

  testing::KmsFixture f_;
};

TEST_F(SecureImportTest, PlainMaterialThroughRotateIsRefusedUnderEnforceToken) {
  Key key = MustImport(PlainMaterial(KnownKey(32, 1)));
  EnforceToken();
  // Creation was already guarded; rotation used to take plain material.
  EXPECT_REASON(Import(PlainMaterial(KnownKey(32, 2))), "KEY_CREATE_IMPORT_ACCESS_ERR");
  EXPECT_REASON(kms().Rotate(key, PlainMaterial(KnownKey(32, 2))), "KEY_CREATE_IMPORT_ACCESS_ERR");
  EXPECT_EQ(f_.Reload(key).current.id, key.current.id);
  // Through the token, rotation works.
  ImportTokenView token = Token(1);
  auto rotated = kms().Rotate(key, SecureMaterial(token, KnownKey(32, 2)));
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_NE(rotated->current.id, key.current.id);
}

TEST_F(SecureImportTest, PlainMaterialThroughRestoreIsRefusedUnderEnforceToken) {
  f_.options.restore_min_delay = 0s;
  f_.StartService();
  Key key = MustImport(PlainMaterial(KnownKey(32, 1)));
  ASSERT_TRUE(kms().Delete(key, false, f_.user));
  EnforceToken();
  key = f_.Reload(key);
  EXPECT_REASON(kms().Restore(key, PlainMaterial(KnownKey(32, 1))), "KEY_CREATE_IMPORT_ACCESS_ERR");
  EXPECT_EQ(f_.Reload(key).state, KeyState::kDestroyed);
  ImportTokenView token = Token(1);
  ASSERT_TRUE(kms().Restore(key, SecureMaterial(token, KnownKey(32, 1))));
  EXPECT_EQ(f_.Reload(key).state, KeyState::kActive);
}

// A body captured from a secure import (payload, encryptedNonce, iv) sent again: the attacker
// does not know the material, yet would get a key of it (a standard key's payload reads back).
TEST_F(SecureImportTest, ImportTokenNonceReplayIsRefused) {
  ImportTokenView token = Token(/*retrievals=*/3, /*times=*/3);
  const ImportedMaterial captured = SecureMaterial(token, KnownKey(32, 9));
  ASSERT_TRUE(Import(captured, /*standard=*/true));
  const int64_t keys = KeyCount();
  EXPECT_REASON(Import(captured, /*standard=*/true), "INCORRECT_NONCE_ERR");
  EXPECT_REASON(Import(captured), "INCORRECT_NONCE_ERR");
  // Nor as the new material of another imported key.
  Key other = MustImport(SecureMaterial(token, KnownKey(32, 3), /*iv_seed=*/8));
  EXPECT_REASON(kms().Rotate(other, captured), "INCORRECT_NONCE_ERR");
  EXPECT_EQ(KeyCount(), keys + 1);
  EXPECT_EQ(f_.Reload(other).current.id, other.current.id);
}

TEST_F(SecureImportTest, ImportTokenAllowsOneImportPerRetrieval) {
  ImportTokenView token = Token(/*retrievals=*/5, /*times=*/1);
  ASSERT_TRUE(Import(SecureMaterial(token, KnownKey(32, 1), 1)));
  // A second, well-formed proof (another iv) with no retrieval of its own.
  EXPECT_REASON(Import(SecureMaterial(token, KnownKey(32, 2), 2)), "IMPORT_TOKEN_EXPIRED_ERR");
  ASSERT_TRUE(kms().RetrieveImportToken(f_.instance));
  EXPECT_TRUE(Import(SecureMaterial(token, KnownKey(32, 2), 2)));
  // A new token starts its own count; proofs made for the old one no longer import.
  ImportTokenView fresh = Token(1);
  EXPECT_REASON(Import(SecureMaterial(token, KnownKey(32, 4), 4)), "BAD_BODY_ERR");
  EXPECT_TRUE(Import(SecureMaterial(fresh, KnownKey(32, 4), 4)));
}

TEST_F(SecureImportTest, ImportTokenExpiryIsCheckedWhenItIsUsed) {
  ImportTokenView token = Token(/*retrievals=*/1, /*times=*/1, /*expiration_s=*/300);
  f_.iam.clock.Advance(301s);
  EXPECT_REASON(Import(SecureMaterial(token, KnownKey())), "IMPORT_TOKEN_EXPIRED_ERR");
  EXPECT_EQ(KeyCount(), 0);
}

// Restore proves possession of the key's material: another payload must not bring back an
// imported key, standard (sealed payload) as well as root (wrapped key).
TEST_F(SecureImportTest, RestoreOfAnImportedKeyWithOtherMaterialIsRefused) {
  f_.options.restore_min_delay = 0s;
  f_.StartService();
  for (bool standard : {true, false}) {
    SCOPED_TRACE(standard ? "standard key" : "root key");
    Key key = MustImport(PlainMaterial(KnownKey(32, 5)), standard);
    ASSERT_TRUE(kms().Delete(key, false, f_.user));
    key = f_.Reload(key);
    EXPECT_REASON(kms().Restore(key, PlainMaterial(KnownKey(32, 6))), "BAD_BODY_ERR");
    EXPECT_REASON(kms().Restore(key, PlainMaterial(KnownKey(16, 5))), "BAD_BODY_ERR");
    EXPECT_EQ(f_.Reload(key).state, KeyState::kDestroyed);
    ASSERT_TRUE(kms().Restore(key, PlainMaterial(KnownKey(32, 5))));
    EXPECT_EQ(f_.Reload(key).state, KeyState::kActive);
  }
}

}  // namespace
}  // namespace veil::kms
