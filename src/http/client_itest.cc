// HttpClient against the server over loopback: streaming both ways, TLS, connection reuse.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "http/test_support.h"

namespace veil::http {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t k64MiB = 64ull << 20;

// The byte at offset i of the test streams: not constant, not periodic at any power of two.
char PatternByte(uint64_t i) { return static_cast<char>((i * 31 + (i >> 13)) % 251); }

// Fills `out` with the pattern from `offset`; returns the count (bounded by `total`).
size_t FillPattern(std::span<char> out, uint64_t offset, uint64_t total) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), total - offset));
  for (size_t i = 0; i < n; ++i) out[i] = PatternByte(offset + i);
  return n;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(std::span<const char> data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string Hex() {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string out;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(b, sizeof b, "%02x", md[i]);
      out += b;
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string PatternSha256(uint64_t total) {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < total;) {
    size_t n = FillPattern(buf, off, total);
    h.Update(std::span<const char>(buf.data(), n));
    off += n;
  }
  return h.Hex();
}

RuntimeOptions TestRuntime() {
  RuntimeOptions o;
  o.io_threads = 2;
  o.worker_threads = 4;
  o.shutdown_grace = 3s;
  o.handle_signals = false;
  return o;
}

using testing::Anonymous;

TEST(StreamingTest, Upload64MiBIsStreamedToTheHandlerNotBuffered) {
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> produced_at_first_read{0};
  Router r;
  RouteOptions big = Anonymous();
  big.body_limit = k64MiB;
  ASSERT_TRUE(r.Add(
      "PUT", "/upload",
      [&](RequestContext& ctx) -> Result<Response> {
        Sha256 h;
        uint64_t total = 0;
        size_t largest = 0;
        std::vector<char> buf(256 * 1024);
        for (;;) {
          auto n = ctx.request().body().Read(buf);
          if (!n) return tl::unexpected(n.error());
          if (*n == 0) break;
          if (total == 0) produced_at_first_read = produced.load();
          largest = std::max(largest, *n);
          h.Update(std::span<const char>(buf.data(), *n));
          total += *n;
        }
        return Response::Json(200, {{"bytes", total}, {"sha256", h.Hex()}});
      },
      big));
  Runtime runtime(TestRuntime());
  auto port = runtime.AddServer({}, std::move(r));
  ASSERT_TRUE(port);
  runtime.RunInBackground();

  HttpClient client;
  for (bool chunked : {false, true}) {
    produced = 0;
    ClientRequest req;
    req.method = "PUT";
    req.url = "http://127.0.0.1:" + std::to_string(*port) + "/upload";
    if (!chunked) req.body_length = k64MiB;
    req.body_source = [&](std::span<char> out) -> Result<size_t> {
      size_t n = FillPattern(out, produced, k64MiB);
      produced += n;
      return n;
    };
    auto resp = client.Send(req);
    ASSERT_TRUE(resp) << resp.error().ToString();
    ASSERT_EQ(resp->status, 200) << resp->body;
    EXPECT_NE(resp->body.find("\"bytes\":67108864"), std::string::npos) << resp->body;
    EXPECT_NE(resp->body.find(PatternSha256(k64MiB)), std::string::npos);
    // The handler had its first bytes long before the client had produced the whole body:
    // at most the socket buffers and the server's bounded queue lie in between.
    EXPECT_LT(produced_at_first_read.load(), 16ull << 20) << (chunked ? "chunked" : "length");
  }
  runtime.Stop();
  runtime.Join();
}

TEST(StreamingTest, UploadOverTheLimitIsRefusedWhileStreaming) {
  Router r;
  RouteOptions o = Anonymous();
  o.body_limit = 1 << 20;
  ASSERT_TRUE(r.Add(
      "PUT", "/upload",
      [](RequestContext& ctx) -> Result<Response> {
        std::vector<char> buf(65536);
        for (;;) {
          auto n = ctx.request().body().Read(buf);
          if (!n) return tl::unexpected(n.error());
          if (*n == 0) return Response::Empty(204);
        }
      },
      o));
  Runtime runtime(TestRuntime());
  auto port = runtime.AddServer({}, std::move(r));
  ASSERT_TRUE(port);
  runtime.RunInBackground();
  HttpClient client;
  ClientRequest req;
  req.method = "PUT";
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/upload";
  uint64_t sent = 0;
  req.body_source = [&](std::span<char> out) -> Result<size_t> {
    size_t n = FillPattern(out, sent, 3 << 20);
    sent += n;
    return n;
  };
  auto resp = client.Send(req);
  ASSERT_TRUE(resp) << resp.error().ToString();
  EXPECT_EQ(resp->status, 413);
  runtime.Stop();
  runtime.Join();
}

TEST(StreamingTest, Download64MiBChunkedIsPulledAsTheClientReads) {
  std::atomic<uint64_t> produced{0};
  Router r;
  ASSERT_TRUE(r.Add(
      "GET", "/download",
      [&](RequestContext& ctx) -> Result<Response> {
        auto offset = std::make_shared<uint64_t>(0);
        bool known = ctx.request().Query("length") == "known";
        return Response::Stream(
            200,
            [offset, &produced](std::span<char> out) -> Result<size_t> {
              size_t n = FillPattern(out, *offset, k64MiB);
              *offset += n;
              produced += n;
              return n;
            },
            known ? std::optional<uint64_t>(k64MiB) : std::nullopt);
      },
      Anonymous()));
  Runtime runtime(TestRuntime());
  auto port = runtime.AddServer({}, std::move(r));
  ASSERT_TRUE(port);
  runtime.RunInBackground();

  HttpClient client;
  const std::string expected = PatternSha256(k64MiB);
  for (std::string mode : {"chunked", "known"}) {
    produced = 0;
    ClientRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(*port) + "/download?length=" + mode;
    Sha256 h;
    uint64_t received = 0;
    uint64_t produced_at_first_chunk = 0;
    auto resp = client.Send(req, [&](std::span<const char> chunk) -> Status {
      if (received == 0) produced_at_first_chunk = produced.load();
      h.Update(chunk);
      received += chunk.size();
      return OkStatus();
    });
    ASSERT_TRUE(resp) << resp.error().ToString();
    EXPECT_EQ(resp->status, 200);
    EXPECT_TRUE(resp->body.empty());
    if (mode == "chunked") {
      EXPECT_EQ(resp->headers.Get("Transfer-Encoding"), "chunked");
    } else {
      EXPECT_EQ(resp->headers.Get("Content-Length"), std::to_string(k64MiB));
    }
    EXPECT_EQ(received, k64MiB);
    EXPECT_EQ(h.Hex(), expected);
    EXPECT_LT(produced_at_first_chunk, 16ull << 20) << mode;
  }
  // A sink error aborts the transfer and is what Send returns.
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/download";
  auto aborted =
      client.Send(req, [](std::span<const char>) -> Status { return DataLoss("disk full"); });
  ASSERT_FALSE(aborted);
  EXPECT_EQ(aborted.error().message, "disk full");
  runtime.Stop();
  runtime.Join();
}

TEST(ClientTest, ReusesKeepAliveConnectionsAndReconnectsAfterIdleClose) {
  Router r;
  ASSERT_TRUE(r.Add(
      "GET", "/port",
      [](RequestContext& ctx) -> Result<Response> {
        return Response::Text(200, std::to_string(ctx.request().remote_port));
      },
      Anonymous()));
  Runtime runtime(TestRuntime());
  ServerOptions so;
  so.idle_timeout = 300ms;
  auto port = runtime.AddServer(so, std::move(r));
  ASSERT_TRUE(port);
  runtime.RunInBackground();
  HttpClient client;
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/port";
  std::string first;
  for (int i = 0; i < 10; ++i) {
    auto resp = client.Send(req);
    ASSERT_TRUE(resp) << resp.error().ToString();
    if (i == 0) first = resp->body;
    EXPECT_EQ(resp->body, first);  // same client port: same connection
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  std::this_thread::sleep_for(600ms);  // the server closes the idle connection
  auto resp = client.Send(req);
  ASSERT_TRUE(resp) << resp.error().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(client.connections_opened(), 2u);
  runtime.Stop();
  runtime.Join();
}

TEST(ClientTest, ReportsBadUrlsRefusedConnectionsAndTimeouts) {
  ClientOptions co;
  co.connect_timeout = 500ms;
  co.request_timeout = 300ms;
  HttpClient client(co);
  ClientRequest req;
  req.url = "ftp://127.0.0.1/x";
  EXPECT_EQ(client.Send(req).error().code, ErrorCode::kInvalidArgument);
  req.url = "not a url";
  EXPECT_EQ(client.Send(req).error().code, ErrorCode::kInvalidArgument);
  req.url = "http://127.0.0.1:9/x";  // discard port: nothing listens
  EXPECT_EQ(client.Send(req).error().code, ErrorCode::kUnavailable);

  Router r;
  ASSERT_TRUE(r.Add(
      "GET", "/slow",
      [](RequestContext&) -> Result<Response> {
        std::this_thread::sleep_for(1s);
        return Response::Text(200, "late");
      },
      Anonymous()));
  Runtime runtime(TestRuntime());
  auto port = runtime.AddServer({}, std::move(r));
  ASSERT_TRUE(port);
  runtime.RunInBackground();
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/slow";
  auto resp = client.Send(req);
  ASSERT_FALSE(resp);
  EXPECT_EQ(resp.error().code, ErrorCode::kDeadlineExceeded);
  runtime.Stop();
  runtime.Join();
}

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI.
class TlsFiles {
 public:
  TlsFiles() {
    char tmpl[] = "/tmp/veil-http-tls-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-days 1 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key() + " -out " + cert() + " >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  ~TlsFiles() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  bool ok() const { return ok_; }
  std::string cert() const { return dir_ + "/cert.pem"; }
  std::string key() const { return dir_ + "/key.pem"; }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(TlsTest, RoundTripWithVerifiedSelfSignedCertificate) {
  TlsFiles files;
  ASSERT_TRUE(files.ok()) << "the openssl CLI could not make a test certificate (make deps)";
  Router r;
  ASSERT_TRUE(r.Add(
      "POST", "/echo",
      [](RequestContext& ctx) -> Result<Response> {
        auto body = ctx.request().body().ReadAll(1 << 20);
        if (!body) return tl::unexpected(body.error());
        return Response::Text(200, "tls:" + *body);
      },
      Anonymous()));
  Runtime runtime(TestRuntime());
  ServerOptions so;
  so.tls = TlsOptions{files.cert(), files.key()};
  auto port = runtime.AddServer(so, std::move(r));
  ASSERT_TRUE(port) << port.error().ToString();
  runtime.RunInBackground();

  ClientOptions co;
  co.ca_file = files.cert();
  HttpClient client(co);
  for (std::string host : {"127.0.0.1", "localhost"}) {
    ClientRequest req;
    req.method = "POST";
    req.url = "https://" + host + ":" + std::to_string(*port) + "/echo";
    req.body = "secret payload";
    for (int i = 0; i < 3; ++i) {
      auto resp = client.Send(req);
      ASSERT_TRUE(resp) << host << ": " << resp.error().ToString();
      EXPECT_EQ(resp->status, 200);
      EXPECT_EQ(resp->body, "tls:secret payload");
    }
  }
  EXPECT_EQ(client.connections_opened(), 2u);  // one per host, reused

  // Without trusting the certificate, the handshake fails.
  HttpClient strict;
  ClientRequest req;
  req.url = "https://127.0.0.1:" + std::to_string(*port) + "/echo";
  auto refused = strict.Send(req);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);

  // Plain HTTP to the TLS port gets nothing useful, and the server keeps serving.
  ClientOptions quick;
  quick.connect_timeout = 1s;
  quick.request_timeout = 1s;
  HttpClient plain(quick);
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/echo";
  EXPECT_FALSE(plain.Send(req));
  req.method = "POST";
  req.url = "https://127.0.0.1:" + std::to_string(*port) + "/echo";
  req.body = "again";
  auto again = client.Send(req);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "tls:again");

  // Unreadable certificate files are refused when the server is added.
  ServerOptions broken;
  broken.tls = TlsOptions{"/nonexistent/cert.pem", files.key()};
  auto bad = runtime.AddServer(broken, Router());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  runtime.Stop();
  runtime.Join();
}

}  // namespace
}  // namespace veil::http
