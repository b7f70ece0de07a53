// Resource keys of cloud-object-storage instances over a real SQLite database (IamFixture), with
// an in-memory sealer (the HSM one is tested over SoftHSM2 in apps/veild): what a key creates and
// deletes, its HMAC credential's lookup and cache, and what its service ID may do.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/uuid.h"
#include "iam/testing/iam_fixture.h"

namespace veil::iam {
namespace {

using testing::IamFixture;
using testing::ReadFile;

std::string Secret(const SecretBytes& s) { return std::string(AsStringView(s.Reveal())); }

Subject SubjectOf(const HmacCredential& c) {
  Subject s;
  s.type = Subject::Type::kServiceId;
  s.iam_id = c.iam_id;
  s.account_id = c.account_id;
  return s;
}

ResourceAttributes Instance(const std::string& account, const std::string& guid) {
  return {account, std::string(kObjectStorageService), guid, "", ""};
}

TEST(ResourceKeyTest, AKeyIsAServiceIdWithItsRoleOnTheInstanceAndAnApiKey) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  auto created = f.KeyOf(cos, "Writer", true, "uploader");
  const ResourceKey& k = created.key;
  EXPECT_TRUE(IsUuidV4(k.guid));
  EXPECT_EQ(k.crn, "crn:v1:veil:private:cloud-object-storage:local:a/" + f.account_id + ":" +
                       cos.guid + ":resource-key:" + k.guid);
  EXPECT_EQ(k.source_crn, cos.crn);
  EXPECT_EQ(k.role, "Writer");
  EXPECT_TRUE(IsAccessKeyId(k.access_key_id)) << k.access_key_id;
  EXPECT_EQ(created.secret_access_key.size(), kSecretAccessKeySize);
  EXPECT_EQ(f.sealer.seals.load(), 1);

  auto identity = f.service->GetIdentity(k.iam_id);
  ASSERT_TRUE(identity) << identity.error().ToString();
  EXPECT_EQ(identity->name, "uploader");
  EXPECT_EQ(identity->account_id, f.account_id);
  auto policy = f.service->GetPolicy(k.policy_id);
  ASSERT_TRUE(policy) << policy.error().ToString();
  EXPECT_EQ(policy->SubjectValue("iam_id"), k.iam_id);
  EXPECT_EQ(policy->ResourceValue("serviceName"), kObjectStorageService);
  EXPECT_EQ(policy->ResourceValue("serviceInstance"), cos.guid);
  ASSERT_EQ(policy->roles.size(), 1u);
  EXPECT_EQ(policy->roles[0].role_id(), "crn:v1:veil:public:iam::::serviceRole:Writer");
  auto apikey = f.service->GetApiKey(k.apikey_id);
  ASSERT_TRUE(apikey) << apikey.error().ToString();
  EXPECT_EQ(apikey->iam_id, k.iam_id);
  // The API key logs in as the key's service ID, which may write to the instance.
  const std::string token = f.TokenFor(Secret(created.apikey));
  ASSERT_FALSE(token.empty());
  auto verified = f.verifier->Verify(token);
  ASSERT_TRUE(verified);
  EXPECT_EQ((*verified)->iam_id, k.iam_id);

  auto got = f.service->GetResourceKey(k.guid);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->access_key_id, k.access_key_id);
  EXPECT_EQ(f.service->GetResourceKey(k.crn)->guid, k.guid);
  EXPECT_EQ(f.service->GetResourceKey("not-a-key").error().code, ErrorCode::kNotFound);
}

TEST(ResourceKeyTest, LookupUnsealsTheSecretOnceThenServesItFromTheCache) {
  IamFixture f;
  auto created = f.KeyOf(f.CosInstance(), "Reader");
  auto c = f.service->LookupHmacCredential(created.key.access_key_id);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->secret_access_key.Equals(created.secret_access_key));
  EXPECT_EQ(c->resource_key_id, created.key.guid);
  EXPECT_EQ(c->account_id, f.account_id);
  EXPECT_EQ(c->instance_guid, created.key.instance_guid);
  EXPECT_EQ(c->iam_id, created.key.iam_id);
  EXPECT_EQ(c->name, "key");
  EXPECT_EQ(c->role, "Reader");
  EXPECT_EQ(f.sealer.unseals.load(), 1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(f.service->LookupHmacCredential(c->access_key_id));
  EXPECT_EQ(f.sealer.unseals.load(), 1);
  f.clock.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(f.service->LookupHmacCredential(c->access_key_id));
  EXPECT_EQ(f.sealer.unseals.load(), 2);

  for (const std::string& unknown :
       {std::string(32, '0'), std::string("short"), std::string(32, 'A'), std::string()}) {
    EXPECT_EQ(f.service->LookupHmacCredential(unknown).error().code, ErrorCode::kNotFound);
  }
}

TEST(ResourceKeyTest, DeletingAKeyRemovesItsServiceIdPolicyAndApiKeyAndStopsItAtOnce) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  auto created = f.KeyOf(cos, "Manager");
  const ResourceKey k = created.key;
  const std::string token = f.TokenFor(Secret(created.apikey));
  ASSERT_TRUE(f.verifier->Verify(token));
  auto c = f.service->LookupHmacCredential(k.access_key_id);
  ASSERT_TRUE(c);  // cached now
  ASSERT_TRUE(f.authorizer
                  ->Authorize(SubjectOf(*c), "cloud-object-storage.bucket.put_bucket",
                              Instance(f.account_id, cos.guid))
                  ->permitted);

  ASSERT_TRUE(f.service->DeleteResourceKey(k.guid));
  EXPECT_EQ(f.service->LookupHmacCredential(k.access_key_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(f.service->GetResourceKey(k.guid).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(f.service->GetIdentity(k.iam_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(f.service->GetPolicy(k.policy_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(f.service->GetApiKey(k.apikey_id).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(f.verifier->Verify(token));
  EXPECT_FALSE(f.issuer->IssueForApiKey(Secret(created.apikey)));
  EXPECT_FALSE(f.authorizer
                   ->Authorize(SubjectOf(*c), "cloud-object-storage.bucket.put_bucket",
                               Instance(f.account_id, cos.guid))
                   ->permitted);
  EXPECT_EQ(f.service->DeleteResourceKey(k.guid).error().code, ErrorCode::kNotFound);
}

TEST(ResourceKeyTest, ALockedServiceIdOrADisabledAccountStopsTheCredentialAtOnce) {
  IamFixture f;
  auto created = f.KeyOf(f.CosInstance(), "Writer");
  const std::string id = created.key.access_key_id;
  ASSERT_TRUE(f.service->LookupHmacCredential(id));
  ASSERT_TRUE(f.service->SetServiceIdLocked(created.key.iam_id, true));
  EXPECT_EQ(f.service->LookupHmacCredential(id).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(f.service->SetServiceIdLocked(created.key.iam_id, false));
  ASSERT_TRUE(f.service->LookupHmacCredential(id));
  ASSERT_TRUE(f.service->SetAccountActive(f.account_id, false));
  EXPECT_EQ(f.service->LookupHmacCredential(id).error().code, ErrorCode::kNotFound);
}

TEST(ResourceKeyTest, WithoutHmacThereIsNoAccessKeyAndNothingIsSealed) {
  IamFixture f;
  auto created = f.KeyOf(f.CosInstance(), "Reader", false);
  EXPECT_TRUE(created.key.access_key_id.empty());
  EXPECT_TRUE(created.secret_access_key.empty());
  EXPECT_FALSE(created.apikey.empty());
  EXPECT_EQ(f.sealer.seals.load(), 0);
  EXPECT_TRUE(f.service->GetResourceKey(created.key.guid)->access_key_id.empty());
}

TEST(ResourceKeyTest, BadSourcesRolesAndNamesAreRefused) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  auto spec = [&](std::string source, std::string role) {
    return IamService::ResourceKeySpec{f.account_id, "k", std::move(source), std::move(role), true};
  };
  auto code = [&](const IamService::ResourceKeySpec& s) {
    auto k = f.service->CreateResourceKey(s, "test");
    return k ? ErrorCode::kOk : k.error().code;
  };
  EXPECT_EQ(code(spec(NewUuidV4String(f.random), "Writer")), ErrorCode::kNotFound);
  EXPECT_EQ(code(spec("", "Writer")), ErrorCode::kNotFound);
  auto kms = f.service->CreateInstance({f.account_id, "kp", "kms", ""}, "test");
  ASSERT_TRUE(kms);
  EXPECT_EQ(code(spec(kms->guid, "Writer")), ErrorCode::kInvalidArgument);
  // Another account's instance is not found, whatever the caller says its account is not.
  auto other = f.service->CreateAccount("other");
  ASSERT_TRUE(other);
  const ResourceInstance theirs = f.CosInstance(other->id);
  EXPECT_EQ(code(spec(theirs.guid, "Writer")), ErrorCode::kNotFound);
  EXPECT_EQ(code(spec(theirs.crn, "Writer")), ErrorCode::kNotFound);
  for (const char* role : {"Viewer", "Administrator", "writer", "ReaderPlus", "KeyPurge", "",
                           "crn:v1:veil:public:kms::::serviceRole:ReaderPlus",
                           "crn:v1:veil:public:iam::::role:Viewer"}) {
    EXPECT_EQ(code(spec(cos.guid, role)), ErrorCode::kInvalidArgument) << role;
  }
  for (const char* role :
       {"Reader", "Writer", "Manager", "crn:v1:bluemix:public:iam::::serviceRole:Writer",
        "crn:v1:veil:public:iam::::serviceRole:Reader",
        "crn:v1:bluemix:public:iam::::role:Manager"}) {
    EXPECT_EQ(code(spec(cos.guid, role)), ErrorCode::kOk) << role;
  }
  EXPECT_EQ(code(spec(cos.crn, "Reader")), ErrorCode::kOk);  // the source by CRN
  auto nameless = spec(cos.guid, "Reader");
  nameless.name = "";
  EXPECT_EQ(code(nameless), ErrorCode::kInvalidArgument);
  f.service->SetSecretSealer(nullptr);
  EXPECT_EQ(code(spec(cos.guid, "Reader")), ErrorCode::kFailedPrecondition);
  auto plain = spec(cos.guid, "Reader");
  plain.hmac = false;
  EXPECT_EQ(code(plain), ErrorCode::kOk);
}

TEST(ResourceKeyTest, AnInstanceWithResourceKeysCannotBeDeleted) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  auto a = f.KeyOf(cos, "Reader", true, "a");
  auto b = f.KeyOf(cos, "Writer", false, "b");
  auto refused = f.service->DeleteInstance(cos.guid);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("2 resource key(s)"), std::string::npos)
      << refused.error().message;
  ASSERT_TRUE(f.service->GetInstance(cos.guid));
  ASSERT_TRUE(f.service->DeleteResourceKey(a.key.guid));
  ASSERT_TRUE(f.service->DeleteResourceKey(b.key.crn));
  ASSERT_TRUE(f.service->DeleteInstance(cos.guid));
  // And a key of a deleted instance cannot be made.
  auto late =
      f.service->CreateResourceKey({f.account_id, "late", cos.guid, "Reader", true}, "test");
  EXPECT_EQ(late.error().code, ErrorCode::kNotFound);
}

TEST(ResourceKeyTest, TheServiceIdOfAKeyCannotBeDeletedByItself) {
  IamFixture f;
  auto created = f.KeyOf(f.CosInstance(), "Reader");
  auto refused = f.service->DeleteServiceId(created.key.iam_id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find(created.key.guid), std::string::npos);
  ASSERT_TRUE(f.service->LookupHmacCredential(created.key.access_key_id));
}

TEST(ResourceKeyTest, ASealedSecretMovedToAnotherKeysRowIsRefused) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  auto a = f.KeyOf(cos, "Reader", true, "a");
  auto b = f.KeyOf(cos, "Manager", true, "b");
  // Someone with write access to the database gives key a the sealed secret of key b.
  ASSERT_TRUE(
      f.db->Exec("UPDATE iam_resource_keys SET sealed_secret = (SELECT sealed_secret "
                 "FROM iam_resource_keys WHERE guid = ?) WHERE guid = ?",
                 {b.key.guid, a.key.guid}));
  auto c = f.service->LookupHmacCredential(a.key.access_key_id);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(c.error().message.find(Secret(b.secret_access_key)), std::string::npos);
}

TEST(ResourceKeyTest, TheSecretAndTheApiKeyAreStoredOnlySealedAndHashed) {
  IamFixture f;
  auto created = f.KeyOf(f.CosInstance(), "Writer");
  const std::string secret = Secret(created.secret_access_key);
  const std::string apikey = Secret(created.apikey);
  ASSERT_TRUE(f.service->LookupHmacCredential(created.key.access_key_id));
  auto raw = HexDecode(secret);
  ASSERT_TRUE(raw);
  const std::string raw_secret(raw->begin(), raw->end());
  f.authorizer.reset();
  f.verifier.reset();
  f.service.reset();
  f.db.reset();  // closed: everything is in the files
  for (const std::string name : {"veil.db", "veil.db-wal"}) {
    if (!std::filesystem::exists(f.dir / name)) continue;
    const std::string bytes = ReadFile(f.dir / name);
    EXPECT_EQ(bytes.find(secret), std::string::npos) << name;
    EXPECT_EQ(bytes.find(raw_secret), std::string::npos) << name;
    EXPECT_EQ(bytes.find(apikey), std::string::npos) << name;
  }
}

TEST(ResourceKeyTest, ListingsArePagedAndFilteredByName) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  for (int i = 0; i < 5; ++i) f.KeyOf(cos, "Reader", false, i == 3 ? "special" : "key");
  auto page = f.service->ListResourceKeys(f.account_id, {}, {"", 2});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->next, "2");
  page = f.service->ListResourceKeys(f.account_id, {}, {"4", 2});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_TRUE(page->next.empty());
  page = f.service->ListResourceKeys(f.account_id, {"special"}, {});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].name, "special");
  auto other = f.service->CreateAccount("other");
  EXPECT_TRUE(f.service->ListResourceKeys(other->id, {}, {})->items.empty());
}

// What an HMAC key of each role lets the object storage do, decided by IAM's authorizer on the
// policy the key was made with.
TEST(ResourceKeyTest, EachRoleAllowsWhatTheObjectStorageTableSays) {
  IamFixture f;
  const ResourceInstance cos = f.CosInstance();
  const ResourceAttributes on = Instance(f.account_id, cos.guid);
  auto allowed = [&](const std::string& role, const std::string& action) {
    auto created = f.KeyOf(cos, role);
    auto c = f.service->LookupHmacCredential(created.key.access_key_id);
    EXPECT_TRUE(c) << c.error().ToString();
    return f.authorizer->Authorize(SubjectOf(*c), "cloud-object-storage." + action, on)->permitted;
  };
  EXPECT_TRUE(allowed("Reader", "object.get"));
  EXPECT_TRUE(allowed("Reader", "bucket.get"));
  EXPECT_TRUE(allowed("Reader", "account.get_account_buckets"));
  EXPECT_FALSE(allowed("Reader", "object.put"));
  EXPECT_FALSE(allowed("Reader", "object.delete"));
  EXPECT_TRUE(allowed("Writer", "object.put"));
  EXPECT_TRUE(allowed("Writer", "object.post_complete_upload"));
  EXPECT_TRUE(allowed("Writer", "object.get"));
  EXPECT_FALSE(allowed("Writer", "bucket.put_bucket"));
  EXPECT_FALSE(allowed("Writer", "bucket.delete_bucket"));
  EXPECT_TRUE(allowed("Manager", "bucket.put_bucket"));
  EXPECT_TRUE(allowed("Manager", "bucket.put_encryption"));
  EXPECT_TRUE(allowed("Manager", "object.put"));
  // Nothing outside the object storage, not even reading its own instance or key.
  EXPECT_FALSE(allowed("Manager", "not.an.action"));
  auto created = f.KeyOf(cos, "Manager");
  auto c = f.service->LookupHmacCredential(created.key.access_key_id);
  ASSERT_TRUE(c);
  EXPECT_FALSE(
      f.authorizer->Authorize(SubjectOf(*c), "resource-controller.key.read", on)->permitted);
  EXPECT_FALSE(
      f.authorizer->Authorize(SubjectOf(*c), "resource-controller.instance.delete", on)->permitted);
}

// A key grants its role on its own instance: nothing on another instance of the account, nothing
// at all in another account (whose instance it may name as it likes).
TEST(ResourceKeyTest, AKeyOfOneAccountGivesNothingOnAnotherAccountsInstance) {
  IamFixture f;
  auto b = f.service->CreateAccount("tenant-b");
  ASSERT_TRUE(b);
  const ResourceInstance mine = f.CosInstance(f.account_id, "a-1");
  const ResourceInstance mine_too = f.CosInstance(f.account_id, "a-2");
  const ResourceInstance theirs = f.CosInstance(b->id, "b-1");
  auto key_b = f.KeyOf(theirs, "Manager");
  auto cb = f.service->LookupHmacCredential(key_b.key.access_key_id);
  ASSERT_TRUE(cb);
  EXPECT_EQ(cb->account_id, b->id);
  auto key_a = f.KeyOf(mine, "Manager");
  auto ca = f.service->LookupHmacCredential(key_a.key.access_key_id);
  ASSERT_TRUE(ca);
  for (const std::string action : {"object.get", "object.put", "bucket.put_bucket"}) {
    const std::string a = "cloud-object-storage." + action;
    EXPECT_TRUE(
        f.authorizer->Authorize(SubjectOf(*ca), a, Instance(f.account_id, mine.guid))->permitted);
    EXPECT_FALSE(f.authorizer->Authorize(SubjectOf(*ca), a, Instance(f.account_id, mine_too.guid))
                     ->permitted);
    EXPECT_FALSE(
        f.authorizer->Authorize(SubjectOf(*ca), a, Instance(b->id, theirs.guid))->permitted);
    // Even claiming to be of the other account.
    Subject forged = SubjectOf(*ca);
    forged.account_id = b->id;
    EXPECT_FALSE(f.authorizer->Authorize(forged, a, Instance(b->id, theirs.guid))->permitted);
    EXPECT_FALSE(
        f.authorizer->Authorize(SubjectOf(*cb), a, Instance(f.account_id, mine.guid))->permitted);
  }
}

}  // namespace
}  // namespace veil::iam
