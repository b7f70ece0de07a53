// veil-slow-clients-bench: how an honest client fares while slow clients attack a running veild
// before any login (docs/benchmarks.md "Slow clients"). It measures token exchanges and KMS
// unwraps of one client on 127.0.0.1, first alone, then while `--attackers` connections from
// 127.0.0.2... each hold a half-sent body or a half-sent header on the same two services, and
// prints both beside each other. The figure to meet: every attacked request answered within 1 s.
//
//   veil-slow-clients-bench --port-base 19440 --apikey-file DATA/admin-apikey [--attackers 64]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/testing/raw_conn.h"

namespace {

namespace json = boost::json;
using veil::http::testing::RawConn;
using Clock = std::chrono::steady_clock;

struct Bench {
  int base = 19440;
  veil::http::HttpClient client;
  std::string token, instance, key, wdek;

  veil::Result<veil::http::ClientResponse> Call(const std::string& method, int service,
                                                const std::string& path, const std::string& body) {
    veil::http::ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(base + service) + path;
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    if (!instance.empty()) req.headers.Set("bluemix-instance", instance);
    req.headers.Set("Content-Type", !body.empty() && body[0] == '{'
                                        ? "application/json"
                                        : "application/x-www-form-urlencoded");
    req.body = body;
    return client.Send(req);
  }

  // One token exchange and one unwrap; their latencies in ms (-1 for a failure).
  std::pair<double, double> Round(const std::string& token_body) {
    auto t0 = Clock::now();
    auto t = Call("POST", 1, "/identity/token", token_body);
    double a = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    t0 = Clock::now();
    auto u = Call("POST", 2, "/api/v2/keys/" + key + "/actions/unwrap",
                  R"({"ciphertext":")" + wdek + R"("})");
    double b = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    return {t && t->status == 200 ? a : -1, u && u->status == 200 ? b : -1};
  }
};

struct Stats {
  double p50 = 0, p99 = 0, max = 0;
  int failures = 0;
};

Stats Summarize(std::vector<double> ms) {
  Stats s;
  s.failures = static_cast<int>(std::count(ms.begin(), ms.end(), -1.0));
  std::erase(ms, -1.0);
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
  };
  s.p50 = at(0.5);
  s.p99 = at(0.99);
  s.max = ms.back();
  return s;
}

void Print(const char* what, const Stats& quiet, const Stats& attacked) {
  std::printf(
      "  %-7s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms   |  %7.2f ms  %7.2f ms  %7.2f ms"
      "  failures %d\n",
      what, quiet.p50, quiet.p99, quiet.max, attacked.p50, attacked.p99, attacked.max,
      attacked.failures + quiet.failures);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Honest latency of token and unwrap requests while slow clients attack veild"};
  Bench b;
  std::string apikey_file;
  int attackers = 64;
  int requests = 200;
  app.add_option("--port-base", b.base, "veild's --port-base")->required();
  app.add_option("--apikey-file", apikey_file, "an administrator's API key")->required();
  app.add_option("--attackers", attackers, "slow connections (half bodies, half headers)");
  app.add_option("--requests", requests, "honest token exchanges and unwraps, each");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(apikey_file);
  std::string apikey((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!apikey.empty() && (apikey.back() == '\n' || apikey.back() == '\r')) apikey.pop_back();
  const std::string token_body =
      "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + apikey;
  auto login = b.Call("POST", 1, "/identity/token", token_body);
  if (!login || login->status != 200) {
    std::fprintf(stderr, "login failed\n");
    return 1;
  }
  b.token = std::string(json::parse(login->body).at("access_token").as_string());
  auto inst = b.Call("POST", 1, "/v2/resource_instances",
                     R"({"name":"slow-bench","resource_id":"kms","target":"local"})");
  if (!inst || inst->status != 201) return 1;
  b.instance = std::string(json::parse(inst->body).at("guid").as_string());
  auto key = b.Call("POST", 2, "/api/v2/keys",
                    R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json",)"
                    R"("collectionTotal":1},"resources":[{"type":)"
                    R"("application/vnd.ibm.kms.key+json","name":"crk","extractable":false}]})");
  if (!key || key->status != 201) return 1;
  b.key = std::string(json::parse(key->body).at("resources").at(0).at("id").as_string());
  auto wrap = b.Call("POST", 2, "/api/v2/keys/" + b.key + "/actions/wrap", "{}");
  if (!wrap || wrap->status != 200) return 1;
  b.wdek = std::string(json::parse(wrap->body).at("ciphertext").as_string());

  auto measure = [&](std::vector<double>& tok, std::vector<double>& unw) {
    for (int i = 0; i < requests; ++i) {
      auto [t, u] = b.Round(token_body);
      tok.push_back(t);
      unw.push_back(u);
    }
  };
  std::vector<double> quiet_tok, quiet_unw, att_tok, att_unw;
  measure(quiet_tok, quiet_unw);

  std::vector<std::unique_ptr<RawConn>> conns;
  const std::string unwrap = "/api/v2/keys/" + b.key + "/actions/unwrap";
  for (int i = 0; i < attackers; ++i) {
    std::string source = "127.0.0." + std::to_string(2 + i % 250);
    int service = 1 + i % 2;
    std::string path = service == 1 ? "/identity/token" : unwrap;
    std::string bytes = "POST " + path + " HTTP/1.1\r\nHost: x\r\n";
    if ((i / 2) % 2 == 0) bytes += "Content-Length: 4000\r\n\r\nx";  // a slow body
    auto c = std::make_unique<RawConn>(b.base + service, source.c_str());
    if (c->ok() && c->Send(bytes)) conns.push_back(std::move(c));
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (auto& c : conns) (void)c->Send("a");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  measure(att_tok, att_unw);
  stop = true;
  trickle.join();
  size_t open = 0;
  for (auto& c : conns) open += c->WaitClosed(std::chrono::milliseconds(0)) ? 0 : 1;

  std::printf("  %zu slow connections (%zu still open at the end), %d honest requests of each:\n",
              conns.size(), open, requests);
  std::printf("  %-7s %-41s |  %s\n", "", "alone", "under attack");
  Stats qt = Summarize(quiet_tok), qu = Summarize(quiet_unw);
  Stats at = Summarize(att_tok), au = Summarize(att_unw);
  Print("token", qt, at);
  Print("unwrap", qu, au);
  const bool met = at.failures == 0 && au.failures == 0 && at.max < 1000 && au.max < 1000;
  std::printf("  every attacked request answered within 1 s: %s\n", met ? "yes" : "NO");
  return 0;
}
