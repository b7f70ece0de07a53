// The operator's accounts API (/v1/accounts) over loopback: IBM's Enterprise shapes, the
// administrator each account comes with, and who "the operator" is: an identity that a policy of
// the operator's account (the first account) allows; a tenant's administrator never is.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "iam/api/api_fixture.h"

namespace veil::iam::api {
namespace {

using iam::testing::ReadFile;
using testing::Reply;

class AccountApiTest : public testing::IamApiFixture {
 protected:
  struct Tenant {
    std::string account_id, owner_iam_id, apikey_id, apikey, token;
  };
  Tenant CreateTenant(const std::string& name, const std::string& token) {
    f_.clock.Advance(std::chrono::milliseconds(10));  // listings are oldest first
    Reply r = Call("POST", "/v1/accounts", token, R"({"name":")" + name + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    Tenant t;
    if (r.status != 201) return t;
    t.account_id = std::string(r.json.at("account_id").as_string());
    t.owner_iam_id = std::string(r.json.at("owner_iam_id").as_string());
    t.apikey_id = std::string(r.json.at("iam_apikey_id").as_string());
    t.apikey = std::string(r.json.at("iam_apikey").as_string());
    t.token = Login(t.apikey);
    return t;
  }
};

TEST_F(AccountApiTest, TheOperatorCreatesAnAccountWhoseAdministratorManagesIt) {
  f_.clock.Advance(std::chrono::milliseconds(10));  // listings are oldest first
  Reply r = Call("POST", "/v1/accounts", admin_token_,
                 R"({"name":"tenant-b","owner_name":"bob","owner_email":"bob@example.com",)"
                 R"("parent":"ignored"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.Get("Cache-Control"), "no-store");
  const std::string b(r.json.at("account_id").as_string());
  const std::string owner(r.json.at("owner_iam_id").as_string());
  const std::string key(r.json.at("iam_apikey").as_string());
  EXPECT_TRUE(IsAccountId(b));
  EXPECT_TRUE(owner.starts_with("IBMid-"));
  EXPECT_TRUE(r.json.at("iam_apikey_id").as_string().starts_with("ApiKey-"));
  EXPECT_EQ(key.size(), 66u);

  // The administrator logs in and manages the new account.
  const std::string token = Login(key);
  Reply me = Call("GET", "/identity/userinfo", token);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json.at("account_id").as_string(), b);
  EXPECT_EQ(me.json.at("iam_id").as_string(), owner);
  EXPECT_EQ(me.json.at("name").as_string(), "bob");
  EXPECT_EQ(me.json.at("type").as_string(), "user");
  EXPECT_EQ(Call("POST", "/v1/serviceids", token, R"({"name":"b-svc"})").status, 201);
  EXPECT_EQ(
      Call("POST", "/v2/resource_instances", token, R"({"name":"kp","resource_id":"kms"})").status,
      201);

  // The operator sees every account, its own flagged as the enterprise account.
  Reply list = Call("GET", "/v1/accounts", admin_token_);
  ASSERT_EQ(list.status, 200) << list.body;
  const auto& rows = list.json.at("resources").as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(list.json.at("rows_count").as_int64(), 2);
  EXPECT_TRUE(list.json.at("next_url").is_null());
  EXPECT_EQ(rows[0].at("id").as_string(), f_.account_id);
  EXPECT_TRUE(rows[0].at("is_enterprise_account").as_bool());
  EXPECT_EQ(rows[1].at("id").as_string(), b);
  EXPECT_FALSE(rows[1].at("is_enterprise_account").as_bool());
  Reply one = Call("GET", "/v1/accounts/" + b, admin_token_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json.at("name").as_string(), "tenant-b");
  EXPECT_EQ(one.json.at("state").as_string(), "ACTIVE");
  EXPECT_EQ(one.json.at("owner_iam_id").as_string(), owner);
  EXPECT_EQ(one.json.at("created_by").as_string(), f_.admin.iam_id);
  EXPECT_EQ(one.json.at("url").as_string(), "/v1/accounts/" + b);
  EXPECT_EQ(one.json.at("crn").as_string(),
            "crn:v1:veil:private:enterprise::a/" + f_.account_id + "::account:" + b);
  // The key is shown once: in no other answer, event or the database.
  EXPECT_EQ(list.body.find(key), std::string::npos);
  EXPECT_EQ(one.body.find(key), std::string::npos);
  EXPECT_EQ(ReadFile(f_.dir / "events.jsonl").find(key), std::string::npos);
  EXPECT_EQ(ReadFile(f_.dir / "veil.db").find(key.substr(10, 40)), std::string::npos);
  bool audited = false;
  for (const audit::Event& e : sink_->memory().events()) {
    audited = audited || (e.action == "enterprise.account.create" && e.outcome == "success" &&
                          e.target.id.ends_with("::account:" + b));
  }
  EXPECT_TRUE(audited);
}

// Who "the operator" is: a tenant's administrator holds Administrator and Manager on every
// resource of its own account, and still may neither create nor list nor read accounts, even
// after granting itself Administrator on the Enterprise service in its own account: only the
// operator's account's policies count.
TEST_F(AccountApiTest, ATenantAdministratorCannotCreateOrListAccounts) {
  Tenant b = CreateTenant("tenant-b", admin_token_);
  ASSERT_FALSE(b.token.empty());
  auto refused = [&](const Reply& r) {
    EXPECT_EQ(r.status, 403) << r.body;
    if (r.json.is_object()) {
      EXPECT_EQ(r.json.at("errorCode").as_string(), "BXNIM0403E");
    }
  };
  refused(Call("POST", "/v1/accounts", b.token, R"({"name":"tenant-c"})"));
  refused(Call("GET", "/v1/accounts", b.token));
  refused(Call("GET", "/v1/accounts/" + b.account_id, b.token));
  refused(Call("GET", "/v1/accounts/" + f_.account_id, b.token));
  Reply grant = Call(
      "POST", "/v1/policies", b.token,
      R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":")" + b.owner_iam_id +
          R"("}]}],"roles":[{"role_id":"crn:v1:veil:public:iam::::role:Administrator"}],)"
          R"("resources":[{"attributes":[{"name":"accountId","value":")" +
          b.account_id + R"("},{"name":"serviceName","value":"enterprise"}]}]})");
  ASSERT_EQ(grant.status, 201) << grant.body;
  refused(Call("POST", "/v1/accounts", b.token, R"({"name":"tenant-c"})"));
  refused(Call("GET", "/v1/accounts", b.token));
  EXPECT_EQ(Call("GET", "/v1/accounts", admin_token_).json.at("rows_count").as_int64(), 2);
  // A service ID of the operator's account without a policy is no operator either.
  auto plain = f_.ServiceIdWith({});
  const std::string plain_token = Login(plain.apikey);
  refused(Call("POST", "/v1/accounts", plain_token, R"({"name":"tenant-c"})"));
  refused(Call("GET", "/v1/accounts", plain_token));
}

// The operator's power is a policy of the operator's account, so it can be delegated narrowly:
// Viewer on the Enterprise service reads accounts, Administrator on it creates them, and neither
// reaches anything else of the operator's account.
TEST_F(AccountApiTest, TheOperatorRoleIsDelegatedByAPolicyInTheOperatorsAccount) {
  const std::vector<PolicyAttribute> enterprise = {{"accountId", f_.account_id},
                                                   {"serviceName", "enterprise"}};
  auto viewer = f_.ServiceIdWith({"Viewer"}, "", enterprise);
  auto creator = f_.ServiceIdWith({"Administrator"}, "", enterprise);
  const std::string viewer_token = Login(viewer.apikey);
  const std::string creator_token = Login(creator.apikey);
  EXPECT_EQ(Call("GET", "/v1/accounts", viewer_token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/accounts/" + f_.account_id, viewer_token).status, 200);
  EXPECT_EQ(Call("POST", "/v1/accounts", viewer_token, R"({"name":"x"})").status, 403);
  Tenant c = CreateTenant("tenant-c", creator_token);
  EXPECT_FALSE(c.token.empty());
  EXPECT_EQ(Call("GET", "/v1/serviceids/" + creator.identity.id, creator_token).status, 403);
  EXPECT_EQ(Call("POST", "/v1/serviceids", creator_token, R"({"name":"x"})").status, 403);
}

TEST_F(AccountApiTest, BadRequestsUnknownAccountsAndNoToken) {
  auto expect = [](const Reply& r, int status, std::string_view code) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.json.is_object()) << r.body;
    EXPECT_EQ(r.json.at("errorCode").as_string(), code);
  };
  expect(Call("POST", "/v1/accounts", admin_token_, R"({})"), 400, "BXNIM0400E");
  expect(Call("POST", "/v1/accounts", admin_token_, R"({"name":7})"), 400, "BXNIM0400E");
  expect(Call("POST", "/v1/accounts", admin_token_,
              R"({"name":"b","owner_iam_id":")" + f_.admin.iam_id + R"("})"),
         400, "BXNIM0400E");
  expect(Call("POST", "/v1/accounts", admin_token_, "[]"), 400, "BXNIM0400E");
  expect(Call("GET", "/v1/accounts/" + std::string(32, 'f'), admin_token_), 404, "BXNIM0404E");
  expect(Call("GET", "/v1/accounts/not-an-account", admin_token_), 404, "BXNIM0404E");
  expect(Call("GET", "/v1/accounts?pagesize=0", admin_token_), 400, "BXNIM0400E");
  expect(Call("GET", "/v1/accounts"), 401, "BXNIM0401E");
  expect(Call("POST", "/v1/accounts", "", R"({"name":"b"})"), 401, "BXNIM0401E");
  // Pages.
  for (const char* name : {"t1", "t2"}) CreateTenant(name, admin_token_);
  Reply page = Call("GET", "/v1/accounts?pagesize=2", admin_token_);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.json.at("resources").as_array().size(), 2u);
  ASSERT_TRUE(page.json.at("next_url").is_string());
  Reply next =
      Call("GET", std::string(page.json.at("next_url").as_string()) + "&pagesize=2", admin_token_);
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.json.at("resources").as_array().size(), 1u);
}

}  // namespace
}  // namespace veil::iam::api
