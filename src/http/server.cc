// The server's runtime and listeners: accepting and admitting connections (total and per-address
// caps), starting each connection's session (internal/session.cc) over plain TCP or TLS
// (internal/any_stream.cc), and the graceful shutdown. The request path lives in
// internal/session.cc; the request phases that touch no socket in internal/phases.*.
//
// Threads: N I/O threads run one io_context; each connection runs one coroutine on its own
// strand. Handlers, authentication of non-inline routes and pulls of streamed response bodies run
// on the WorkerPool; audit events of requests answered by the I/O side run on a one-thread audit
// lane. An I/O coroutine never blocks on them, it awaits them.
//
// What a client controls and what it can hold (docs/http.md "Slow and abusive clients"):
//   - a header: at most max_header_bytes, complete within request_timeout of its first byte;
//   - a body up to buffered_body_limit: read whole, within the same request_timeout, before the
//     request takes a worker: trickling it holds a socket, never a worker;
//   - a larger body: streamed to a handler that holds a worker, so it must arrive at
//     min_body_rate (after a grace of request_timeout) and never stall past read_timeout;
//   - a worker: only through the bounded queue (503 + Retry-After when full) and within its
//     address's share (max_requests_per_address); sockets within max_connections_per_address.
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/strings.h"
#include "http/error_map.h"
#include "http/internal/engine.h"
#include "http/request_id.h"

namespace veil::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using internal::AddressLimits;
using internal::AnyStream;
using internal::Conn;
using internal::Engine;
using internal::kNoThrow;
using internal::kRetryAfterSeconds;
using internal::Peer;
using internal::Server;
using internal::SessionControl;
using internal::WarnThrottled;

namespace {

// Registers the connection for the shutdown and counts it against max_connections (and, through
// its ticket, against max_connections_per_address).
class SessionScope {
 public:
  SessionScope(Server& s, std::shared_ptr<SessionControl> ctl, AddressLimits::Ticket ticket)
      : s_(s), ctl_(std::move(ctl)), ticket_(std::move(ticket)) {
    std::lock_guard<std::mutex> lock(s_.engine.sessions_mu);
    s_.engine.sessions.emplace(ctl_.get(), ctl_);
  }
  ~SessionScope() {
    ctl_->socket = nullptr;
    {
      std::lock_guard<std::mutex> lock(s_.engine.sessions_mu);
      s_.engine.sessions.erase(ctl_.get());
    }
    s_.connections.fetch_sub(1);
  }
  SessionScope(const SessionScope&) = delete;
  SessionScope& operator=(const SessionScope&) = delete;

 private:
  Server& s_;
  std::shared_ptr<SessionControl> ctl_;
  AddressLimits::Ticket ticket_;
};

asio::awaitable<void> RunConnection(std::shared_ptr<Server> s, tcp::socket socket, Peer peer,
                                    AddressLimits::Ticket ticket) {
  Conn c;
  c.server = s;
  c.ctl = std::make_shared<SessionControl>(socket.get_executor());
  c.remote_address = std::move(peer.address);
  c.remote_port = peer.port;
  c.limit_key = std::move(peer.limit_key);
  SessionScope scope(*s, c.ctl, std::move(ticket));
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  if (s->engine.stopping) co_return;

  beast::tcp_stream tcp(std::move(socket));
  std::optional<AnyStream> any;
  if (s->ssl) {
    auto tls = AnyStream::Tls(std::move(tcp), *s->ssl);
    if (!tls) co_return;
    any = std::move(*tls);
  } else {
    any = AnyStream::Plain(std::move(tcp));
  }
  AnyStream& stream = *any;
  c.ctl->socket = &stream.lowest().socket();
  if (stream.tls()) {
    stream.lowest().expires_after(s->options.request_timeout);
    auto [hec] = co_await stream.async_handshake(true, kNoThrow);
    if (hec) {
      log::Debug(s->options.service_name,
                 "TLS handshake with " + c.remote_address + " failed: " + hec.message());
      c.ctl->socket = nullptr;
      co_return;
    }
  }
  co_await ServeHttp(c, stream);
  stream.lowest().expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(kNoThrow);
  c.ctl->socket = nullptr;
}

// A connection over max_connections or its address's share: 503 at once (plain HTTP), or just
// closed (TLS, where an answer would need a handshake first).
asio::awaitable<void> RejectConnection(Server* s, tcp::socket socket, std::string why) {
  WarnThrottled(s->last_overload_log, s->options.service_name, "refusing connections: " + why);
  if (s->ssl) co_return;
  RequestContext ctx(Request{}, NewRequestId(), NewRequestId());
  ctx.set_error_renderer(&s->phases.renderer());
  Response r = ctx.ErrorResponse(Error(ErrorCode::kUnavailable, "too many connections"), 503);
  bhttp::response<bhttp::string_body> res(bhttp::status::service_unavailable, 11);
  for (const auto& [n, v] : r.headers) {
    if (!EqualsIgnoreCase(n, "Content-Length") && !EqualsIgnoreCase(n, "Connection")) {
      res.set(n, v);
    }
  }
  res.set(bhttp::field::retry_after, kRetryAfterSeconds);
  res.set("x-request-id", ctx.request_id());
  res.keep_alive(false);
  res.body() = std::move(r.body);
  res.prepare_payload();
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(2));
  auto [ec, n] = co_await bhttp::async_write(stream, res, kNoThrow);
  if (ec) co_return;
  // Discard what the client already sent, so that closing does not reset the connection before
  // it reads the 503; never wait for more (the flood this guards against must not hold sockets).
  error_code ignored;
  auto& sock = stream.socket();
  std::vector<char> scratch(16 * 1024);
  size_t avail = sock.available(ignored);
  while (avail > 0 && !ignored) {
    size_t got =
        sock.read_some(asio::buffer(scratch.data(), std::min(avail, scratch.size())), ignored);
    if (got == 0) break;
    avail = sock.available(ignored);
  }
  sock.shutdown(tcp::socket::shutdown_both, ignored);
}

void LogEscaped(std::string_view component, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::Error(component, std::string("connection aborted by exception: ") + ex.what());
  } catch (...) {
    log::Error(component, "connection aborted by exception");
  }
}

// Admits an accepted socket: within max_connections and its address's share, it gets a session;
// otherwise a 503.
void Admit(Server* s, tcp::socket socket) {
  auto ex = socket.get_executor();
  std::string component = s->options.service_name;
  auto on_exit = [component](std::exception_ptr e) { LogEscaped(component, e); };
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  Peer peer{remote.address().to_string(), remote.port(), {}};
  if (remote.address().is_v4()) {
    auto bytes = remote.address().to_v4().to_bytes();
    peer.limit_key = internal::LimitKey(bytes.data(), bytes.size());
  } else {
    auto bytes = remote.address().to_v6().to_bytes();
    peer.limit_key = internal::LimitKey(bytes.data(), bytes.size());
  }
  if (s->connections.fetch_add(1) >= s->options.max_connections) {
    s->connections.fetch_sub(1);
    asio::co_spawn(
        ex,
        RejectConnection(s, std::move(socket),
                         std::to_string(s->options.max_connections) + " open (max_connections)"),
        on_exit);
    return;
  }
  auto ticket = s->engine.limits.TryAcquire(peer.limit_key, AddressLimits::Kind::kConnection);
  if (!ticket) {
    s->connections.fetch_sub(1);
    asio::co_spawn(
        ex,
        RejectConnection(s, std::move(socket),
                         std::to_string(s->engine.options.max_connections_per_address) +
                             " open from " + peer.limit_key + " (max_connections_per_address)"),
        on_exit);
    return;
  }
  asio::co_spawn(
      ex,
      RunConnection(s->shared_from_this(), std::move(socket), std::move(peer), std::move(*ticket)),
      on_exit);
}

asio::awaitable<void> AcceptLoop(Server* s) {
  for (;;) {
    auto [ec, socket] =
        co_await s->acceptor.async_accept(asio::make_strand(s->engine.ioc), kNoThrow);
    if (ec) {
      if (!s->acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off instead of spinning.
      log::Warn(s->options.service_name, "accept failed: " + ec.message());
      asio::steady_timer t(s->strand, std::chrono::milliseconds(50));
      co_await t.async_wait(kNoThrow);
      continue;
    }
    if (s->engine.stopping) {
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    Admit(s, std::move(socket));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Runtime

struct Runtime::Core : Engine {
  explicit Core(const RuntimeOptions& o) : Engine(o), work(asio::make_work_guard(ioc)) {}
  ~Core() {
    // Listeners first, while the io_context lives; servers that connections still hold die
    // with their frames when the io_context is destroyed.
    servers.clear();
  }

  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::shared_ptr<Server>> servers;
  std::unique_ptr<asio::signal_set> signals;
  std::vector<std::thread> threads;
  std::once_flag stop_once;
  bool started = false;
  bool joined = false;

  asio::awaitable<void> Shutdown() {
    for (auto& s : servers) {
      Server* sp = s.get();
      asio::post(sp->strand, [sp] {
        error_code ec;
        sp->acceptor.close(ec);
      });
    }
    if (signals) {
      error_code ec;
      signals->cancel(ec);
    }
    // Idle connections close now; busy ones answer their current request with
    // "Connection: close" and end.
    for (auto& ctl : SessionSnapshot()) {
      asio::post(ctl->executor, [ctl] {
        ctl->stopping = true;
        if (ctl->idle && ctl->socket != nullptr) {
          error_code ec;
          ctl->socket->cancel(ec);
        }
      });
    }
    auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
    asio::steady_timer timer(ioc);
    bool forced = false;
    for (;;) {
      if (session_count() == 0) break;
      auto now = std::chrono::steady_clock::now();
      if (!forced && now >= deadline) {
        forced = true;
        deadline = now + std::chrono::seconds(1);
        log::Warn("http", std::to_string(session_count()) +
                              " connections still busy after the shutdown grace; closing them");
        for (auto& ctl : SessionSnapshot()) {
          asio::post(ctl->executor, [ctl] {
            ctl->stopping = true;
            if (ctl->socket != nullptr) {
              error_code ec;
              ctl->socket->shutdown(tcp::socket::shutdown_both, ec);
              ctl->socket->close(ec);
            }
            if (auto ex = ctl->exchange.lock()) {
              ex->Fail(Error(ErrorCode::kUnavailable, "server is shutting down"), 503);
            }
          });
        }
      } else if (forced && now >= deadline) {
        // Handlers stuck in blocking calls: leave their coroutines; ~Runtime reclaims them.
        log::Error("http", "handlers still running at shutdown; abandoning their connections");
        ioc.stop();
        break;
      }
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(kNoThrow);
    }
    work.reset();
  }
};

Runtime::Runtime(RuntimeOptions options) : core_(std::make_unique<Core>(options)) {}

Runtime::~Runtime() {
  Stop();
  if (core_->started) {
    Join();
  } else {
    // Never ran: nothing to drain, but let the queued shutdown (and nothing else) run.
    core_->ioc.run_for(std::chrono::seconds(1));
  }
  // Handlers still running finish against failed body readers; their coroutine frames (and the
  // servers they hold) die with the io_context afterwards.
  core_->pool.Stop();
  core_->audit_lane.Stop();
}

Result<uint16_t> Runtime::AddServer(ServerOptions options, Router router, ServerHooks hooks) {
  if (core_->stopping) return FailedPrecondition("runtime is stopping");
  error_code ec;
  auto address = asio::ip::make_address(options.bind_address, ec);
  if (ec) return InvalidArgument("invalid bind address '" + options.bind_address + "'");
  auto server =
      std::make_shared<Server>(*core_, std::move(options), std::move(router), std::move(hooks));
  const ServerOptions& o = server->options;
  if (o.tls) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                     ec);
    ctx->use_certificate_chain_file(o.tls->cert_file, ec);
    if (ec) {
      return InvalidArgument("cannot load TLS certificate " + o.tls->cert_file + ": " +
                             ec.message());
    }
    ctx->use_private_key_file(o.tls->key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return InvalidArgument("cannot load TLS key " + o.tls->key_file + ": " + ec.message());
    }
    server->ssl = std::move(ctx);
  }
  tcp::endpoint endpoint(address, o.port);
  std::string where = o.bind_address + ":" + std::to_string(o.port);
  server->acceptor.open(endpoint.protocol(), ec);
  if (ec) return Unavailable("cannot open socket for " + where + ": " + ec.message());
  server->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  server->acceptor.bind(endpoint, ec);
  if (ec) return Unavailable("cannot bind " + where + ": " + ec.message());
  server->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on " + where + ": " + ec.message());
  uint16_t port = server->acceptor.local_endpoint(ec).port();
  Server* sp = server.get();
  std::string component = o.service_name;
  asio::co_spawn(sp->strand, AcceptLoop(sp),
                 [component](std::exception_ptr e) { LogEscaped(component, e); });
  log::Info(o.service_name, std::string("listening on ") + (o.tls ? "https://" : "http://") +
                                o.bind_address + ":" + std::to_string(port));
  core_->servers.push_back(std::move(server));
  return port;
}

void Runtime::RunInBackground() {
  if (core_->started) return;
  core_->started = true;
  int n = std::max(1, core_->options.io_threads);
  for (int i = 0; i < n; ++i) {
    core_->threads.emplace_back([this] {
      for (;;) {
        try {
          core_->ioc.run();
          return;
        } catch (const std::exception& e) {
          // Our coroutines catch their own errors; this is a last resort so that one bad
          // handler completion does not take the process down.
          log::Error("http", std::string("I/O thread caught: ") + e.what());
        }
      }
    });
  }
}

void Runtime::Run() {
  if (core_->options.handle_signals && !core_->signals) {
    core_->signals = std::make_unique<asio::signal_set>(core_->ioc, SIGINT, SIGTERM);
    core_->signals->async_wait([this](const error_code& ec, int signo) {
      if (ec) return;
      log::Info("http", "signal " + std::to_string(signo) + ": shutting down");
      Stop();
    });
  }
  RunInBackground();
  Join();
}

void Runtime::Join() {
  if (core_->joined) return;
  for (auto& t : core_->threads) {
    if (t.joinable()) t.join();
  }
  core_->threads.clear();
  core_->joined = true;
}

void Runtime::Stop() {
  std::call_once(core_->stop_once, [this] {
    core_->stopping = true;
    Core* core = core_.get();
    asio::co_spawn(core->ioc, core->Shutdown(),
                   [](std::exception_ptr e) { LogEscaped("http", e); });
  });
}

size_t Runtime::active_connections() const { return core_->session_count(); }

}  // namespace veil::http
