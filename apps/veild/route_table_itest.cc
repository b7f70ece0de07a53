// Every route of every listener of veild, against the table below, written out by hand: its
// method and template, whether it needs a principal, the audit action the route names, the IAM
// actions its handler authorizes and on what, and its body limit. The routers are the ones veild
// serves (ServiceRouter), so a route added to any service fails this test until the table learns
// it; every authorized action must be one the action table knows (DefaultActionRegistry), and
// an audit action that is not the authorized one must say why. The HTTP matrices
// (src/iam/api/authz_matrix_itest.cc, KmsRouteMatrixTest in src/kms/api/kms_api_itest.cc) show each
// route refusing a caller without the role and accepting one with it. docs/security.md has the
// table.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/server.h"
#include "iam/action_table.h"
#include "iam/login_limiter.h"
#include "kms/client.h"
#include "kms/testing/kms_fixture.h"
#include "service_routes.h"

namespace veil::veild {
namespace {

constexpr size_t kKiB = 1024;

struct ExpectedRoute {
  ExpectedRoute(std::string method_, std::string path_, bool authenticated_, std::string audit_,
                std::string authorizes_, std::string resource_, std::optional<size_t> body_limit_,
                std::string audit_note_ = "")
      : method(std::move(method_)),
        path(std::move(path_)),
        authenticated(authenticated_),
        audit(std::move(audit_)),
        authorizes(std::move(authorizes_)),
        resource(std::move(resource_)),
        body_limit(body_limit_),
        audit_note(std::move(audit_note_)) {}

  std::string method;
  std::string path;
  bool authenticated = true;
  // RouteOptions::action: the audit action of the route's events (a handler may name a finer one
  // per request, e.g. serviceid-apikey vs user-apikey; "" when the handler always sets it).
  std::string audit;
  // The IAM actions the handler authorizes ("" for none), '|'-separated where it depends on the
  // request (a key action, the owner of an API key).
  std::string authorizes;
  // What the authorization is judged on.
  std::string resource;
  std::optional<size_t> body_limit;
  // When `audit` is not one of the authorized actions: why.
  std::string audit_note;
};

using Table = std::map<std::string, std::vector<ExpectedRoute>>;  // by service

std::vector<ExpectedRoute> HealthOnly() {
  return {{"GET", "/healthz", false, "", "", "nothing: an inline probe, not audited", std::nullopt,
           "no event (RouteOptions::audit = false)"}};
}

std::vector<ExpectedRoute> IamRoutes() {
  const std::optional<size_t> json = 64 * kKiB;
  const std::string sid = "{account, iam-identity, serviceid, ServiceId-…}";
  const std::string owner = "the key's owner: {account, iam-identity, serviceid|user, id}";
  const std::string kApiKey = "iam-identity.serviceid-apikey.";
  const std::string kUserKey = "iam-identity.user-apikey.";
  auto key_actions = [&](const std::string& verb) {
    return kApiKey + verb + "|" + kUserKey + verb;
  };
  const std::string by_owner = "the handler names serviceid-apikey or user-apikey by the owner";
  const std::string list = "a listing: each item is shown if its read action is allowed";
  return {
      {"GET", "/healthz", false, "", "", "nothing", std::nullopt, "no event"},
      {"POST", "/identity/token", false, "iam-identity.apikey.login", "",
       "nothing: the API key is the credential (rate-limited per address)", 4 * kKiB,
       "a login; the handler names serviceid-apikey.login or user-apikey.login on success"},
      {"GET", "/identity/keys", false, "iam-identity.keys.read", "", "nothing: public keys", json,
       "the JWKS is public"},
      {"GET", "/identity/userinfo", true, "iam-identity.userinfo.read", "",
       "nothing: the caller's own identity", json, "the caller reads itself"},
      {"POST", "/v1/serviceids", true, "iam-identity.serviceid.create",
       "iam-identity.serviceid.create", "{account, iam-identity, serviceid}", json},
      {"GET", "/v1/serviceids", true, "iam-identity.serviceid.list", "iam-identity.serviceid.read",
       sid + " per item, caller's account only", json, list},
      {"GET", "/v1/serviceids/{id}", true, "iam-identity.serviceid.read",
       "iam-identity.serviceid.read", sid, json},
      {"PUT", "/v1/serviceids/{id}", true, "iam-identity.serviceid.update",
       "iam-identity.serviceid.update", sid, json},
      {"DELETE", "/v1/serviceids/{id}", true, "iam-identity.serviceid.delete",
       "iam-identity.serviceid.delete", sid, json},
      {"POST", "/v1/serviceids/{id}/lock", true, "iam-identity.serviceid.lock",
       "iam-identity.serviceid.lock", sid, json},
      {"DELETE", "/v1/serviceids/{id}/lock", true, "iam-identity.serviceid.unlock",
       "iam-identity.serviceid.unlock", sid, json},
      {"POST", "/v1/apikeys", true, "iam-identity.apikey.create", key_actions("create"), owner,
       json, by_owner},
      {"GET", "/v1/apikeys", true, "iam-identity.apikey.list", key_actions("read"), owner, json,
       by_owner + "; a listing of one owner's keys, judged on the owner"},
      {"GET", "/v1/apikeys/{id}", true, "iam-identity.apikey.read", key_actions("read"), owner,
       json, by_owner},
      {"PUT", "/v1/apikeys/{id}", true, "iam-identity.apikey.update", key_actions("update"), owner,
       json, by_owner},
      {"DELETE", "/v1/apikeys/{id}", true, "iam-identity.apikey.delete", key_actions("delete"),
       owner, json, by_owner},
      {"POST", "/v1/apikeys/{id}/lock", true, "iam-identity.apikey.lock", key_actions("lock"),
       owner, json, by_owner},
      {"DELETE", "/v1/apikeys/{id}/lock", true, "iam-identity.apikey.unlock", key_actions("unlock"),
       owner, json, by_owner},
      {"POST", "/v1/policies", true, "iam-am.policy.create", "iam-am.policy.create",
       "the new policy's target resource", json},
      {"GET", "/v1/policies", true, "iam-am.policy.list", "iam-am.policy.read",
       "each policy's target (or the caller is its subject), caller's account only", json, list},
      {"GET", "/v1/policies/{id}", true, "iam-am.policy.read", "iam-am.policy.read",
       "the policy's target (or the caller is its subject)", json},
      {"PUT", "/v1/policies/{id}", true, "iam-am.policy.update", "iam-am.policy.update",
       "the policy's old and new targets", json},
      {"DELETE", "/v1/policies/{id}", true, "iam-am.policy.delete", "iam-am.policy.delete",
       "the policy's target", json},
      {"POST", "/v2/authz", true, "iam-am.authz.read", "iam-am.policy.read",
       "each item's resource, unless the caller asks about itself or is a Veil service", json,
       "a batch of decisions; asking about others needs what reading their policies needs"},
      {"POST", "/v2/resource_instances", true, "resource-controller.instance.create",
       "resource-controller.instance.create", "{account, kms|cloud-object-storage}", json},
      {"GET", "/v2/resource_instances", true, "resource-controller.instance.list",
       "resource-controller.instance.read",
       "{account, service, instance} per item, caller's account only", json, list},
      {"GET", "/v2/resource_instances/{id}", true, "resource-controller.instance.read",
       "resource-controller.instance.read", "{account, service, instance}", json},
      {"DELETE", "/v2/resource_instances/{id}", true, "resource-controller.instance.delete",
       "resource-controller.instance.delete", "{account, service, instance}", json},
      {"POST", "/v2/resource_keys", true, "resource-controller.key.create",
       "resource-controller.key.create|cloud-object-storage.bucket.head|"
       "cloud-object-storage.object.put|cloud-object-storage.bucket.put_bucket",
       "{account, cloud-object-storage, instance}: key.create, then the probe of the key's role "
       "(Reader, Writer, Manager) on the same instance",
       json},
      {"GET", "/v2/resource_keys", true, "resource-controller.key.list",
       "resource-controller.key.read",
       "{account, cloud-object-storage, instance} per item, caller's account only", json, list},
      {"GET", "/v2/resource_keys/{id}", true, "resource-controller.key.read",
       "resource-controller.key.read", "{account, cloud-object-storage, the key's instance}", json},
      {"DELETE", "/v2/resource_keys/{id}", true, "resource-controller.key.delete",
       "resource-controller.key.delete", "{account, cloud-object-storage, the key's instance}",
       json},
      {"POST", "/v1/accounts", true, "enterprise.account.create", "enterprise.account.create",
       "{operator's account, enterprise, account}", json},
      {"GET", "/v1/accounts", true, "enterprise.account.list", "enterprise.account.read",
       "{operator's account, enterprise, account} (all accounts, else 403)", json,
       "listing every account needs reading every account"},
      {"GET", "/v1/accounts/{id}", true, "enterprise.account.read", "enterprise.account.read",
       "{operator's account, enterprise, account, id}, before the lookup", json},
  };
}

std::vector<ExpectedRoute> KmsRoutes() {
  const std::optional<size_t> json = 64 * kKiB;
  const std::string instance = "{account, kms, instance}";
  const std::string key = "{account, kms, instance, key, id}";
  const std::string actions =
      "kms.secrets.wrap|kms.secrets.unwrap|kms.secrets.rewrap|kms.secrets.rotate|"
      "kms.secrets.disable|kms.secrets.enable|kms.secrets.setkeyfordeletion|"
      "kms.secrets.unsetkeyfordeletion|kms.secrets.sync|kms.secrets.restore";
  const std::string by_action = "the handler names the action's own (kms.secrets.<action>)";
  auto route = [&](std::string method, std::string path, std::string action, std::string on) {
    return ExpectedRoute{
        std::move(method), std::move(path), true, action, action, std::move(on), json};
  };
  return {
      {"GET", "/healthz", false, "", "", "nothing", std::nullopt, "no event"},
      route("GET", "/api/v2/import_token", "kms.importtoken.read", instance),
      route("POST", "/api/v2/import_token", "kms.importtoken.create", instance),
      route("GET", "/api/v2/instance/policies", "kms.instancepolicies.read", instance),
      route("PUT", "/api/v2/instance/policies", "kms.instancepolicies.write", instance),
      route("GET", "/api/v2/key_rings", "kms.keyrings.list", instance),
      route("DELETE", "/api/v2/key_rings/{id}", "kms.keyrings.delete", instance),
      route("POST", "/api/v2/key_rings/{id}", "kms.keyrings.create", instance),
      route("GET", "/api/v2/keys", "kms.secrets.list", instance + ", else per key"),
      route("HEAD", "/api/v2/keys", "kms.secrets.head", instance + ", else per key"),
      route("POST", "/api/v2/keys", "kms.secrets.create", instance),
      route("GET", "/api/v2/keys/registrations", "kms.registrations.list",
            instance + ", else per key"),
      route("DELETE", "/api/v2/keys/{id}", "kms.secrets.delete", key),
      {"GET", "/api/v2/keys/{id}", true, "kms.secrets.read",
       "kms.secrets.readmetadata|kms.secrets.read", key, json,
       "Key Protect's event for GET /keys/{id}; the payload (Active standard keys) needs read"},
      route("PATCH", "/api/v2/keys/{id}", "kms.secrets.patch", key),
      {"POST", "/api/v2/keys/{id}", true, "", actions, key, json,
       by_action + " from ?action=, before anything else"},
      {"POST", "/api/v2/keys/{id}/actions/{action}", true, "", actions, key, json,
       by_action + " from the path, before anything else"},
      route("DELETE", "/api/v2/keys/{id}/aliases/{alias}", "kms.secrets.deletealias", key),
      route("POST", "/api/v2/keys/{id}/aliases/{alias}", "kms.secrets.createalias", key),
      route("GET", "/api/v2/keys/{id}/metadata", "kms.secrets.readmetadata", key),
      route("GET", "/api/v2/keys/{id}/policies", "kms.policies.read", key),
      route("PUT", "/api/v2/keys/{id}/policies", "kms.policies.write", key),
      route("DELETE", "/api/v2/keys/{id}/purge", "kms.secrets.purge", key),
      route("GET", "/api/v2/keys/{id}/registrations", "kms.registrations.list", key),
      route("DELETE", "/api/v2/keys/{id}/registrations/{crn}", "kms.registrations.delete",
            key + "; services only, their own registrations"),
      route("PATCH", "/api/v2/keys/{id}/registrations/{crn}", "kms.registrations.write",
            key + "; services only, their own registrations"),
      route("POST", "/api/v2/keys/{id}/registrations/{crn}", "kms.registrations.create",
            key + "; services only"),
      route("PUT", "/api/v2/keys/{id}/registrations/{crn}", "kms.registrations.merge",
            key + "; services only, their own registrations"),
      route("POST", "/api/v2/keys/{id}/restore", "kms.secrets.restore", key),
      route("GET", "/api/v2/keys/{id}/versions", "kms.secrets.listkeyversions", key),
      route("POST", "/api/v2/keys_with_policy_overrides", "kms.secrets.create", instance),
  };
}

// Object storage: one handler per method and path shape, which names the S3 operation's own IAM
// action and audit action once it knows the operation (src/cos/api/handler_support.h, op::).
std::vector<ExpectedRoute> CosRoutes() {
  const std::optional<size_t> small = 64 * kKiB;
  const std::optional<size_t> object = 5ull << 30;  // S3's largest single PUT
  const std::string p = "cloud-object-storage.";
  const std::string reads = p + "bucket.head|" + p + "bucket.get|" + p + "bucket.get_location|" +
                            p + "bucket.list_crk_id|" + p + "bucket.get_uploads|" + p +
                            "object.get|" + p + "object.head|" + p + "object.get_uploads";
  const std::string deletes = p + "bucket.delete_bucket|" + p + "bucket.delete_encryption|" + p +
                              "object.delete|" + p + "object.delete_upload";
  const std::string puts = p + "bucket.put_bucket|" + p + "bucket.put_encryption|" + p +
                           "object.put|" + p + "object.copy|" + p + "object.copy_get|" + p +
                           "object.put_part|" + p + "object.copy_part|" + p +
                           "object.copy_part_get";
  const std::string posts = p + "object.post_multi_delete|" + p + "object.post_initiate_upload|" +
                            p + "object.post_complete_upload";
  const std::string on = "{account, cloud-object-storage, instance, bucket, name}";
  const std::string note = "the handler names the S3 operation's audit action once it knows it";
  const std::string received = "cloud-object-storage.request.receive";
  std::vector<ExpectedRoute> routes = {
      {"GET", "/healthz", false, "", "", "nothing", std::nullopt, "no event"},
      {"GET", "/", true, received, p + "account.get_account_buckets",
       "{account, cloud-object-storage, instance}", small, note},
  };
  for (std::string path : {"/{bucket}", "/{bucket}/{key*}"}) {
    routes.push_back({"GET", path, true, received, reads, on, small, note});
    routes.push_back({"HEAD", path, true, received, reads, on, small, note});
    routes.push_back({"DELETE", path, true, received, deletes, on, small, note});
    routes.push_back({"PUT", path, true, received, puts, on, object, note});
    routes.push_back({"POST", path, true, received, posts, on, object, note});
  }
  return routes;
}

Table Expected() {
  Table t;
  t["iam"] = IamRoutes();
  t["kms"] = KmsRoutes();
  t["cos"] = CosRoutes();
  t["is"] = HealthOnly();
  t["audit"] = HealthOnly();
  return t;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t bar = s.find('|', start);
    out.push_back(s.substr(start, bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return out;
}

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limiter_ = std::make_unique<iam::LoginRateLimiter>(f_.iam.clock, iam::LoginLimiterOptions{});
    iam_deps_ = {f_.iam.service.get(), f_.iam.issuer.get(), f_.iam.keys.get(),
                 f_.iam.authorizer.get(), limiter_.get()};
    kms_deps_.service = f_.service.get();
    kms_deps_.authorizer = f_.iam.authorizer.get();
    kms_deps_.resolve_instance = [](std::string_view) -> Result<kms::InstanceRef> {
      return NotFound("not used");
    };
    cos_kms_ =
        std::make_unique<kms::LocalClient>(*f_.service, *f_.iam.authorizer, "cloud-object-storage");
    cos::CosOptions cos_options;
    cos_options.data_dir = f_.iam.dir / "cos";
    auto cos = cos::CosService::Create(*f_.iam.db, *cos_kms_, *f_.key_store, f_.iam.clock,
                                       f_.iam.random, cos_options);
    ASSERT_TRUE(cos) << cos.error().ToString();
    cos_ = std::move(*cos);
    cos_deps_.service = cos_.get();
    cos_deps_.authorizer = f_.iam.authorizer.get();
    cos_deps_.clock = &f_.iam.clock;
    cos_deps_.resolve_instance = [](std::string_view) -> Result<cos::api::CosInstance> {
      return NotFound("not used");
    };
    cos_deps_.lookup_hmac = [](std::string_view) -> Result<cos::api::HmacIdentity> {
      return NotFound("not used");
    };
  }

  http::Router RouterOf(const ServiceInfo& service) {
    auto router = ServiceRouter(service, {&iam_deps_, &kms_deps_, &cos_deps_});
    EXPECT_TRUE(router) << router.error().ToString();
    return router ? std::move(*router) : http::Router();
  }

  kms::testing::KmsFixture f_;
  std::unique_ptr<iam::LoginRateLimiter> limiter_;
  iam::api::IamApiDeps iam_deps_;
  kms::api::KmsApiDeps kms_deps_;
  std::unique_ptr<kms::LocalClient> cos_kms_;
  std::unique_ptr<cos::CosService> cos_;
  cos::api::CosApiDeps cos_deps_;
};

TEST_F(RouteTableTest, EveryRouteOfEveryListenerIsInTheTableAndNoOther) {
  const Table expected = Expected();
  ASSERT_EQ(expected.size(), kServices.size());
  size_t routes = 0;
  for (const ServiceInfo& service : kServices) {
    SCOPED_TRACE(std::string(service.name));
    auto it = expected.find(std::string(service.name));
    ASSERT_NE(it, expected.end()) << "the table has no entry for this listener";
    std::map<std::string, const ExpectedRoute*> want;
    for (const ExpectedRoute& e : it->second) {
      ASSERT_TRUE(want.emplace(e.method + " " + e.path, &e).second) << "twice: " << e.path;
    }
    http::Router router = RouterOf(service);
    std::set<std::string> served;
    for (const http::Route* r : router.Routes()) {
      const std::string name = r->method + " " + r->path_template;
      served.insert(name);
      ++routes;
      auto w = want.find(name);
      if (w == want.end()) {
        ADD_FAILURE() << name << " is served but not in the table: add it consciously, with the "
                      << "action it authorizes, and a case in the route matrix";
        continue;
      }
      const ExpectedRoute& e = *w->second;
      EXPECT_EQ(r->options.authenticated, e.authenticated) << name;
      EXPECT_EQ(r->options.action, e.audit) << name;
      EXPECT_EQ(r->options.body_limit, e.body_limit) << name;
      EXPECT_EQ(r->options.audit, e.path != "/healthz") << name;
    }
    for (const auto& [name, e] : want) {
      EXPECT_TRUE(served.contains(name)) << name << " is in the table but not served";
    }
  }
  EXPECT_EQ(routes, 34u + 30u + 12u + 4u);
}

// Every action a handler authorizes is one the action table knows (an unknown action is denied
// to everyone, so a typo would lock a route shut rather than open it, but the route would be
// useless), and an audit action that differs from the authorized one says why.
TEST_F(RouteTableTest, EveryAuthorizedActionIsInTheActionTable) {
  const iam::ActionRegistry& registry = iam::DefaultActionRegistry();
  for (const auto& [service, routes] : Expected()) {
    for (const ExpectedRoute& e : routes) {
      SCOPED_TRACE(service + " " + e.method + " " + e.path);
      if (!e.authenticated) {
        EXPECT_TRUE(e.authorizes.empty()) << "an anonymous route authorizes nothing";
        continue;
      }
      std::vector<std::string> actions = Split(e.authorizes);
      for (const std::string& action : actions) {
        const iam::ActionTable* table = registry.TableFor(action);
        ASSERT_NE(table, nullptr) << action;
        EXPECT_TRUE(table->Knows(action)) << action;
      }
      const bool audited_as_authorized =
          std::find(actions.begin(), actions.end(), e.audit) != actions.end();
      EXPECT_TRUE(audited_as_authorized || !e.audit_note.empty())
          << "audit action " << e.audit << " is not the authorized one and says not why";
    }
  }
}

// Anonymous routes are exactly the intended ones: the token exchange, the public keys and the
// health probes. Everything else needs a principal before its handler runs.
TEST_F(RouteTableTest, OnlyTheTokenExchangeTheKeysAndHealthAreAnonymous) {
  std::set<std::string> anonymous;
  for (const ServiceInfo& service : kServices) {
    http::Router router = RouterOf(service);
    for (const http::Route* r : router.Routes()) {
      if (!r->options.authenticated) {
        anonymous.insert(std::string(service.name) + " " + r->method + " " + r->path_template);
      }
    }
  }
  EXPECT_EQ(anonymous,
            (std::set<std::string>{"iam POST /identity/token", "iam GET /identity/keys",
                                   "iam GET /healthz", "kms GET /healthz", "cos GET /healthz",
                                   "is GET /healthz", "audit GET /healthz"}));
}

// A route whose body limit is above the server's buffered_body_limit streams its body to a
// handler that holds a worker while it reads: a slow client (any tenant, with any token) could
// hold every worker that way. Every IAM and KMS route reads its body whole on the I/O side first.
// Object uploads (cos PUT and POST) cannot: they stream, and only after the SigV4 signature or
// token was checked, under min_body_rate and the per-address request cap (docs/security.md).
TEST_F(RouteTableTest, EveryApiRouteReadsItsBodyBeforeAWorkerIsTaken) {
  const size_t buffered = http::ServerOptions{}.buffered_body_limit;
  for (const ServiceInfo& service : kServices) {
    http::Router router = RouterOf(service);
    for (const http::Route* r : router.Routes()) {
      if (r->options.inline_handler) continue;  // read whole before it runs, by definition
      ASSERT_TRUE(r->options.body_limit.has_value()) << r->method << " " << r->path_template;
      if (service.name == "cos" && (r->method == "PUT" || r->method == "POST")) continue;
      EXPECT_LE(*r->options.body_limit, buffered)
          << service.name << " " << r->method << " " << r->path_template;
    }
  }
}

}  // namespace
}  // namespace veil::veild
