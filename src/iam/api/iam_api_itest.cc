// The IAM API over loopback with the real Runtime and SQLite: shapes of the IBM-compatible
// endpoints, and the security invariants of issue 4 that need the HTTP layer, each a named test.
#include <gtest/gtest.h>

#include <array>
#include <boost/json/serialize.hpp>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/log.h"
#include "crypto/sign.h"
#include "iam/api/api_fixture.h"

namespace veil::iam::api {
namespace {

using iam::testing::ReadFile;
using testing::Reply;

class IamApiTest : public testing::IamApiFixture {
 protected:
  // A service ID made through the API, with an API key; returns {iam_id, id, apikey, key id}.
  struct Made {
    std::string iam_id, id, apikey, key_id;
  };
  Made MakeServiceId(const std::string& name = "svc") {
    Reply s = Call("POST", "/v1/serviceids", admin_token_, R"({"name":")" + name + R"("})");
    EXPECT_EQ(s.status, 201) << s.body;
    Made m;
    m.iam_id = std::string(s.json.at("iam_id").as_string());
    m.id = std::string(s.json.at("id").as_string());
    Reply k =
        Call("POST", "/v1/apikeys", admin_token_, R"({"name":"k","iam_id":")" + m.iam_id + R"("})");
    EXPECT_EQ(k.status, 201) << k.body;
    m.apikey = std::string(k.json.at("apikey").as_string());
    m.key_id = std::string(k.json.at("id").as_string());
    return m;
  }

  std::string AccessPolicyBody(const std::string& iam_id, const std::string& role_id,
                               const std::string& account, const std::string& extra = "") {
    return R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":")" + iam_id +
           R"("}]}],"roles":[{"role_id":")" + role_id +
           R"("}],"resources":[{"attributes":[{"name":"accountId","value":")" + account + "\"}" +
           extra + "]}]}";
  }
};

TEST_F(IamApiTest, TokenEndpointAnswersInIbmShape) {
  Reply r = TokenRequest(f_.admin_key);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& o = r.json.as_object();
  EXPECT_TRUE(o.at("access_token").is_string());
  EXPECT_EQ(o.at("refresh_token").as_string(), "not_supported");
  EXPECT_EQ(o.at("token_type").as_string(), "Bearer");
  EXPECT_EQ(o.at("expires_in").as_int64(), 3600);
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(f_.clock.Now().time_since_epoch()).count();
  EXPECT_EQ(o.at("expiration").as_int64(), now + 3600);
  EXPECT_EQ(o.at("scope").as_string(), "ibm openid");
  EXPECT_EQ(r.headers.Get("Cache-Control"), "no-store");
  // A key read from a file with its line feed still works.
  EXPECT_EQ(TokenRequest(f_.admin_key + "%0A").status, 200);
  // A stale Authorization header does not stop a client from logging in again.
  http::Headers stale;
  stale.Set("Content-Type", "application/x-www-form-urlencoded");
  stale.Set("Authorization", "Bearer expired.or.foreign");
  EXPECT_EQ(
      Call("POST", "/identity/token", "",
           "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + f_.admin_key,
           stale)
          .status,
      200);
  // Elsewhere an invalid token is refused, even on an anonymous route.
  EXPECT_EQ(Call("GET", "/identity/keys", "", "", stale).status, 401);
  EXPECT_EQ(Call("GET", "/identity/userinfo", "", "", stale).status, 401);
  // Form errors in the IAM dialect.
  http::Headers form;
  form.Set("Content-Type", "application/x-www-form-urlencoded");
  ExpectIamError(Call("POST", "/identity/token", "", "apikey=x", form), 400, "BXNIM0109E");
  ExpectIamError(Call("POST", "/identity/token", "",
                      "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey", form),
                 400, "BXNIM0109E");
  ExpectIamError(Call("POST", "/identity/token", "", "grant_type=password&apikey=x", form), 400,
                 "BXNIM0400E");
  ExpectIamError(Call("POST", "/identity/token", "", R"({"apikey":"x"})"), 400, "BXNIM0400E");
}

TEST_F(IamApiTest, JwksHasTheSpecShapeAndVerifiesIssuedTokens) {
  Reply r = Call("GET", "/identity/keys");  // anonymous
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& keys = r.json.at("keys").as_array();
  ASSERT_EQ(keys.size(), 1u);
  const auto& k = keys[0].as_object();
  EXPECT_EQ(k.at("kty").as_string(), "RSA");
  EXPECT_EQ(k.at("alg").as_string(), "RS256");
  EXPECT_EQ(k.at("use").as_string(), "sig");
  EXPECT_EQ(k.at("kid").as_string(), f_.keys->current_kid());
  auto n = Base64UrlDecode(std::string(k.at("n").as_string()));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->size(), 256u);  // RSA-2048
  EXPECT_EQ(k.at("e").as_string(), "AQAB");
  EXPECT_EQ(k.size(), 6u) << "no private member (d, p, q, ...) may ever appear";

  // The published key alone verifies a token (what any RS256 client does with the JWKS).
  auto pub = crypto::PublicKey::FromRsaJwk(
      {std::string(k.at("n").as_string()), std::string(k.at("e").as_string())});
  ASSERT_TRUE(pub);
  const size_t dot = admin_token_.rfind('.');
  auto sig = Base64UrlDecode(admin_token_.substr(dot + 1));
  EXPECT_TRUE(
      pub->Verify(crypto::SignatureAlgorithm::kRs256, AsBytes(admin_token_.substr(0, dot)), *sig));
  // After a rotation both keys are listed.
  ASSERT_TRUE(f_.keys->Rotate());
  EXPECT_EQ(Call("GET", "/identity/keys").json.at("keys").as_array().size(), 2u);
}

TEST_F(IamApiTest, UserinfoNamesTheCaller) {
  Reply r = Call("GET", "/identity/userinfo", admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("iam_id").as_string(), f_.admin.iam_id);
  EXPECT_EQ(r.json.at("account_id").as_string(), f_.account_id);
  EXPECT_EQ(r.json.at("type").as_string(), "user");
}

TEST_F(IamApiTest, MissingMalformedExpiredOrForgedTokensGet401AndOneAuditEventEach) {
  Made m = MakeServiceId();
  const std::string expiring = Login(m.apikey);
  std::string forged = admin_token_;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  const std::string none = Base64UrlEncode(AsBytes(R"({"alg":"none","kid":"x"})")) + "." +
                           admin_token_.substr(admin_token_.find('.') + 1,
                                               admin_token_.rfind('.') - admin_token_.find('.'));
  struct Case {
    std::string name;
    std::optional<std::string> authorization;
  };
  std::vector<Case> cases = {
      {"missing", std::nullopt},
      {"empty", "Bearer "},
      {"scheme", "Basic YWRtaW46YWRtaW4="},
      {"garbage", "Bearer not-a-jwt"},
      {"forged", "Bearer " + forged},
      {"alg-none", "Bearer " + none},
      {"expired", "Bearer " + expiring},
  };
  f_.clock.Advance(std::chrono::seconds(3606));  // expires `expiring` (and the admin token)
  for (const Case& c : cases) {
    http::Headers h = Correlation("authn-" + c.name);
    if (c.authorization) h.Set("Authorization", *c.authorization);
    Reply r = Call("GET", "/v1/serviceids", "", "", h);
    ExpectIamError(r, 401, "BXNIM0401E");
    auto events = EventsOf("authn-" + c.name);
    ASSERT_EQ(events.size(), 1u) << c.name;
    EXPECT_EQ(events[0].reason_code, 401) << c.name;
    EXPECT_EQ(events[0].outcome, "failure");
    EXPECT_EQ(events[0].initiator.id, "anonymous");
  }
}

TEST_F(IamApiTest, AuthenticatedButNotAllowedGets403AndOneAuditEvent) {
  Made target = MakeServiceId("target");
  Made nobody = MakeServiceId("nobody");  // no policy at all
  const std::string token = Login(nobody.apikey);
  Reply r = Call("GET", "/v1/serviceids/" + target.id, token, "", Correlation("authz-403"));
  ExpectIamError(r, 403, "BXNIM0403E");
  auto events = EventsOf("authz-403");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason_code, 403);
  EXPECT_EQ(events[0].action, "iam-identity.serviceid.read");
  EXPECT_EQ(events[0].initiator.id, nobody.iam_id);
  EXPECT_EQ(events[0].initiator.credential_type, "token");
  EXPECT_EQ(events[0].target.id,
            "crn:v1:veil:private:iam-identity::a/" + f_.account_id + "::serviceid:" + target.id);
  // And an allowed call leaves exactly one successful event too.
  Reply ok = Call("GET", "/v1/serviceids/" + target.id, admin_token_, "", Correlation("authz-200"));
  EXPECT_EQ(ok.status, 200);
  ASSERT_EQ(EventsOf("authz-200").size(), 1u);
  EXPECT_EQ(EventsOf("authz-200")[0].outcome, "success");
}

TEST_F(IamApiTest, ALockedOrDeletedApiKeyGetsNoToken) {
  Made m = MakeServiceId();
  ASSERT_EQ(TokenRequest(m.apikey).status, 200);
  ASSERT_EQ(Call("POST", "/v1/apikeys/" + m.key_id + "/lock", admin_token_).status, 204);
  ExpectIamError(TokenRequest(m.apikey), 400, "BXNIM0415E");
  EXPECT_EQ(Call("DELETE", "/v1/apikeys/" + m.key_id, admin_token_).status, 409);
  ASSERT_EQ(Call("DELETE", "/v1/apikeys/" + m.key_id + "/lock", admin_token_).status, 204);
  ASSERT_EQ(TokenRequest(m.apikey).status, 200);
  ASSERT_EQ(Call("DELETE", "/v1/apikeys/" + m.key_id, admin_token_).status, 204);
  ExpectIamError(TokenRequest(m.apikey), 400, "BXNIM0415E");
  EXPECT_EQ(Call("GET", "/v1/apikeys/" + m.key_id, admin_token_).status, 404);
}

TEST_F(IamApiTest, DeletingAServiceIdRevokesItsTokens) {
  Made m = MakeServiceId();
  const std::string token = Login(m.apikey);
  ASSERT_EQ(Call("GET", "/identity/userinfo", token).status, 200);
  ASSERT_EQ(Call("DELETE", "/v1/serviceids/" + m.id, admin_token_).status, 204);
  ExpectIamError(Call("GET", "/identity/userinfo", token), 401, "BXNIM0401E");
  ExpectIamError(TokenRequest(m.apikey), 400, "BXNIM0415E");
}

TEST_F(IamApiTest, RepeatedBadApiKeysFromOneClientGet429WhileAnotherClientStillGetsTokens) {
  Made m = MakeServiceId();
  std::string bad = m.apikey;
  bad[40] = bad[40] == 'A' ? 'B' : 'A';
  // Three refusals (the fixture's burst) from 127.0.0.1, then 429 for anything from there.
  for (int i = 0; i < 3; ++i) ExpectIamError(TokenRequest(bad), 400, "BXNIM0415E");
  Reply slowed = TokenRequest(bad);
  ExpectIamError(slowed, 429, "BXNIM0429E");
  EXPECT_EQ(slowed.headers.Get("Retry-After"), "10");
  ExpectIamError(TokenRequest(m.apikey), 429, "BXNIM0429E");
  // The key's owner from elsewhere, and other clients, are not locked out.
  auto [status, body] = RawFrom("127.0.0.2", RawTokenRequest(m.apikey));
  EXPECT_EQ(status, 200) << body;
  auto [bad_status, bad_body] = RawFrom("127.0.0.3", RawTokenRequest(bad));
  EXPECT_EQ(bad_status, 400) << bad_body;
  // The bucket refills: one try per 10 s.
  f_.clock.Advance(std::chrono::seconds(10));
  EXPECT_EQ(TokenRequest(m.apikey).status, 200);
}

// Wrong keys sent at once from one address: each is counted as it starts, so no more than the
// burst (3) of them get their key judged, however they interleave; the rest are answered 429
// (or shed by the server's per-address limits: 503, or a connection closed unanswered, -1), and
// the address then waits, even with a good key, while the server goes on serving others.
TEST_F(IamApiTest, ParallelLoginGuessesAreAllCounted) {
  Made m = MakeServiceId();
  std::string bad = m.apikey;
  bad[40] = bad[40] == 'A' ? 'B' : 'A';
  constexpr int kGuesses = 12;
  std::vector<int> statuses(kGuesses);
  std::vector<std::thread> guesses;
  for (int i = 0; i < kGuesses; ++i) {
    guesses.emplace_back(
        [&, i] { statuses[i] = RawFrom("127.0.0.9", RawTokenRequest(bad)).first; });
  }
  for (std::thread& t : guesses) t.join();
  int judged = 0;
  for (int status : statuses) {
    EXPECT_TRUE(status == 400 || status == 429 || status == 503 || status == -1) << status;
    judged += status == 400 ? 1 : 0;
  }
  EXPECT_LE(judged, 3);
  if (judged == 3) {
    EXPECT_EQ(RawFrom("127.0.0.9", RawTokenRequest(m.apikey)).first, 429);
  }
  EXPECT_EQ(RawFrom("127.0.0.10", RawTokenRequest(m.apikey)).first, 200);
}

TEST_F(IamApiTest, ApiKeysAndTokensNeverReachTheDatabaseTheLogOrTheAuditTrail) {
  const std::string log_path = f_.dir / "veild.log";
  ASSERT_TRUE(log::SetFile(log_path));
  log::SetLevel(log::Level::kDebug);
  Made m = MakeServiceId();
  const std::string token = Login(m.apikey);
  auto raw = Base64UrlDecode(m.apikey);
  ASSERT_TRUE(raw);
  const std::string raw_secret(raw->begin() + 17, raw->end());
  // Use them in every way a client might: good and bad logins, calls, bad headers, a key in
  // the query of a request (wrong, but clients do it).
  Call("GET", "/v1/serviceids", token);
  Call("GET", "/v1/serviceids?apikey=" + m.apikey, token);
  std::string bad = m.apikey;
  bad[50] = bad[50] == 'A' ? 'B' : 'A';
  TokenRequest(bad);
  Call("GET", "/v1/serviceids", token + "x");
  http::Headers basic;
  basic.Set("Authorization", "Basic " + m.apikey);
  Call("GET", "/v1/serviceids", "", "", basic);
  Call("POST", "/v1/apikeys/" + m.key_id + "/lock", admin_token_);
  TokenRequest(m.apikey);
  log::SetFile("");
  log::SetLevel(log::Level::kInfo);
  StopServer();
  f_.verifier.reset();
  f_.authorizer.reset();
  f_.db.reset();  // close: everything is in the files

  const std::string signature = token.substr(token.rfind('.') + 1);
  const std::string admin_signature = admin_token_.substr(admin_token_.rfind('.') + 1);
  struct File {
    std::string path;
    bool must_exist;
  };
  for (const File& file : {File{f_.dir / "veil.db", true}, File{f_.dir / "veil.db-wal", false},
                           File{f_.dir / "events.jsonl", true}, File{log_path, true}}) {
    if (!file.must_exist && !std::filesystem::exists(file.path)) continue;
    const std::string bytes = ReadFile(file.path);
    ASSERT_FALSE(bytes.empty()) << file.path;
    for (const std::string& secret : {m.apikey, bad, f_.admin_key, token, admin_token_, signature,
                                      admin_signature, raw_secret}) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << file.path;
    }
  }
  // The trail did record the logins (by key id).
  EXPECT_NE(ReadFile(f_.dir / "events.jsonl").find(m.key_id), std::string::npos);
}

TEST_F(IamApiTest, ARestartKeepsIssuedTokensValid) {
  Made m = MakeServiceId();
  const std::string token = Login(m.apikey);
  const std::string old_kid = f_.keys->current_kid();
  Restart();
  EXPECT_NE(f_.keys->current_kid(), old_kid);
  EXPECT_EQ(Call("GET", "/identity/userinfo", token).status, 200);
  EXPECT_EQ(Call("GET", "/identity/userinfo", admin_token_).status, 200);
  EXPECT_EQ(Call("GET", "/identity/keys").json.at("keys").as_array().size(), 2u);
}

TEST_F(IamApiTest, ServiceIdsAndApiKeysInIbmShape) {
  Reply s = Call("POST", "/v1/serviceids", admin_token_,
                 R"({"name":"importer","description":"imports images"})");
  ASSERT_EQ(s.status, 201) << s.body;
  const std::string id(s.json.at("id").as_string());
  EXPECT_TRUE(id.starts_with("ServiceId-"));
  EXPECT_EQ(s.json.at("iam_id").as_string(), "iam-" + id);
  EXPECT_EQ(s.json.at("entity_tag").as_string(), "1");
  EXPECT_FALSE(s.json.at("locked").as_bool());
  EXPECT_EQ(s.json.at("account_id").as_string(), f_.account_id);

  http::Headers if_match;
  if_match.Set("If-Match", "1");
  Reply u = Call("PUT", "/v1/serviceids/" + id, admin_token_, R"({"name":"importer2"})", if_match);
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(u.json.at("entity_tag").as_string(), "2");
  ExpectIamError(Call("PUT", "/v1/serviceids/" + id, admin_token_, R"({"name":"x"})", if_match),
                 409, "BXNIM0409E");

  Reply k = Call("POST", "/v1/apikeys", admin_token_,
                 R"({"name":"ci","iam_id":"iam-)" + id + R"(","store_value":false})");
  ASSERT_EQ(k.status, 201) << k.body;
  EXPECT_TRUE(k.json.at("id").as_string().starts_with("ApiKey-"));
  EXPECT_EQ(k.json.at("apikey").as_string().size(), 66u);
  const std::string key_id(k.json.at("id").as_string());
  // The value is shown once: never again.
  Reply again = Call("GET", "/v1/apikeys/" + key_id, admin_token_);
  ASSERT_EQ(again.status, 200);
  EXPECT_FALSE(again.json.as_object().contains("apikey"));
  Reply list = Call("GET", "/v1/apikeys?iam_id=iam-" + id, admin_token_);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json.at("apikeys").as_array().size(), 1u);
  EXPECT_FALSE(list.json.at("apikeys").as_array()[0].as_object().contains("apikey"));
  ExpectIamError(Call("POST", "/v1/apikeys", admin_token_,
                      R"({"name":"x","iam_id":"iam-)" + id + R"(","store_value":true})"),
                 400, "BXNIM0400E");

  Reply ids = Call("GET", "/v1/serviceids?pagesize=10", admin_token_);
  ASSERT_EQ(ids.status, 200);
  EXPECT_EQ(ids.json.at("serviceids").as_array().size(), 1u);
  ASSERT_EQ(Call("POST", "/v1/serviceids/" + id + "/lock", admin_token_).status, 204);
  EXPECT_TRUE(Call("GET", "/v1/serviceids/" + id, admin_token_).json.at("locked").as_bool());
  EXPECT_EQ(Call("DELETE", "/v1/serviceids/" + id, admin_token_).status, 409);
  ASSERT_EQ(Call("DELETE", "/v1/serviceids/" + id + "/lock", admin_token_).status, 204);
  ASSERT_EQ(Call("DELETE", "/v1/serviceids/" + id, admin_token_).status, 204);
  ExpectIamError(Call("GET", "/v1/serviceids/" + id, admin_token_), 404, "BXNIM0404E");
  ExpectIamError(Call("GET", "/v1/serviceids/not-an-id", admin_token_), 404, "BXNIM0404E");
}

TEST_F(IamApiTest, AUserManagesItsOwnApiKeysWithoutAPolicy) {
  auto user = f_.service->CreateUser(f_.account_id, "alice", "", "test");  // no policy at all
  ASSERT_TRUE(user) << user.error().ToString();
  auto first = f_.service->CreateApiKey({user->iam_id, "first", ""}, "test");
  ASSERT_TRUE(first);
  const std::string token = Login(std::string(AsStringView(first->value.Reveal())));
  Reply k = Call("POST", "/v1/apikeys", token, R"({"name":"second"})");
  ASSERT_EQ(k.status, 201) << k.body;
  EXPECT_EQ(k.json.at("iam_id").as_string(), user->iam_id);
  const std::string second(k.json.at("id").as_string());
  Reply list = Call("GET", "/v1/apikeys", token);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json.at("apikeys").as_array().size(), 2u);
  EXPECT_EQ(Call("POST", "/v1/apikeys/" + second + "/lock", token).status, 204);
  EXPECT_EQ(Call("DELETE", "/v1/apikeys/" + second + "/lock", token).status, 204);
  EXPECT_EQ(Call("DELETE", "/v1/apikeys/" + second, token).status, 204);
  // A key that is gone is not found (as it would be if another account held one of that id).
  EXPECT_EQ(Call("DELETE", "/v1/apikeys/" + second, token).status, 404);
  EXPECT_EQ(Call("GET", "/v1/apikeys/" + second, token).status, 404);
  // But not anyone else's.
  EXPECT_EQ(Call("GET", "/v1/apikeys?iam_id=" + f_.admin.iam_id, token).status, 403);
  EXPECT_EQ(
      Call("POST", "/v1/apikeys", token, R"({"name":"x","iam_id":")" + f_.admin.iam_id + R"("})")
          .status,
      403);
}

// A service ID's key leaks. Without a policy that grants it, the thief cannot use the service ID
// to mint more keys (which would outlive the leaked one being deleted), nor list or delete the
// service ID's keys.
TEST_F(IamApiTest, LeakedServiceIdKeyCannotMintMoreKeys) {
  Made m = MakeServiceId();  // no policy at all
  const std::string token = Login(m.apikey);
  ExpectIamError(Call("POST", "/v1/apikeys", token, R"({"name":"backdoor"})"), 403, "BXNIM0403E");
  ExpectIamError(
      Call("POST", "/v1/apikeys", token, R"({"name":"backdoor","iam_id":")" + m.iam_id + R"("})"),
      403, "BXNIM0403E");
  EXPECT_EQ(Call("GET", "/v1/apikeys", token).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/apikeys/" + m.key_id, token).status, 403);
  Reply keys = Call("GET", "/v1/apikeys?iam_id=" + m.iam_id, admin_token_);
  ASSERT_EQ(keys.status, 200) << keys.body;
  EXPECT_EQ(keys.json.at("apikeys").as_array().size(), 1u);
  // As for any other identity, a policy can grant it (Editor on the service ID creates keys).
  f_.Grant(m.iam_id, {"Editor"}, f_.account_id,
           {{"accountId", f_.account_id},
            {"serviceName", "iam-identity"},
            {"resourceType", "serviceid"},
            {"resource", m.id}});
  EXPECT_EQ(Call("POST", "/v1/apikeys", token, R"({"name":"granted"})").status, 201);
}

// A service ID has two keys; an administrator locks one (it gets no token and its tokens are
// refused). With the other key, the service ID cannot unlock it, nor lock the administrator out.
TEST_F(IamApiTest, LeakedServiceIdKeyCannotUnlockAKeyAnAdministratorLocked) {
  Made m = MakeServiceId();
  Reply second = Call("POST", "/v1/apikeys", admin_token_,
                      R"({"name":"second","iam_id":")" + m.iam_id + R"("})");
  ASSERT_EQ(second.status, 201) << second.body;
  const std::string locked_id(second.json.at("id").as_string());
  const std::string locked_key(second.json.at("apikey").as_string());
  ASSERT_EQ(Call("POST", "/v1/apikeys/" + locked_id + "/lock", admin_token_).status, 204);
  ExpectIamError(TokenRequest(locked_key), 400, "BXNIM0415E");

  const std::string token = Login(m.apikey);
  ExpectIamError(Call("DELETE", "/v1/apikeys/" + locked_id + "/lock", token), 403, "BXNIM0403E");
  ExpectIamError(Call("DELETE", "/v1/apikeys/" + locked_id, token), 403, "BXNIM0403E");
  ExpectIamError(Call("POST", "/v1/apikeys/" + m.key_id + "/lock", token), 403, "BXNIM0403E");
  Reply still = Call("GET", "/v1/apikeys/" + locked_id, admin_token_);
  ASSERT_EQ(still.status, 200) << still.body;
  EXPECT_TRUE(still.json.at("locked").as_bool());
  ExpectIamError(TokenRequest(locked_key), 400, "BXNIM0415E");
}

TEST_F(IamApiTest, PoliciesInIbmShapeAcceptingBluemixRoleIds) {
  Made m = MakeServiceId();
  Reply p = Call(
      "POST", "/v1/policies", admin_token_,
      AccessPolicyBody(m.iam_id, "crn:v1:bluemix:public:iam::::serviceRole:Writer", f_.account_id,
                       R"(,{"name":"serviceName","value":"kms","operator":"stringEquals"})"));
  ASSERT_EQ(p.status, 201) << p.body;
  const std::string id(p.json.at("id").as_string());
  EXPECT_EQ(p.json.at("type").as_string(), "access");
  EXPECT_EQ(p.json.at("roles").as_array()[0].at("role_id").as_string(),
            "crn:v1:veil:public:iam::::serviceRole:Writer");
  EXPECT_EQ(p.json.at("roles").as_array()[0].at("display_name").as_string(), "Writer");
  EXPECT_EQ(p.json.at("href").as_string(), "/v1/policies/" + id);
  EXPECT_EQ(
      p.json.at("subjects").as_array()[0].at("attributes").as_array()[0].at("value").as_string(),
      m.iam_id);
  EXPECT_EQ(Call("GET", "/v1/policies/" + id, admin_token_).status, 200);
  Reply list = Call("GET", "/v1/policies?iam_id=" + m.iam_id, admin_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json.at("policies").as_array().size(), 1u);
  // The subject sees its own policy, even with no role to read policies.
  const std::string token = Login(m.apikey);
  EXPECT_EQ(Call("GET", "/v1/policies/" + id, token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/policies", token).json.at("policies").as_array().size(), 1u);
  // Replace and delete.
  Reply put = Call(
      "PUT", "/v1/policies/" + id, admin_token_,
      AccessPolicyBody(m.iam_id, "crn:v1:veil:public:iam::::serviceRole:Reader", f_.account_id));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json.at("entity_tag").as_string(), "2");
  EXPECT_EQ(Call("DELETE", "/v1/policies/" + id, admin_token_).status, 204);
  EXPECT_EQ(Call("GET", "/v1/policies/" + id, admin_token_).status, 404);
  ExpectIamError(Call("POST", "/v1/policies", admin_token_, R"({"type":"access"})"), 400,
                 "BXNIM0400E");
}

TEST_F(IamApiTest, APolicyOnAnotherAccountsResourceGrantsNothing) {
  // Account B, with its own admin-like service ID.
  auto other = f_.service->CreateAccount("other");
  ASSERT_TRUE(other);
  auto b_admin = f_.ServiceIdWith({"Administrator", "Manager"}, other->id);
  auto b_target = f_.service->CreateServiceId({other->id, "b-target", ""}, "t");
  const std::string b_token = Login(b_admin.apikey);
  // A's admin (Administrator on everything in A) cannot touch B's resources (which it is told
  // of as of ids that name nothing: AnotherAccountsObjectsAnswerAsUnknownIds)...
  EXPECT_EQ(Call("GET", "/v1/serviceids/" + b_target->id, admin_token_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/serviceids/" + b_target->id, admin_token_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/serviceids?account_id=" + other->id, admin_token_).status, 403);
  // ...nor grant itself anything there: a policy naming B's resources is B's to make.
  Made m = MakeServiceId();
  Reply cross =
      Call("POST", "/v1/policies", admin_token_,
           AccessPolicyBody(m.iam_id, "crn:v1:veil:public:iam::::role:Administrator", other->id));
  EXPECT_EQ(cross.status, 403) << cross.body;
  // And B's admin cannot name A's identities as subjects in B.
  Reply stranger =
      Call("POST", "/v1/policies", b_token,
           AccessPolicyBody(m.iam_id, "crn:v1:veil:public:iam::::role:Viewer", other->id));
  EXPECT_EQ(stranger.status, 400) << stranger.body;
  // B's admin does manage B.
  EXPECT_EQ(Call("GET", "/v1/serviceids/" + b_target->id, b_token).status, 200);
}

// A tenant probing ids: every route that names an object by id answers an id of another
// account's object exactly as an id that names nothing (same status, same error code), for a
// caller who administers its own account (404, or the route's 400) and for one who holds nothing
// (403). Before, another account's objects answered 403 where unknown ids answered 404 (or 400
// "names no user or service ID"), so any tenant could tell which ids exist elsewhere.
TEST_F(IamApiTest, AnotherAccountsObjectsAnswerAsUnknownIds) {
  auto other = f_.service->CreateAccount("tenant-b");
  ASSERT_TRUE(other);
  auto b_admin = f_.ServiceIdWith({"Administrator", "Manager"}, other->id);
  const std::string b_token = Login(b_admin.apikey);
  auto b_svc = f_.service->CreateServiceId({other->id, "b-svc", ""}, "t");
  ASSERT_TRUE(b_svc);
  auto b_key = f_.service->CreateApiKey({b_svc->iam_id, "b-key", ""}, "t");
  ASSERT_TRUE(b_key);
  Reply b_policy =
      Call("POST", "/v1/policies", b_token,
           AccessPolicyBody(b_svc->iam_id, "crn:v1:veil:public:iam::::role:Viewer", other->id));
  ASSERT_EQ(b_policy.status, 201) << b_policy.body;
  auto b_instance = f_.service->CreateInstance({other->id, "b-kp", "kms", ""}, "t");
  ASSERT_TRUE(b_instance);
  const std::string b_user = b_admin.identity.iam_id;  // a service ID of B with keys

  struct Ids {
    std::string svc, key, owner, policy, instance;
  };
  const Ids theirs{b_svc->id, b_key->key.id, b_svc->iam_id,
                   std::string(b_policy.json.at("id").as_string()), b_instance->guid};
  const Ids unknown{"ServiceId-2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77",
                    "ApiKey-2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77",
                    "iam-ServiceId-2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77",
                    "2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77", "2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77"};
  auto requests = [&](const Ids& ids) {
    const std::string policy =
        AccessPolicyBody(b_user, "crn:v1:veil:public:iam::::role:Viewer", f_.account_id);
    return std::vector<std::array<std::string, 3>>{
        {"GET", "/v1/serviceids/" + ids.svc, ""},
        {"PUT", "/v1/serviceids/" + ids.svc, R"({"name":"mine"})"},
        {"DELETE", "/v1/serviceids/" + ids.svc, ""},
        {"POST", "/v1/serviceids/" + ids.svc + "/lock", ""},
        {"DELETE", "/v1/serviceids/" + ids.svc + "/lock", ""},
        {"GET", "/v1/apikeys/" + ids.key, ""},
        {"PUT", "/v1/apikeys/" + ids.key, R"({"name":"mine"})"},
        {"DELETE", "/v1/apikeys/" + ids.key, ""},
        {"POST", "/v1/apikeys/" + ids.key + "/lock", ""},
        {"DELETE", "/v1/apikeys/" + ids.key + "/lock", ""},
        {"GET", "/v1/apikeys?iam_id=" + ids.owner, ""},
        {"POST", "/v1/apikeys", R"({"name":"k","iam_id":")" + ids.owner + R"("})"},
        {"POST", "/v1/apikeys",
         R"({"name":"k","iam_id":")" + ids.owner + R"(","account_id":")" + f_.account_id + R"("})"},
        {"GET", "/v1/policies/" + ids.policy, ""},
        {"PUT", "/v1/policies/" + ids.policy, policy},
        {"DELETE", "/v1/policies/" + ids.policy, ""},
        {"GET", "/v2/resource_instances/" + ids.instance, ""},
        {"DELETE", "/v2/resource_instances/" + ids.instance, ""},
    };
  };
  Made nobody = MakeServiceId("nobody");  // no policy at all
  const std::string nobody_token = Login(nobody.apikey);
  for (const auto& [who, token, expected] :
       std::vector<std::tuple<std::string, std::string, std::set<int>>>{
           {"A's administrator", admin_token_, {400, 404}},
           {"a service ID of A without a policy", nobody_token, {403}}}) {
    SCOPED_TRACE(who);
    const auto probes = requests(theirs);
    const auto baseline = requests(unknown);
    for (size_t i = 0; i < probes.size(); ++i) {
      const auto& [method, path, body] = probes[i];
      Reply t = Call(method, path, token, body);
      Reply u = Call(baseline[i][0], baseline[i][1], token, baseline[i][2]);
      EXPECT_EQ(t.status, u.status) << method << " " << path << ": " << t.body << " / " << u.body;
      EXPECT_TRUE(expected.contains(t.status)) << method << " " << path << ": " << t.body;
      ASSERT_TRUE(t.json.is_object() && u.json.is_object()) << path;
      EXPECT_EQ(t.json.at("errorCode"), u.json.at("errorCode")) << method << " " << path;
      EXPECT_EQ(t.json.at("errorMessage"), u.json.at("errorMessage")) << method << " " << path;
    }
    // The policy decision point: asking about B's identity is asking about no one.
    auto ask = [&](const std::string& iam_id) {
      return R"([{"subject":{"attributes":{"id":")" + iam_id +
             R"("}},"action":"iam-identity.serviceid.read","resource":{"attributes":{"accountId":")" +
             f_.account_id + R"(","serviceName":"iam-identity"}}}])";
    };
    Reply t = Call("POST", "/v2/authz", token, ask(theirs.owner));
    Reply u = Call("POST", "/v2/authz", token, ask(unknown.owner));
    ASSERT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(t.json.at("responses").at(0).at("status"), u.json.at("responses").at(0).at("status"))
        << t.body << " / " << u.body;
    EXPECT_EQ(t.json.at("responses").at(0).at("error"), u.json.at("responses").at(0).at("error"));
  }
  // Nor do the probers' audit events name B's objects (the event of a request is the caller's
  // account's to read): a target is set only once the object is the caller's to see.
  for (const audit::Event& e : sink_->memory().events()) {
    if (e.initiator.id != f_.admin.iam_id && e.initiator.id != nobody.iam_id) continue;
    EXPECT_EQ(e.target.id.find(other->id), std::string::npos) << e.action << " " << e.target.id;
    EXPECT_NE(e.target.name, "b-svc") << e.action;
    EXPECT_NE(e.target.name, "b-key") << e.action;
  }
  // B still manages all of it.
  EXPECT_EQ(Call("GET", "/v1/serviceids/" + theirs.svc, b_token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/apikeys/" + theirs.key, b_token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/policies/" + theirs.policy, b_token).status, 200);
  EXPECT_EQ(Call("GET", "/v2/resource_instances/" + theirs.instance, b_token).status, 200);
}

// A tenant counting another's objects: a listing of another account is refused (403) rather
// than answered empty, since its paging (`next`) counted the other account's service IDs and
// instances one page at a time although every item was filtered out.
TEST_F(IamApiTest, ListingsOfAnotherAccountAreRefused) {
  auto other = f_.service->CreateAccount("tenant-b");
  ASSERT_TRUE(other);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(f_.service->CreateServiceId({other->id, "b-" + std::to_string(i), ""}, "t"));
    ASSERT_TRUE(f_.service->CreateInstance({other->id, "b-" + std::to_string(i), "kms", ""}, "t"));
  }
  for (const std::string path :
       {"/v1/serviceids?pagesize=1&account_id=", "/v2/resource_instances?pagesize=1&account_id=",
        "/v1/policies?account_id="}) {
    Reply r = Call("GET", path + other->id, admin_token_);
    ExpectIamError(r, 403, "BXNIM0403E");
    EXPECT_EQ(r.body.find("next"), std::string::npos) << path;
    // Naming one's own account is as naming none.
    EXPECT_EQ(Call("GET", path + f_.account_id, admin_token_).status, 200) << path;
  }
}

TEST_F(IamApiTest, ResourceInstancesInIbmShape) {
  Reply r = Call("POST", "/v2/resource_instances", admin_token_,
                 R"({"name":"my-kms","resource_id":"kms","target":"local"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string guid(r.json.at("guid").as_string());
  EXPECT_EQ(r.json.at("crn").as_string(),
            "crn:v1:veil:private:kms:local:a/" + f_.account_id + ":" + guid + "::");
  EXPECT_EQ(r.json.at("name").as_string(), "my-kms");
  EXPECT_EQ(r.json.at("resource_id").as_string(), "kms");
  EXPECT_EQ(r.json.at("state").as_string(), "active");
  Reply cos = Call("POST", "/v2/resource_instances", admin_token_,
                   R"({"name":"objects","resource_id":"cloud-object-storage","target":"local"})");
  ASSERT_EQ(cos.status, 201);
  EXPECT_EQ(Call("GET", "/v2/resource_instances", admin_token_).json.at("rows_count").as_int64(),
            2);
  EXPECT_EQ(Call("GET", "/v2/resource_instances?resource_id=kms", admin_token_)
                .json.at("resources")
                .as_array()
                .size(),
            1u);
  EXPECT_EQ(Call("GET", "/v2/resource_instances/" + guid, admin_token_).status, 200);
  ExpectIamError(Call("POST", "/v2/resource_instances", admin_token_,
                      R"({"name":"x","resource_id":"compute"})"),
                 400, "BXNIM0400E");
  EXPECT_EQ(Call("DELETE", "/v2/resource_instances/" + guid, admin_token_).status, 204);
  EXPECT_EQ(Call("GET", "/v2/resource_instances/" + guid, admin_token_).status, 404);
}

TEST_F(IamApiTest, AServiceActingForACustomerWithoutItsAuthorizationIsRefused) {
  Reply kms = Call("POST", "/v2/resource_instances", admin_token_,
                   R"({"name":"keys","resource_id":"kms"})");
  const std::string instance(kms.json.at("guid").as_string());
  auto ask = [&](const std::string& source) {
    std::string body =
        R"([{"subject":{"attributes":{"serviceName":")" + source + R"(","accountId":")" +
        f_.account_id +
        R"("}},"action":"kms.secrets.unwrap","resource":{"attributes":{"accountId":")" +
        f_.account_id + R"(","serviceName":"kms","serviceInstance":")" + instance + R"("}}}])";
    Reply r = Call("POST", "/v2/authz", admin_token_, body);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto& item = r.json.at("responses").as_array().at(0);
    EXPECT_EQ(item.at("status").as_string(), "200") << r.body;
    return item.at("authorizationDecision").at("permitted").as_bool();
  };
  EXPECT_FALSE(ask("server-protect"));
  // The customer authorizes block storage to read its keys (a step of the image flow).
  const std::string authorization =
      R"({"type":"authorization","subjects":[{"attributes":[
          {"name":"serviceName","value":"server-protect"}]}],
          "roles":[{"role_id":"crn:v1:bluemix:public:iam::::serviceRole:Reader"}],
          "resources":[{"attributes":[{"name":"accountId","value":")" +
      f_.account_id + R"("},{"name":"serviceName","value":"kms"}]}]})";
  Reply auth = Call("POST", "/v1/policies", admin_token_, authorization);
  ASSERT_EQ(auth.status, 201) << auth.body;
  EXPECT_EQ(auth.json.at("type").as_string(), "authorization");
  // The same authorization again (docs/iam.md: a duplicate is refused): 409 naming the first.
  Reply again = Call("POST", "/v1/policies", admin_token_, authorization);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(again.json.at("errorCode").as_string(), "BXNIM0409E") << again.body;
  EXPECT_NE(again.body.find(std::string(auth.json.at("id").as_string())), std::string::npos)
      << again.body;
  EXPECT_TRUE(ask("server-protect"));
  EXPECT_FALSE(ask("is"));
  // In-process, as the image service will call it.
  Subject is = SubjectOf(ServicePrincipal("is", f_.account_id)).value();
  EXPECT_FALSE(
      f_.authorizer
          ->Authorize(is, "kms.secrets.unwrap", {f_.account_id, "kms", instance, "key", "k"})
          ->permitted);
}

TEST_F(IamApiTest, AuthzAnswersOnlyAboutWhatTheCallerMaySee) {
  Made m = MakeServiceId();  // no policy
  const std::string token = Login(m.apikey);
  auto item = [&](const std::string& id) {
    return R"({"subject":{"attributes":{"id":")" + id +
           R"("}},"action":"iam-identity.serviceid.create","resource":{"attributes":{"accountId":")" +
           f_.account_id + R"(","serviceName":"iam-identity"}}})";
  };
  Reply r = Call(
      "POST", "/v2/authz", token,
      "[" + item(m.iam_id) + "," + item(f_.admin.iam_id) + "," +
          R"({"subject":{"accessTokenBody":"e30"},"action":"a.b.c","resource":{"attributes":{"accountId":"x"}}})" +
          "," + R"({"bad":1})" + "]");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& responses = r.json.at("responses").as_array();
  ASSERT_EQ(responses.size(), 4u);
  EXPECT_EQ(responses[0].at("status").as_string(), "200");  // about itself
  EXPECT_FALSE(responses[0].at("authorizationDecision").at("permitted").as_bool());
  EXPECT_EQ(
      responses[0].at("authorizationDecision").at("obligation").at("maxCacheAgeSeconds").as_int64(),
      60);
  EXPECT_EQ(responses[1].at("status").as_string(), "403");  // about someone else
  EXPECT_EQ(responses[2].at("status").as_string(), "400");  // token body without an iam_id
  EXPECT_EQ(responses[3].at("status").as_string(), "400");
  // The admin (Viewer and more on the account) may ask about anyone in it.
  Reply admin = Call("POST", "/v2/authz", admin_token_, "[" + item(f_.admin.iam_id) + "]");
  EXPECT_TRUE(admin.json.at("responses")
                  .as_array()[0]
                  .at("authorizationDecision")
                  .at("permitted")
                  .as_bool());
}

TEST_F(IamApiTest, UnknownRoutesAndWrongMethodsAnswerInTheIamDialect) {
  ExpectIamError(Call("GET", "/v1/nothing", admin_token_), 404, "BXNIM0404E");
  ExpectIamError(Call("DELETE", "/identity/keys", admin_token_), 405, "BXNIM0405E");
  // An anonymous request to an authenticated route: 401, not the handler.
  ExpectIamError(Call("POST", "/v1/serviceids", "", R"({"name":"x"})"), 401, "BXNIM0401E");
}

}  // namespace
}  // namespace veil::iam::api
