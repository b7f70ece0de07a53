// IAM's HMAC secrets sealed by the HSM, as veild wires them: HsmSecretSealer over a
// Pkcs11KeyStore on a real SoftHSM2 token (KmsFixture), behind IamService's resource keys.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "hsm_secret_sealer.h"
#include "kms/testing/kms_fixture.h"

namespace veil::veild {
namespace {

std::string Text(const SecretBytes& s) { return std::string(AsStringView(s.Reveal())); }

class HsmSecretSealerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sealer_ = std::make_unique<HsmSecretSealer>(*f_.key_store);
    f_.iam.service->SetSecretSealer(sealer_.get());
  }
  void TearDown() override {
    if (f_.iam.service) f_.iam.service->SetSecretSealer(nullptr);
  }

  iam::IamService::CreatedResourceKey NewKey(const std::string& role) {
    return f_.iam.KeyOf(f_.iam.CosInstance(), role);
  }

  kms::testing::KmsFixture f_;
  std::unique_ptr<HsmSecretSealer> sealer_;
};

TEST_F(HsmSecretSealerTest, SealsInTheHsmAndRefusesATamperedBlob) {
  SecretBytes secret(AsBytes(std::string_view("0123456789abcdef0123456789abcdef")));
  auto sealed = sealer_->Seal(secret);
  ASSERT_TRUE(sealed) << sealed.error().ToString();
  EXPECT_EQ(sealed->size(), secret.size() + 30);  // 0x01 'S' || iv || ciphertext || tag
  auto opened = sealer_->Unseal(*sealed);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->Equals(secret));
  std::vector<uint8_t> tampered = *sealed;
  tampered.back() ^= 1;
  EXPECT_EQ(sealer_->Unseal(tampered).error().code, ErrorCode::kDataLoss);
  EXPECT_FALSE(sealer_->Unseal(std::vector<uint8_t>{1, 2, 3}));
}

TEST_F(HsmSecretSealerTest, AResourceKeysSecretUnsealsAfterARestartThroughTheHsmOnly) {
  auto created = NewKey("Writer");
  auto c = f_.iam.service->LookupHmacCredential(created.key.access_key_id);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->secret_access_key.Equals(created.secret_access_key));
  // Another IamService on the same database (a restart: nothing in memory) with a new sealer on
  // the same HSM token reads it back.
  auto again = iam::IamService::Create(*f_.iam.db, f_.iam.clock, f_.iam.random);
  ASSERT_TRUE(again);
  HsmSecretSealer sealer(*f_.key_store);
  (*again)->SetSecretSealer(&sealer);
  auto read = (*again)->LookupHmacCredential(created.key.access_key_id);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(read->secret_access_key.Equals(created.secret_access_key));
  // Without the HSM it cannot.
  auto blind = iam::IamService::Create(*f_.iam.db, f_.iam.clock, f_.iam.random);
  ASSERT_TRUE(blind);
  EXPECT_EQ((*blind)->LookupHmacCredential(created.key.access_key_id).error().code,
            ErrorCode::kFailedPrecondition);
}

// The secret access key (its 48 hex characters and the 24 bytes they encode) and the key's API
// key are in no file: not the database, its WAL, nor the HSM's token files.
TEST_F(HsmSecretSealerTest, TheSecretAndTheApiKeyAppearInNoFile) {
  std::vector<std::string> secrets;
  for (const std::string role : {"Reader", "Writer", "Manager"}) {
    auto created = NewKey(role);
    ASSERT_TRUE(f_.iam.service->LookupHmacCredential(created.key.access_key_id));
    const std::string hex = Text(created.secret_access_key);
    auto raw = HexDecode(hex);
    ASSERT_TRUE(raw);
    secrets.push_back(hex);
    secrets.emplace_back(raw->begin(), raw->end());
    secrets.push_back(Text(created.apikey));
  }
  f_.iam.service->SetSecretSealer(nullptr);
  f_.service.reset();
  f_.iam.authorizer.reset();
  f_.iam.verifier.reset();
  f_.iam.service.reset();
  f_.iam.db.reset();  // closed: everything is in the files
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(f_.iam.dir.path())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string bytes = iam::testing::ReadFile(entry.path().string());
    for (const std::string& secret : secrets) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << entry.path();
    }
  }
  EXPECT_GE(files, 2u);  // the database and the token
}

}  // namespace
}  // namespace veil::veild
