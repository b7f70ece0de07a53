// The authorization matrix: every role (Viewer, Operator, Editor, Administrator, Reader, Writer,
// Manager, none), granted on the whole account to a service ID, against every action of the IAM
// service itself, over HTTP. Each cell is checked against the table below, written out here by
// hand (not computed from action_table.cc), and the table must cover every action that
// IamActionRegistry() knows.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "iam/action_table.h"
#include "iam/api/api_fixture.h"

namespace veil::iam::api {
namespace {

using testing::Reply;

// The least platform role each IAM action needs (docs/iam.md "IAM's own actions").
const std::map<std::string, std::string>& ExpectedTable() {
  static const auto* table = new std::map<std::string, std::string>{
      {"iam-identity.serviceid.read", "Viewer"},
      {"iam-identity.serviceid.create", "Operator"},
      {"iam-identity.serviceid.update", "Operator"},
      {"iam-identity.serviceid.delete", "Editor"},
      {"iam-identity.serviceid.lock", "Administrator"},
      {"iam-identity.serviceid.unlock", "Administrator"},
      {"iam-identity.serviceid-apikey.read", "Viewer"},
      {"iam-identity.serviceid-apikey.create", "Editor"},
      {"iam-identity.serviceid-apikey.update", "Operator"},
      {"iam-identity.serviceid-apikey.delete", "Editor"},
      {"iam-identity.serviceid-apikey.lock", "Administrator"},
      {"iam-identity.serviceid-apikey.unlock", "Administrator"},
      {"iam-identity.user-apikey.read", "Administrator"},
      {"iam-identity.user-apikey.create", "Administrator"},
      {"iam-identity.user-apikey.update", "Administrator"},
      {"iam-identity.user-apikey.delete", "Administrator"},
      {"iam-identity.user-apikey.lock", "Administrator"},
      {"iam-identity.user-apikey.unlock", "Administrator"},
      {"iam-am.policy.read", "Viewer"},
      {"iam-am.policy.create", "Administrator"},
      {"iam-am.policy.update", "Administrator"},
      {"iam-am.policy.delete", "Administrator"},
      {"resource-controller.instance.read", "Viewer"},
      {"resource-controller.instance.create", "Editor"},
      {"resource-controller.instance.delete", "Editor"},
      // The operator's accounts API: these service IDs hold their role on the whole operator
      // account (the fixture's first account), so they are its operators to that degree.
      {"enterprise.account.read", "Viewer"},
      {"enterprise.account.create", "Administrator"},
  };
  return *table;
}

int PlatformRank(const std::string& role) {
  static const std::map<std::string, int> ranks = {
      {"Viewer", 1}, {"Operator", 2}, {"Editor", 3}, {"Administrator", 4}};
  auto it = ranks.find(role);
  return it == ranks.end() ? 0 : it->second;  // service roles and none: no platform rank
}

class AuthzMatrixTest : public testing::IamApiFixture {
 protected:
  // Things for the actor to act on, made fresh by the admin for each attempt.
  std::string NewServiceId() {
    Reply r = Call("POST", "/v1/serviceids", admin_token_, R"({"name":"target"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("id").as_string());
  }
  std::string NewKey(const std::string& iam_id) {
    Reply r = Call("POST", "/v1/apikeys", admin_token_,
                   R"({"name":"target-key","iam_id":")" + iam_id + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("id").as_string());
  }
  std::string PolicyBody(const std::string& iam_id) {
    return R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":")" + iam_id +
           R"("}]}],"roles":[{"role_id":"crn:v1:veil:public:iam::::role:Viewer"}],)"
           R"("resources":[{"attributes":[{"name":"accountId","value":")" +
           f_.account_id + R"("}]}]})";
  }
  std::string NewPolicy() {
    Reply r = Call("POST", "/v1/policies", admin_token_, PolicyBody("iam-" + NewServiceId()));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("id").as_string());
  }
  std::string NewInstance() {
    Reply r = Call("POST", "/v2/resource_instances", admin_token_,
                   R"({"name":"target","resource_id":"kms"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("guid").as_string());
  }

  // Performs `action` as the bearer of `token`; returns the HTTP status.
  int Attempt(const std::string& action, const std::string& token) {
    const std::string admin = f_.admin.iam_id;
    const std::map<std::string, std::function<int()>> attempts = {
        {"iam-identity.serviceid.read",
         [&] { return Call("GET", "/v1/serviceids/" + NewServiceId(), token).status; }},
        {"iam-identity.serviceid.create",
         [&] { return Call("POST", "/v1/serviceids", token, R"({"name":"m"})").status; }},
        {"iam-identity.serviceid.update",
         [&] {
           return Call("PUT", "/v1/serviceids/" + NewServiceId(), token, R"({"description":"d"})")
               .status;
         }},
        {"iam-identity.serviceid.delete",
         [&] { return Call("DELETE", "/v1/serviceids/" + NewServiceId(), token).status; }},
        {"iam-identity.serviceid.lock",
         [&] { return Call("POST", "/v1/serviceids/" + NewServiceId() + "/lock", token).status; }},
        {"iam-identity.serviceid.unlock",
         [&] {
           std::string id = NewServiceId();
           EXPECT_EQ(Call("POST", "/v1/serviceids/" + id + "/lock", admin_token_).status, 204);
           return Call("DELETE", "/v1/serviceids/" + id + "/lock", token).status;
         }},
        {"iam-identity.serviceid-apikey.read",
         [&] {
           return Call("GET", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()), token).status;
         }},
        {"iam-identity.serviceid-apikey.create",
         [&] {
           return Call("POST", "/v1/apikeys", token,
                       R"({"name":"k","iam_id":"iam-)" + NewServiceId() + R"("})")
               .status;
         }},
        {"iam-identity.serviceid-apikey.update",
         [&] {
           return Call("PUT", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()), token,
                       R"({"description":"d"})")
               .status;
         }},
        {"iam-identity.serviceid-apikey.delete",
         [&] {
           return Call("DELETE", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()), token).status;
         }},
        {"iam-identity.serviceid-apikey.lock",
         [&] {
           return Call("POST", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()) + "/lock", token)
               .status;
         }},
        {"iam-identity.serviceid-apikey.unlock",
         [&] {
           std::string key = NewKey("iam-" + NewServiceId());
           EXPECT_EQ(Call("POST", "/v1/apikeys/" + key + "/lock", admin_token_).status, 204);
           return Call("DELETE", "/v1/apikeys/" + key + "/lock", token).status;
         }},
        {"iam-identity.user-apikey.read",
         [&] { return Call("GET", "/v1/apikeys/" + NewKey(admin), token).status; }},
        {"iam-identity.user-apikey.create",
         [&] {
           return Call("POST", "/v1/apikeys", token, R"({"name":"k","iam_id":")" + admin + R"("})")
               .status;
         }},
        {"iam-identity.user-apikey.update",
         [&] {
           return Call("PUT", "/v1/apikeys/" + NewKey(admin), token, R"({"description":"d"})")
               .status;
         }},
        {"iam-identity.user-apikey.delete",
         [&] { return Call("DELETE", "/v1/apikeys/" + NewKey(admin), token).status; }},
        {"iam-identity.user-apikey.lock",
         [&] { return Call("POST", "/v1/apikeys/" + NewKey(admin) + "/lock", token).status; }},
        {"iam-identity.user-apikey.unlock",
         [&] {
           std::string key = NewKey(admin);
           EXPECT_EQ(Call("POST", "/v1/apikeys/" + key + "/lock", admin_token_).status, 204);
           return Call("DELETE", "/v1/apikeys/" + key + "/lock", token).status;
         }},
        {"iam-am.policy.read",
         [&] { return Call("GET", "/v1/policies/" + NewPolicy(), token).status; }},
        {"iam-am.policy.create",
         [&] {
           return Call("POST", "/v1/policies", token, PolicyBody("iam-" + NewServiceId())).status;
         }},
        {"iam-am.policy.update",
         [&] {
           std::string subject = "iam-" + NewServiceId();
           Reply p = Call("POST", "/v1/policies", admin_token_, PolicyBody(subject));
           return Call("PUT", "/v1/policies/" + std::string(p.json.at("id").as_string()), token,
                       PolicyBody(subject))
               .status;
         }},
        {"iam-am.policy.delete",
         [&] { return Call("DELETE", "/v1/policies/" + NewPolicy(), token).status; }},
        {"resource-controller.instance.read",
         [&] { return Call("GET", "/v2/resource_instances/" + NewInstance(), token).status; }},
        {"resource-controller.instance.create",
         [&] {
           return Call("POST", "/v2/resource_instances", token,
                       R"({"name":"m","resource_id":"kms","target":"local"})")
               .status;
         }},
        {"resource-controller.instance.delete",
         [&] { return Call("DELETE", "/v2/resource_instances/" + NewInstance(), token).status; }},
        {"enterprise.account.read",
         [&] { return Call("GET", "/v1/accounts/" + f_.account_id, token).status; }},
        {"enterprise.account.create",
         [&] { return Call("POST", "/v1/accounts", token, R"({"name":"tenant"})").status; }},
    };
    auto it = attempts.find(action);
    if (it == attempts.end()) {
      ADD_FAILURE() << "no request exercises " << action;
      return 0;
    }
    return it->second();
  }
};

TEST_F(AuthzMatrixTest, TheTableCoversEveryActionOfTheIamService) {
  std::set<std::string> code;
  const ActionRegistry registry = IamActionRegistry();
  for (const ActionTable* table : registry.tables()) {
    for (const std::string& action : table->Actions()) code.insert(action);
  }
  std::set<std::string> expected;
  for (const auto& [action, role] : ExpectedTable()) expected.insert(action);
  EXPECT_EQ(code, expected);
}

TEST_F(AuthzMatrixTest, EveryRoleAgainstEveryActionOfTheIamService) {
  const std::vector<std::string> roles = {"Viewer", "Operator", "Editor",  "Administrator",
                                          "Reader", "Writer",   "Manager", "none"};
  int cells = 0;
  for (const std::string& role : roles) {
    auto actor = f_.ServiceIdWith(role == "none" ? std::vector<std::string>{}
                                                 : std::vector<std::string>{role});
    const std::string token = Login(actor.apikey);
    ASSERT_FALSE(token.empty());
    for (const auto& [action, least] : ExpectedTable()) {
      const bool allowed = PlatformRank(role) >= PlatformRank(least);
      const int status = Attempt(action, token);
      if (allowed) {
        EXPECT_TRUE(status >= 200 && status < 300)
            << role << " must be allowed " << action << ", got " << status;
      } else {
        EXPECT_EQ(status, 403) << role << " must be denied " << action;
      }
      ++cells;
    }
  }
  EXPECT_EQ(cells, 8 * 27);
}

TEST_F(AuthzMatrixTest, ListingsShowOnlyWhatTheRoleMayRead) {
  NewServiceId();
  NewInstance();
  NewPolicy();
  for (const std::string role : {"Viewer", "Manager", "none"}) {
    auto actor = f_.ServiceIdWith(role == "none" ? std::vector<std::string>{}
                                                 : std::vector<std::string>{role});
    const std::string token = Login(actor.apikey);
    const bool viewer = role == "Viewer";
    const auto ids = Call("GET", "/v1/serviceids?pagesize=100", token);
    ASSERT_EQ(ids.status, 200);
    EXPECT_EQ(!ids.json.at("serviceids").as_array().empty(), viewer) << role;
    const auto instances = Call("GET", "/v2/resource_instances", token);
    ASSERT_EQ(instances.status, 200);
    EXPECT_EQ(!instances.json.at("resources").as_array().empty(), viewer) << role;
    // Policies: everyone sees their own; a Viewer sees all of the account's.
    const auto policies = Call("GET", "/v1/policies", token);
    ASSERT_EQ(policies.status, 200);
    const size_t seen = policies.json.at("policies").as_array().size();
    if (viewer) {
      EXPECT_GT(seen, 2u);
    } else {
      EXPECT_EQ(seen, role == "none" ? 0u : 1u) << role;
    }
  }
}

}  // namespace
}  // namespace veil::iam::api
