// The server's I/O side: listeners, connection sessions, the body reads, load shedding and the
// graceful shutdown. With client.cc, the only translation units of Veil that include Asio and
// Beast; the request phases that touch no socket live in internal/phases.*.
//
// Threads: N I/O threads run one io_context; each connection runs one coroutine on its own
// strand. Handlers, authentication of non-inline routes and pulls of streamed response bodies run
// on the WorkerPool; audit events of requests answered by the I/O side run on a one-thread audit
// lane. An I/O coroutine never blocks on them, it awaits them.
//
// What a client controls and what it can hold (docs/http.md "Slow and abusive clients"):
//   - a header: at most max_header_bytes, complete within request_timeout of its first byte;
//   - a body up to buffered_body_limit: read whole here, within the same request_timeout, before
//     the request takes a worker: trickling it holds a socket, never a worker;
//   - a larger body: streamed to a handler that holds a worker, so it must arrive at
//     min_body_rate (after a grace of request_timeout) and never stall past read_timeout;
//   - a worker: only through the bounded queue (503 + Retry-After when full) and within its
//     address's share (max_requests_per_address); sockets within max_connections_per_address.
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "http/error_map.h"
#include "http/internal/address_limits.h"
#include "http/internal/body_pace.h"
#include "http/internal/phases.h"
#include "http/request_id.h"
#include "http/worker_pool.h"

namespace veil::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using internal::AddressLimits;
using internal::BodyPace;
using internal::Outcome;
using internal::Rejection;
using internal::RequestPhases;
using internal::Routing;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr size_t kChunkSize = 64 * 1024;           // one socket read of a request body
constexpr size_t kQueueCapacity = 4 * kChunkSize;  // body bytes queued for a handler
constexpr size_t kResponseChunk = 128 * 1024;      // one pull of a streamed response
constexpr uint64_t kDrainLimit = 64 * 1024;        // unread body drained to keep a connection
constexpr size_t kLingerBytes = 4 << 20;           // discarded after a response that closes
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::string_view kRetryAfterSeconds = "1";

// ---------------------------------------------------------------------------------------------
// Waiting on worker threads from a coroutine.

// Runs `fn` on the pool and resumes the awaiting coroutine on its own executor afterwards; the
// result is false when the pool is stopped (fn did not run).
template <typename Token>
auto AsyncOnPool(WorkerPool& pool, std::function<void()> fn, Token&& token) {
  return asio::async_initiate<Token, void(bool)>(
      [&pool](auto handler, std::function<void()> f) {
        using Handler = decltype(handler);
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<Handler>(std::move(handler));
        bool queued = pool.Submit([f = std::move(f), h, ex]() {
          f();
          asio::post(ex, [h]() { std::move (*h)(true); });
        });
        if (!queued) asio::post(ex, [h]() { std::move (*h)(false); });
      },
      token, std::move(fn));
}

// "Something changed" from worker threads to the one coroutine that waits. A Notify() with no
// waiter is remembered, so a wakeup between the waiter's check and its wait is never lost;
// waiters re-check their condition (wakeups may be spurious).
class AsyncSignal {
 public:
  void Notify() {
    std::function<void()> waiter;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (waiter_) {
        waiter = std::move(waiter_);
        waiter_ = nullptr;
      } else {
        pending_ = true;
      }
    }
    if (waiter) waiter();
  }

  template <typename Token>
  auto AsyncWait(Token&& token) {
    return asio::async_initiate<Token, void()>(
        [this](auto handler) {
          using Handler = decltype(handler);
          auto ex = asio::get_associated_executor(handler);
          std::unique_lock<std::mutex> lock(mu_);
          if (pending_) {
            pending_ = false;
            lock.unlock();
            asio::post(ex, std::move(handler));
            return;
          }
          auto h = std::make_shared<Handler>(std::move(handler));
          waiter_ = [h, ex]() { asio::post(ex, [h]() { std::move (*h)(); }); };
        },
        token);
  }

 private:
  std::mutex mu_;
  bool pending_ = false;
  std::function<void()> waiter_;
};

// ---------------------------------------------------------------------------------------------
// The state of one request shared by its I/O coroutine and its worker task; also the handler's
// BodyReader, fed by the coroutine through a bounded queue.
class Exchange final : public BodyReader {
 public:
  explicit Exchange(RequestContext ctx) : ctx_(std::move(ctx)) { ctx_.request().set_body(this); }

  RequestContext& ctx() { return ctx_; }
  AsyncSignal& signal() { return signal_; }

  // Worker side (the handler).
  [[nodiscard]] Result<size_t> Read(std::span<char> out) override {
    if (out.empty()) return InvalidArgument("BodyReader::Read needs a non-empty buffer");
    std::unique_lock<std::mutex> lock(mu_);
    if (failure()) return tl::unexpected(*failure());
    cv_.wait(lock, [&] { return !chunks_.empty() || eof_ || error_.has_value(); });
    if (!chunks_.empty()) {
      size_t n = 0;
      while (n < out.size() && !chunks_.empty()) {
        auto& c = chunks_.front();
        size_t take = std::min(out.size() - n, c.size() - offset_);
        std::memcpy(out.data() + n, c.data() + offset_, take);
        n += take;
        offset_ += take;
        queued_ -= take;
        if (offset_ == c.size()) {
          chunks_.pop_front();
          offset_ = 0;
        }
      }
      bool wake = io_waiting_ && queued_ < kQueueCapacity;
      if (wake) io_waiting_ = false;
      lock.unlock();
      if (wake) signal_.Notify();
      return n;
    }
    if (error_) {
      // Recorded on the handler's thread, where the server reads it back after the handler.
      SetFailure(*error_, error_status_);
      return tl::unexpected(*error_);
    }
    return size_t{0};
  }

  // Marks the request accepted (the body will be streamed) or rejected (it will not).
  void Decide(bool accepted) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      decided_ = true;
      accepted_ = accepted;
    }
    signal_.Notify();
  }
  void Complete(Response response) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      response_ = std::move(response);
      done_ = true;
      decided_ = true;
    }
    signal_.Notify();
  }

  // I/O side.
  enum class Pump { kRoom, kDone, kWait };
  Pump CheckPump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return Pump::kDone;
    if (queued_ < kQueueCapacity) return Pump::kRoom;
    io_waiting_ = true;
    return Pump::kWait;
  }
  // nullopt while undecided; else whether the request was accepted.
  std::optional<bool> decision() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!decided_) return std::nullopt;
    return accepted_ && !done_;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  Response TakeResponse() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(*response_);
  }
  void Push(std::vector<char> chunk) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued_ += chunk.size();
      chunks_.push_back(std::move(chunk));
    }
    cv_.notify_one();
  }
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      eof_ = true;
    }
    cv_.notify_one();
  }
  void Fail(Error error, int status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (eof_ || error_) return;
      error_ = std::move(error);
      error_status_ = status;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> chunks_;
  size_t offset_ = 0;
  size_t queued_ = 0;
  bool eof_ = false;
  std::optional<Error> error_;
  int error_status_ = 0;
  bool io_waiting_ = false;
  bool decided_ = false;
  bool accepted_ = false;
  bool done_ = false;
  std::optional<Response> response_;
  AsyncSignal signal_;
  RequestContext ctx_;
};

// ---------------------------------------------------------------------------------------------
// Runtime-wide and per-listener state.

struct SessionControl {
  explicit SessionControl(asio::any_io_executor e) : executor(std::move(e)) {}
  asio::any_io_executor executor;
  // Touched on the session's strand only.
  bool idle = false;
  bool stopping = false;
  tcp::socket* socket = nullptr;
  std::weak_ptr<Exchange> exchange;
};

struct Server;

// Member order matters: the io_context is declared last so that it is destroyed first, while
// the session registry that dying coroutine frames unregister from still exists.
struct Engine {
  explicit Engine(const RuntimeOptions& o)
      : options(o),
        limits(o.max_connections_per_address, o.max_requests_per_address),
        pool(std::max(1, o.worker_threads), o.max_queued_requests),
        audit_lane(1) {}

  RuntimeOptions options;
  std::atomic<bool> stopping{false};
  mutable std::mutex sessions_mu;
  std::unordered_map<SessionControl*, std::shared_ptr<SessionControl>> sessions;
  AddressLimits limits;
  WorkerPool pool;        // stopped explicitly by ~Runtime before the io_context goes
  WorkerPool audit_lane;  // events of requests answered on the I/O side; stopped with the pool
  asio::io_context ioc;

  size_t session_count() const {
    std::lock_guard<std::mutex> lock(sessions_mu);
    return sessions.size();
  }
  std::vector<std::shared_ptr<SessionControl>> SessionSnapshot() const {
    std::lock_guard<std::mutex> lock(sessions_mu);
    std::vector<std::shared_ptr<SessionControl>> out;
    out.reserve(sessions.size());
    for (auto& [k, v] : sessions) out.push_back(v);
    return out;
  }
};

// Logs a warning at most once a second per `last` (floods must not flood the log).
void WarnThrottled(std::atomic<int64_t>& last, std::string_view component,
                   const std::string& text) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  if (last.exchange(now) != now) log::Warn(component, text);
}

// Shared by its connections' coroutines and worker tasks, so that a frame destroyed with the
// io_context still finds it.
struct Server : std::enable_shared_from_this<Server> {
  Server(Engine& e, ServerOptions o, Router r, ServerHooks h)
      : engine(e),
        options(std::move(o)),
        router(std::move(r)),
        hooks(std::move(h)),
        phases(options, hooks),
        strand(asio::make_strand(e.ioc)),
        acceptor(strand) {}

  Engine& engine;
  const ServerOptions options;
  const Router router;
  const ServerHooks hooks;
  const RequestPhases phases;
  std::unique_ptr<asio::ssl::context> ssl;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  std::atomic<size_t> connections{0};
  std::atomic<int64_t> last_overload_log{0};
  std::atomic<int64_t> last_shed_log{0};
};

bool IsDisconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == asio::ssl::error::stream_truncated;
}

// The worker's part of a request: decide, run the handler, finalize, emit the event.
void WorkerTask(const Server& s, Exchange& ex, const Routing& routing) {
  RequestContext& ctx = ex.ctx();
  const Route* route = routing.match.route;
  Response resp;
  try {
    if (auto rejection = s.phases.Decide(ctx, routing)) {
      ex.Decide(false);
      resp = s.phases.Finalize(ctx, routing, Outcome::Rejected(std::move(*rejection)));
    } else {
      ex.Decide(true);
      Result<Response> result = RequestPhases::Invoke(*route, ctx);
      resp = s.phases.Finalize(ctx, routing, Outcome{std::move(result), &ex});
    }
    s.phases.EmitAudit(ctx, route);
  } catch (...) {
    // Only allocation failure gets here; answer without touching the renderer again.
    resp = Response::Text(500, "internal error");
  }
  ex.Complete(std::move(resp));
}

// ---------------------------------------------------------------------------------------------
// The connection coroutine.

// Who is at the other end of a connection.
struct Peer {
  std::string address;  // as printed in events and logs
  uint16_t port = 0;
  std::string limit_key;  // what the per-address caps count it under (LimitKey)
};

struct Conn {
  std::shared_ptr<Server> server;
  std::shared_ptr<SessionControl> ctl;
  std::string remote_address;
  uint16_t remote_port = 0;
  std::string limit_key;
};

struct WriteResult {
  bool ok = false;
  uint64_t bytes = 0;
};

struct WriteOptions {
  bool head = false;         // a HEAD request: the header only
  bool keep_alive = false;   // announce keep-alive (else Connection: close)
  bool pull_inline = false;  // pull a streamed body on this thread (inline routes), not the pool
};

bool IsBodiless(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

template <typename Stream>
asio::awaitable<WriteResult> WriteResponse(Conn& c, Stream& stream, const RequestContext& ctx,
                                           Response& resp, WriteOptions wo) {
  Server& s = *c.server;
  const bool head = wo.head;
  auto& lowest = beast::get_lowest_layer(stream);
  WriteResult out;

  bhttp::response<bhttp::buffer_body> res;
  res.version(ctx.request().version == 10 ? 10 : 11);
  res.result(static_cast<unsigned>(resp.status));
  std::optional<std::string> head_length;
  if (head) {
    if (auto cl = resp.headers.Get("Content-Length")) head_length = std::string(*cl);
  }
  resp.headers.Remove("Content-Length");
  resp.headers.Remove("Transfer-Encoding");
  resp.headers.Remove("Connection");
  for (const auto& [name, value] : resp.headers) res.insert(name, value);
  res.set(bhttp::field::date, HttpDate());
  if (!resp.headers.Has("correlation-id")) res.set("correlation-id", ctx.correlation_id());
  if (ctx.request().headers.Has("X-Correlation-ID") && !resp.headers.Has("X-Correlation-ID")) {
    res.set("X-Correlation-ID", ctx.correlation_id());
  }
  if (!resp.headers.Has("x-request-id")) res.set("x-request-id", ctx.request_id());
  res.keep_alive(wo.keep_alive);

  bool bodiless = IsBodiless(resp.status);
  bool streamed = static_cast<bool>(resp.source);
  if (!bodiless) {
    if (streamed) {
      if (resp.source_length) {
        res.content_length(*resp.source_length);
      } else if (!head) {
        res.chunked(true);
      }
    } else if (head && head_length) {
      res.set(bhttp::field::content_length, *head_length);
    } else {
      res.content_length(resp.body.size());
    }
  }

  bhttp::response_serializer<bhttp::buffer_body> sr(res);
  lowest.expires_after(s.options.write_timeout);
  if (head || bodiless || (!streamed && resp.body.empty())) {
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, n] = head || bodiless ? co_await bhttp::async_write_header(stream, sr, kNoThrow)
                                    : co_await bhttp::async_write(stream, sr, kNoThrow);
    out.ok = !ec;
    co_return out;
  }
  if (!streamed) {
    res.body().data = resp.body.data();
    res.body().size = resp.body.size();
    res.body().more = false;
    auto [ec, n] = co_await bhttp::async_write(stream, sr, kNoThrow);
    out.ok = !ec;
    if (out.ok) out.bytes = resp.body.size();
    co_return out;
  }

  // Streamed: header first, then one pull and one write at a time, so a slow client slows the
  // source down instead of filling memory.
  res.body().data = nullptr;
  res.body().more = true;
  {
    auto [ec, n] = co_await bhttp::async_write_header(stream, sr, kNoThrow);
    if (ec) co_return out;
  }
  std::vector<char> buf(kResponseChunk);
  uint64_t sent = 0;
  for (;;) {
    Result<size_t> got = size_t{0};
    auto pull = [&] {
      try {
        got = resp.source(std::span<char>(buf.data(), buf.size()));
      } catch (...) {
        got = Internal("response body source threw");
      }
    };
    if (wo.pull_inline) {
      pull();
    } else if (!co_await AsyncOnPool(s.engine.pool, pull, asio::use_awaitable)) {
      got = Unavailable("server is shutting down");
    }
    if (!got || *got > buf.size()) {
      log::Warn(s.options.service_name,
                "response body of request " + ctx.request_id() + " aborted: " +
                    (got ? std::string("source overran its buffer") : got.error().ToString()));
      co_return out;
    }
    if (resp.source_length && sent + *got > *resp.source_length) {
      log::Warn(s.options.service_name, "response body of request " + ctx.request_id() +
                                            " aborted: longer than its Content-Length");
      co_return out;
    }
    lowest.expires_after(s.options.write_timeout);
    if (*got == 0) {
      if (resp.source_length && sent != *resp.source_length) {
        log::Warn(s.options.service_name, "response body of request " + ctx.request_id() +
                                              " aborted: shorter than its Content-Length");
        co_return out;
      }
      res.body().data = nullptr;
      res.body().size = 0;
      res.body().more = false;
      auto [ec, n] = co_await bhttp::async_write(stream, sr, kNoThrow);
      out.ok = !ec;
      out.bytes = sent;
      co_return out;
    }
    res.body().data = buf.data();
    res.body().size = *got;
    res.body().more = true;
    auto [ec, n] = co_await bhttp::async_write(stream, sr, kNoThrow);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return out;
    sent += *got;
  }
}

// Reads and discards what is left of a request body, up to `limit` bytes. True when the whole
// message has been read (the connection can be reused).
template <typename Stream>
asio::awaitable<bool> DrainBody(Conn& c, Stream& stream, beast::flat_buffer& buffer,
                                bhttp::request_parser<bhttp::buffer_body>& parser, uint64_t limit) {
  auto& lowest = beast::get_lowest_layer(stream);
  std::vector<char> scratch(16 * 1024);
  uint64_t total = 0;
  while (!parser.is_done()) {
    parser.get().body().data = scratch.data();
    parser.get().body().size = scratch.size();
    lowest.expires_after(c.server->options.read_timeout);
    auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kNoThrow);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return false;
    total += scratch.size() - parser.get().body().size;
    if (total > limit) co_return false;
  }
  co_return true;
}

// Whether the unread rest of a request body has already arrived (small bodies come with their
// header): then skipping it costs no wait and the connection stays usable. A body still on
// the wire is never waited for, since the client may be waiting for our answer first.
bool BodyAlreadyBuffered(const bhttp::request_parser<bhttp::buffer_body>& parser,
                         const beast::flat_buffer& buffer) {
  if (!parser.is_header_done()) return false;  // a refused header: nothing to skip
  auto remaining = parser.content_length_remaining();
  return remaining && *remaining <= kDrainLimit && *remaining <= buffer.size();
}

// After a response that closes the connection while the client may still be sending: stop
// writing, then read and discard for a moment, so the client reads our response instead of a
// reset.
template <typename Stream>
asio::awaitable<void> LingeringClose(Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  error_code ec;
  lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<char> scratch(16 * 1024);
  size_t total = 0;
  lowest.expires_after(kLingerTime);
  while (total < kLingerBytes) {
    auto [rec, n] = co_await lowest.async_read_some(asio::buffer(scratch), kNoThrow);
    if (rec) break;
    total += n;
  }
}

// Fails the body of an exchange whose coroutine ends early (an exception, or the io_context
// destroying the frame at a forced shutdown), so that its handler never waits forever.
struct FailOnExit {
  std::shared_ptr<Exchange> ex;
  ~FailOnExit() {
    if (ex) ex->Fail(Error(ErrorCode::kUnavailable, "connection closed"), 400);
  }
};

using Parser = bhttp::request_parser<bhttp::buffer_body>;

// The request being served on a session: its socket side, and what its header said.
template <typename Stream>
struct RequestIo {
  Conn& c;
  Stream& stream;
  beast::flat_buffer& buffer;
  Parser& parser;
  SteadyTime deadline;  // request_timeout after the header began
  bool has_body = false;
  bool head = false;
  bool keep_alive = false;
  bool expect_continue = false;

  Server& server() { return *c.server; }
  auto& lowest() { return beast::get_lowest_layer(stream); }
};

// What is sent back: the response, and whether the request body was read to its end.
struct Reply {
  Response response;
  bool body_complete = true;
  bool pull_inline = false;
};

// Writes the reply, then the access-log line. The connection stays open when both sides want it
// and the body was read (or what is left of it already sits in the buffer). Returns whether it
// stays open.
template <typename Stream>
// (GCC 12 destroys brace-initialized temporaries in a co_await expression twice: every call
// below passes named objects by reference.)
asio::awaitable<bool> SendReply(RequestIo<Stream>& io, const RequestContext& ctx, Reply& reply) {
  Server& s = io.server();
  bool body_complete = reply.body_complete;
  if (!body_complete && BodyAlreadyBuffered(io.parser, io.buffer)) {
    body_complete = co_await DrainBody(io.c, io.stream, io.buffer, io.parser, kDrainLimit);
  }
  const bool keep_alive =
      io.keep_alive && body_complete && !io.c.ctl->stopping &&
      !EqualsIgnoreCase(reply.response.headers.Get("Connection").value_or(""), "close");
  WriteOptions wo{io.head, keep_alive, reply.pull_inline};
  auto w = co_await WriteResponse(io.c, io.stream, ctx, reply.response, wo);
  s.phases.AccessLog(ctx, reply.response.status, w.bytes);
  if (!w.ok) co_return false;
  if (!body_complete) co_await LingeringClose(io.stream);
  co_return keep_alive;
}

// Emits the event of a request answered on the I/O side, on the audit lane (the sink may block).
asio::awaitable<void> EmitOnAuditLane(Server& s, const RequestContext& ctx, const Route* route) {
  if (!s.phases.AuditWanted(route)) co_return;
  const RequestPhases& phases = s.phases;
  co_await AsyncOnPool(
      s.engine.audit_lane, [&] { phases.EmitAudit(ctx, route); }, asio::use_awaitable);
}

// Answers a request the I/O side refuses (bad header, body over its limit or too slow, load
// shed): finalize, audit, write.
template <typename Stream>
asio::awaitable<bool> AnswerRefusal(RequestIo<Stream>& io, RequestContext& ctx,
                                    const Routing& routing, Outcome& outcome, bool body_complete) {
  Server& s = io.server();
  const bool shed = outcome.expected;
  Response resp = s.phases.Finalize(ctx, routing, std::move(outcome));
  if (shed) resp.headers.Set("Retry-After", std::string(kRetryAfterSeconds));
  co_await EmitOnAuditLane(s, ctx, routing.match.route);
  Reply reply{std::move(resp), body_complete, true};
  co_return co_await SendReply(io, ctx, reply);
}

// A header that could not be read: 431 or 400 when it can be answered, else nothing.
template <typename Stream>
asio::awaitable<bool> RefuseHeader(RequestIo<Stream>& io, const error_code& hec) {
  Server& s = io.server();
  if (hec == beast::error::timeout) {
    // Beast closed the socket: nothing can be answered. No request, so no audit event.
    log::Info(s.options.service_name, "closed connection from " + io.c.remote_address +
                                          ": request header not complete within " +
                                          std::to_string(s.options.request_timeout.count()) +
                                          " ms");
    co_return false;
  }
  if (IsDisconnect(hec)) co_return false;
  Rejection r{Error(ErrorCode::kInvalidArgument, "malformed request: " + hec.message()), 400};
  if (hec == bhttp::error::header_limit || hec == bhttp::error::buffer_overflow) {
    r = {Error(ErrorCode::kResourceExhausted,
               "request header exceeds " + std::to_string(s.options.max_header_bytes) + " bytes"),
         kStatusHeaderTooLarge};
  }
  Request req;
  req.remote_address = io.c.remote_address;
  req.remote_port = io.c.remote_port;
  RequestContext ctx(std::move(req), NewRequestId(), NewRequestId());
  ctx.set_error_renderer(&s.phases.renderer());
  io.keep_alive = false;
  Routing none;
  Outcome outcome = Outcome::Rejected(std::move(r));
  co_await AnswerRefusal(io, ctx, none, outcome, false);
  co_return false;
}

// The Request of a parsed header, and what routing finds for it.
Request RequestOfHeader(const Conn& c, const Parser& parser) {
  const auto& hreq = parser.get();
  Request req;
  req.method = std::string(hreq.method_string());
  req.target = std::string(hreq.target());
  req.version = hreq.version() == 10 ? 10 : 11;
  for (const auto& f : hreq) req.headers.Add(f.name_string(), f.value());
  req.remote_address = c.remote_address;
  req.remote_port = c.remote_port;
  if (auto cl = parser.content_length()) req.content_length = *cl;
  return req;
}

Routing RouteRequest(const Server& s, Request& req) {
  Routing routing;
  auto target = ParseTarget(req.target);
  if (!target) {
    routing.target_error = target.error();
    return routing;
  }
  req.raw_path = std::move(target->raw_path);
  req.path = std::move(target->path);
  req.query = std::move(target->query);
  routing.match = s.router.Match(req.method, req.raw_path);
  if (routing.match.route != nullptr) {
    req.path_params = std::move(routing.match.params);
    routing.body_limit =
        routing.match.route->options.body_limit.value_or(s.options.default_body_limit);
  }
  return routing;
}

RequestContext ContextOf(const Server& s, Request req, const Routing& routing) {
  std::optional<std::string> corr;
  if (auto v = req.headers.Get("correlation-id")) corr = ValidCorrelationId(*v);
  if (!corr) {
    if (auto v = req.headers.Get("X-Correlation-ID")) corr = ValidCorrelationId(*v);
  }
  RequestContext ctx(std::move(req), NewRequestId(), corr ? std::move(*corr) : NewRequestId());
  ctx.set_error_renderer(&s.phases.renderer());
  if (routing.match.route != nullptr) ctx.set_route(routing.match.route->path_template);
  return ctx;
}

// Whether the body is read whole here, before a worker is taken: a small body of a found route
// that does not declare more than the route accepts (that is refused unread, after
// authentication). Inline routes always read theirs here.
bool ReadBodyFirst(const Server& s, const Request& req, const Routing& routing) {
  const Route* route = routing.match.route;
  if (route == nullptr) return false;
  if (req.content_length && *req.content_length > routing.body_limit) return false;
  if (route->options.inline_handler) return true;
  const size_t small = s.options.buffered_body_limit;
  return routing.body_limit <= small || (req.content_length && *req.content_length <= small);
}

// One read of a request body that ends at `deadline` with beast::error::timeout but leaves the
// connection open (Beast's own timeout closes the socket), so that the client can still be told
// 408. The alarm runs on the session's strand, as the read's completion does.
template <typename Stream>
asio::awaitable<std::tuple<error_code, size_t>> ReadBodySome(RequestIo<Stream>& io,
                                                             SteadyTime deadline) {
  struct Alarm {
    bool armed = true;
    bool fired = false;
  };
  auto alarm = std::make_shared<Alarm>();
  asio::steady_timer timer(io.stream.get_executor(), deadline);
  auto& socket = io.lowest().socket();
  timer.async_wait([alarm, &socket](error_code ec) {
    if (ec || !alarm->armed) return;  // the read ended first: the socket may be gone
    alarm->fired = true;
    error_code ignored;
    socket.cancel(ignored);
  });
  io.lowest().expires_never();
  auto [ec, n] = co_await bhttp::async_read_some(io.stream, io.buffer, io.parser, kNoThrow);
  alarm->armed = false;
  timer.cancel();
  if (alarm->fired) ec = beast::error::timeout;
  co_return std::make_tuple(ec, n);
}

template <typename Stream>
asio::awaitable<bool> SendContinue(RequestIo<Stream>& io) {
  bhttp::response<bhttp::empty_body> cont(bhttp::status::continue_, 11);
  io.lowest().expires_after(io.server().options.write_timeout);
  auto [ec, n] = co_await bhttp::async_write(io.stream, cont, kNoThrow);
  co_return !ec;
}

// A whole body read on the I/O side, or why it could not be.
struct WholeBody {
  std::vector<char> data;
  std::optional<Rejection> refusal;
};

template <typename Stream>
asio::awaitable<WholeBody> ReadWholeBody(RequestIo<Stream>& io, size_t limit) {
  WholeBody out;
  if (io.expect_continue && !co_await SendContinue(io)) {
    out.refusal = Rejection{Error(ErrorCode::kInvalidArgument, "client went away"), 400};
    co_return out;
  }
  if (auto rest = io.parser.content_length_remaining()) {
    out.data.reserve(static_cast<size_t>(std::min<uint64_t>(*rest, limit)));
  }
  std::vector<char> chunk(16 * 1024);
  while (!io.parser.is_done()) {
    io.parser.get().body().data = chunk.data();
    io.parser.get().body().size = chunk.size();
    auto [ec, n] = co_await ReadBodySome(io, io.deadline);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == beast::error::timeout) {
      out.refusal = Rejection{
          Error(ErrorCode::kDeadlineExceeded, "request not complete within the request timeout"),
          kStatusRequestTimeout};
    } else if (IsDisconnect(ec)) {
      out.refusal = Rejection{Error(ErrorCode::kInvalidArgument, "request body incomplete"), 400};
    } else if (ec) {
      out.refusal = Rejection{
          Error(ErrorCode::kInvalidArgument, "malformed request body: " + ec.message()), 400};
    }
    if (out.refusal) co_return out;
    size_t got = chunk.size() - io.parser.get().body().size;
    if (out.data.size() + got > limit) {
      out.refusal = Rejection{BodyTooLarge(limit), kStatusPayloadTooLarge};
      co_return out;
    }
    out.data.insert(out.data.end(), chunk.data(), chunk.data() + got);
  }
  co_return out;
}

// An inline route: everything on this I/O thread, but the audit sink.
template <typename Stream>
asio::awaitable<bool> ServeInline(RequestIo<Stream>& io, RequestContext& ctx,
                                  const Routing& routing, StringBodyReader& body) {
  Server& s = io.server();
  const Route* route = routing.match.route;
  ctx.request().set_body(&body);
  Result<Response> result = RequestPhases::Invoke(*route, ctx);
  Response resp = s.phases.Finalize(ctx, routing, Outcome{std::move(result), &body});
  ctx.request().set_body(nullptr);
  co_await EmitOnAuditLane(s, ctx, route);
  Reply reply{std::move(resp), true, true};
  co_return co_await SendReply(io, ctx, reply);
}

// Streams a body the handler has accepted into its exchange, under the body pace.
template <typename Stream>
asio::awaitable<bool> PumpBody(RequestIo<Stream>& io, Exchange& ex, uint64_t limit) {
  Server& s = io.server();
  if (io.expect_continue && !co_await SendContinue(io)) {
    ex.Fail(Error(ErrorCode::kUnavailable, "client went away"), 400);
    co_return false;
  }
  BodyPace pace(std::chrono::steady_clock::now(), s.options.request_timeout, s.options.read_timeout,
                s.options.min_body_rate);
  while (!io.parser.is_done()) {
    auto state = ex.CheckPump();
    if (state == Exchange::Pump::kDone) co_return false;
    if (state == Exchange::Pump::kWait) {
      co_await ex.signal().AsyncWait(asio::use_awaitable);
      continue;
    }
    // No larger than the rest of a Content-Length body: a small body costs no zeroed 64 KiB.
    size_t want = kChunkSize;
    if (auto rest = io.parser.content_length_remaining(); rest && *rest > 0 && *rest < want) {
      want = static_cast<size_t>(*rest);
    }
    std::vector<char> chunk(want);
    io.parser.get().body().data = chunk.data();
    io.parser.get().body().size = chunk.size();
    auto [ec, n] = co_await ReadBodySome(io, pace.Deadline(std::chrono::steady_clock::now()));
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == beast::error::timeout) {
      ex.Fail(Error(ErrorCode::kDeadlineExceeded,
                    pace.TooSlow(std::chrono::steady_clock::now())
                        ? "request body slower than " + std::to_string(s.options.min_body_rate) +
                              " bytes/s"
                        : std::string("request body stalled longer than the read timeout")),
              kStatusRequestTimeout);
      co_return false;
    }
    if (ec) {
      ex.Fail(IsDisconnect(ec)
                  ? Error(ErrorCode::kUnavailable, "client closed the connection")
                  : Error(ErrorCode::kInvalidArgument, "malformed request body: " + ec.message()),
              400);
      co_return false;
    }
    size_t got = chunk.size() - io.parser.get().body().size;
    pace.Received(got);
    if (pace.received() > limit) {
      ex.Fail(BodyTooLarge(limit), kStatusPayloadTooLarge);
      co_return false;
    }
    if (got > 0) {
      chunk.resize(got);
      ex.Push(std::move(chunk));
    }
  }
  ex.Finish();
  co_return true;
}

// Every other route: a worker decides and runs the handler; a large body streams to it.
template <typename Stream>
asio::awaitable<bool> ServeOnWorker(RequestIo<Stream>& io, RequestContext ctx, Routing routing,
                                    std::optional<std::vector<char>> body) {
  Server& s = io.server();
  Engine& e = s.engine;
  auto ticket = e.limits.TryAcquire(io.c.limit_key, AddressLimits::Kind::kRequest);
  if (!ticket) {
    WarnThrottled(s.last_shed_log, s.options.service_name,
                  "shedding requests from " + io.c.limit_key + ": " +
                      std::to_string(e.options.max_requests_per_address) +
                      " in flight (max_requests_per_address)");
    Rejection r{Error(ErrorCode::kUnavailable, "too many requests in flight from this address"),
                503};
    Outcome outcome = Outcome::Shed(std::move(r));
    co_return co_await AnswerRefusal(io, ctx, routing, outcome, !io.has_body || body.has_value());
  }
  const bool streamed = io.has_body && !body;
  auto ex = std::make_shared<Exchange>(std::move(ctx));
  if (body && !body->empty()) ex->Push(std::move(*body));
  if (!streamed) ex->Finish();
  auto shared_routing = std::make_shared<Routing>(std::move(routing));
  std::shared_ptr<Server> sp = io.c.server;
  auto admission =
      e.pool.TrySubmit([sp, ex, shared_routing] { WorkerTask(*sp, *ex, *shared_routing); });
  if (admission == WorkerPool::Admission::kStopped) co_return false;  // the runtime is going
  if (admission == WorkerPool::Admission::kFull) {
    WarnThrottled(s.last_shed_log, s.options.service_name,
                  "shedding requests: " + std::to_string(e.options.max_queued_requests) +
                      " wait for a worker (max_queued_requests)");
    Rejection r{Error(ErrorCode::kUnavailable, "the server is busy"), 503};
    Outcome outcome = Outcome::Shed(std::move(r));
    co_return co_await AnswerRefusal(io, ex->ctx(), *shared_routing, outcome, !streamed);
  }
  io.c.ctl->exchange = ex;
  FailOnExit guard{ex};

  bool body_complete = !streamed;
  if (streamed) {
    std::optional<bool> accepted;
    while (!(accepted = ex->decision())) co_await ex->signal().AsyncWait(asio::use_awaitable);
    if (*accepted) body_complete = co_await PumpBody(io, *ex, shared_routing->body_limit);
  }
  while (!ex->done()) co_await ex->signal().AsyncWait(asio::use_awaitable);
  io.c.ctl->exchange.reset();
  ticket.reset();  // the worker is free again
  Reply reply{ex->TakeResponse(), body_complete, false};
  co_return co_await SendReply(io, ex->ctx(), reply);
}

// One request on the connection: header, routing, body, dispatch, response. Returns whether the
// connection stays open for the next request.
template <typename Stream>
asio::awaitable<bool> ServeOne(Conn& c, Stream& stream, beast::flat_buffer& buffer) {
  Server& s = *c.server;
  Parser parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(s.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(boost::none);  // each route's limit is enforced below, not by Beast
  RequestIo<Stream> io{c, stream, buffer, parser,
                       std::chrono::steady_clock::now() + s.options.request_timeout};
  io.lowest().expires_at(io.deadline);
  auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
  if (hec) co_return co_await RefuseHeader(io, hec);

  Request req = RequestOfHeader(c, parser);
  io.has_body = !parser.is_done();
  io.head = req.method == "HEAD";
  io.keep_alive = parser.get().keep_alive();
  io.expect_continue =
      req.version == 11 && EqualsIgnoreCase(req.headers.Get("Expect").value_or(""), "100-continue");
  Routing routing = RouteRequest(s, req);
  const bool body_first = io.has_body && ReadBodyFirst(s, req, routing);
  RequestContext ctx = ContextOf(s, std::move(req), routing);
  const Route* route = routing.match.route;
  const bool inline_route = route != nullptr && route->options.inline_handler;

  if (inline_route) {
    // No Authenticator for inline routes (Decide skips it): deciding here blocks nothing.
    if (auto rejection = s.phases.Decide(ctx, routing)) {
      Outcome outcome = Outcome::Rejected(std::move(*rejection));
      co_return co_await AnswerRefusal(io, ctx, routing, outcome, !io.has_body);
    }
  }
  std::optional<std::vector<char>> body;
  if (body_first) {
    WholeBody whole = co_await ReadWholeBody(io, routing.body_limit);
    if (whole.refusal) {
      Outcome outcome = Outcome::Rejected(*whole.refusal);
      co_return co_await AnswerRefusal(io, ctx, routing, outcome, false);
    }
    body = std::move(whole.data);
  }
  if (inline_route) {
    std::string data = body ? std::string(body->begin(), body->end()) : std::string();
    StringBodyReader reader(std::move(data));
    co_return co_await ServeInline(io, ctx, routing, reader);
  }
  co_return co_await ServeOnWorker(io, std::move(ctx), std::move(routing), std::move(body));
}

template <typename Stream>
asio::awaitable<void> ServeHttp(Conn& c, Stream& stream) {
  Server& s = *c.server;
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    if (buffer.size() == 0) {
      // Between requests: the idle timeout applies, and a shutdown may close us here.
      if (c.ctl->stopping) co_return;
      c.ctl->idle = true;
      lowest.expires_after(s.options.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), kNoThrow);
      c.ctl->idle = false;
      if (ec) co_return;
      buffer.commit(n);
    }
    if (!co_await ServeOne(c, stream, buffer)) co_return;
  }
}

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

  if (s->ssl) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *s->ssl);
    c.ctl->socket = &beast::get_lowest_layer(stream).socket();
    beast::get_lowest_layer(stream).expires_after(s->options.request_timeout);
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
    if (hec) {
      log::Debug(s->options.service_name,
                 "TLS handshake with " + c.remote_address + " failed: " + hec.message());
      c.ctl->socket = nullptr;
      co_return;
    }
    co_await ServeHttp(c, stream);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(kNoThrow);
    c.ctl->socket = nullptr;
  } else {
    beast::tcp_stream stream(std::move(socket));
    c.ctl->socket = &stream.socket();
    co_await ServeHttp(c, stream);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    c.ctl->socket = nullptr;
  }
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
