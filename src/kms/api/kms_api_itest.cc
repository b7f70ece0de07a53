// The KMS API over loopback with IAM's real token verifier and authorizer and a real SoftHSM2
// token: Key Protect's role matrix for every route, audit events (one per call, Key Protect's
// action names and severities, no secret), and the Key Protect media types and envelopes.
#include <gtest/gtest.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "audit/in_memory_sink.h"
#include "common/encoding.h"
#include "http/client.h"
#include "http/server.h"
#include "iam/api/principal.h"
#include "kms/api/kms_api.h"
#include "kms/testing/kms_fixture.h"
#include "kms/testing/secure_import.h"

namespace veil::kms::api {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

struct Reply {
  int status = 0;
  std::string body;
  json::value json;
  http::Headers headers;
};

class KmsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KmsApiDeps deps;
    deps.service = f_.service.get();
    deps.authorizer = f_.iam.authorizer.get();
    iam::IamService* iam = f_.iam.service.get();
    deps.resolve_instance = [iam](std::string_view guid) -> Result<InstanceRef> {
      auto i = iam->GetInstance(guid);
      if (!i) return tl::unexpected(i.error());
      return InstanceRef{i->guid, i->account_id, i->crn};
    };
    http::Router router;
    ASSERT_TRUE(AddKmsRoutes(router, deps));
    http::RuntimeOptions runtime_options;
    runtime_options.io_threads = 1;
    runtime_options.worker_threads = 4;
    runtime_options.shutdown_grace = 3s;
    runtime_options.handle_signals = false;
    runtime_ = std::make_unique<http::Runtime>(runtime_options);
    http::ServerOptions options;
    options.service_name = "kms";
    http::ServerHooks hooks;
    // Tokens are verified as veild verifies them; the route matrix also speaks as a Veil service
    // (block storage, acting for the fixture's account), which has no token: a test stand-in.
    auto verify = iam::api::MakeIamAuthenticator(*f_.iam.verifier);
    hooks.authenticator = [verify, account = f_.iam.account_id](
                              const http::Request& req) -> Result<std::optional<http::Principal>> {
      if (req.headers.Get("Authorization").value_or("") == "Bearer svc.server-protect") {
        return std::optional<http::Principal>(
            iam::api::ServicePrincipal("server-protect", account));
      }
      return verify(req);
    };
    hooks.error_renderer = KmsErrorRenderer();
    hooks.error_status = KmsErrorStatus();
    hooks.audit = &sink_;
    auto port = runtime_->AddServer(options, std::move(router), hooks);
    ASSERT_TRUE(port) << port.error().ToString();
    port_ = *port;
    runtime_->RunInBackground();
    admin_ = f_.iam.TokenFor(f_.iam.admin_key);
  }
  void TearDown() override {
    runtime_->Stop();
    runtime_->Join();
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& token,
             const std::string& body = "", const std::string& correlation = "") {
    return CallIn(f_.instance.guid, method, path, token, body, correlation);
  }
  // A call naming `instance` in bluemix-instance.
  Reply CallIn(const std::string& instance, const std::string& method, const std::string& path,
               const std::string& token, const std::string& body = "",
               const std::string& correlation = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    req.headers.Set("bluemix-instance", instance);
    if (!correlation.empty()) req.headers.Set("correlation-id", correlation);
    if (!body.empty()) req.headers.Set("Content-Type", "application/vnd.ibm.kms.key+json");
    req.body = body;
    Reply r;
    auto resp = client_.Send(req);
    if (!resp) {
      ADD_FAILURE() << resp.error().ToString();
      return r;
    }
    r.status = resp->status;
    r.body = resp->body;
    r.headers = resp->headers;
    boost::system::error_code ec;
    if (!r.body.empty()) r.json = json::parse(r.body, ec);
    return r;
  }

  static std::string KeyBody(const std::string& name, bool extractable = false,
                             const std::string& extra = "") {
    return R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},)"
           R"("resources":[{"type":"application/vnd.ibm.kms.key+json","name":")" +
           name + R"(","extractable":)" + (extractable ? "true" : "false") + extra + "}]}";
  }

  std::string TokenWithRole(const std::string& role) {
    std::vector<iam::PolicyAttribute> resource = {{"accountId", f_.iam.account_id},
                                                  {"serviceName", "kms"},
                                                  {"serviceInstance", f_.instance.guid}};
    auto creds = f_.iam.ServiceIdWith(
        role.empty() ? std::vector<std::string>{} : std::vector<std::string>{role}, "", resource);
    return f_.iam.TokenFor(creds.apikey);
  }

  testing::KmsFixture f_;
  audit::InMemorySink sink_;
  std::unique_ptr<http::Runtime> runtime_;
  http::HttpClient client_;
  uint16_t port_ = 0;
  std::string admin_;
};

// The route matrix: every route of the KMS, by the least role that may call it (Key Protect's
// role table, iam::KmsTable()), against every role: Reader, ReaderPlus, Writer, Manager,
// KeyPurge, none, and a Veil service holding the customer's S2S Reader authorization. Each cell
// is refused with 403 UNAUTHORIZED_ERR below the role, or accepted with the route's success
// status at or above it; registration changes are the services' alone (403 SERVICE_ONLY_ERR for
// users that hold the role). Every route the router serves must have a case here
// (MatrixCoversEveryRoute), so a new route cannot go untested.
struct MatrixCase {
  std::string route;  // "METHOD template", as the router lists it
  std::string name;
  std::string least;  // Reader, ReaderPlus, Writer, Manager, KeyPurge; "service" for S2S only
  int success;        // the status a caller with the role gets
};

const std::vector<MatrixCase>& MatrixCases() {
  static const auto* cases = new std::vector<MatrixCase>{
      {"GET /api/v2/keys", "list keys", "Reader", 200},
      {"HEAD /api/v2/keys", "count keys", "Reader", 200},
      {"POST /api/v2/keys", "create a key", "Writer", 201},
      {"POST /api/v2/keys_with_policy_overrides", "create a key (overrides)", "Writer", 201},
      {"GET /api/v2/keys/{id}", "get a root key", "Reader", 200},
      {"GET /api/v2/keys/{id}", "get a standard key's payload", "ReaderPlus", 200},
      {"GET /api/v2/keys/{id}/metadata", "metadata", "Reader", 200},
      {"GET /api/v2/keys/{id}/versions", "versions", "Reader", 200},
      {"PATCH /api/v2/keys/{id}", "move to a key ring", "Manager", 200},
      {"DELETE /api/v2/keys/{id}", "delete", "Manager", 204},
      {"POST /api/v2/keys/{id}/restore", "restore", "Manager", 201},
      {"DELETE /api/v2/keys/{id}/purge", "purge", "KeyPurge", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "wrap", "Reader", 200},
      {"POST /api/v2/keys/{id}/actions/{action}", "unwrap", "Reader", 200},
      {"POST /api/v2/keys/{id}/actions/{action}", "rewrap", "Reader", 200},
      {"POST /api/v2/keys/{id}/actions/{action}", "rotate", "Writer", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "sync", "Writer", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "setKeyForDeletion", "Writer", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "unsetKeyForDeletion", "Writer", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "disable", "Manager", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "enable", "Manager", 204},
      {"POST /api/v2/keys/{id}/actions/{action}", "restore (action)", "Manager", 201},
      {"POST /api/v2/keys/{id}", "wrap (?action=)", "Reader", 200},
      {"POST /api/v2/keys/{id}", "disable (?action=)", "Manager", 204},
      {"GET /api/v2/keys/{id}/policies", "read key policies", "Manager", 200},
      {"PUT /api/v2/keys/{id}/policies", "set key policies", "Manager", 200},
      {"GET /api/v2/instance/policies", "read instance policies", "Manager", 200},
      {"PUT /api/v2/instance/policies", "set instance policies", "Manager", 204},
      {"POST /api/v2/keys/{id}/aliases/{alias}", "add an alias", "Writer", 201},
      {"DELETE /api/v2/keys/{id}/aliases/{alias}", "remove an alias", "Manager", 204},
      {"POST /api/v2/key_rings/{id}", "create a key ring", "Writer", 201},
      {"GET /api/v2/key_rings", "list key rings", "Reader", 200},
      {"DELETE /api/v2/key_rings/{id}", "delete a key ring", "Manager", 204},
      {"POST /api/v2/import_token", "create the import token", "Writer", 200},
      {"GET /api/v2/import_token", "retrieve the import token", "Writer", 200},
      {"GET /api/v2/keys/{id}/registrations", "a key's registrations", "Reader", 200},
      {"GET /api/v2/keys/registrations", "query registrations", "Reader", 200},
      {"POST /api/v2/keys/{id}/registrations/{crn}", "register", "service", 201},
      {"PATCH /api/v2/keys/{id}/registrations/{crn}", "update a registration", "service", 200},
      {"PUT /api/v2/keys/{id}/registrations/{crn}", "replace a registration", "service", 200},
      {"DELETE /api/v2/keys/{id}/registrations/{crn}", "unregister", "service", 204},
  };
  return *cases;
}

// Whether `role` holds the action of a case whose least role is `least`: the roles add up, except
// KeyPurge, which nothing implies; the service holds Reader through its S2S authorization.
bool Holds(const std::string& role, const std::string& least) {
  static const std::map<std::string, std::set<std::string>> holders = {
      {"Reader", {"Reader", "ReaderPlus", "Writer", "Manager", "service"}},
      {"ReaderPlus", {"ReaderPlus", "Writer", "Manager"}},
      {"Writer", {"Writer", "Manager"}},
      {"Manager", {"Manager"}},
      {"KeyPurge", {"KeyPurge"}},
      {"service", {"service"}},
  };
  return holders.at(least).contains(role);
}

class KmsRouteMatrixTest : public KmsApiTest {
 protected:
  static constexpr std::string_view kServiceToken = "svc.server-protect";
  const std::string kServiceIamId = "crn-crn:v1:veil:public:server-protect:::::";

  std::string Admin() { return f_.iam.TokenFor(f_.iam.admin_key); }
  std::string NewKey(bool standard = false) {
    Reply r = Call("POST", "/api/v2/keys", Admin(), KeyBody("target", standard));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json.at("resources").at(0).at("id").as_string());
  }
  std::string Wrapped(const std::string& id) {
    Reply r = Call("POST", "/api/v2/keys/" + id + "/actions/wrap", Admin(), "{}");
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(r.json.at("ciphertext").as_string());
  }
  std::string Fresh(const std::string& prefix) { return prefix + std::to_string(++serial_); }
  std::string Crn() {
    return "crn:v1:veil:private:server-protect:local:a/" + f_.iam.account_id +
           "::volume:" + Fresh("vol-");
  }
  // A CRN as one path segment (its '/' escaped, as Key Protect's clients send it).
  static std::string InPath(std::string crn) {
    for (size_t i = crn.find('/'); i != std::string::npos; i = crn.find('/', i)) {
      crn.replace(i, 1, "%2F");
    }
    return crn;
  }
  void Expect(const Reply& r, int status) { EXPECT_EQ(r.status, status) << r.body; }

  // Performs `c` with `token`, after whatever setup the admin needs to make; returns the reply.
  Reply Attempt(const MatrixCase& c, const std::function<std::string()>& token) {
    const std::string admin = Admin();
    const std::string& n = c.name;
    auto key_path = [&](bool standard = false) { return "/api/v2/keys/" + NewKey(standard); };
    if (n == "list keys") return Call("GET", "/api/v2/keys", token());
    if (n == "count keys") return Call("HEAD", "/api/v2/keys", token());
    if (n == "create a key") return Call("POST", "/api/v2/keys", token(), KeyBody("made"));
    if (n == "create a key (overrides)") {
      return Call("POST", "/api/v2/keys_with_policy_overrides", token(), KeyBody("made"));
    }
    if (n == "get a root key") return Call("GET", key_path(), token());
    if (n == "get a standard key's payload") {
      Reply r = Call("GET", key_path(true), token());
      if (r.status == 200) {
        EXPECT_TRUE(r.json.at("resources").at(0).as_object().contains("payload"));
      }
      return r;
    }
    if (n == "metadata") return Call("GET", key_path() + "/metadata", token());
    if (n == "versions") return Call("GET", key_path() + "/versions", token());
    if (n == "move to a key ring") {
      return Call("PATCH", key_path(), token(), R"({"keyRingID":"default"})");
    }
    if (n == "delete") return Call("DELETE", key_path(), token());
    if (n == "restore" || n == "restore (action)" || n == "purge") {
      const std::string k = key_path();
      Expect(Call("DELETE", k, admin), 204);
      // Restore waits 30 s after the deletion, purge 4 hours: the tokens are issued after.
      f_.iam.clock.Advance(n == "purge" ? std::chrono::hours(5) : std::chrono::minutes(1));
      if (n == "purge") return Call("DELETE", k + "/purge", token());
      return Call("POST", k + (n == "restore" ? "/restore" : "/actions/restore"), token());
    }
    if (n == "wrap") return Call("POST", key_path() + "/actions/wrap", token(), "{}");
    if (n == "unwrap" || n == "rewrap") {
      const std::string id = NewKey();
      return Call("POST", "/api/v2/keys/" + id + "/actions/" + n, token(),
                  R"({"ciphertext":")" + Wrapped(id) + "\"}");
    }
    if (n == "rotate" || n == "sync" || n == "disable") {
      return Call("POST", key_path() + "/actions/" + n, token());
    }
    if (n == "enable") {
      const std::string k = key_path();
      Expect(Call("POST", k + "/actions/disable", admin), 204);
      return Call("POST", k + "/actions/enable", token());
    }
    if (n == "setKeyForDeletion" || n == "unsetKeyForDeletion") {
      const std::string k = key_path();
      Expect(Call("PUT", k + "/policies", admin,
                  R"({"resources":[{"type":"application/vnd.ibm.kms.policy+json",)"
                  R"("dualAuthDelete":{"enabled":true}}]})"),
             200);
      if (n == "unsetKeyForDeletion") {
        Expect(Call("POST", k + "/actions/setKeyForDeletion", admin), 204);
      }
      return Call("POST", k + "/actions/" + n, token());
    }
    if (n == "wrap (?action=)") return Call("POST", key_path() + "?action=wrap", token(), "{}");
    if (n == "disable (?action=)") return Call("POST", key_path() + "?action=disable", token());
    if (n == "read key policies") return Call("GET", key_path() + "/policies", token());
    if (n == "set key policies") {
      return Call("PUT", key_path() + "/policies", token(),
                  R"({"resources":[{"type":"application/vnd.ibm.kms.policy+json",)"
                  R"("rotation":{"enabled":true,"interval_month":3}}]})");
    }
    if (n == "read instance policies") return Call("GET", "/api/v2/instance/policies", token());
    if (n == "set instance policies") {
      return Call("PUT", "/api/v2/instance/policies", token(),
                  R"({"resources":[{"policy_type":"metrics","policy_data":{"enabled":false}}]})");
    }
    if (n == "add an alias")
      return Call("POST", key_path() + "/aliases/" + Fresh("alias-"), token());
    if (n == "remove an alias") {
      const std::string k = key_path();
      const std::string alias = Fresh("alias-");
      Expect(Call("POST", k + "/aliases/" + alias, admin), 201);
      return Call("DELETE", k + "/aliases/" + alias, token());
    }
    if (n == "create a key ring")
      return Call("POST", "/api/v2/key_rings/" + Fresh("ring-"), token());
    if (n == "list key rings") return Call("GET", "/api/v2/key_rings", token());
    if (n == "delete a key ring") {
      const std::string ring = Fresh("ring-");
      Expect(Call("POST", "/api/v2/key_rings/" + ring, admin), 201);
      return Call("DELETE", "/api/v2/key_rings/" + ring, token());
    }
    if (n == "create the import token") {
      return Call("POST", "/api/v2/import_token", token(), R"({"maxAllowedRetrievals":500})");
    }
    if (n == "retrieve the import token") {
      Expect(Call("POST", "/api/v2/import_token", admin, R"({"maxAllowedRetrievals":500})"), 200);
      return Call("GET", "/api/v2/import_token", token());
    }
    if (n == "a key's registrations") return Call("GET", key_path() + "/registrations", token());
    if (n == "query registrations") return Call("GET", "/api/v2/keys/registrations", token());
    if (n == "register") {
      return Call("POST", key_path() + "/registrations/" + InPath(Crn()), token(),
                  R"({"description":"a volume"})");
    }
    // Updating and deleting need a registration of the service's own.
    const std::string id = NewKey();
    const std::string crn = Crn();
    Actor service{kServiceIamId, true, "server-protect"};
    EXPECT_TRUE(f_.service->CreateRegistration(f_.Reload(id), crn, "", false, "", service));
    const std::string r = "/api/v2/keys/" + id + "/registrations/" + InPath(crn);
    if (n == "update a registration") return Call("PATCH", r, token(), R"({"description":"x"})");
    if (n == "replace a registration") {
      return Call("PUT", r, token(), R"({"description":"y","preventKeyDeletion":false})");
    }
    if (n == "unregister") return Call("DELETE", r, token());
    ADD_FAILURE() << "no request performs " << n;
    return Reply{};
  }

  int serial_ = 0;
};

TEST_F(KmsRouteMatrixTest, MatrixCoversEveryRoute) {
  http::Router router;
  KmsApiDeps deps;
  deps.service = f_.service.get();
  deps.authorizer = f_.iam.authorizer.get();
  deps.resolve_instance = [](std::string_view) -> Result<InstanceRef> { return NotFound("-"); };
  ASSERT_TRUE(AddKmsRoutes(router, deps));
  std::set<std::string> served;
  for (const http::Route* r : router.Routes()) served.insert(r->method + " " + r->path_template);
  std::set<std::string> covered;
  for (const MatrixCase& c : MatrixCases()) covered.insert(c.route);
  EXPECT_EQ(served, covered);
}

TEST_F(KmsRouteMatrixTest, EveryRouteRefusesACallerWithoutTheRoleAndAcceptsOneWithIt) {
  // The customer authorizes block storage (server-protect) to use its keys: the S2S Reader role.
  iam::PolicySpec s2s;
  s2s.type = iam::PolicyType::kAuthorization;
  s2s.subject = {{"serviceName", "server-protect"}, {"accountId", f_.iam.account_id}};
  s2s.roles = {*iam::Role::FromName("Reader", "kms")};
  s2s.resource = {{"accountId", f_.iam.account_id}, {"serviceName", "kms"}};
  ASSERT_TRUE(f_.iam.service->CreatePolicy(f_.iam.account_id, s2s, "test"));
  std::vector<iam::PolicyAttribute> instance = {{"accountId", f_.iam.account_id},
                                                {"serviceName", "kms"},
                                                {"serviceInstance", f_.instance.guid}};
  int cells = 0;
  for (const std::string role :
       {"Reader", "ReaderPlus", "Writer", "Manager", "KeyPurge", "none", "service"}) {
    SCOPED_TRACE("role " + role);
    std::string apikey;
    if (role != "service") {
      apikey = f_.iam
                   .ServiceIdWith(
                       role == "none" ? std::vector<std::string>{} : std::vector<std::string>{role},
                       "", instance)
                   .apikey;
    }
    // Issued when the request is made: some cases move the clock hours ahead first.
    auto token = [&]() {
      return role == "service" ? std::string(kServiceToken) : f_.iam.TokenFor(apikey);
    };
    for (const MatrixCase& c : MatrixCases()) {
      SCOPED_TRACE(c.name + " (" + c.route + ")");
      const bool holds = Holds(role, c.least);
      Reply r = Attempt(c, token);
      ++cells;
      if (holds) {
        EXPECT_EQ(r.status, c.success) << r.body;
        continue;
      }
      EXPECT_EQ(r.status, 403) << r.body;
      if (c.route.starts_with("HEAD")) continue;  // no body
      ASSERT_TRUE(r.json.is_object()) << r.body;
      // A user holding the role is refused registration changes as a non-service; everyone
      // else for want of the role.
      const bool user_with_role = c.least == "service" && Holds(role, "Reader");
      EXPECT_EQ(r.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
                user_with_role ? "SERVICE_ONLY_ERR" : "UNAUTHORIZED_ERR");
    }
  }
  EXPECT_EQ(cells, 7 * static_cast<int>(MatrixCases().size()));
}

// A Reader, which every service-to-service authorization is, reads neither the instance's
// policies (its allowedIP list, network and import rules) nor a key's: Key Protect gives reading
// policies to Managers alone.
TEST_F(KmsApiTest, ReaderCannotReadKeyOrInstancePolicies) {
  ASSERT_EQ(Call("PUT", "/api/v2/instance/policies", admin_,
                 R"({"resources":[{"policy_type":"allowedIP","policy_data":)"
                 R"({"enabled":true,"attributes":{"allowed_ip":["127.0.0.0/8","10.1.2.0/24"]}}}]})")
                .status,
            204);
  Reply root = Call("POST", "/api/v2/keys", admin_, KeyBody("root"));
  ASSERT_EQ(root.status, 201) << root.body;
  const std::string k =
      "/api/v2/keys/" + std::string(root.json.at("resources").at(0).at("id").as_string());
  for (const std::string role : {"Reader", "ReaderPlus", "Writer"}) {
    const std::string token = TokenWithRole(role);
    Reply instance = Call("GET", "/api/v2/instance/policies", token);
    EXPECT_EQ(instance.status, 403) << role << ": " << instance.body;
    EXPECT_EQ(instance.body.find("10.1.2.0"), std::string::npos) << role;
    EXPECT_EQ(Call("GET", k + "/policies", token).status, 403) << role;
    // What a Reader is for still works.
    EXPECT_EQ(Call("POST", k + "/actions/wrap", token, "{}").status, 200) << role;
  }
  const std::string manager = TokenWithRole("Manager");
  Reply read = Call("GET", "/api/v2/instance/policies", manager);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_NE(read.body.find("10.1.2.0"), std::string::npos);
  EXPECT_EQ(Call("GET", k + "/policies", manager).status, 200);
}

// {"x":1e400} in an instance policy was stored as "Infinity", which the policy reader cannot
// parse: the instance then had no allowedIP policy at all, so a PUT that named only 127.0.0.0/8
// let every address in. The body is now refused and the policy stays as it was.
TEST_F(KmsApiTest, InstancePolicyWithANumberBeyondDoubleRangeIsRefused) {
  ASSERT_EQ(Call("PUT", "/api/v2/instance/policies", admin_,
                 R"({"resources":[{"policy_type":"allowedIP","policy_data":)"
                 R"({"enabled":true,"attributes":{"allowed_ip":["127.0.0.0/8"]}}}]})")
                .status,
            204);
  Reply bad = Call("PUT", "/api/v2/instance/policies", admin_,
                   R"({"resources":[{"policy_type":"allowedIP","policy_data":)"
                   R"({"enabled":true,"x":1e400,"attributes":{"allowed_ip":["10.0.0.0/8"]}}}]})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("BAD_BODY_ERR"), std::string::npos) << bad.body;
  Reply read = Call("GET", "/api/v2/instance/policies", admin_);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_NE(read.body.find("127.0.0.0/8"), std::string::npos) << read.body;
  EXPECT_EQ(read.body.find("10.0.0.0/8"), std::string::npos) << read.body;
}

// A tenant probing instance GUIDs: another account's KMS instance answers exactly as a GUID
// that names nothing (404 INSTANCE_NOT_FOUND_ERR), before its allowedIP policy is looked at, on
// every kind of route; a 403 there told the prober which GUIDs exist and how they are guarded.
TEST_F(KmsApiTest, AnotherAccountsInstanceIsAnsweredAsAnUnknownOne) {
  auto other = f_.iam.service->CreateAccount("tenant-b");
  ASSERT_TRUE(other);
  const std::string b_admin =
      f_.iam.TokenFor(f_.iam.ServiceIdWith({"Administrator", "Manager"}, other->id).apikey);
  auto b_instance = f_.iam.service->CreateInstance({other->id, "b-kp", "kms", ""}, "test");
  ASSERT_TRUE(b_instance);
  Reply root = Call("POST", "/api/v2/keys", admin_, KeyBody("a-root"));
  ASSERT_EQ(root.status, 201) << root.body;
  const std::string k =
      "/api/v2/keys/" + std::string(root.json.at("resources").at(0).at("id").as_string());
  const std::string unknown = "2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77";
  auto code = [](const Reply& r) {
    return std::string(r.json.at("resources").at(0).at("reasons").at(0).at("code").as_string());
  };
  auto probe = [&](const std::string& what) {
    SCOPED_TRACE(what);
    for (const auto& [method, path, body] : std::vector<std::array<std::string, 3>>{
             {"GET", "/api/v2/keys", ""},
             {"GET", k, ""},
             {"POST", k + "/actions/unwrap", R"({"ciphertext":"eA=="})"},
             {"DELETE", k, ""},
             {"GET", "/api/v2/instance/policies", ""},
             {"PUT", "/api/v2/instance/policies",
              R"({"resources":[{"policy_type":"metrics","policy_data":{"enabled":false}}]})"},
             {"POST", "/api/v2/import_token", "{}"}}) {
      Reply theirs = CallIn(f_.instance.guid, method, path, b_admin, body);
      Reply none = CallIn(unknown, method, path, b_admin, body);
      EXPECT_EQ(theirs.status, 404) << method << " " << path << ": " << theirs.body;
      EXPECT_EQ(none.status, theirs.status) << method << " " << path;
      EXPECT_EQ(code(theirs), "INSTANCE_NOT_FOUND_ERR") << method << " " << path;
      EXPECT_EQ(code(none), code(theirs)) << method << " " << path;
    }
  };
  probe("an open instance");
  ASSERT_EQ(Call("PUT", "/api/v2/instance/policies", admin_,
                 R"({"resources":[{"policy_type":"allowedIP","policy_data":)"
                 R"({"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/8"]}}}]})")
                .status,
            204);
  probe("an instance whose allowedIP excludes the prober");
  // B's own instance answers B as usual.
  EXPECT_EQ(CallIn(b_instance->guid, "GET", "/api/v2/keys", b_admin).status, 200);
}

// A caller granted Reader on one key (Key Protect grants access per key) lists, counts and
// queries the registrations of that key only: a listing shows each item whose action the caller
// holds on it, not the whole instance (which it used to refuse outright), and nothing at all is
// still a 403 for a caller who holds nothing.
TEST_F(KmsApiTest, AKeyScopedCallerListsOnlyItsOwnKeys) {
  std::vector<std::string> ids;
  for (const char* name : {"k1", "k2", "k3"}) {
    Reply r = Call("POST", "/api/v2/keys", admin_, KeyBody(name));
    ASSERT_EQ(r.status, 201) << r.body;
    ids.emplace_back(r.json.at("resources").at(0).at("id").as_string());
  }
  for (size_t i = 0; i < 2; ++i) {
    Key key = f_.Reload(ids[i]);
    ASSERT_TRUE(f_.service->CreateRegistration(key,
                                               "crn:v1:veil:private:server-protect:local:a/" +
                                                   f_.iam.account_id + "::volume:v" +
                                                   std::to_string(i),
                                               "", false, "", f_.block_storage));
  }
  auto creds = f_.iam.ServiceIdWith({"Reader"}, "",
                                    {{"accountId", f_.iam.account_id},
                                     {"serviceName", "kms"},
                                     {"serviceInstance", f_.instance.guid},
                                     {"resourceType", "key"},
                                     {"resource", ids[0]}});
  const std::string one = f_.iam.TokenFor(creds.apikey);
  Reply list = Call("GET", "/api/v2/keys", one);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json.at("resources").as_array().size(), 1u) << list.body;
  EXPECT_EQ(list.json.at("resources").at(0).at("id").as_string(), ids[0]);
  EXPECT_EQ(list.json.at("metadata").at("collectionTotal").as_int64(), 1);
  Reply head = Call("HEAD", "/api/v2/keys", one);
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.Get("Key-Total").value_or(""), "1");
  Reply regs = Call("GET", "/api/v2/keys/registrations", one);
  ASSERT_EQ(regs.status, 200) << regs.body;
  ASSERT_EQ(regs.json.at("resources").as_array().size(), 1u) << regs.body;
  EXPECT_EQ(regs.json.at("resources").at(0).at("keyId").as_string(), ids[0]);
  // Its key, not the others.
  EXPECT_EQ(Call("GET", "/api/v2/keys/" + ids[0] + "/metadata", one).status, 200);
  EXPECT_EQ(Call("GET", "/api/v2/keys/" + ids[1] + "/metadata", one).status, 403);
  // Paging applies to what the caller may see.
  EXPECT_TRUE(Call("GET", "/api/v2/keys?offset=1", one).json.at("resources").as_array().empty());
  // Instance-wide Reader: everything; no role: nothing, as before.
  const std::string all = TokenWithRole("Reader");
  EXPECT_EQ(Call("GET", "/api/v2/keys", all).json.at("resources").as_array().size(), 3u);
  EXPECT_EQ(Call("HEAD", "/api/v2/keys", all).headers.Get("Key-Total").value_or(""), "3");
  EXPECT_EQ(Call("GET", "/api/v2/keys/registrations", all).json.at("resources").as_array().size(),
            2u);
  const std::string none = TokenWithRole("");
  EXPECT_EQ(Call("GET", "/api/v2/keys", none).status, 403);
  EXPECT_EQ(Call("HEAD", "/api/v2/keys", none).status, 403);
  EXPECT_EQ(Call("GET", "/api/v2/keys/registrations", none).status, 403);
}

// A Reader tries every key action by the action path and the older ?action= form: each refusal
// is audited under the action that was refused (for restore too, which the action path used to
// leave as kms.secrets.default), as a critical event.
TEST_F(KmsApiTest, RefusedKeyActionsAreAuditedUnderTheActionRefused) {
  Reply root = Call("POST", "/api/v2/keys", admin_, KeyBody("root"));
  ASSERT_EQ(root.status, 201) << root.body;
  const std::string k =
      "/api/v2/keys/" + std::string(root.json.at("resources").at(0).at("id").as_string());
  const std::string reader = TokenWithRole("Reader");
  int n = 0;
  for (const std::string action : {"rotate", "disable", "enable", "setKeyForDeletion",
                                   "unsetKeyForDeletion", "sync", "restore"}) {
    for (const std::string& path : {k + "/actions/" + action, k + "?action=" + action}) {
      const std::string correlation = "corr-refused-" + std::to_string(++n);
      Reply r = Call("POST", path, reader, "", correlation);
      EXPECT_EQ(r.status, 403) << path << ": " << r.body;
      std::string lower = action;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      int events = 0;
      for (const audit::Event& ev : sink_.events()) {
        if (ev.correlation_id != correlation) continue;
        ++events;
        EXPECT_EQ(ev.action, "kms.secrets." + lower) << path;
        EXPECT_EQ(ev.severity, "critical") << path;
        EXPECT_EQ(ev.outcome, "failure") << path;
      }
      EXPECT_EQ(events, 1) << path;
    }
  }
}

TEST_F(KmsApiTest, OneAuditEventPerCallWithTheSpecsNamesAndNoSecret) {
  Reply created = Call("POST", "/api/v2/keys", admin_, KeyBody("audited"), "corr-create");
  ASSERT_EQ(created.status, 201);
  std::string id(created.json.at("resources").at(0).at("id").as_string());
  std::string crn(created.json.at("resources").at(0).at("crn").as_string());
  Reply wrapped = Call("POST", "/api/v2/keys/" + id + "/actions/wrap", admin_, "{}", "corr-wrap");
  ASSERT_EQ(wrapped.status, 200);
  EXPECT_EQ(wrapped.headers.Get("correlation-id").value_or(""), "corr-wrap");
  Reply token = Call("POST", "/api/v2/import_token", admin_, "{}", "corr-token");
  ASSERT_EQ(token.status, 200) << token.body;
  Reply got = Call("GET", "/api/v2/import_token", admin_, "", "corr-get-token");
  ASSERT_EQ(got.status, 200) << got.body;
  std::string nonce(got.json.at("nonce").as_string());
  Reply deleted = Call("DELETE", "/api/v2/keys/" + id, admin_, "", "corr-delete");
  ASSERT_EQ(deleted.status, 204);
  Reply refused = Call("POST", "/api/v2/keys/" + id + "/actions/wrap", admin_, "{}", "corr-gone");
  EXPECT_EQ(refused.status, 410);

  struct Expect {
    std::string correlation, action, severity, outcome;
  };
  for (const Expect& e : std::vector<Expect>{
           {"corr-create", "kms.secrets.create", "normal", "success"},
           {"corr-wrap", "kms.secrets.wrap", "normal", "success"},
           {"corr-token", "kms.importtoken.create", "normal", "success"},
           {"corr-get-token", "kms.importtoken.read", "normal", "success"},
           {"corr-delete", "kms.secrets.delete", "critical", "success"},
           {"corr-gone", "kms.secrets.wrap", "normal", "failure"},
       }) {
    std::vector<audit::Event> events;
    for (const audit::Event& ev : sink_.events()) {
      if (ev.correlation_id == e.correlation) events.push_back(ev);
    }
    ASSERT_EQ(events.size(), 1u) << e.correlation;
    EXPECT_EQ(events[0].action, e.action);
    EXPECT_EQ(events[0].severity, e.severity) << e.correlation;
    EXPECT_EQ(events[0].outcome, e.outcome);
    if (e.action.rfind("kms.secrets", 0) == 0) {
      EXPECT_EQ(events[0].target.id, crn);
      EXPECT_EQ(events[0].response_data.at("keyId").as_string(), id);
    }
    EXPECT_EQ(events[0].request_data.at("instanceID").as_string(), f_.instance.guid);
  }
  const std::string all = [&] {
    std::string s;
    for (const audit::Event& ev : sink_.events()) s += json::serialize(audit::ToJson(ev));
    return s;
  }();
  EXPECT_EQ(all.find(std::string(wrapped.json.at("plaintext").as_string())), std::string::npos);
  EXPECT_EQ(all.find(std::string(wrapped.json.at("ciphertext").as_string())), std::string::npos);
  EXPECT_EQ(all.find(nonce), std::string::npos);
  EXPECT_NE(all.find("KEY_DELETED_ERR"), std::string::npos);
}

TEST_F(KmsApiTest, AllowedIpPolicyRefusesOtherAddresses) {
  auto put = [&](const std::string& data) {
    return Call("PUT", "/api/v2/instance/policies", admin_,
                R"({"resources":[{"policy_type":"allowedIP","policy_data":)" + data + "}]}");
  };
  EXPECT_EQ(put(R"({"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/33"]}})").status, 400);
  EXPECT_EQ(put(R"({"enabled":true})").status, 400);
  ASSERT_EQ(put(R"({"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/8"]}})").status, 204);
  Reply list = Call("GET", "/api/v2/keys", admin_);  // from 127.0.0.1
  EXPECT_EQ(list.status, 403) << list.body;
  // The way back in (AllowedIpChangeFromOutsideTheAllowListNeedsConfirmationAndIsCritical).
  ASSERT_EQ(Call("PUT", "/api/v2/instance/policies?confirmOutsideAllowedIP=true", admin_,
                 R"({"resources":[{"policy_type":"allowedIP","policy_data":)"
                 R"({"enabled":true,"attributes":{"allowed_ip":["127.0.0.0/8"]}}}]})")
                .status,
            204);
  EXPECT_EQ(Call("GET", "/api/v2/keys", admin_).status, 200);
}

// A Manager's token used from outside the allow-list (stolen, or its owner locked out) may only
// replace allowedIP, only with the confirmation, and the change is audited as critical.
TEST_F(KmsApiTest, AllowedIpChangeFromOutsideTheAllowListNeedsConfirmationAndIsCritical) {
  auto put = [&](const std::string& token, const std::string& query, const std::string& policies,
                 const std::string& correlation = "") {
    return Call("PUT", "/api/v2/instance/policies" + query, token,
                R"({"resources":[)" + policies + "]}", correlation);
  };
  auto allowed_ip = [](const std::string& block) {
    return R"({"policy_type":"allowedIP","policy_data":{"enabled":true,"attributes":)"
           R"({"allowed_ip":[")" +
           block + R"("]}}})";
  };
  const std::string dual = R"({"policy_type":"dualAuthDelete","policy_data":{"enabled":false}})";
  const std::string confirm = "?confirmOutsideAllowedIP=true";
  const std::string manager = TokenWithRole("Manager");
  ASSERT_EQ(put(admin_, "", allowed_ip("10.0.0.0/8")).status, 204);  // 127.0.0.1 is now outside
  Reply unconfirmed = put(manager, "", allowed_ip("0.0.0.0/0"), "corr-unconfirmed");
  EXPECT_EQ(unconfirmed.status, 403) << unconfirmed.body;
  EXPECT_NE(unconfirmed.body.find("confirmOutsideAllowedIP"), std::string::npos);
  // Nothing but allowedIP, confirmed or not, alone or beside it.
  EXPECT_EQ(put(manager, "", dual).status, 403);
  EXPECT_EQ(put(manager, confirm, dual).status, 403);
  EXPECT_EQ(put(manager, confirm, allowed_ip("0.0.0.0/0") + "," + dual).status, 403);
  EXPECT_EQ(Call("GET", "/api/v2/instance/policies", manager).status, 403);
  // The confirmation does not stand in for the role.
  EXPECT_EQ(put(TokenWithRole("Writer"), confirm, allowed_ip("0.0.0.0/0")).status, 403);
  EXPECT_EQ(put(manager, "?confirmOutsideAllowedIP=yes", allowed_ip("0.0.0.0/0")).status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/keys", manager).status, 403);
  Reply confirmed = put(manager, "?policy=allowedIP&confirmOutsideAllowedIP=true",
                        allowed_ip("127.0.0.0/8"), "corr-confirmed");
  ASSERT_EQ(confirmed.status, 204) << confirmed.body;
  EXPECT_EQ(Call("GET", "/api/v2/keys", manager).status, 200);
  auto event = [&](const std::string& correlation) {
    for (const audit::Event& ev : sink_.events()) {
      if (ev.correlation_id == correlation) return ev;
    }
    ADD_FAILURE() << "no event for " << correlation;
    return audit::Event{};
  };
  audit::Event changed = event("corr-confirmed");
  EXPECT_EQ(changed.action, "kms.instancepolicies.write");
  EXPECT_EQ(changed.severity, "critical");
  EXPECT_EQ(changed.outcome, "success");
  EXPECT_TRUE(changed.request_data.at("confirmOutsideAllowedIP").as_bool());
  EXPECT_EQ(event("corr-unconfirmed").severity, "critical");
  EXPECT_EQ(event("corr-unconfirmed").outcome, "failure");
}

// Turning dual authorization off on a key, then deleting alone: refused at the first step.
TEST_F(KmsApiTest, ManagerCannotDisableDualAuthThenDeleteAlone) {
  const std::string manager = TokenWithRole("Manager");
  const std::string second = TokenWithRole("Manager");
  Reply created = Call("POST", "/api/v2/keys", admin_, KeyBody("guarded"));
  ASSERT_EQ(created.status, 201);
  const std::string k =
      "/api/v2/keys/" + std::string(created.json.at("resources").at(0).at("id").as_string());
  auto dual = [&](bool enabled) {
    return Call("PUT", k + "/policies", manager,
                std::string(R"({"resources":[{"type":"application/vnd.ibm.kms.policy+json",)") +
                    R"("dualAuthDelete":{"enabled":)" + (enabled ? "true" : "false") + "}}]}");
  };
  ASSERT_EQ(dual(true).status, 200);
  Reply off = dual(false);
  EXPECT_EQ(off.status, 400) << off.body;
  EXPECT_EQ(off.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "BAD_BODY_ERR");
  Reply alone = Call("DELETE", k, manager);
  EXPECT_EQ(alone.status, 409) << alone.body;
  EXPECT_EQ(alone.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "AUTHORIZATIONS_NOT_MET");
  ASSERT_EQ(Call("POST", k + "/actions/setKeyForDeletion", manager).status, 204);
  EXPECT_EQ(Call("DELETE", k, manager).status, 409);
  EXPECT_EQ(Call("DELETE", k, second).status, 204);
}

// A Suspended standard key answers with its metadata only, as Key Protect.
TEST_F(KmsApiTest, PayloadOfSuspendedStandardKeyIsNotReturned) {
  Reply created = Call("POST", "/api/v2/keys", admin_, KeyBody("standard", true));
  ASSERT_EQ(created.status, 201);
  const std::string k =
      "/api/v2/keys/" + std::string(created.json.at("resources").at(0).at("id").as_string());
  EXPECT_TRUE(Call("GET", k, admin_).json.at("resources").at(0).as_object().contains("payload"));
  ASSERT_EQ(Call("POST", k + "/actions/disable", admin_).status, 204);
  Reply suspended = Call("GET", k, admin_);
  ASSERT_EQ(suspended.status, 200) << suspended.body;
  EXPECT_EQ(suspended.json.at("resources").at(0).at("state").as_int64(), 2);
  EXPECT_FALSE(suspended.json.at("resources").at(0).as_object().contains("payload"));
  ASSERT_EQ(Call("POST", k + "/actions/enable", admin_).status, 204);
  EXPECT_TRUE(Call("GET", k, admin_).json.at("resources").at(0).as_object().contains("payload"));
}

// A captured secure-import body sent again: refused, though the token allows more retrievals.
TEST_F(KmsApiTest, ImportTokenNonceReplayIsRefused) {
  ASSERT_EQ(Call("POST", "/api/v2/import_token", admin_, R"({"maxAllowedRetrievals":3})").status,
            200);
  Call("GET", "/api/v2/import_token", admin_);
  Reply token = Call("GET", "/api/v2/import_token", admin_);
  ASSERT_EQ(token.status, 200) << token.body;
  auto pem = Base64Decode(std::string(token.json.at("payload").as_string()));
  ASSERT_TRUE(pem);
  ImportedMaterial m = testing::SecureMaterial(std::string(pem->begin(), pem->end()),
                                               std::string(token.json.at("nonce").as_string()),
                                               testing::KnownKey(32, 0x33));
  const std::string body =
      KeyBody("secure", true,
              R"(,"payload":")" + m.payload + R"(","encryptedNonce":")" + m.encrypted_nonce +
                  R"(","iv":")" + m.iv + R"(","encryptionAlgorithm":"RSAES_OAEP_SHA_256")");
  Reply first = Call("POST", "/api/v2/keys", admin_, body);
  ASSERT_EQ(first.status, 201) << first.body;
  Reply replay = Call("POST", "/api/v2/keys", admin_, body);
  EXPECT_EQ(replay.status, 400) << replay.body;
  EXPECT_EQ(replay.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "INCORRECT_NONCE_ERR");
  EXPECT_EQ(Call("HEAD", "/api/v2/keys", admin_).headers.Get("Key-Total").value_or(""), "1");
}

TEST_F(KmsApiTest, EnvelopesAndMediaTypes) {
  Reply created = Call("POST", "/api/v2/keys", admin_,
                       KeyBody("typed", false, R"(,"aliases":["my-alias"],"description":"d")"));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto& meta = created.json.at("metadata");
  EXPECT_EQ(meta.at("collectionType").as_string(), "application/vnd.ibm.kms.key+json");
  EXPECT_EQ(meta.at("collectionTotal").as_int64(), 1);
  const auto& key = created.json.at("resources").at(0);
  for (std::string field : {"id", "name", "type", "state", "crn", "extractable", "creationDate",
                            "createdBy", "keyVersion", "keyRingID", "imported", "aliases",
                            "algorithmType", "dualAuthDelete", "deleted", "lastUpdateDate"}) {
    EXPECT_TRUE(key.as_object().contains(field)) << field;
  }
  EXPECT_EQ(key.at("state").as_int64(), 1);
  Reply by_alias = Call("GET", "/api/v2/keys/my-alias/metadata", admin_);
  EXPECT_EQ(by_alias.status, 200);
  Reply versions = Call("GET", "/api/v2/keys/my-alias/versions", admin_);
  EXPECT_EQ(versions.json.at("metadata").at("collectionType").as_string(),
            "application/vnd.ibm.kms.key.version+json");
  Reply no_body = Call("POST", "/api/v2/keys", admin_, "");
  EXPECT_EQ(no_body.status, 400);
  EXPECT_EQ(no_body.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "NO_BODY_ERR");
  Reply two = Call("POST", "/api/v2/keys", admin_,
                   R"({"metadata":{"collectionType":"x","collectionTotal":2},)"
                   R"("resources":[{"name":"a1"},{"name":"a2"}]})");
  EXPECT_EQ(two.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "NUM_COLLECTION_RESOURCE_ERR");
  Reply bad_action = Call("POST", "/api/v2/keys/my-alias/actions/explode", admin_, "{}");
  EXPECT_EQ(bad_action.status, 400);
  Reply representation = [&] {
    http::ClientRequest req;
    req.method = "DELETE";
    req.url = "http://127.0.0.1:" + std::to_string(port_) + "/api/v2/keys/my-alias";
    req.headers.Set("Authorization", "Bearer " + admin_);
    req.headers.Set("bluemix-instance", f_.instance.guid);
    req.headers.Set("prefer", "return=representation");
    auto resp = client_.Send(req);
    Reply r;
    r.status = resp ? resp->status : 0;
    if (resp) r.json = json::parse(resp->body);
    return r;
  }();
  EXPECT_EQ(representation.status, 200);
  EXPECT_EQ(representation.json.at("resources").at(0).at("state").as_int64(), 5);
}

}  // namespace
}  // namespace veil::kms::api
