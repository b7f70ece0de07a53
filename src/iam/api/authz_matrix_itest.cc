// The authorization matrix: every role (Viewer, Operator, Editor, Administrator, Reader, Writer,
// Manager, none), granted on the whole account to a service ID, against every action of the IAM
// service itself, over HTTP, on every route that needs one of them. Each cell is checked against
// the table below, written out here by hand (not computed from action_table.cc); the table must
// cover every action that IamActionRegistry() knows, and the requests every route the IAM router
// serves (TheMatrixCoversEveryRouteOfTheIamService).
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
      {"resource-controller.key.read", "Viewer"},
      {"resource-controller.key.create", "Editor"},
      {"resource-controller.key.delete", "Editor"},
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
  std::string NewInstance(const std::string& service = "kms") {
    Reply r = Call("POST", "/v2/resource_instances", admin_token_,
                   R"({"name":"target","resource_id":")" + service + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("guid").as_string());
  }
  std::string NewResourceKey() {
    Reply r = Call("POST", "/v2/resource_keys", admin_token_,
                   R"({"name":"target","role":"Reader","source":")" +
                       NewInstance("cloud-object-storage") + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("guid").as_string());
  }
  // A new object storage instance on which the current actor holds Reader: creating a key needs
  // the key's role besides the platform role the matrix is about.
  std::string NewInstanceTheActorReads() {
    const std::string guid = NewInstance("cloud-object-storage");
    f_.Grant(actor_iam_id_, {"Reader"}, f_.account_id,
             {{"accountId", f_.account_id},
              {"serviceName", "cloud-object-storage"},
              {"serviceInstance", guid}});
    return guid;
  }

  std::string actor_iam_id_;  // the service ID whose token the matrix is trying

  // One request that needs `action`: the route it goes to and how to make it.
  struct Case {
    std::string action;
    std::string route;  // "METHOD template", as the router lists it
    std::function<int(const std::string& token)> attempt;
  };

  // Every request of the matrix, by the action it needs; an action may have several routes.
  std::vector<Case> Cases() {
    std::vector<Case> out;
    for (auto& [action, attempt] : Attempts()) {
      out.push_back({action, std::string(RouteOf(action)), attempt});
    }
    // Second routes of an action.
    out.push_back(
        {"iam-identity.serviceid-apikey.read", "GET /v1/apikeys", [this](const std::string& token) {
           return Call("GET", "/v1/apikeys?iam_id=iam-" + NewServiceId(), token).status;
         }});
    out.push_back(
        {"iam-identity.user-apikey.read", "GET /v1/apikeys", [this](const std::string& token) {
           return Call("GET", "/v1/apikeys?iam_id=" + f_.admin.iam_id, token).status;
         }});
    out.push_back({"enterprise.account.read", "GET /v1/accounts", [this](const std::string& token) {
                     return Call("GET", "/v1/accounts", token).status;
                   }});
    // Asking the decision point about someone else: what reading the resource's policies needs
    // (the status of the item; the call itself answers 200).
    out.push_back({"iam-am.policy.read", "POST /v2/authz", [this](const std::string& token) {
                     Reply r = Call("POST", "/v2/authz", token,
                                    R"([{"subject":{"attributes":{"id":")" + f_.admin.iam_id +
                                        R"("}},"action":"iam-identity.serviceid.read",)"
                                        R"("resource":{"attributes":{"accountId":")" +
                                        f_.account_id + R"(","serviceName":"iam-identity"}}}])");
                     EXPECT_EQ(r.status, 200) << r.body;
                     return std::stoi(
                         std::string(r.json.at("responses").at(0).at("status").as_string()));
                   }});
    return out;
  }

  // The route of the first request of each action.
  static std::string_view RouteOf(const std::string& action) {
    static const std::map<std::string, std::string_view> routes = {
        {"iam-identity.serviceid.read", "GET /v1/serviceids/{id}"},
        {"iam-identity.serviceid.create", "POST /v1/serviceids"},
        {"iam-identity.serviceid.update", "PUT /v1/serviceids/{id}"},
        {"iam-identity.serviceid.delete", "DELETE /v1/serviceids/{id}"},
        {"iam-identity.serviceid.lock", "POST /v1/serviceids/{id}/lock"},
        {"iam-identity.serviceid.unlock", "DELETE /v1/serviceids/{id}/lock"},
        {"iam-identity.serviceid-apikey.read", "GET /v1/apikeys/{id}"},
        {"iam-identity.serviceid-apikey.create", "POST /v1/apikeys"},
        {"iam-identity.serviceid-apikey.update", "PUT /v1/apikeys/{id}"},
        {"iam-identity.serviceid-apikey.delete", "DELETE /v1/apikeys/{id}"},
        {"iam-identity.serviceid-apikey.lock", "POST /v1/apikeys/{id}/lock"},
        {"iam-identity.serviceid-apikey.unlock", "DELETE /v1/apikeys/{id}/lock"},
        {"iam-identity.user-apikey.read", "GET /v1/apikeys/{id}"},
        {"iam-identity.user-apikey.create", "POST /v1/apikeys"},
        {"iam-identity.user-apikey.update", "PUT /v1/apikeys/{id}"},
        {"iam-identity.user-apikey.delete", "DELETE /v1/apikeys/{id}"},
        {"iam-identity.user-apikey.lock", "POST /v1/apikeys/{id}/lock"},
        {"iam-identity.user-apikey.unlock", "DELETE /v1/apikeys/{id}/lock"},
        {"iam-am.policy.read", "GET /v1/policies/{id}"},
        {"iam-am.policy.create", "POST /v1/policies"},
        {"iam-am.policy.update", "PUT /v1/policies/{id}"},
        {"iam-am.policy.delete", "DELETE /v1/policies/{id}"},
        {"resource-controller.instance.read", "GET /v2/resource_instances/{id}"},
        {"resource-controller.instance.create", "POST /v2/resource_instances"},
        {"resource-controller.instance.delete", "DELETE /v2/resource_instances/{id}"},
        {"resource-controller.key.read", "GET /v2/resource_keys/{id}"},
        {"resource-controller.key.create", "POST /v2/resource_keys"},
        {"resource-controller.key.delete", "DELETE /v2/resource_keys/{id}"},
        {"enterprise.account.read", "GET /v1/accounts/{id}"},
        {"enterprise.account.create", "POST /v1/accounts"},
    };
    auto it = routes.find(action);
    return it == routes.end() ? std::string_view("?") : it->second;
  }

  // The first request of each action, as the bearer of a token.
  std::map<std::string, std::function<int(const std::string&)>> Attempts() {
    const std::string admin = f_.admin.iam_id;
    return {
        {"iam-identity.serviceid.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v1/serviceids/" + NewServiceId(), token).status;
         }},
        {"iam-identity.serviceid.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/serviceids", token, R"({"name":"m"})").status;
         }},
        {"iam-identity.serviceid.update",
         [=, this](const std::string& token) {
           return Call("PUT", "/v1/serviceids/" + NewServiceId(), token, R"({"description":"d"})")
               .status;
         }},
        {"iam-identity.serviceid.delete",
         [=, this](const std::string& token) {
           return Call("DELETE", "/v1/serviceids/" + NewServiceId(), token).status;
         }},
        {"iam-identity.serviceid.lock",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/serviceids/" + NewServiceId() + "/lock", token).status;
         }},
        {"iam-identity.serviceid.unlock",
         [=, this](const std::string& token) {
           std::string id = NewServiceId();
           EXPECT_EQ(Call("POST", "/v1/serviceids/" + id + "/lock", admin_token_).status, 204);
           return Call("DELETE", "/v1/serviceids/" + id + "/lock", token).status;
         }},
        {"iam-identity.serviceid-apikey.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()), token).status;
         }},
        {"iam-identity.serviceid-apikey.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/apikeys", token,
                       R"({"name":"k","iam_id":"iam-)" + NewServiceId() + R"("})")
               .status;
         }},
        {"iam-identity.serviceid-apikey.update",
         [=, this](const std::string& token) {
           return Call("PUT", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()), token,
                       R"({"description":"d"})")
               .status;
         }},
        {"iam-identity.serviceid-apikey.delete",
         [=, this](const std::string& token) {
           return Call("DELETE", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()), token).status;
         }},
        {"iam-identity.serviceid-apikey.lock",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/apikeys/" + NewKey("iam-" + NewServiceId()) + "/lock", token)
               .status;
         }},
        {"iam-identity.serviceid-apikey.unlock",
         [=, this](const std::string& token) {
           std::string key = NewKey("iam-" + NewServiceId());
           EXPECT_EQ(Call("POST", "/v1/apikeys/" + key + "/lock", admin_token_).status, 204);
           return Call("DELETE", "/v1/apikeys/" + key + "/lock", token).status;
         }},
        {"iam-identity.user-apikey.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v1/apikeys/" + NewKey(admin), token).status;
         }},
        {"iam-identity.user-apikey.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/apikeys", token, R"({"name":"k","iam_id":")" + admin + R"("})")
               .status;
         }},
        {"iam-identity.user-apikey.update",
         [=, this](const std::string& token) {
           return Call("PUT", "/v1/apikeys/" + NewKey(admin), token, R"({"description":"d"})")
               .status;
         }},
        {"iam-identity.user-apikey.delete",
         [=, this](const std::string& token) {
           return Call("DELETE", "/v1/apikeys/" + NewKey(admin), token).status;
         }},
        {"iam-identity.user-apikey.lock",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/apikeys/" + NewKey(admin) + "/lock", token).status;
         }},
        {"iam-identity.user-apikey.unlock",
         [=, this](const std::string& token) {
           std::string key = NewKey(admin);
           EXPECT_EQ(Call("POST", "/v1/apikeys/" + key + "/lock", admin_token_).status, 204);
           return Call("DELETE", "/v1/apikeys/" + key + "/lock", token).status;
         }},
        {"iam-am.policy.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v1/policies/" + NewPolicy(), token).status;
         }},
        {"iam-am.policy.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/policies", token, PolicyBody("iam-" + NewServiceId())).status;
         }},
        {"iam-am.policy.update",
         [=, this](const std::string& token) {
           std::string subject = "iam-" + NewServiceId();
           Reply p = Call("POST", "/v1/policies", admin_token_, PolicyBody(subject));
           return Call("PUT", "/v1/policies/" + std::string(p.json.at("id").as_string()), token,
                       PolicyBody(subject))
               .status;
         }},
        {"iam-am.policy.delete",
         [=, this](const std::string& token) {
           return Call("DELETE", "/v1/policies/" + NewPolicy(), token).status;
         }},
        {"resource-controller.instance.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v2/resource_instances/" + NewInstance(), token).status;
         }},
        {"resource-controller.instance.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v2/resource_instances", token,
                       R"({"name":"m","resource_id":"kms","target":"local"})")
               .status;
         }},
        {"resource-controller.instance.delete",
         [=, this](const std::string& token) {
           return Call("DELETE", "/v2/resource_instances/" + NewInstance(), token).status;
         }},
        {"resource-controller.key.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v2/resource_keys/" + NewResourceKey(), token).status;
         }},
        {"resource-controller.key.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v2/resource_keys", token,
                       R"({"name":"m","role":"Reader","source":")" + NewInstanceTheActorReads() +
                           R"("})")
               .status;
         }},
        {"resource-controller.key.delete",
         [=, this](const std::string& token) {
           return Call("DELETE", "/v2/resource_keys/" + NewResourceKey(), token).status;
         }},
        {"enterprise.account.read",
         [=, this](const std::string& token) {
           return Call("GET", "/v1/accounts/" + f_.account_id, token).status;
         }},
        {"enterprise.account.create",
         [=, this](const std::string& token) {
           return Call("POST", "/v1/accounts", token, R"({"name":"tenant"})").status;
         }},
    };
  }

  // Performs `action` as the bearer of `token` (its first route); returns the HTTP status.
  int Attempt(const std::string& action, const std::string& token) {
    auto attempts = Attempts();
    auto it = attempts.find(action);
    if (it == attempts.end()) {
      ADD_FAILURE() << "no request exercises " << action;
      return 0;
    }
    return it->second(token);
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
  const std::vector<Case> cases = Cases();
  int cells = 0;
  for (const std::string& role : roles) {
    auto actor = f_.ServiceIdWith(role == "none" ? std::vector<std::string>{}
                                                 : std::vector<std::string>{role});
    actor_iam_id_ = actor.identity.iam_id;
    const std::string token = Login(actor.apikey);
    ASSERT_FALSE(token.empty());
    for (const Case& c : cases) {
      const std::string& least = ExpectedTable().at(c.action);
      const bool allowed = PlatformRank(role) >= PlatformRank(least);
      const int status = c.attempt(token);
      if (allowed) {
        EXPECT_TRUE(status >= 200 && status < 300)
            << role << " must be allowed " << c.action << " (" << c.route << "), got " << status;
      } else {
        EXPECT_EQ(status, 403) << role << " must be denied " << c.action << " (" << c.route << ")";
      }
      ++cells;
    }
  }
  EXPECT_EQ(cells, 8 * (30 + 4));
}

// Every route of the IAM service is in the matrix above, or (routes that need no role: the
// anonymous token exchange and keys, the caller's own userinfo, and the listings, which filter
// per item) in the named test that shows what each role gets there. A new route fails here until
// it is placed in one or the other.
TEST_F(AuthzMatrixTest, TheMatrixCoversEveryRouteOfTheIamService) {
  const std::map<std::string, std::string> elsewhere = {
      {"POST /identity/token", "IamApiTest.TokenEndpointAnswersInIbmShape (anonymous)"},
      {"GET /identity/keys", "IamApiTest.JwksHasTheSpecShapeAndVerifiesIssuedTokens (anonymous)"},
      {"GET /identity/userinfo", "IamApiTest.UserinfoNamesTheCaller (the caller itself)"},
      {"GET /v1/serviceids", "AuthzMatrixTest.ListingsShowOnlyWhatTheRoleMayRead"},
      {"GET /v1/policies", "AuthzMatrixTest.ListingsShowOnlyWhatTheRoleMayRead"},
      {"GET /v2/resource_instances", "AuthzMatrixTest.ListingsShowOnlyWhatTheRoleMayRead"},
      {"GET /v2/resource_keys", "AuthzMatrixTest.ListingsShowOnlyWhatTheRoleMayRead"},
  };
  http::Router router;
  ASSERT_TRUE(AddIamRoutes(router, deps_));
  std::set<std::string> served;
  for (const http::Route* r : router.Routes()) served.insert(r->method + " " + r->path_template);
  std::set<std::string> covered;
  for (const Case& c : Cases()) {
    EXPECT_TRUE(ExpectedTable().contains(c.action)) << c.action;
    EXPECT_NE(c.route, "?") << c.action;
    covered.insert(c.route);
  }
  for (const auto& [route, test] : elsewhere) {
    EXPECT_FALSE(covered.contains(route)) << route << " is in the matrix and in " << test;
    covered.insert(route);
  }
  EXPECT_EQ(served, covered);
}

TEST_F(AuthzMatrixTest, ListingsShowOnlyWhatTheRoleMayRead) {
  NewServiceId();
  NewInstance();
  NewPolicy();
  NewResourceKey();
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
    const auto keys = Call("GET", "/v2/resource_keys", token);
    ASSERT_EQ(keys.status, 200);
    EXPECT_EQ(!keys.json.at("resources").as_array().empty(), viewer) << role;
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
