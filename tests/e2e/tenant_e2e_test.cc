// End-to-end: tenants. The operator creates an account with `veil iam account create` against the
// built veild, the tenant's administrator logs in with the key it was handed, and neither tenant
// can read or use the other's service IDs, API keys, policies, instances or KMS keys through the
// IAM and KMS APIs; a tenant's administrator cannot create or list accounts.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "e2e/process.h"
#include "e2e/veild_fixture.h"
#include "http/client.h"

namespace veil::testing {
namespace {

namespace json = boost::json;

struct Reply {
  int status = -1;
  std::string body;
  json::value json;
};

class TenantE2eTest : public VeildTest {
 protected:
  // `veil` as `who` (its own VEIL_HOME).
  ProcessResult Veil(const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> argv = {kBin + "/veil", "--endpoint", endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, std::chrono::seconds(30), {"VEIL_HOME=" + dir_ + "/home-" + who});
  }

  // One HTTP call to the service at port offset `service` (1 iam, 2 kms).
  Reply Call(const std::string& method, int service, const std::string& path,
             const std::string& token, const std::string& body = "",
             const std::string& instance = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = url(service, path);
    req.headers.Set("Authorization", "Bearer " + token);
    if (!instance.empty()) req.headers.Set("bluemix-instance", instance);
    if (!body.empty()) req.headers.Set("Content-Type", "application/json");
    req.body = body;
    Reply r;
    auto resp = client_.Send(req);
    if (!resp) return r;
    r.status = resp->status;
    r.body = resp->body;
    boost::system::error_code ec;
    if (!r.body.empty()) r.json = json::parse(r.body, ec);
    return r;
  }
  Reply Iam(const std::string& method, const std::string& path, const std::string& token,
            const std::string& body = "") {
    return Call(method, 1, path, token, body);
  }

  std::string TokenFor(const std::string& apikey) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = url(1, "/identity/token");
    req.headers.Set("Content-Type", "application/x-www-form-urlencoded");
    req.body = "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + apikey;
    auto resp = client_.Send(req);
    EXPECT_TRUE(resp && resp->status == 200) << (resp ? resp->body : resp.error().ToString());
    if (!resp || resp->status != 200) return "";
    return std::string(json::parse(resp->body).at("access_token").as_string());
  }

  // What one tenant owns: a service ID with an API key and a policy, a KMS instance with a root
  // key and a ciphertext it wrapped.
  struct Holdings {
    std::string account, service_id, iam_id, apikey_id, policy, instance, key, ciphertext;
  };
  Holdings Populate(const std::string& token, const std::string& tag) {
    Holdings h;
    Reply sid = Iam("POST", "/v1/serviceids", token, R"({"name":")" + tag + R"(-svc"})");
    EXPECT_EQ(sid.status, 201) << sid.body;
    h.service_id = std::string(sid.json.at("id").as_string());
    h.iam_id = std::string(sid.json.at("iam_id").as_string());
    h.account = std::string(sid.json.at("account_id").as_string());
    Reply key = Iam("POST", "/v1/apikeys", token, R"({"name":"k","iam_id":")" + h.iam_id + "\"}");
    EXPECT_EQ(key.status, 201) << key.body;
    h.apikey_id = std::string(key.json.at("id").as_string());
    Reply policy = Iam("POST", "/v1/policies", token, ViewerPolicy(h.iam_id, h.account));
    EXPECT_EQ(policy.status, 201) << policy.body;
    h.policy = std::string(policy.json.at("id").as_string());
    h.instance = CreateInstance(token, "kms", tag + "-kp");
    Reply root = Call("POST", 2, "/api/v2/keys", token, KeyBody(tag + "-root"), h.instance);
    EXPECT_EQ(root.status, 201) << root.body;
    h.key = std::string(root.json.at("resources").at(0).at("id").as_string());
    Reply wrapped =
        Call("POST", 2, "/api/v2/keys/" + h.key + "/actions/wrap", token, "{}", h.instance);
    EXPECT_EQ(wrapped.status, 200) << wrapped.body;
    h.ciphertext = std::string(wrapped.json.at("ciphertext").as_string());
    return h;
  }

  static std::string ViewerPolicy(const std::string& iam_id, const std::string& account) {
    return R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":")" + iam_id +
           R"("}]}],"roles":[{"role_id":"crn:v1:veil:public:iam::::role:Viewer"}],)"
           R"("resources":[{"attributes":[{"name":"accountId","value":")" +
           account + R"("}]}]})";
  }
  static std::string KeyBody(const std::string& name) {
    return R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},)"
           R"("resources":[{"type":"application/vnd.ibm.kms.key+json","name":")" +
           name + R"(","extractable":false}]})";
  }

  // Every way `token` (another tenant) could read or use `h`: each must be refused.
  void ExpectNoAccess(const std::string& token, const Holdings& h) {
    auto refused = [](const Reply& r, const std::string& what) {
      EXPECT_TRUE(r.status == 403 || r.status == 404) << what << ": " << r.status << " " << r.body;
    };
    const std::string sid = "/v1/serviceids/" + h.service_id;
    refused(Iam("GET", sid, token), "read service ID");
    refused(Iam("PUT", sid, token, R"({"name":"mine"})"), "rename service ID");
    refused(Iam("POST", sid + "/lock", token), "lock service ID");
    refused(Iam("DELETE", sid, token), "delete service ID");
    const std::string key = "/v1/apikeys/" + h.apikey_id;
    refused(Iam("GET", key, token), "read API key");
    // Naming the other tenant's identity as a key owner answers as naming no one: 400 "iam_id
    // names no user or service ID" to an administrator, 403 to a caller without the role.
    auto no_owner = [](const Reply& r, const std::string& what) {
      EXPECT_TRUE(r.status == 403 ||
                  (r.status == 400 && Contains(r.body, "iam_id names no user or service ID")))
          << what << ": " << r.status << " " << r.body;
    };
    no_owner(Iam("GET", "/v1/apikeys?iam_id=" + h.iam_id, token), "list API keys");
    no_owner(Iam("POST", "/v1/apikeys", token, R"({"name":"x","iam_id":")" + h.iam_id + "\"}"),
             "mint an API key");
    refused(Iam("POST", key + "/lock", token), "lock API key");
    refused(Iam("DELETE", key, token), "delete API key");
    const std::string policy = "/v1/policies/" + h.policy;
    refused(Iam("GET", policy, token), "read policy");
    refused(Iam("PUT", policy, token, ViewerPolicy(h.iam_id, h.account)), "replace policy");
    refused(Iam("DELETE", policy, token), "delete policy");
    refused(Iam("POST", "/v1/policies", token, ViewerPolicy(h.iam_id, h.account)),
            "grant in the other account");
    const std::string instance = "/v2/resource_instances/" + h.instance;
    refused(Iam("GET", instance, token), "read instance");
    refused(Iam("DELETE", instance, token), "delete instance");
    // Listings of the other account are refused (their paging would count its objects).
    const std::string acct = "?account_id=" + h.account;
    EXPECT_EQ(Iam("GET", "/v1/serviceids" + acct, token).status, 403);
    EXPECT_EQ(Iam("GET", "/v1/policies" + acct, token).status, 403);
    EXPECT_EQ(Iam("GET", "/v2/resource_instances" + acct, token).status, 403);
    // The KMS: nothing in the other tenant's instance, whichever key or ciphertext is named.
    const std::string k = "/api/v2/keys/" + h.key;
    refused(Call("GET", 2, "/api/v2/keys", token, "", h.instance), "list keys");
    refused(Call("GET", 2, k, token, "", h.instance), "read key");
    refused(Call("POST", 2, k + "/actions/wrap", token, "{}", h.instance), "wrap");
    refused(Call("POST", 2, k + "/actions/unwrap", token,
                 R"({"ciphertext":")" + h.ciphertext + "\"}", h.instance),
            "unwrap");
    refused(Call("POST", 2, k + "/actions/disable", token, "", h.instance), "disable key");
    refused(Call("POST", 2, "/api/v2/keys", token, KeyBody("planted"), h.instance), "create key");
  }

  // The tenant still has everything, unchanged (its service ID holds `keys` API keys).
  void ExpectIntact(const std::string& token, const Holdings& h, size_t keys = 1) {
    Reply sid = Iam("GET", "/v1/serviceids/" + h.service_id, token);
    ASSERT_EQ(sid.status, 200) << sid.body;
    EXPECT_EQ(sid.json.at("entity_tag").as_string(), "1");
    EXPECT_FALSE(sid.json.at("locked").as_bool());
    Reply key = Iam("GET", "/v1/apikeys/" + h.apikey_id, token);
    ASSERT_EQ(key.status, 200) << key.body;
    EXPECT_FALSE(key.json.at("locked").as_bool());
    EXPECT_EQ(
        Iam("GET", "/v1/apikeys?iam_id=" + h.iam_id, token).json.at("apikeys").as_array().size(),
        keys);
    EXPECT_EQ(Iam("GET", "/v1/policies/" + h.policy, token).json.at("entity_tag").as_string(), "1");
    EXPECT_EQ(Call("HEAD", 2, "/api/v2/keys", token, "", h.instance).status, 200);
    Reply unwrapped = Call("POST", 2, "/api/v2/keys/" + h.key + "/actions/unwrap", token,
                           R"({"ciphertext":")" + h.ciphertext + "\"}", h.instance);
    EXPECT_EQ(unwrapped.status, 200) << unwrapped.body;
  }

  http::HttpClient client_;
};

TEST_F(TenantE2eTest, TheOperatorCreatesATenantWithTheCliAndATenantAdminCannotListAccounts) {
  Start();
  ASSERT_EQ(Veil("operator", {"login", "--apikey-file", admin_key_file()}).exit_code, 0);
  const std::string key_file = dir_ + "/tenant-b.apikey";
  ProcessResult created = Veil("operator", {"iam", "account", "create", "tenant-b", "--owner-email",
                                            "ops@b.example", "--output-file", key_file});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_TRUE(Contains(created.output, "Account:")) << created.output;
  EXPECT_TRUE(Contains(created.output, key_file + " (mode 0600)")) << created.output;
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string key = ReadFile(key_file);
  while (!key.empty() && key.back() == '\n') key.pop_back();
  ASSERT_EQ(key.size(), 66u);
  EXPECT_FALSE(Contains(created.output, key));

  ProcessResult list = Veil("operator", {"--output", "json", "iam", "account", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  const json::array accounts = json::parse(list.output).at("resources").as_array();
  ASSERT_EQ(accounts.size(), 2u) << list.output;
  EXPECT_EQ(accounts[1].at("name").as_string(), "tenant-b");
  const std::string b(accounts[1].at("id").as_string());
  ProcessResult table = Veil("operator", {"iam", "account", "list"});
  EXPECT_TRUE(Contains(table.output, "tenant-b")) << table.output;
  EXPECT_TRUE(Contains(table.output, "ACTIVE")) << table.output;

  // The tenant's administrator logs in with the key it was handed, in its own account.
  ProcessResult login = Veil("tenant", {"login", "--apikey-file", key_file});
  ASSERT_EQ(login.exit_code, 0) << login.output;
  ProcessResult me = Veil("tenant", {"--output", "json", "iam", "whoami"});
  ASSERT_EQ(me.exit_code, 0) << me.output;
  EXPECT_EQ(json::parse(me.output).at("account_id").as_string(), b);
  EXPECT_EQ(Veil("tenant", {"iam", "service-id", "create", "b-svc"}).exit_code, 0);
  // ...and is no operator: permission denied (exit code 4) for listing and creating accounts.
  ProcessResult tenant_list = Veil("tenant", {"iam", "account", "list"});
  EXPECT_EQ(tenant_list.exit_code, 4) << tenant_list.output;
  ProcessResult tenant_create = Veil("tenant", {"iam", "account", "create", "tenant-c"});
  EXPECT_EQ(tenant_create.exit_code, 4) << tenant_create.output;
  EXPECT_EQ(json::parse(Veil("operator", {"--output", "json", "iam", "account", "list"}).output)
                .at("resources")
                .as_array()
                .size(),
            2u);

  // Without --output-file the key is printed, once.
  ProcessResult printed = Veil("operator", {"iam", "account", "create", "tenant-c"});
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_TRUE(Contains(printed.output, "Save the API key now")) << printed.output;
}

// Two tenants made through the operator's API, each with a service ID, an API key, a policy, a
// KMS instance, a root key and a wrapped DEK: neither can read, change or use the other's, in
// either direction (the operator's account included: creating a tenant gives the operator no
// access in it), and everything is intact afterwards.
TEST_F(TenantE2eTest, ATenantCannotReachAnotherTenantsResources) {
  Start();
  const std::string a_token = Login(admin_key_file());
  Reply b = Iam("POST", "/v1/accounts", a_token, R"({"name":"tenant-b"})");
  ASSERT_EQ(b.status, 201) << b.body;
  const std::string b_token = TokenFor(std::string(b.json.at("iam_apikey").as_string()));
  ASSERT_FALSE(b_token.empty());
  const Holdings a_has = Populate(a_token, "a");
  const Holdings b_has = Populate(b_token, "b");
  ASSERT_NE(a_has.account, b_has.account);

  {
    SCOPED_TRACE("tenant B against the operator's account A");
    ExpectNoAccess(b_token, a_has);
  }
  {
    SCOPED_TRACE("the operator A against tenant B");
    ExpectNoAccess(a_token, b_has);
  }
  // B's service ID, with a Viewer policy of B's, sees nothing of A's either.
  Reply b_key =
      Iam("POST", "/v1/apikeys", b_token, R"({"name":"k2","iam_id":")" + b_has.iam_id + "\"}");
  ASSERT_EQ(b_key.status, 201) << b_key.body;
  const std::string b_svc = TokenFor(std::string(b_key.json.at("apikey").as_string()));
  {
    SCOPED_TRACE("tenant B's service ID against A");
    ExpectNoAccess(b_svc, a_has);
  }
  // Asking the policy decision point about A's resources is refused too.
  Reply authz =
      Iam("POST", "/v2/authz", b_token,
          R"([{"subject":{"attributes":{"id":")" + a_has.iam_id +
              R"("}},"action":"kms.secrets.unwrap","resource":{"attributes":{"accountId":")" +
              a_has.account + R"(","serviceName":"kms","serviceInstance":")" + a_has.instance +
              R"("}}}])");
  ASSERT_EQ(authz.status, 200) << authz.body;
  EXPECT_EQ(authz.json.at("responses").at(0).at("status").as_string(), "403") << authz.body;

  {
    SCOPED_TRACE("A intact");
    ExpectIntact(a_token, a_has);
  }
  {
    SCOPED_TRACE("B intact");
    ExpectIntact(b_token, b_has, 2);  // the key made above for its service ID
  }
}

}  // namespace
}  // namespace veil::testing
