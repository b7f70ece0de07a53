// End-to-end attacks on a running veild (docs/security.md), each shown refused: slow clients that
// would stall every worker before any login, internal errors that would leak SQL, 401 answers
// that would tell a forger which check failed.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "e2e/process.h"
#include "e2e/veild_fixture.h"
#include "http/client.h"
#include "http/testing/raw_conn.h"

namespace veil::testing {
namespace {

namespace json = boost::json;
using http::testing::RawConn;
using Clock = std::chrono::steady_clock;

struct Reply {
  int status = -1;  // -1: no answer
  std::string body;
  json::value json;
};

class SecurityE2eTest : public VeildTest {
 protected:
  Reply Call(http::HttpClient& client, const std::string& method, int service,
             const std::string& path, const std::string& body = "", const std::string& token = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = url(service, path);
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    if (!instance_.empty() && service == 2) req.headers.Set("bluemix-instance", instance_);
    if (!body.empty()) {
      req.headers.Set("Content-Type",
                      body[0] == '{' ? "application/json" : "application/x-www-form-urlencoded");
    }
    req.body = body;
    Reply r;
    auto resp = client.Send(req);
    if (!resp) return r;
    r.status = resp->status;
    r.body = resp->body;
    boost::system::error_code ec;
    if (!r.body.empty()) r.json = json::parse(r.body, ec);
    return r;
  }

  std::string TokenBody(const std::string& apikey) {
    return "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + apikey;
  }

  // A root key in a new KMS instance, and one of its wrapped DEKs.
  void MakeKey() {
    token_ = Login(admin_key_file());
    instance_ = CreateInstance(token_);
    Reply key = Call(client_, "POST", 2, "/api/v2/keys",
                     R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json",)"
                     R"("collectionTotal":1},"resources":[{"type":)"
                     R"("application/vnd.ibm.kms.key+json","name":"crk","extractable":false}]})",
                     token_);
    ASSERT_EQ(key.status, 201) << key.body;
    key_ = std::string(key.json.at("resources").at(0).at("id").as_string());
    Reply wrap = Call(client_, "POST", 2, "/api/v2/keys/" + key_ + "/actions/wrap", "{}", token_);
    ASSERT_EQ(wrap.status, 200) << wrap.body;
    wdek_ = std::string(wrap.json.at("ciphertext").as_string());
  }

  http::HttpClient client_;
  std::string token_, instance_, key_, wdek_;
};

std::string Source(int i) { return "127.0.0." + std::to_string(2 + i % 250); }

// Percentile of sorted `ms`.
double Percentile(std::vector<double> ms, double p) {
  std::sort(ms.begin(), ms.end());
  return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
}

// Before any login, N slow-body connections (N = 4 x the workers, each on the token exchange and
// on unwrap) and as many slow-header ones, each from its own address: token exchanges and KMS
// unwraps of an honest client are all answered while every attacker still holds its connection.
// Figures (printed): the honest client's latency with and without the attack.
TEST_F(SecurityE2eTest, SlowBodiesAndHeadersCannotStallTokenAndUnwrap) {
  const int workers = 2;
  Start({"--http-worker-threads", std::to_string(workers), "--http-request-timeout", "600s",
         "--iam-login-burst", "1000"});
  MakeKey();
  const std::string apikey = ReadFile(admin_key_file());
  const std::string unwrap_path = "/api/v2/keys/" + key_ + "/actions/unwrap";
  const std::string unwrap_body = R"({"ciphertext":")" + wdek_ + R"("})";
  auto honest_round = [&](std::vector<double>& ms) {
    for (int i = 0; i < 20; ++i) {
      auto t0 = Clock::now();
      Reply t = Call(client_, "POST", 1, "/identity/token", TokenBody(apikey));
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      ASSERT_EQ(t.status, 200) << t.body;
      t0 = Clock::now();
      Reply u = Call(client_, "POST", 2, unwrap_path, unwrap_body, token_);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      ASSERT_EQ(u.status, 200) << u.body;
    }
  };
  std::vector<double> quiet;
  honest_round(quiet);

  const int n = 4 * workers;
  std::vector<std::unique_ptr<RawConn>> attackers;
  auto open = [&](int port, const std::string& bytes) {
    auto c = std::make_unique<RawConn>(port, Source(static_cast<int>(attackers.size())).c_str());
    ASSERT_TRUE(c->ok());
    ASSERT_TRUE(c->Send(bytes));
    attackers.push_back(std::move(c));
  };
  for (int i = 0; i < n; ++i) {
    // A whole header, then 1 byte of the body; the rest never comes. No credentials needed.
    open(base_ + 1,
         "POST /identity/token HTTP/1.1\r\nHost: x\r\nContent-Type: "
         "application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\ng");
    open(base_ + 2, "POST " + unwrap_path +
                        " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 4000\r\n\r\n{");
    // Half a header.
    open(base_ + 1, "POST /identity/token HTTP/1.1\r\nHost: x\r\n");
    open(base_ + 2, "POST " + unwrap_path + " HTTP/1.1\r\n");
  }
  std::vector<double> attacked;
  // A trickle keeps every attacker alive meanwhile: a byte every 200 ms from each.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (auto& a : attackers) (void)a->Send("a");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  honest_round(attacked);
  stop = true;
  trickle.join();
  size_t still_open = 0;
  for (auto& a : attackers) still_open += a->WaitClosed(std::chrono::milliseconds(0)) ? 0 : 1;
  EXPECT_EQ(still_open, attackers.size()) << "the attack ended before the honest requests did";
  std::printf(
      "[ figures  ] %zu attackers (%d slow bodies, %d slow headers) on %d workers:\n"
      "[ figures  ] honest token+unwrap, 40 requests: quiet p50 %.2f ms max %.2f ms; "
      "attacked p50 %.2f ms max %.2f ms\n",
      attackers.size(), 2 * n, 2 * n, workers, Percentile(quiet, 0.5), Percentile(quiet, 1.0),
      Percentile(attacked, 0.5), Percentile(attacked, 1.0));
}

// A storage failure whose message holds SQL (a table dropped under the running daemon) is
// answered 500 "internal error" with the request id; the SQL goes to veild's log only.
TEST_F(SecurityE2eTest, InternalErrorsRevealNoSql) {
  Start();
  MakeKey();
  auto dropped = RunProcess({"/usr/bin/sqlite3", data() + "/veil.db",
                             "PRAGMA busy_timeout=5000; DROP TABLE kms_registrations;"});
  ASSERT_EQ(dropped.exit_code, 0) << dropped.output;
  Reply r = Call(client_, "GET", 2, "/api/v2/keys/" + key_ + "/registrations", "", token_);
  ASSERT_GE(r.status, 500) << r.body;
  for (const char* leak : {"sqlite", "SELECT", "kms_registrations", "no such table", "FROM"}) {
    EXPECT_EQ(r.body.find(leak), std::string::npos) << leak << " in " << r.body;
  }
  EXPECT_NE(r.body.find("internal error"), std::string::npos) << r.body;
  // The operator finds the cause in the log, under the same request id.
  EXPECT_NE(ReadFile(log()).find("no such table"), std::string::npos);
  const std::string events = ReadFile(data() + "/audit/events.jsonl");
  EXPECT_EQ(events.find("no such table"), std::string::npos);
}

// The 401 bodies for a forged signature, a token of a deleted API key (revoked), a token naming a
// signing key IAM never had (unknown kid), a malformed token and no token at all are the same,
// but for the request's own ids. (An expired token: phases_test.cc, as its clock cannot be moved
// here.)
TEST_F(SecurityE2eTest, EveryUnauthenticatedAnswerIsTheSame) {
  Start();
  const std::string admin = Login(admin_key_file());
  ASSERT_FALSE(admin.empty());
  // The token of a service ID's API key, then the key deleted.
  Reply sid = Call(client_, "POST", 1, "/v1/serviceids", R"({"name":"victim"})", admin);
  ASSERT_EQ(sid.status, 201) << sid.body;
  Reply key =
      Call(client_, "POST", 1, "/v1/apikeys",
           R"({"name":"k","iam_id":")" + std::string(sid.json.at("iam_id").as_string()) + R"("})",
           admin);
  ASSERT_EQ(key.status, 201) << key.body;
  Reply login = Call(client_, "POST", 1, "/identity/token",
                     TokenBody(std::string(key.json.at("apikey").as_string())));
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string revoked(login.json.at("access_token").as_string());
  ASSERT_EQ(Call(client_, "DELETE", 1, "/v1/apikeys/" + std::string(key.json.at("id").as_string()),
                 "", admin)
                .status,
            204);
  // A forged signature: the admin token with its payload changed.
  std::string forged = admin;
  size_t dot = forged.find('.');
  forged[dot + 5] = forged[dot + 5] == 'A' ? 'B' : 'A';
  // A token naming a signing key IAM never published (its header re-encoded).
  const std::string header = R"({"alg":"RS256","typ":"JWT","kid":"no-such-key"})";
  const std::string unknown_kid =
      Base64UrlEncode(std::span(reinterpret_cast<const uint8_t*>(header.data()), header.size())) +
      admin.substr(admin.find('.'));

  instance_ = "00000000-0000-4000-8000-000000000000";  // the KMS asks for one before anything
  std::vector<std::string> bodies;
  for (const std::string& token :
       {forged, revoked, unknown_kid, std::string("not-a-jwt"), std::string()}) {
    for (int service : {1, 2}) {
      Reply r = Call(client_, "GET", service, service == 1 ? "/v1/serviceids" : "/api/v2/keys", "",
                     token);
      EXPECT_EQ(r.status, 401) << r.body;
      // The request's own ids differ; the rest must not.
      json::value v = r.json;
      if (v.is_object()) {
        if (auto* ctx = v.as_object().if_contains("context")) {
          ctx->as_object().erase("requestId");
          ctx->as_object().erase("correlationId");
        }
        v.as_object().erase("trace");
      }
      bodies.push_back(std::to_string(service) + json::serialize(v));
    }
  }
  for (size_t i = 2; i < bodies.size(); ++i) EXPECT_EQ(bodies[i], bodies[i % 2]) << i;
  for (const std::string& b : bodies) {
    for (const char* cause : {"expired", "deleted", "signature", "kid", "malformed", "revoked"}) {
      EXPECT_EQ(b.find(cause), std::string::npos) << cause << " in " << b;
    }
  }
}

}  // namespace
}  // namespace veil::testing
