// Test fixture for the IAM API over loopback: the IamFixture's parts behind a real http::Runtime
// with the IAM routes, the bearer authenticator, the IAM error dialect and an audit sink that
// keeps events in memory and in a JSON-lines file. Header-only; used by *_itest.cc only.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <string>

#include "audit/in_memory_sink.h"
#include "audit/jsonl_file_sink.h"
#include "http/client.h"
#include "http/server.h"
#include "iam/api/errors.h"
#include "iam/api/iam_api.h"
#include "iam/api/principal.h"
#include "iam/login_limiter.h"
#include "iam/testing/iam_fixture.h"

namespace veil::iam::api::testing {

using namespace std::chrono_literals;

// Records every event in memory and in a file.
class TeeSink final : public audit::AuditSink {
 public:
  explicit TeeSink(const std::string& path) : file_(*audit::JsonLinesFileSink::Open(path)) {}
  Status Emit(const audit::Event& event) override {
    VEIL_TRY(memory_.Emit(event));
    return file_->Emit(event);
  }
  audit::InMemorySink& memory() { return memory_; }

 private:
  audit::InMemorySink memory_;
  std::unique_ptr<audit::JsonLinesFileSink> file_;
};

struct Reply {
  int status = 0;
  http::Headers headers;
  std::string body;
  boost::json::value json;
};

class IamApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_unique<TeeSink>(f_.dir / "events.jsonl");
    StartServer();
    admin_token_ = Login(f_.admin_key);
    ASSERT_FALSE(admin_token_.empty());
  }
  void TearDown() override { StopServer(); }

  void StartServer() {
    LoginLimiterOptions limits;
    limits.burst = 3;
    limits.refill_interval = 10s;
    limiter_ = std::make_unique<LoginRateLimiter>(f_.clock, limits);
    deps_ = {f_.service.get(), f_.issuer.get(), f_.keys.get(), f_.authorizer.get(), limiter_.get()};
    http::Router router;
    ASSERT_TRUE(AddIamRoutes(router, deps_));
    http::RuntimeOptions runtime_options;
    runtime_options.io_threads = 1;
    runtime_options.worker_threads = 4;
    runtime_options.shutdown_grace = 3s;
    runtime_options.handle_signals = false;
    runtime_ = std::make_unique<http::Runtime>(runtime_options);
    http::ServerOptions options;
    options.service_name = "iam";
    http::ServerHooks hooks;
    hooks.authenticator = MakeIamServiceAuthenticator(*f_.verifier);
    hooks.error_renderer = IamErrorRenderer();
    hooks.audit = sink_.get();
    auto port = runtime_->AddServer(options, std::move(router), hooks);
    ASSERT_TRUE(port) << port.error().ToString();
    port_ = *port;
    runtime_->RunInBackground();
  }

  void StopServer() {
    if (!runtime_) return;
    runtime_->Stop();
    runtime_->Join();
    runtime_.reset();
  }

  // A restart of veild: new keys, verifier and server on the same database.
  void Restart() {
    StopServer();
    f_.Start();
    StartServer();
  }

  Reply Call(std::string method, std::string path, const std::string& token = "",
             std::string body = "", const http::Headers& extra = {}) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    for (const auto& [name, value] : extra) req.headers.Add(name, value);
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    if (!body.empty() && !req.headers.Has("Content-Type")) {
      req.headers.Set("Content-Type", "application/json");
    }
    req.body = std::move(body);
    auto resp = client_.Send(req);
    Reply r;
    if (!resp) {
      ADD_FAILURE() << resp.error().ToString();
      return r;
    }
    r.status = resp->status;
    r.headers = resp->headers;
    r.body = resp->body;
    if (!r.body.empty()) {
      boost::system::error_code ec;
      r.json = boost::json::parse(r.body, ec);
    }
    return r;
  }

  Reply TokenRequest(const std::string& apikey) {
    http::Headers h;
    h.Set("Content-Type", "application/x-www-form-urlencoded");
    return Call("POST", "/identity/token", "",
                "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + apikey, h);
  }

  std::string Login(const std::string& apikey) {
    Reply r = TokenRequest(apikey);
    if (r.status != 200) {
      ADD_FAILURE() << r.status << " " << r.body;
      return "";
    }
    return std::string(r.json.at("access_token").as_string());
  }

  // A raw HTTP/1.1 exchange from `source_ip` (any 127.0.0.0/8 address works on Linux loopback):
  // the status and body.
  std::pair<int, std::string> RawFrom(const char* source_ip, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_ip, &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port_);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      ::close(fd);
      return {-1, ""};
    }
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string in;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<size_t>(n));
    ::close(fd);
    if (in.size() < 12) return {-1, in};
    size_t body = in.find("\r\n\r\n");
    return {std::atoi(in.c_str() + 9), body == std::string::npos ? "" : in.substr(body + 4)};
  }

  std::string RawTokenRequest(const std::string& apikey) {
    std::string body = "grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=" + apikey;
    return "POST /identity/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // `r` is an IAM error body with `status` and `code`.
  void ExpectIamError(const Reply& r, int status, std::string_view code) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.json.is_object()) << r.body;
    EXPECT_EQ(r.json.at("errorCode").as_string(), code) << r.body;
    EXPECT_TRUE(r.json.at("errorMessage").is_string());
    EXPECT_TRUE(r.json.at("context").at("requestId").is_string());
  }

  // Events whose correlation id is `id`.
  std::vector<audit::Event> EventsOf(const std::string& correlation_id) {
    std::vector<audit::Event> out;
    for (const audit::Event& e : sink_->memory().events()) {
      if (e.correlation_id == correlation_id) out.push_back(e);
    }
    return out;
  }

  static http::Headers Correlation(const std::string& id) {
    http::Headers h;
    h.Set("correlation-id", id);
    return h;
  }

  iam::testing::IamFixture f_;
  std::unique_ptr<TeeSink> sink_;
  std::unique_ptr<LoginRateLimiter> limiter_;
  IamApiDeps deps_;
  std::unique_ptr<http::Runtime> runtime_;
  uint16_t port_ = 0;
  http::HttpClient client_;
  std::string admin_token_;
};

}  // namespace veil::iam::api::testing
