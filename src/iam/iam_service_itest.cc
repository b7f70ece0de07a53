// IamService and the first start over a real SQLite database.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/bytes.h"
#include "common/log.h"
#include "iam/api_key.h"
#include "iam/bootstrap.h"
#include "iam/iam_service.h"
#include "iam/testing/iam_fixture.h"

namespace veil::iam {
namespace {

using testing::IamFixture;
using testing::ReadFile;

TEST(IamServiceTest, ServiceIdLifecycleWithEntityTagsAndLocks) {
  IamFixture f;
  auto s = f.service->CreateServiceId({f.account_id, "builder", "builds images"}, f.admin.iam_id);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_TRUE(s->iam_id.starts_with("iam-ServiceId-"));
  EXPECT_EQ(s->iam_id, "iam-" + s->id);
  EXPECT_EQ(s->crn(),
            "crn:v1:veil:private:iam-identity::a/" + f.account_id + "::serviceid:" + s->id);
  EXPECT_EQ(f.service->GetIdentity(s->iam_id)->name, "builder");
  EXPECT_EQ(f.service->GetIdentity(s->id)->name, "builder");

  IamService::Update rename{std::string("renamed"), std::nullopt};
  EXPECT_EQ(f.service->UpdateServiceId(s->id, "7", rename).error().code,
            ErrorCode::kFailedPrecondition);  // stale entity tag
  auto renamed = f.service->UpdateServiceId(s->id, "1", rename);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->version, 2);
  EXPECT_EQ(renamed->description, "builds images");

  ASSERT_TRUE(f.service->SetServiceIdLocked(s->id, true));
  EXPECT_EQ(f.service->DeleteServiceId(s->id).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(f.service->UpdateServiceId(s->id, "*", rename).error().code,
            ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(f.service->SetServiceIdLocked(s->id, false));
  ASSERT_TRUE(f.service->DeleteServiceId(s->id));
  EXPECT_EQ(f.service->GetIdentity(s->id).error().code, ErrorCode::kNotFound);
}

TEST(IamServiceTest, DeletingAServiceIdDeletesItsKeysAndPolicies) {
  IamFixture f;
  auto creds = f.ServiceIdWith({"Viewer"});
  ASSERT_EQ(f.service->ListPolicies(f.account_id)->size(), 2u);  // the admin's and this one
  ASSERT_TRUE(f.service->DeleteServiceId(creds.identity.id));
  EXPECT_EQ(f.service->ListPolicies(f.account_id)->size(), 1u);
  EXPECT_TRUE(f.service->ListApiKeys(f.account_id, creds.identity.iam_id, {})->items.empty());
  EXPECT_FALSE(f.issuer->IssueForApiKey(creds.apikey));
}

TEST(IamServiceTest, ALockedOrDeletedApiKeyGetsNoToken) {
  IamFixture f;
  auto creds = f.ServiceIdWith({});
  auto first = f.issuer->IssueForApiKey(creds.apikey);
  ASSERT_TRUE(first);
  const std::string key_id = first->apikey_id;
  ASSERT_TRUE(f.service->SetApiKeyLocked(key_id, true));
  auto locked = f.issuer->IssueForApiKey(creds.apikey);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(locked.error().message.find("locked"), std::string::npos);
  EXPECT_EQ(f.service->DeleteApiKey(key_id).error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(f.service->SetApiKeyLocked(key_id, false));
  ASSERT_TRUE(f.issuer->IssueForApiKey(creds.apikey));
  ASSERT_TRUE(f.service->DeleteApiKey(key_id));
  auto deleted = f.issuer->IssueForApiKey(creds.apikey);
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code, ErrorCode::kUnauthenticated);
  // A locked owner, too.
  auto other = f.ServiceIdWith({});
  ASSERT_TRUE(f.service->SetServiceIdLocked(other.identity.id, true));
  EXPECT_FALSE(f.issuer->IssueForApiKey(other.apikey));
}

TEST(IamServiceTest, AWrongSecretUnderAValidKeyIdGetsNoToken) {
  IamFixture f;
  auto creds = f.ServiceIdWith({});
  std::string forged = creds.apikey;
  forged[60] = forged[60] == 'A' ? 'B' : 'A';  // inside the secret
  auto t = f.issuer->IssueForApiKey(forged);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("wrong secret"), std::string::npos);
  EXPECT_EQ(t.error().message.find(forged), std::string::npos);
}

TEST(IamServiceTest, ApiKeysAreStoredOnlyAsSaltedHashes) {
  IamFixture f;
  auto creds = f.ServiceIdWith({});
  auto rows = f.db->Query("SELECT salt, hash FROM iam_apikeys");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);  // admin's and this one
  auto salt0 = (*rows)[0].GetBlob("salt");
  auto salt1 = (*rows)[1].GetBlob("salt");
  EXPECT_NE(*salt0, *salt1);
  f.db.reset();  // flush and close before grepping the files
  for (const char* file : {"veil.db", "veil.db-wal"}) {
    std::string bytes = ReadFile(f.dir / file);
    EXPECT_EQ(bytes.find(creds.apikey), std::string::npos) << file;
    EXPECT_EQ(bytes.find(f.admin_key), std::string::npos) << file;
  }
}

TEST(IamServiceTest, PoliciesAreValidatedAgainstTheAccount) {
  IamFixture f;
  auto other = f.service->CreateAccount("other");
  auto stranger = f.service->CreateServiceId({other->id, "stranger", ""}, "test");
  PolicySpec spec;
  spec.type = PolicyType::kAccess;
  spec.roles = {*Role::FromName("Viewer", "")};
  spec.subject = {{"iam_id", stranger->iam_id}};
  spec.resource = {{"accountId", f.account_id}};
  EXPECT_EQ(f.service->CreatePolicy(f.account_id, spec, "t").error().code,
            ErrorCode::kInvalidArgument);  // subject from another account
  spec.subject = {{"iam_id", f.admin.iam_id}};
  spec.resource = {{"accountId", other->id}};
  EXPECT_EQ(f.service->CreatePolicy(f.account_id, spec, "t").error().code,
            ErrorCode::kInvalidArgument);  // resource of another account
  spec.resource = {{"accountId", f.account_id},
                   {"serviceName", "kms"},
                   {"serviceInstance", "00000000-0000-4000-8000-000000000000"}};
  EXPECT_EQ(f.service->CreatePolicy(f.account_id, spec, "t").error().code,
            ErrorCode::kInvalidArgument);  // no such kms instance
  auto instance = f.service->CreateInstance({f.account_id, "keys", "kms", "local"}, "t");
  ASSERT_TRUE(instance);
  spec.resource[2].value = instance->guid;
  EXPECT_TRUE(f.service->CreatePolicy(f.account_id, spec, "t"));
  // Authorization policies get the source account filled in.
  PolicySpec s2s;
  s2s.type = PolicyType::kAuthorization;
  s2s.roles = {*Role::FromName("Reader", "")};
  s2s.subject = {{"serviceName", "server-protect"}};
  s2s.resource = {{"accountId", f.account_id}, {"serviceName", "kms"}};
  auto created = f.service->CreatePolicy(f.account_id, s2s, "t");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->SubjectValue("accountId"), f.account_id);
}

// The same service-to-service authorization created twice used to give two identical policies
// (docs/iam.md lists 409 for a duplicate): the second is refused, naming the first.
TEST(IamServiceTest, DuplicateAuthorizationIsRefusedWithTheExistingPolicysId) {
  IamFixture f;
  PolicySpec s2s;
  s2s.type = PolicyType::kAuthorization;
  s2s.roles = {*Role::FromName("Reader", "")};
  s2s.subject = {{"serviceName", "server-protect"}};
  s2s.resource = {{"accountId", f.account_id}, {"serviceName", "kms"}};
  auto first = f.service->CreatePolicy(f.account_id, s2s, "t");
  ASSERT_TRUE(first);
  // The same grant in another order, with the source account spelled out: still the same.
  PolicySpec again = s2s;
  again.subject = {{"accountId", f.account_id}, {"serviceName", "server-protect"}};
  std::reverse(again.resource.begin(), again.resource.end());
  again.description = "again";
  for (const PolicySpec& spec : {s2s, again}) {
    auto duplicate = f.service->CreatePolicy(f.account_id, spec, "t");
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, ErrorCode::kAlreadyExists);
    EXPECT_NE(duplicate.error().message.find(first->id), std::string::npos);
  }
  EXPECT_EQ(f.service->ListPolicies(f.account_id)->size(), 1u + 1u);  // + the admin's own
  // Another role is another grant; replacing it with the first's grant is a duplicate too.
  PolicySpec writer = s2s;
  writer.roles = {*Role::FromName("Writer", "")};
  auto second = f.service->CreatePolicy(f.account_id, writer, "t");
  ASSERT_TRUE(second);
  auto replaced = f.service->ReplacePolicy(second->id, "", s2s, "t");
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code, ErrorCode::kAlreadyExists);
  EXPECT_TRUE(f.service->ReplacePolicy(second->id, "", writer, "t"));  // itself: fine
}

TEST(IamServiceTest, ResourceInstancesGetCrnsOfTheirService) {
  IamFixture f;
  auto r = f.service->CreateInstance({f.account_id, "my-kms", "kms", ""}, "t");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->crn, "crn:v1:veil:private:kms:local:a/" + f.account_id + ":" + r->guid + "::");
  EXPECT_EQ(r->state, "active");
  EXPECT_EQ(f.service->CreateInstance({f.account_id, "x", "compute", ""}, "t").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.service->CreateInstance({f.account_id, "x", "kms", "us-south"}, "t").error().code,
            ErrorCode::kInvalidArgument);
  auto cos = f.service->CreateInstance({f.account_id, "objects", "cloud-object-storage", ""}, "t");
  ASSERT_TRUE(cos);
  EXPECT_EQ(f.service->ListInstances(f.account_id, {"kms", ""}, {})->items.size(), 1u);
  EXPECT_EQ(f.service->ListInstances(f.account_id, {}, {})->items.size(), 2u);
  ASSERT_TRUE(f.service->DeleteInstance(r->guid));
  EXPECT_EQ(f.service->GetInstance(r->guid).error().code, ErrorCode::kNotFound);
}

TEST(IamServiceTest, ListingsArePaged) {
  IamFixture f;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(f.service->CreateServiceId({f.account_id, "s" + std::to_string(i), ""}, "t"));
  }
  auto page = f.service->ListServiceIds(f.account_id, {"", 2});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->next, "2");
  auto last = f.service->ListServiceIds(f.account_id, {"4", 2});
  EXPECT_EQ(last->items.size(), 1u);
  EXPECT_TRUE(last->next.empty());
  EXPECT_EQ(f.service->ListServiceIds(f.account_id, {"x", 2}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.service->ListServiceIds(f.account_id, {"", 0}).error().code,
            ErrorCode::kInvalidArgument);
}

// ---- accounts ----

TEST(IamServiceTest, AnAccountComesWithAnAdministratorWhoseKeyLogsIn) {
  IamFixture f;
  IamService::AccountSpec spec;
  spec.name = "tenant-b";
  spec.owner_name = "bob";
  spec.owner_email = "bob@example.com";
  f.clock.Advance(std::chrono::seconds(1));  // listings are oldest first
  auto created = f.service->CreateAccountWithAdmin(spec, f.admin.iam_id);
  ASSERT_TRUE(created) << created.error().ToString();
  const Account& b = created->account;
  EXPECT_TRUE(IsAccountId(b.id));
  EXPECT_NE(b.id, f.account_id);
  EXPECT_EQ(b.owner_iam_id, created->admin.iam_id);
  EXPECT_EQ(b.created_by, f.admin.iam_id);
  EXPECT_EQ(created->admin.kind, IdentityKind::kUser);
  EXPECT_EQ(created->admin.account_id, b.id);
  EXPECT_EQ(created->admin.email, "bob@example.com");
  EXPECT_EQ(created->key.iam_id, created->admin.iam_id);
  auto stored = f.service->GetAccount(b.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->owner_iam_id, created->admin.iam_id);

  auto token = f.issuer->IssueForApiKey(AsStringView(created->apikey.Reveal()));
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_EQ(token->subject.account_id, b.id);
  // Administrator and Manager on every resource of its own account, nothing in the first one.
  Subject admin_b{Subject::Type::kUser, created->admin.iam_id, b.id, "", "", ""};
  EXPECT_TRUE(f.authorizer
                  ->Authorize(admin_b, "iam-identity.serviceid.create",
                              {b.id, "iam-identity", "", "serviceid", ""})
                  ->permitted);
  EXPECT_TRUE(f.authorizer->Authorize(admin_b, "kms.secrets.unwrap", {b.id, "kms", "i", "key", "k"})
                  ->permitted);
  EXPECT_FALSE(f.authorizer->Authorize(admin_b, "kms.secrets.purge", {b.id, "kms", "i", "key", "k"})
                   ->permitted);
  EXPECT_FALSE(f.authorizer
                   ->Authorize(admin_b, "iam-identity.serviceid.read",
                               {f.account_id, "iam-identity", "", "serviceid", ""})
                   ->permitted);

  auto all = f.service->ListAccounts({"", 100});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[0].id, f.account_id);  // oldest first
  EXPECT_EQ(all->items[0].owner_iam_id, f.admin.iam_id);
  EXPECT_EQ(all->items[0].created_by, "system");
  EXPECT_EQ(*f.service->OperatorAccountId(), f.account_id);

  spec.name = "";
  EXPECT_EQ(f.service->CreateAccountWithAdmin(spec, "t").error().code, ErrorCode::kInvalidArgument);
  spec.name = "x";
  spec.owner_email = "a\nb";
  EXPECT_EQ(f.service->CreateAccountWithAdmin(spec, "t").error().code, ErrorCode::kInvalidArgument);
}

// A database made before accounts recorded their owner: the migration fills in the first
// account's administrator.
TEST(IamServiceTest, TheMigrationFillsInTheFirstAccountsOwner) {
  testing::TempDir dir;
  FakeClock clock;
  OsRandom random;
  auto db = store::SqliteDatabase::Open(dir / "veil.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate("iam", {IamMigrations()[0]}));
  const std::string acct(32, 'a');
  const std::string admin = "IBMid-11111111-1111-4111-8111-111111111111";
  const std::string now = "2026-01-01T00:00:00.000Z";
  ASSERT_TRUE(
      (*db)->Exec("INSERT INTO iam_accounts (id, name, state, created_at) VALUES "
                  "(?, 'Default', 'active', ?)",
                  {acct, now}));
  ASSERT_TRUE(
      (*db)->Exec("INSERT INTO iam_identities (iam_id, id, kind, account_id, name, "
                  "description, email, locked, version, created_at, modified_at, "
                  "created_by) VALUES (?, ?, 'user', ?, 'admin', '', '', 0, 1, ?, ?, "
                  "'system')",
                  {admin, admin, acct, now, now}));
  ASSERT_TRUE(
      (*db)->Exec("INSERT INTO iam_meta (name, value) VALUES ('first_account', ?)", {acct}));
  auto service = IamService::Create(**db, clock, random);
  ASSERT_TRUE(service) << service.error().ToString();
  auto first = (*service)->GetAccount(acct);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->owner_iam_id, admin);
  EXPECT_EQ(first->created_by, "system");
}

// ---- first start ----

class FirstStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::SqliteDatabase::Open(dir_ / "veil.db");
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    service_ = std::move(*IamService::Create(*db_, clock_, random_));
    log_file_ = dir_ / "veild.log";
    ASSERT_TRUE(log::SetFile(log_file_));
  }
  void TearDown() override { log::SetFile(""); }

  testing::TempDir dir_;
  FakeClock clock_;
  OsRandom random_;
  std::unique_ptr<store::SqliteDatabase> db_;
  std::unique_ptr<IamService> service_;
  std::string log_file_;
};

TEST_F(FirstStartTest, CreatesTheAdminAndItsKeyFileOnceWithoutLoggingTheKey) {
  auto first = EnsureFirstAccount(*service_, dir_.path());
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(first->created);
  const std::string path = dir_ / "admin-apikey";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string key = ReadFile(path);
  ASSERT_EQ(key.size(), kApiKeyTextSize + 1);
  EXPECT_EQ(key.back(), '\n');
  key.pop_back();
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  // The key logs in as the admin, who administers the account.
  SigningKeyOptions options;
  options.generate = testing::PooledKey;
  auto keys = SigningKeyRing::Create(service_->store(), clock_, random_, options);
  TokenIssuer issuer(service_->store(), **keys, clock_, random_, {});
  auto token = issuer.IssueForApiKey(key);
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_EQ(token->subject.iam_id, first->admin_iam_id);
  EXPECT_EQ(token->subject.account_id, first->account_id);
  auto authorizer = LocalAuthorizer::Create(*db_, service_->store(), DefaultActionRegistry());
  Subject admin{Subject::Type::kUser, first->admin_iam_id, first->account_id, "", "", ""};
  for (const char* action : {"iam-am.policy.create", "iam-identity.serviceid.delete",
                             "resource-controller.instance.create", "kms.secrets.delete"}) {
    EXPECT_TRUE(
        (*authorizer)->Authorize(admin, action, {first->account_id, "kms", "", "", ""})->permitted)
        << action;
  }
  EXPECT_FALSE((*authorizer)
                   ->Authorize(admin, "kms.secrets.purge", {first->account_id, "kms", "", "", ""})
                   ->permitted);

  // The log says so once, without the key.
  std::string log = ReadFile(log_file_);
  EXPECT_NE(log.find("created the first account " + first->account_id), std::string::npos) << log;
  EXPECT_NE(log.find("admin API key written to " + path), std::string::npos) << log;
  EXPECT_EQ(log.find(key), std::string::npos);

  // Idempotent: a second start changes nothing, writes nothing, logs nothing.
  ::unlink(path.c_str());
  auto again = EnsureFirstAccount(*service_, dir_.path());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->account_id, first->account_id);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(ReadFile(log_file_), log);
}

TEST_F(FirstStartTest, AKeyFileFromAnotherDatabaseIsNeverOverwritten) {
  const std::string path = dir_ / "admin-apikey";
  { std::ofstream(path) << "someone else's key\n"; }
  auto first = EnsureFirstAccount(*service_, dir_.path());
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(path), "someone else's key\n");
  EXPECT_FALSE(*service_->FirstAccountId());
}

TEST_F(FirstStartTest, ACrashBetweenCommitAndLinkIsFinishedOnTheNextStart) {
  // Simulate it: the database committed and the temporary file is there, the final one is not.
  std::string kept;
  auto created = service_->CreateFirstAccount([&](const SecretBytes& key) {
    kept = std::string(AsStringView(key.Reveal()));
    std::ofstream(dir_ / "admin-apikey.tmp") << kept << "\n";
    return OkStatus();
  });
  ASSERT_TRUE(created && *created);
  auto next = EnsureFirstAccount(*service_, dir_.path());
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->created);
  EXPECT_EQ(ReadFile(dir_ / "admin-apikey"), kept + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "admin-apikey.tmp"));
}

}  // namespace
}  // namespace veil::iam
