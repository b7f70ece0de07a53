// The server over real loopback sockets: keep-alive, limits, bad input, audit, shutdown.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/in_memory_sink.h"
#include "common/log.h"
#include "http/client.h"
#include "http/error_map.h"
#include "http/json_body.h"
#include "http/server.h"
#include "http/test_support.h"

namespace veil::http {
namespace {

using namespace std::chrono_literals;
using testing::RawConn;
using testing::RawResponse;
using testing::TestServer;

using testing::Anonymous;

RouteOptions Anonymous(std::string action) {
  RouteOptions o = Anonymous();
  o.action = std::move(action);
  return o;
}

// GET /hello -> "hello"; POST /echo -> the body; POST /json -> {"got": <parsed body>};
// GET /items/{id} -> 404 error from the handler unless id == "1".
Router BasicRouter() {
  Router r;
  EXPECT_TRUE(r.Add(
      "GET", "/hello",
      [](RequestContext&) -> Result<Response> { return Response::Text(200, "hello"); },
      Anonymous("test.greeting.read")));
  EXPECT_TRUE(r.Add(
      "POST", "/echo",
      [](RequestContext& ctx) -> Result<Response> {
        auto body = ctx.request().body().ReadAll(1 << 20);
        if (!body) return tl::unexpected(body.error());
        return Response::Text(200, std::move(*body));
      },
      Anonymous("test.echo.create")));
  RouteOptions small = Anonymous("test.json.create");
  small.body_limit = 1024;
  EXPECT_TRUE(r.Add(
      "POST", "/json",
      [](RequestContext& ctx) -> Result<Response> {
        auto v = ParseJsonBody(ctx, 1024);
        if (!v) return tl::unexpected(v.error());
        return Response::Json(200, boost::json::object{{"got", *v}});
      },
      small));
  EXPECT_TRUE(r.Add(
      "GET", "/items/{id}",
      [](RequestContext& ctx) -> Result<Response> {
        if (ctx.request().PathParam("id") != "1") return NotFound("item does not exist");
        return Response::Text(200, "item 1");
      },
      Anonymous("test.items.read")));
  return r;
}

boost::json::object JsonOf(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

// The IBM error body's status_code, or -1.
int64_t ErrorStatus(const RawResponse& r) {
  auto o = JsonOf(r.body);
  if (!o.contains("status_code") || !o.contains("errors") || !o.contains("trace")) return -1;
  return o.at("status_code").as_int64();
}

TEST(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.ReadResponse();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    EXPECT_TRUE(r->headers.Get("Date"));
    EXPECT_TRUE(r->headers.Get("x-request-id"));
  }
  EXPECT_EQ(server.runtime().active_connections(), 1u);

  // Connection: close, and HTTP/1.0 without keep-alive, end the connection after the answer.
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto last = c.ReadResponse();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->headers.Get("Connection"), "close");
  EXPECT_TRUE(c.WaitClosed(2s));
  RawConn old(server.port());
  old.Send("GET /hello HTTP/1.0\r\n\r\n");
  auto r10 = old.ReadResponse();
  ASSERT_TRUE(r10);
  EXPECT_EQ(r10->status, 200);
  EXPECT_EQ(r10->body, "hello");
  EXPECT_TRUE(old.WaitClosed(2s));
}

// Responses larger than a socket's send buffer, to clients that read late, on many connections at
// once: the write that resumes when a socket drains must send its own response's bytes. (The
// stream layer once handed Asio a span of a stack array that was gone by then: another
// connection's bytes, or EFAULT, went out.)
TEST(ServerTest, LargeResponsesToSlowReadersKeepTheirOwnBytes) {
  constexpr size_t kSize = 6 << 20;
  auto body_of = [](int n) {
    std::string b(kSize, '\0');
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>((i * 31 + n * 7) % 251);
    return b;
  };
  Router router;
  RouteOptions anonymous;
  anonymous.authenticated = false;
  ASSERT_TRUE(router.Add(
      "GET", "/stream/{n}",
      [&](RequestContext& ctx) -> Result<Response> {
        const int n = std::stoi(std::string(*ctx.request().PathParam("n")));
        return Response::Stream(200, StringSource(body_of(n)), kSize);
      },
      anonymous));
  ASSERT_TRUE(router.Add(
      "GET", "/string/{n}",
      [&](RequestContext& ctx) -> Result<Response> {
        return Response::Text(200, body_of(std::stoi(std::string(*ctx.request().PathParam("n")))));
      },
      anonymous));
  TestServer server(std::move(router));
  std::vector<std::thread> clients;
  std::atomic<int> bad{0};
  for (int n = 0; n < 8; ++n) {
    clients.emplace_back([&, n] {
      RawConn c(server.port());
      const std::string kind = n % 2 == 0 ? "stream" : "string";
      if (!c.Send("GET /" + kind + "/" + std::to_string(n) + " HTTP/1.1\r\nHost: x\r\n\r\n")) {
        ++bad;
        return;
      }
      std::this_thread::sleep_for(300ms);  // every server write now waits for the socket
      auto r = c.ReadResponse(10s);
      if (!r || r->status != 200 || r->body != body_of(n)) ++bad;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    batch += (i % 2 == 0) ? "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                          : "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nping" +
                                std::to_string(i % 10);
  }
  ASSERT_TRUE(c.Send(batch));
  for (int i = 0; i < 20; ++i) {
    auto r = c.ReadResponse();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, i % 2 == 0 ? std::string("item 1") : "ping" + std::to_string(i % 10));
  }
}

TEST(ServerTest, CorrelationIdIsPassedThroughOrGenerated) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\ncorrelation-id: abc-123\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.Get("correlation-id"), "abc-123");

  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Correlation-ID: legacy.9\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.Get("correlation-id"), "legacy.9");
  EXPECT_EQ(r->headers.Get("X-Correlation-ID"), "legacy.9");

  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  auto generated = r->headers.Get("correlation-id");
  ASSERT_TRUE(generated);
  EXPECT_EQ(generated->size(), 36u);

  // A value that could forge log fields is replaced, not echoed.
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\ncorrelation-id: a b\"c\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_NE(r->headers.Get("correlation-id"), "a b\"c");

  auto events = server.sink().events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].correlation_id, "abc-123");
}

TEST(ServerTest, OversizedHeaderGets431) {
  ServerOptions o;
  o.max_header_bytes = 4096;
  TestServer server(BasicRouter(), o);
  RawConn c(server.port());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(ErrorStatus(*r), 431);
  EXPECT_TRUE(c.WaitClosed(3s));
  // The server is fine afterwards.
  RawConn c2(server.port());
  c2.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r2 = c2.ReadResponse();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
}

TEST(ServerTest, MalformedRequestLineGets400WithJsonBody) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  c.Send("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(ErrorStatus(*r), 400);
  EXPECT_TRUE(c.WaitClosed(3s));
  auto events = server.sink().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason_code, 400);
  EXPECT_EQ(events[0].outcome, "failure");
  EXPECT_EQ(events[0].action, "test.http.request");
}

TEST(ServerTest, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  c.Send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrorStatus(*r), 404);
  EXPECT_EQ(JsonOf(r->body)["errors"].as_array()[0].as_object()["code"].as_string(), "not_found");

  c.Send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers.Get("Allow"), "GET, HEAD");
  EXPECT_EQ(ErrorStatus(*r), 405);

  // A handler's own error goes through the same renderer.
  c.Send("GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(JsonOf(r->body)["errors"].as_array()[0].as_object()["message"].as_string(),
            "item does not exist");

  // HEAD on a GET route: the header, with the length, without the body.
  c.set_head_only(true);
  c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.Get("Content-Length"), "5");
  c.set_head_only(false);
  // ... and the connection is still in sync.
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
}

TEST(ServerTest, BodyOverRouteLimitByContentLengthGets413WithoutReadingIt) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  // Only the header is sent: the declared length alone earns the 413.
  c.Send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  auto r = c.ReadResponse(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorStatus(*r), 413);
  EXPECT_EQ(r->headers.Get("Connection"), "close");
}

TEST(ServerTest, ChunkedBodyOverRouteLimitGets413WhileStreaming) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  std::string req = "POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) req += "200\r\n" + std::string(512, ' ') + "\r\n";
  req += "0\r\n\r\n";
  c.Send(req);
  auto r = c.ReadResponse(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorStatus(*r), 413);
  auto events = server.sink().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason_code, 413);
  EXPECT_EQ(events[0].action, "test.json.create");
}

TEST(ServerTest, InvalidJsonGets400AndValidJsonIsParsed) {
  TestServer server(BasicRouter());
  HttpClient client;
  ClientRequest req;
  req.method = "POST";
  req.url = server.url("/json");
  req.body = R"({"name": "k1", "extractable": tru})";
  auto r = client.Send(req);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 400);
  auto o = JsonOf(r->body);
  EXPECT_EQ(o["status_code"].as_int64(), 400);
  EXPECT_EQ(o["errors"].as_array()[0].as_object()["code"].as_string(), "bad_request");

  req.body = R"({"name": "k1"})";
  r = client.Send(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(JsonOf(r->body)["got"].as_object()["name"].as_string(), "k1");
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST(ServerTest, StalledClientIsDisconnectedAfterRequestTimeout) {
  ServerOptions o;
  o.request_timeout = 300ms;
  TestServer server(BasicRouter(), o);
  // Mid-header.
  RawConn c(server.port());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n");
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(server.sink().size(), 0u);  // no complete header, no request

  // Mid-body (a small body, read before any worker is taken): the request gets its one event
  // (408).
  RawConn c2(server.port());
  c2.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  EXPECT_TRUE(c2.WaitClosed(5s));
  for (int i = 0; i < 100 && server.sink().size() == 0; ++i) std::this_thread::sleep_for(10ms);
  auto events = server.sink().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason_code, 408);
}

TEST(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o;
  o.idle_timeout = 300ms;
  TestServer server(BasicRouter(), o);
  RawConn c(server.port());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.ReadResponse());
  EXPECT_TRUE(c.WaitClosed(5s));
  for (int i = 0; i < 100 && server.runtime().active_connections() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server.runtime().active_connections(), 0u);
}

TEST(ServerTest, ExactlyOneAuditEventPerRequest) {
  Router r = BasicRouter();
  RouteOptions health = Anonymous();
  health.audit = false;
  health.inline_handler = true;
  ASSERT_TRUE(r.Add(
      "GET", "/healthz",
      [](RequestContext&) -> Result<Response> { return Response::Text(200, "ok"); }, health));
  RouteOptions secured;
  secured.action = "test.secret.read";
  ASSERT_TRUE(r.Add(
      "GET", "/secret",
      [](RequestContext& ctx) -> Result<Response> {
        ctx.event().target.id = "crn:v1:veil:private:test:local:a/acc::secret:1";
        return Response::Text(200, "s");
      },
      secured));
  Authenticator auth = [](const Request& req) -> Result<std::optional<Principal>> {
    auto h = req.headers.Get("Authorization");
    if (!h) return std::optional<Principal>();
    if (*h != "Bearer good") return Unauthenticated("invalid token");
    Principal p;
    p.id = "iam-ServiceId-1";
    p.name = "svc";
    p.type = "serviceid";
    p.credential_type = "token";
    return std::optional<Principal>(p);
  };
  TestServer server(std::move(r), {}, auth);
  RawConn c(server.port());
  struct Case {
    std::string request;
    int status;
  };
  std::vector<Case> cases = {
      {"GET /secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
       "User-Agent: itest/1\r\ncorrelation-id: corr-1\r\n\r\n",
       200},
      {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"PUT /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
      {"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n", 413},
      {"GET /secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bad\r\n\r\n", 401},
      {"GET /secret HTTP/1.1\r\nHost: x\r\n\r\n", 401},
      {"GET /items/7 HTTP/1.1\r\nHost: x\r\n\r\n", 404},
  };
  size_t expected = 0;
  for (const auto& k : cases) {
    RawConn one(server.port());
    one.Send(k.request);
    auto resp = one.ReadResponse();
    ASSERT_TRUE(resp) << k.request;
    EXPECT_EQ(resp->status, k.status) << k.request;
    ++expected;
    // Emitted before the response is written: already there.
    EXPECT_EQ(server.sink().size(), expected) << k.request;
  }
  // audit=false routes emit nothing.
  for (int i = 0; i < 3; ++i) {
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(c.ReadResponse());
  }
  auto events = server.sink().events();
  ASSERT_EQ(events.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(events[i].reason_code, cases[i].status);

  const audit::Event& ok = events[0];
  EXPECT_EQ(ok.action, "test.secret.read");
  EXPECT_EQ(ok.outcome, "success");
  EXPECT_EQ(ok.reason_type, "OK");
  EXPECT_EQ(ok.method, "GET");
  EXPECT_EQ(ok.request_path, "/secret");
  EXPECT_EQ(ok.correlation_id, "corr-1");
  EXPECT_EQ(ok.initiator.id, "iam-ServiceId-1");
  EXPECT_EQ(ok.initiator.type_uri, "service/security/account/serviceid");
  EXPECT_EQ(ok.initiator.credential_type, "token");
  EXPECT_EQ(ok.initiator.host_address, "127.0.0.1");
  EXPECT_EQ(ok.initiator.host_address_type, "IPv4");
  EXPECT_EQ(ok.initiator.host_agent, "itest/1");
  EXPECT_EQ(ok.target.id, "crn:v1:veil:private:test:local:a/acc::secret:1");
  EXPECT_EQ(ok.id.size(), 36u);
  EXPECT_FALSE(ok.event_time.empty());

  EXPECT_EQ(events[1].outcome, "failure");
  EXPECT_EQ(events[1].action, "test.http.request");
  EXPECT_EQ(events[3].action, "test.json.create");
  EXPECT_EQ(events[4].initiator.id, "anonymous");
  EXPECT_EQ(events[4].reason_for_failure, "invalid token");
  for (const auto& e : events) {
    EXPECT_EQ(e.message.find("Bearer"), std::string::npos);
    EXPECT_EQ(e.reason_for_failure.find("good"), std::string::npos);
  }
}

TEST(ServerTest, AuthenticatorDecidesWhoAndRoutesDecideWhetherAnonymousIsEnough) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/me", [](RequestContext& ctx) -> Result<Response> {
    return Response::Text(200, ctx.principal ? ctx.principal->id : "nobody");
  }));
  ASSERT_TRUE(r.Add(
      "GET", "/public",
      [](RequestContext& ctx) -> Result<Response> {
        return Response::Text(200, ctx.principal ? ctx.principal->id : "nobody");
      },
      Anonymous()));
  std::atomic<int> calls{0};
  Authenticator auth = [&calls](const Request& req) -> Result<std::optional<Principal>> {
    ++calls;
    auto h = req.headers.Get("Authorization");
    if (!h) return std::optional<Principal>();
    if (*h == "Bearer down") return Unavailable("IAM unreachable");
    if (*h != "Bearer alice") return Unauthenticated("token rejected");
    Principal p;
    p.id = "IBMid-alice";
    p.type = "user";
    return std::optional<Principal>(p);
  };
  TestServer server(std::move(r), {}, auth);
  HttpClient client;
  auto get = [&](std::string path, std::string token) {
    ClientRequest req;
    req.url = server.url(path);
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    auto resp = client.Send(req);
    EXPECT_TRUE(resp);
    return resp.value_or(ClientResponse{});
  };
  EXPECT_EQ(get("/me", "alice").body, "IBMid-alice");
  EXPECT_EQ(get("/me", "").status, 401);
  auto bad = get("/me", "mallory");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(JsonOf(bad.body)["errors"].as_array()[0].as_object()["code"].as_string(),
            "unauthorized");
  EXPECT_EQ(get("/me", "down").status, 503);
  EXPECT_EQ(get("/public", "").body, "nobody");
  EXPECT_EQ(get("/public", "alice").body, "IBMid-alice");
  // Bad credentials are refused even where anonymous would do, and before routing.
  EXPECT_EQ(get("/public", "mallory").status, 401);
  EXPECT_EQ(get("/no-such-route", "mallory").status, 401);
  EXPECT_EQ(get("/no-such-route", "").status, 404);
  EXPECT_EQ(calls.load(), 9);
}

TEST(ServerTest, MaxConnectionsRefusesTheExcess) {
  ServerOptions o;
  o.max_connections = 2;
  TestServer server(BasicRouter(), o);
  RawConn a(server.port()), b(server.port());
  for (int i = 0; i < 200 && server.runtime().active_connections() < 2; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(server.runtime().active_connections(), 2u);
  RawConn c(server.port());
  auto r = c.ReadResponse(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(ErrorStatus(*r), 503);
  EXPECT_TRUE(c.WaitClosed(5s));
  // The admitted connections still work, and a slot frees up when one closes.
  a.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto ra = a.ReadResponse();
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->status, 200);
  b.Close();
  for (int i = 0; i < 200 && server.runtime().active_connections() > 1; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  RawConn d(server.port());
  d.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto rd = d.ReadResponse();
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->status, 200);
}

TEST(ServerTest, InlineHandlerAnswersWhileEveryWorkerIsBusy) {
  Router r;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> blocked{0};
  ASSERT_TRUE(r.Add(
      "GET", "/slow",
      [released, &blocked](RequestContext&) -> Result<Response> {
        ++blocked;
        released.wait();
        return Response::Text(200, "slow");
      },
      Anonymous()));
  RouteOptions inl = Anonymous();
  inl.inline_handler = true;
  inl.audit = false;
  ASSERT_TRUE(r.Add(
      "GET", "/healthz",
      [](RequestContext&) -> Result<Response> { return Response::Text(200, "ok"); }, inl));
  RuntimeOptions ro = TestServer::DefaultRuntime();
  ro.worker_threads = 1;
  TestServer server(std::move(r), {}, {}, ro);
  RawConn slow(server.port());
  slow.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 200 && blocked.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(blocked.load(), 1);
  RawConn c(server.port());
  for (int i = 0; i < 20; ++i) {
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto h = c.ReadResponse(2s);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->body, "ok");
  }
  release.set_value();
  auto s = slow.ReadResponse();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->body, "slow");
}

TEST(ServerTest, GracefulStopLetsAnInFlightRequestFinish) {
  Router r;
  std::promise<void> started;
  ASSERT_TRUE(r.Add(
      "GET", "/work",
      [&started](RequestContext&) -> Result<Response> {
        started.set_value();
        std::this_thread::sleep_for(500ms);
        return Response::Text(200, "finished");
      },
      Anonymous()));
  auto server = std::make_unique<TestServer>(std::move(r));
  uint16_t port = server->port();
  RawConn idle(port);  // an idle keep-alive connection: closed by the shutdown
  RawConn busy(port);
  busy.Send("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
  started.get_future().wait();
  auto stop_start = std::chrono::steady_clock::now();
  server->runtime().Stop();
  auto resp = busy.ReadResponse(5s);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "finished");
  EXPECT_EQ(resp->headers.Get("Connection"), "close");
  EXPECT_TRUE(idle.WaitClosed(2s));
  server->runtime().Join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, 3s);
  // Nothing listens any more.
  RawConn after(port);
  if (after.ok()) {
    EXPECT_TRUE(after.WaitClosed(1s));
  }
  server.reset();
}

TEST(ServerTest, ShutdownGraceEndsRequestsThatDoNotFinish) {
  Router r;
  std::atomic<int> started{0};
  std::atomic<bool> read_failed{false};
  ASSERT_TRUE(r.Add(
      "PUT", "/upload",
      [&](RequestContext& ctx) -> Result<Response> {
        ++started;
        auto body = ctx.request().body().ReadAll(1 << 20);  // the client never finishes
        if (!body) read_failed = true;
        return Response::Empty(204);
      },
      Anonymous()));
  ASSERT_TRUE(r.Add(
      "GET", "/sleep",
      [&](RequestContext&) -> Result<Response> {
        ++started;
        std::this_thread::sleep_for(2500ms);  // not interruptible
        return Response::Empty(204);
      },
      Anonymous()));
  RuntimeOptions ro = TestServer::DefaultRuntime();
  ro.shutdown_grace = 200ms;
  auto server = std::make_unique<TestServer>(std::move(r), ServerOptions{}, Authenticator{}, ro);
  RawConn uploader(server->port());
  // Over buffered_body_limit: the body streams to the handler, which waits for the rest.
  uploader.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc");
  RawConn sleeper(server->port());
  sleeper.Send("GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 200 && started.load() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(started.load(), 2);
  auto t0 = std::chrono::steady_clock::now();
  server->runtime().Stop();
  server->runtime().Join();
  // grace (0.2 s) + the forced phase (at most 1 s), not the sleeping handler's 2.5 s.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(uploader.WaitClosed(1s));
  EXPECT_TRUE(read_failed.load());
  server.reset();  // waits for the sleeping handler, then frees its abandoned connection
}

TEST(ServerTest, HandlerExceptionBecomes500AndServerSurvives) {
  Router r;
  ASSERT_TRUE(r.Add(
      "GET", "/boom",
      [](RequestContext&) -> Result<Response> { throw std::runtime_error("kaboom secret"); },
      Anonymous()));
  ASSERT_TRUE(r.Add(
      "GET", "/badheader",
      [](RequestContext&) -> Result<Response> {
        Response resp = Response::Text(200, "x");
        resp.headers.Set("X-Injected", "a\r\nSet-Cookie: evil=1");
        return resp;
      },
      Anonymous()));
  TestServer server(std::move(r));
  RawConn c(server.port());
  c.Send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
  auto resp = c.ReadResponse();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 500);
  EXPECT_EQ(resp->body.find("kaboom"), std::string::npos);
  c.Send("GET /badheader HTTP/1.1\r\nHost: x\r\n\r\n");
  resp = c.ReadResponse();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 500);
  EXPECT_FALSE(resp->headers.Get("Set-Cookie"));
  EXPECT_EQ(server.sink().size(), 2u);
}

TEST(ServerTest, Expect100ContinueGetsContinueThenTheAnswer) {
  TestServer server(BasicRouter());
  RawConn c(server.port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  auto cont = c.ReadResponse(2s);
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  c.Send("data");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "data");

  // Refused up front: no 100, straight to 413.
  c.Send(
      "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n"
      "Expect: 100-continue\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST(ServerTest, HostileRequestsGet4xxAndNeverHurtTheServer) {
  ServerOptions o;
  o.read_timeout = 500ms;
  TestServer server(BasicRouter(), o);
  const std::vector<std::string> corpus = {
      "GET\r\n\r\n",
      "GET /hello\r\n\r\n",
      "GET /hello HTTP/9.9\r\nHost: x\r\n\r\n",
      "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET http://evil.example/hello HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /hello%zz HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /items/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
      std::string("GET /hel\0lo HTTP/1.1\r\nHost: x\r\n\r\n", 34),
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: x\r\nX: " + std::string(20000, 'x') + "\r\n\r\n",
  };
  for (const auto& bad : corpus) {
    RawConn c(server.port());
    c.Send(bad);
    auto r = c.ReadResponse(3s);
    ASSERT_TRUE(r) << bad.substr(0, 40);
    EXPECT_GE(r->status, 400) << bad.substr(0, 40);
    EXPECT_LT(r->status, 500) << bad.substr(0, 40);
  }
  RawConn c(server.port());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ServerTest, NoLogLineOrAuditEventHoldsQueryStringsCredentialsOrBodies) {
  char tmpl[] = "/tmp/veil-http-log-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string path = tmpl;
  ASSERT_TRUE(log::SetFile(path));
  log::Level old_level = log::GetLevel();
  log::SetLevel(log::Level::kInfo);
  std::string events_json;
  {
    TestServer server(BasicRouter());
    RawConn c(server.port());
    c.Send(
        "GET /hello?token=QUERYSECRET123&X-Amz-Signature=SIGSECRET456 HTTP/1.1\r\n"
        "Host: x\r\nAuthorization: Bearer AUTHSECRET789\r\nCookie: c=COOKIESECRET\r\n\r\n");
    auto r = c.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    c.Send(
        "POST /echo?password=QUERYSECRET123 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n"
        "BODYSECRET00");
    ASSERT_TRUE(c.ReadResponse());
    // A failing request too: its error message and event must not echo the credentials.
    c.Send(
        "GET /nope?apikey=QUERYSECRET123 HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer AUTHSECRET789\r\n\r\n");
    ASSERT_TRUE(c.ReadResponse());
    server.runtime().Stop();
    server.runtime().Join();  // every access line is written by now
    for (const auto& e : server.sink().events()) {
      events_json += boost::json::serialize(audit::ToJson(e)) + "\n";
    }
  }
  log::SetFile("");
  log::SetLevel(old_level);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::remove(path.c_str());
  EXPECT_NE(text.find("path=/hello status=200"), std::string::npos) << text;
  EXPECT_NE(text.find("method=POST path=/echo status=200 bytes=12"), std::string::npos) << text;
  for (const char* secret :
       {"QUERYSECRET123", "SIGSECRET456", "AUTHSECRET789", "COOKIESECRET", "BODYSECRET00"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    EXPECT_EQ(events_json.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(events_json.find("\"/hello\""), std::string::npos) << events_json;
  EXPECT_EQ(std::count(events_json.begin(), events_json.end(), '\n'), 3);
}

}  // namespace
}  // namespace veil::http
