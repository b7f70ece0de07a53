// Attacks on the server's resources, each performed over loopback sockets and shown refused: slow
// bodies and headers that would hold every worker, a trickled upload, a flood that would queue
// forever, one address taking every worker or socket. Attackers connect from their own loopback
// addresses (127.0.0.2, ...), the honest client from 127.0.0.1.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/error_map.h"
#include "http/server.h"
#include "http/test_support.h"

namespace veil::http {
namespace {

using namespace std::chrono_literals;
using testing::RawConn;
using testing::TestServer;

RouteOptions Open(std::string action, size_t body_limit) {
  RouteOptions o;
  o.authenticated = false;
  o.action = std::move(action);
  o.body_limit = body_limit;
  return o;
}

// POST /token (a small-body route, as IAM's token exchange), PUT /upload (a streaming route, as
// object storage), GET /slow (blocks until released).
struct AbuseRoutes {
  std::promise<void> release_promise;
  std::shared_future<void> released = release_promise.get_future().share();
  std::once_flag released_once;
  std::atomic<int> slow_started{0};

  void Release() {
    std::call_once(released_once, [this] { release_promise.set_value(); });
  }

  Router Make() {
    Router r;
    EXPECT_TRUE(r.Add(
        "POST", "/token",
        [](RequestContext& ctx) -> Result<Response> {
          auto body = ctx.request().body().ReadAll(1024);
          if (!body) return tl::unexpected(body.error());
          return Response::Text(200, "token for " + *body);
        },
        Open("test.token.create", 1024)));
    EXPECT_TRUE(r.Add(
        "PUT", "/upload",
        [](RequestContext& ctx) -> Result<Response> {
          auto body = ctx.request().body().ReadAll(8 << 20);
          if (!body) return tl::unexpected(body.error());
          return Response::Text(200, std::to_string(body->size()));
        },
        Open("test.object.create", 8 << 20)));
    EXPECT_TRUE(r.Add(
        "GET", "/slow",
        [this](RequestContext&) -> Result<Response> {
          ++slow_started;
          released.wait();
          return Response::Text(200, "slow");
        },
        Open("test.slow.read", 0)));
    return r;
  }
};

// Releases the slow handlers when a test ends, whatever failed: the server's destructor waits for
// its handlers. Declared after the server, so that it runs first.
struct ReleaseOnExit {
  AbuseRoutes& routes;
  ~ReleaseOnExit() { routes.Release(); }
};

std::string Attacker(int i) { return "127.0.0." + std::to_string(2 + i % 250); }

TEST(ServerAbuseTest, SlowBodiesAndSlowHeadersCannotStarveTheWorkers) {
  AbuseRoutes routes;
  ServerOptions o;
  o.request_timeout = 60s;  // the attack outlives the test: nothing is cut for being slow
  RuntimeOptions ro = TestServer::DefaultRuntime();
  ro.worker_threads = 2;
  TestServer server(routes.Make(), o, {}, ro);
  const int n = 4 * ro.worker_threads * 2;  // 16 slow bodies, 16 slow headers
  std::vector<std::unique_ptr<RawConn>> attackers;
  for (int i = 0; i < n; ++i) {
    auto body = std::make_unique<RawConn>(server.port(), Attacker(i).c_str());
    ASSERT_TRUE(body->ok());
    // A complete header, then one byte of a 100-byte body: the rest never comes.
    ASSERT_TRUE(body->Send("POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nk"));
    attackers.push_back(std::move(body));
    auto header = std::make_unique<RawConn>(server.port(), Attacker(i + n).c_str());
    ASSERT_TRUE(header->ok());
    ASSERT_TRUE(header->Send("POST /token HTTP/1.1\r\nHost: x\r\n"));
    attackers.push_back(std::move(header));
  }
  for (int i = 0; i < 200 && server.runtime().active_connections() < attackers.size(); ++i) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(server.runtime().active_connections(), attackers.size());
  // The honest client, from 127.0.0.1, on the same route: every request is answered while
  // every attacker still holds its connection.
  RawConn honest(server.port());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(honest.Send("POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nalice"));
    auto r = honest.ReadResponse(20s);
    ASSERT_TRUE(r) << "request " << i << " was not answered";
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "token for alice");
  }
  for (auto& a : attackers) EXPECT_FALSE(a->WaitClosed(0ms));
  EXPECT_EQ(server.runtime().active_connections(), attackers.size() + 1);
}

TEST(ServerAbuseTest, ATrickledBodyIsCutOnceUnderTheMinimumRate) {
  AbuseRoutes routes;
  ServerOptions o;
  o.request_timeout = 300ms;  // the grace before the rate counts
  o.read_timeout = 60s;       // never the reason here: a byte arrives every 50 ms
  o.min_body_rate = 1000;     // bytes per second
  TestServer server(routes.Make(), o);
  RawConn c(server.port(), "127.0.0.2");
  // Larger than buffered_body_limit: streamed to the handler, which holds a worker meanwhile.
  ASSERT_TRUE(c.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"));
  std::optional<testing::RawResponse> answer;
  for (int i = 0; i < 400 && !answer; ++i) {
    if (!c.Send("x")) break;  // the server closed: the answer is waiting
    answer = c.ReadResponse(50ms);
  }
  if (!answer) answer = c.ReadResponse(5s);
  ASSERT_TRUE(answer) << "a client sending 20 bytes/s kept its upload open for 20 s";
  EXPECT_EQ(answer->status, 408);
  EXPECT_NE(answer->body.find("request_timeout"), std::string::npos);
  EXPECT_TRUE(c.WaitClosed(5s));
  for (int i = 0; i < 100 && server.sink().size() == 0; ++i) std::this_thread::sleep_for(10ms);
  auto events = server.sink().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason_code, 408);
  EXPECT_NE(events[0].reason_for_failure.find("bytes/s"), std::string::npos);
  // An honest upload of the same size passes.
  RawConn ok(server.port());
  ASSERT_TRUE(ok.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
                      std::string(200000, 'y')));
  auto r = ok.ReadResponse(20s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "200000");
}

TEST(ServerAbuseTest, AFullWorkerQueueShedsWith503AndRetryAfter) {
  AbuseRoutes routes;
  RuntimeOptions ro = TestServer::DefaultRuntime();
  ro.worker_threads = 1;
  ro.max_queued_requests = 1;
  TestServer server(routes.Make(), {}, {}, ro);
  ReleaseOnExit guard{routes};
  RawConn busy(server.port(), "127.0.0.2");
  ASSERT_TRUE(busy.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 400 && routes.slow_started.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(routes.slow_started.load(), 1);
  // The one worker is held: of three more requests, one fits the queue and two are answered at
  // once instead of waiting behind it, whatever order they arrive in.
  std::vector<std::unique_ptr<RawConn>> more;
  for (int i = 0; i < 3; ++i) {
    more.push_back(std::make_unique<RawConn>(server.port(), Attacker(i + 1).c_str()));
    ASSERT_TRUE(more.back()->Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  int shed = 0;
  RawConn* queued = nullptr;
  for (auto& c : more) {
    auto r = c->ReadResponse(5s);
    if (!r) {
      queued = c.get();
      continue;
    }
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->headers.Get("Retry-After"), "1");
    EXPECT_NE(r->body.find("service unavailable"), std::string::npos);
    ++shed;
  }
  EXPECT_EQ(shed, 2);
  ASSERT_NE(queued, nullptr);
  routes.Release();
  for (RawConn* c : {&busy, queued}) {
    auto r = c->ReadResponse(10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  // Each shed request left its event.
  int events = 0;
  for (int i = 0; i < 100 && events < 2; ++i) {
    events = 0;
    for (const auto& ev : server.sink().events()) events += ev.reason_code == 503 ? 1 : 0;
    if (events < 2) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(events, 2);
}

TEST(ServerAbuseTest, OneAddressCannotHoldMoreThanItsShareOfWorkers) {
  AbuseRoutes routes;
  RuntimeOptions ro = TestServer::DefaultRuntime();
  ro.worker_threads = 2;
  ro.max_requests_per_address = 1;
  TestServer server(routes.Make(), {}, {}, ro);
  ReleaseOnExit guard{routes};
  RawConn first(server.port(), "127.0.0.2"), second(server.port(), "127.0.0.2");
  ASSERT_TRUE(first.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 400 && routes.slow_started.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(second.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto refused = second.ReadResponse(10s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->headers.Get("Retry-After"), "1");
  EXPECT_EQ(routes.slow_started.load(), 1);
  // Another address still gets the second worker.
  RawConn other(server.port(), "127.0.0.3");
  ASSERT_TRUE(other.Send("POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbob"));
  auto r = other.ReadResponse(10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  routes.Release();
  auto done = first.ReadResponse(10s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
}

TEST(ServerAbuseTest, OneAddressCannotOpenMoreThanItsShareOfConnections) {
  AbuseRoutes routes;
  RuntimeOptions ro = TestServer::DefaultRuntime();
  ro.max_connections_per_address = 2;
  TestServer server(routes.Make(), {}, {}, ro);
  RawConn a(server.port(), "127.0.0.2"), b(server.port(), "127.0.0.2");
  for (int i = 0; i < 200 && server.runtime().active_connections() < 2; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(server.runtime().active_connections(), 2u);
  RawConn c(server.port(), "127.0.0.2");
  auto r = c.ReadResponse(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->headers.Get("Retry-After"), "1");
  EXPECT_TRUE(c.WaitClosed(5s));
  // Others are not affected.
  RawConn d(server.port(), "127.0.0.3");
  ASSERT_TRUE(d.Send("POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbob"));
  auto rd = d.ReadResponse(10s);
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->status, 200);
}

}  // namespace
}  // namespace veil::http
