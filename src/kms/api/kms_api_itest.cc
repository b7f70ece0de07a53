// The KMS API over loopback with IAM's real token verifier and authorizer and a real SoftHSM2
// token: the role matrix of spec §3.10 for every route, audit events (one per call, the spec's
// action names and severities, no secret), and the Key Protect media types and envelopes.
#include <gtest/gtest.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
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
    hooks.authenticator = iam::api::MakeIamAuthenticator(*f_.iam.verifier);
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

// Every route, by the least role that may call it (spec §3.10): each role is allowed exactly the
// routes at or below it; KeyPurge holds only purge.
TEST_F(KmsApiTest, RoleMatrixOfEveryRoute) {
  enum Level { kReader = 0, kReaderPlus = 1, kWriter = 2, kManager = 3, kPurge = 9 };
  struct RouteCase {
    std::string name, method, path, body;
    int level;
  };
  const std::vector<std::string> roles = {"Reader",  "ReaderPlus", "Writer",
                                          "Manager", "KeyPurge",   ""};
  for (const std::string& role : roles) {
    SCOPED_TRACE("role " + (role.empty() ? std::string("(none)") : role));
    const std::string token = TokenWithRole(role);
    Reply root = Call("POST", "/api/v2/keys", admin_, KeyBody("root"));
    ASSERT_EQ(root.status, 201) << root.body;
    std::string id(root.json.at("resources").at(0).at("id").as_string());
    Reply standard = Call("POST", "/api/v2/keys", admin_, KeyBody("std", true));
    std::string sid(standard.json.at("resources").at(0).at("id").as_string());
    std::string ct(Call("POST", "/api/v2/keys/" + id + "/actions/wrap", admin_, "{}")
                       .json.at("ciphertext")
                       .as_string());
    const std::string k = "/api/v2/keys/" + id;
    const std::vector<RouteCase> cases = {
        {"list", "GET", "/api/v2/keys", "", kReader},
        {"head", "HEAD", "/api/v2/keys", "", kReader},
        {"metadata", "GET", k + "/metadata", "", kReader},
        {"get root", "GET", k, "", kReader},
        {"versions", "GET", k + "/versions", "", kReader},
        {"wrap", "POST", k + "/actions/wrap", "{}", kReader},
        {"unwrap", "POST", k + "/actions/unwrap", R"({"ciphertext":")" + ct + "\"}", kReader},
        {"rewrap", "POST", k + "/actions/rewrap", R"({"ciphertext":")" + ct + "\"}", kReader},
        {"key rings", "GET", "/api/v2/key_rings", "", kReader},
        {"registrations", "GET", k + "/registrations", "", kReader},
        {"get payload", "GET", "/api/v2/keys/" + sid, "", kReaderPlus},
        {"create", "POST", "/api/v2/keys", KeyBody("new"), kWriter},
        {"rotate", "POST", k + "/actions/rotate", "", kWriter},
        {"alias", "POST", k + "/aliases/alias-" + role + "x", "", kWriter},
        {"create ring", "POST", "/api/v2/key_rings/ring-" + role + "x", "", kWriter},
        {"import token", "POST", "/api/v2/import_token", "{}", kWriter},
        {"patch", "PATCH", k, R"({"keyRingID":"default"})", kManager},
        {"policies", "GET", k + "/policies", "", kManager},
        {"instance policies", "GET", "/api/v2/instance/policies", "", kManager},
        {"set policy", "PUT", k + "/policies",
         R"({"resources":[{"type":"application/vnd.ibm.kms.policy+json","dualAuthDelete":{"enabled":false}}]})",
         kManager},
        {"instance policy", "PUT", "/api/v2/instance/policies",
         R"({"resources":[{"policy_type":"metrics","policy_data":{"enabled":false}}]})", kManager},
        {"disable", "POST", k + "/actions/disable", "", kManager},
        {"enable", "POST", k + "/actions/enable", "", kManager},
        {"delete", "DELETE", k, "", kManager},
        {"purge", "DELETE", k + "/purge", "", kPurge},
    };
    int level = role == "Reader"       ? kReader
                : role == "ReaderPlus" ? kReaderPlus
                : role == "Writer"     ? kWriter
                : role == "Manager"    ? kManager
                                       : -1;
    for (const RouteCase& c : cases) {
      bool allowed = c.level == kPurge ? role == "KeyPurge" : level >= c.level;
      Reply r = Call(c.method, c.path, token, c.body);
      if (allowed) {
        // Allowed by IAM: whatever the key's state answers, it is not a denial.
        EXPECT_NE(r.status, 403) << c.name << ": " << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << c.name << ": " << r.body;
        if (c.method != "HEAD") {
          EXPECT_EQ(r.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
                    "UNAUTHORIZED_ERR")
              << c.name;
        }
      }
    }
  }
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
    Key key = f_.Reload(Key{.id = ids[i]});
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
