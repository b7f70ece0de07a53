// The server's I/O side: listeners, connection coroutines, the body pump, the graceful shutdown.
// With client.cc, the only translation units of Veil that include Asio and Beast.
//
// Threads: N I/O threads run one io_context; each connection runs one coroutine on its own
// strand. Handlers, authentication of non-inline routes, pulls of streamed response bodies and
// audit emission run on the WorkerPool; an I/O coroutine never blocks on them, it awaits them.
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
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/time.h"
#include "http/error_map.h"
#include "http/request_id.h"
#include "http/worker_pool.h"

namespace veil::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr size_t kChunkSize = 64 * 1024;           // one socket read of a request body
constexpr size_t kQueueCapacity = 4 * kChunkSize;  // body bytes queued for a handler
constexpr size_t kResponseChunk = 128 * 1024;      // one pull of a streamed response
constexpr uint64_t kDrainLimit = 64 * 1024;        // unread body drained to keep a connection
constexpr size_t kLingerBytes = 4 << 20;           // discarded after a response that closes
constexpr auto kLingerTime = std::chrono::seconds(2);

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
  explicit Engine(const RuntimeOptions& o) : options(o), pool(std::max(1, o.worker_threads)) {}

  RuntimeOptions options;
  std::atomic<bool> stopping{false};
  mutable std::mutex sessions_mu;
  std::unordered_map<SessionControl*, std::shared_ptr<SessionControl>> sessions;
  WorkerPool pool;  // stopped explicitly by ~Runtime before the io_context goes
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

// Shared by its connections' coroutines and worker tasks, so that a frame destroyed with the
// io_context still finds it.
struct Server : std::enable_shared_from_this<Server> {
  Server(Engine& e, ServerOptions o, Router r, ServerHooks h)
      : engine(e),
        options(std::move(o)),
        router(std::move(r)),
        hooks(std::move(h)),
        renderer(hooks.error_renderer ? hooks.error_renderer : JsonErrorRenderer()),
        strand(asio::make_strand(e.ioc)),
        acceptor(strand) {}

  Engine& engine;
  ServerOptions options;
  Router router;
  ServerHooks hooks;
  ErrorRenderer renderer;
  std::unique_ptr<asio::ssl::context> ssl;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  std::atomic<size_t> connections{0};
  std::atomic<int64_t> last_overload_log{0};
};

// ---------------------------------------------------------------------------------------------
// Request phases that do not touch the socket (run on a worker or, for inline routes, on the
// I/O thread).

struct Rejection {
  Error error;
  int status = 0;
};

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

Status ValidateResponse(const Response& r) {
  if (r.status < 200 || r.status > 599) return Internal("invalid status");
  for (const auto& [name, value] : r.headers) {
    if (name.empty()) return Internal("empty header name");
    for (char c : name) {
      if (!IsTokenChar(c)) return Internal("invalid header name");
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') return Internal("invalid header value");
    }
  }
  return OkStatus();
}

std::string_view PrincipalTypeUri(std::string_view type) {
  if (type == "user") return "service/security/account/user";
  if (type == "serviceid") return "service/security/account/serviceid";
  if (type == "service") return "service/security/clientid";
  return "";
}

// Printable ASCII only, at most 256 characters: a User-Agent goes into events and nothing else.
std::string SanitizeAgent(std::string_view agent) {
  std::string out;
  for (char c : agent.substr(0, 256)) out.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  return out;
}

void FillEvent(const Server& s, RequestContext& ctx, const Route* route, int status,
               const Error* error) {
  audit::Event& ev = ctx.event();
  const Request& req = ctx.request();
  ev.id = NewRequestId();
  ev.event_time = FormatAuditTime(std::chrono::system_clock::now());
  if (ev.action.empty()) {
    ev.action = (route != nullptr && !route->options.action.empty())
                    ? route->options.action
                    : s.options.service_name + ".http.request";
  }
  if (ctx.principal) {
    if (ev.initiator.id.empty()) ev.initiator.id = ctx.principal->id;
    if (ev.initiator.name.empty()) ev.initiator.name = ctx.principal->name;
    if (ev.initiator.type_uri.empty()) {
      ev.initiator.type_uri = std::string(PrincipalTypeUri(ctx.principal->type));
    }
    if (ev.initiator.credential_type.empty()) {
      ev.initiator.credential_type = ctx.principal->credential_type;
    }
  } else if (ev.initiator.id.empty()) {
    ev.initiator.id = "anonymous";
  }
  ev.initiator.host_address = req.remote_address;
  ev.initiator.host_address_type =
      req.remote_address.find(':') != std::string::npos ? "IPv6" : "IPv4";
  ev.initiator.host_agent = SanitizeAgent(req.headers.Get("User-Agent").value_or(""));
  ev.request_path = req.path;
  ev.method = req.method;
  ev.correlation_id = ctx.correlation_id();
  ev.reason_code = status;
  ev.reason_type = std::string(ReasonPhrase(status));
  ev.outcome = status < 400 ? "success" : "failure";
  if (status >= 400 && ev.reason_for_failure.empty()) {
    ev.reason_for_failure = error != nullptr ? error->message : ev.reason_type;
  }
  if (ev.message.empty()) {
    ev.message = s.options.service_name + ": " + req.method + " " +
                 (route != nullptr ? route->path_template : std::string("(no route)"));
    if (status >= 400) ev.message += " -failure";
  }
}

// Turns the handler's outcome (or a rejection) into what the client gets, and fills the audit
// event. `body` is the reader the handler used, if any.
bool AuditWanted(const Server& s, const Route* route) {
  return s.hooks.audit != nullptr && (route == nullptr || route->options.audit);
}

// `status` (non-zero) is the status of a rejection; otherwise an error takes its status from
// the body's failure or from HttpStatusFor.
Response Finalize(const Server& s, RequestContext& ctx, const Route* route,
                  Result<Response> outcome, const BodyReader* body, const std::string& allow,
                  int status = 0) {
  std::optional<Error> failure;
  Response resp;
  if (outcome) {
    resp = std::move(*outcome);
    if (body != nullptr && body->failure() && resp.status < 400) {
      failure = *body->failure();
      status = body->failure_status();
    } else if (auto valid = ValidateResponse(resp); !valid) {
      log::Error(
          s.options.service_name,
          "handler for " + ctx.route() + " produced an invalid response: " + valid.error().message);
      failure = Error(ErrorCode::kInternal, "internal error");
      status = 500;
    }
  } else {
    failure = outcome.error();
    if (status == 0) {
      status = (body != nullptr && body->failure_status() != 0) ? body->failure_status()
                                                                : HttpStatusFor(failure->code);
    }
  }
  if (failure) {
    try {
      resp = ctx.ErrorResponse(*failure, status);
    } catch (...) {
      resp = RenderJsonError(*failure, status, ctx);
    }
    resp.status = status;
    if (status == kStatusMethodNotAllowed && !allow.empty()) resp.headers.Set("Allow", allow);
  }
  // Skipped when no event will be emitted (health probes at full rate).
  if (AuditWanted(s, route)) FillEvent(s, ctx, route, resp.status, failure ? &*failure : nullptr);
  return resp;
}

void EmitAudit(const Server& s, const RequestContext& ctx, const Route* route) {
  if (s.hooks.audit == nullptr) return;
  if (route != nullptr && !route->options.audit) return;
  Status st;
  try {
    st = s.hooks.audit->Emit(ctx.event());
  } catch (...) {
    st = Internal("audit sink threw");
  }
  if (!st) {
    log::Error(s.options.service_name,
               "audit event " + ctx.event().id + " not recorded: " + st.error().ToString());
  }
}

// What routing found, handed to Decide().
struct Routing {
  std::optional<Error> target_error;
  RouteMatch match;
  size_t body_limit = 0;
};

// Authentication and the route's admission rules, in order: a malformed target (400), the
// Authenticator's verdict (401, 503, ...; skipped for inline routes), no route (404), wrong method
// (405), anonymous on an authenticated route (401), a declared body over the limit (413).
std::optional<Rejection> Decide(const Server& s, RequestContext& ctx, const Routing& routing) {
  if (routing.target_error) return Rejection{*routing.target_error, 400};
  // Inline routes are anonymous (Router::Add enforces it) and run on the I/O thread, where a
  // possibly blocking Authenticator must not run.
  const bool inline_route =
      routing.match.route != nullptr && routing.match.route->options.inline_handler;
  if (s.hooks.authenticator && !inline_route) {
    Result<std::optional<Principal>> who = std::optional<Principal>();
    try {
      who = s.hooks.authenticator(ctx.request());
    } catch (...) {
      who = Internal("authentication failed");
    }
    if (!who) return Rejection{who.error(), HttpStatusFor(who.error().code)};
    ctx.principal = std::move(*who);
  }
  switch (routing.match.kind) {
    case RouteMatch::Kind::kNotFound:
      return Rejection{Error(ErrorCode::kNotFound, "no resource at this path"), 404};
    case RouteMatch::Kind::kMethodNotAllowed:
      return Rejection{Error(ErrorCode::kInvalidArgument,
                             "method " + ctx.request().method + " is not allowed here"),
                       kStatusMethodNotAllowed};
    case RouteMatch::Kind::kFound:
      break;
  }
  const Route& route = *routing.match.route;
  if (route.options.authenticated && !ctx.principal) {
    return Rejection{Error(ErrorCode::kUnauthenticated, "authentication required"), 401};
  }
  const auto& cl = ctx.request().content_length;
  if (cl && *cl > routing.body_limit) {
    return Rejection{BodyTooLarge(routing.body_limit), kStatusPayloadTooLarge};
  }
  return std::nullopt;
}

Result<Response> InvokeHandler(const Route& route, RequestContext& ctx) {
  try {
    return route.handler(ctx);
  } catch (const std::exception& e) {
    log::Error("http", "handler for " + route.path_template + " threw: " + e.what());
  } catch (...) {
    log::Error("http", "handler for " + route.path_template + " threw");
  }
  return Internal("internal error");
}

// The non-inline request, on a worker: decide, run the handler, finalize, emit the event.
void WorkerTask(const Server& s, Exchange& ex, const Routing& routing) {
  RequestContext& ctx = ex.ctx();
  const Route* route = routing.match.route;
  Response resp;
  try {
    if (auto rejection = Decide(s, ctx, routing)) {
      ex.Decide(false);
      resp = Finalize(s, ctx, route, tl::unexpected(rejection->error), nullptr, routing.match.allow,
                      rejection->status);
    } else {
      ex.Decide(true);
      Result<Response> outcome = InvokeHandler(*route, ctx);
      resp = Finalize(s, ctx, route, std::move(outcome), &ex, routing.match.allow);
    }
    EmitAudit(s, ctx, route);
  } catch (...) {
    // Only allocation failure gets here; answer without touching the renderer again.
    resp = Response::Text(500, "internal error");
  }
  ex.Complete(std::move(resp));
}

void AccessLog(const Server& s, const RequestContext& ctx, int status, uint64_t bytes) {
  if (log::GetLevel() > log::Level::kInfo) return;  // not built only to be dropped
  auto elapsed = std::chrono::steady_clock::now() - ctx.start_time();
  double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  const Request& req = ctx.request();
  // Never the target (its query may hold a presigned signature), never a header value.
  std::string path = req.raw_path.empty() ? "-" : req.raw_path;
  char dur[32];
  std::snprintf(dur, sizeof dur, "%.3f", ms);
  std::string line;
  line.reserve(160 + path.size());
  line += "access method=";
  line += req.method.empty() ? "-" : req.method;
  line += " path=";
  line += path;
  line += " status=";
  line += std::to_string(status);
  line += " bytes=";
  line += std::to_string(bytes);
  line += " duration_ms=";
  line += dur;
  line += " request_id=";
  line += ctx.request_id();
  line += " remote=";
  line += req.remote_address;
  log::Info(s.options.service_name, line);
}

bool IsDisconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == asio::ssl::error::stream_truncated;
}

// ---------------------------------------------------------------------------------------------
// The connection coroutine.

struct Conn {
  std::shared_ptr<Server> server;
  std::shared_ptr<SessionControl> ctl;
  std::string remote_address;
  uint16_t remote_port = 0;
};

struct WriteResult {
  bool ok = false;
  uint64_t bytes = 0;
};

bool IsBodiless(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

template <typename Stream>
asio::awaitable<WriteResult> WriteResponse(Conn& c, Stream& stream, const RequestContext& ctx,
                                           Response& resp, bool head, bool keep_alive,
                                           bool pull_inline) {
  Server& s = *c.server;
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
  res.keep_alive(keep_alive);

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
    if (pull_inline) {
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

// One request on the connection: parse, route, dispatch, respond. Returns whether the
// connection stays open for the next request.
template <typename Stream>
asio::awaitable<bool> ServeOne(Conn& c, Stream& stream, beast::flat_buffer& buffer) {
  Server& s = *c.server;
  Engine& e = s.engine;
  auto& lowest = beast::get_lowest_layer(stream);

  bhttp::request_parser<bhttp::buffer_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(s.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(boost::none);  // each route's limit is enforced below, not by Beast
  lowest.expires_after(s.options.read_timeout);
  auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);

  if (hec) {
    if (hec == beast::error::timeout) {
      // Beast closed the socket: nothing can be answered. No request, so no audit event.
      log::Info(s.options.service_name, "closed connection from " + c.remote_address +
                                            ": request header not complete within read timeout");
      co_return false;
    }
    if (IsDisconnect(hec)) co_return false;
    Error error;
    int status = 400;
    if (hec == bhttp::error::header_limit || hec == bhttp::error::buffer_overflow) {
      status = kStatusHeaderTooLarge;
      error =
          Error(ErrorCode::kResourceExhausted,
                "request header exceeds " + std::to_string(s.options.max_header_bytes) + " bytes");
    } else {
      error = Error(ErrorCode::kInvalidArgument, "malformed request: " + hec.message());
    }
    Request req;
    req.remote_address = c.remote_address;
    req.remote_port = c.remote_port;
    RequestContext ctx(std::move(req), NewRequestId(), NewRequestId());
    ctx.set_error_renderer(&s.renderer);
    Response resp = Finalize(s, ctx, nullptr, tl::unexpected(error), nullptr, "", status);
    if (AuditWanted(s, nullptr)) {
      co_await AsyncOnPool(
          e.pool, [&] { EmitAudit(s, ctx, nullptr); }, asio::use_awaitable);
    }
    auto w = co_await WriteResponse(c, stream, ctx, resp, false, false, true);
    AccessLog(s, ctx, resp.status, w.bytes);
    if (w.ok) co_await LingeringClose(stream);
    co_return false;
  }

  auto& hreq = parser.get();
  Request req;
  req.method = std::string(hreq.method_string());
  req.target = std::string(hreq.target());
  req.version = hreq.version() == 10 ? 10 : 11;
  for (const auto& f : hreq) req.headers.Add(f.name_string(), f.value());
  req.remote_address = c.remote_address;
  req.remote_port = c.remote_port;
  if (auto cl = parser.content_length()) req.content_length = *cl;
  const bool has_body = !parser.is_done();
  const bool head = req.method == "HEAD";
  bool keep_alive = hreq.keep_alive();
  const bool expect_continue =
      req.version == 11 && EqualsIgnoreCase(req.headers.Get("Expect").value_or(""), "100-continue");

  std::optional<std::string> corr;
  if (auto v = req.headers.Get("correlation-id")) corr = ValidCorrelationId(*v);
  if (!corr) {
    if (auto v = req.headers.Get("X-Correlation-ID")) corr = ValidCorrelationId(*v);
  }

  Routing routing;
  if (auto target = ParseTarget(req.target); !target) {
    routing.target_error = target.error();
  } else {
    req.raw_path = std::move(target->raw_path);
    req.path = std::move(target->path);
    req.query = std::move(target->query);
    routing.match = s.router.Match(req.method, req.raw_path);
    if (routing.match.route != nullptr) {
      req.path_params = std::move(routing.match.params);
      routing.body_limit =
          routing.match.route->options.body_limit.value_or(s.options.default_body_limit);
    }
  }
  RequestContext ctx(std::move(req), NewRequestId(), corr ? std::move(*corr) : NewRequestId());
  ctx.set_error_renderer(&s.renderer);
  const Route* route = routing.match.route;
  if (route != nullptr) ctx.set_route(route->path_template);

  // Inline routes: everything on this I/O thread, except the audit sink.
  if (route != nullptr && route->options.inline_handler) {
    Response resp;
    bool body_complete = true;
    if (auto rejection = Decide(s, ctx, routing)) {
      resp =
          Finalize(s, ctx, route, tl::unexpected(rejection->error), nullptr, "", rejection->status);
      body_complete = !has_body;
    } else {
      StringBodyReader body;
      std::optional<Rejection> body_error;
      if (has_body) {
        if (expect_continue) {
          bhttp::response<bhttp::empty_body> cont(bhttp::status::continue_, 11);
          lowest.expires_after(s.options.write_timeout);
          auto [ec, n] = co_await bhttp::async_write(stream, cont, kNoThrow);
          if (ec) co_return false;
        }
        std::string data;
        std::vector<char> chunk(kChunkSize);
        while (!parser.is_done()) {
          parser.get().body().data = chunk.data();
          parser.get().body().size = chunk.size();
          lowest.expires_after(s.options.read_timeout);
          auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kNoThrow);
          if (ec == bhttp::error::need_buffer) ec = {};
          if (ec == beast::error::timeout) {
            body_error = Rejection{Error(ErrorCode::kDeadlineExceeded, "request body stalled"),
                                   kStatusRequestTimeout};
          } else if (ec) {
            body_error =
                Rejection{Error(ErrorCode::kInvalidArgument, "request body incomplete"), 400};
          }
          if (body_error) break;
          data.append(chunk.data(), chunk.size() - parser.get().body().size);
          if (data.size() > routing.body_limit) {
            body_error = Rejection{BodyTooLarge(routing.body_limit), kStatusPayloadTooLarge};
            break;
          }
        }
        body_complete = !body_error;
        body = StringBodyReader(std::move(data));
      }
      if (body_error) {
        resp = Finalize(s, ctx, route, tl::unexpected(body_error->error), nullptr, "",
                        body_error->status);
      } else {
        ctx.request().set_body(&body);
        Result<Response> outcome = InvokeHandler(*route, ctx);
        resp = Finalize(s, ctx, route, std::move(outcome), &body, "");
        ctx.request().set_body(nullptr);
      }
    }
    if (AuditWanted(s, route)) {
      co_await AsyncOnPool(
          e.pool, [&] { EmitAudit(s, ctx, route); }, asio::use_awaitable);
    }
    if (!body_complete && BodyAlreadyBuffered(parser, buffer)) {
      body_complete = co_await DrainBody(c, stream, buffer, parser, kDrainLimit);
    }
    keep_alive = keep_alive && body_complete && !c.ctl->stopping;
    auto w = co_await WriteResponse(c, stream, ctx, resp, head, keep_alive, true);
    AccessLog(s, ctx, resp.status, w.bytes);
    if (!w.ok) co_return false;
    if (!body_complete) co_await LingeringClose(stream);
    co_return keep_alive;
  }

  // Everything else: the worker decides and runs the handler while this coroutine streams the
  // body to it.
  auto ex = std::make_shared<Exchange>(std::move(ctx));
  c.ctl->exchange = ex;
  if (!has_body) ex->Finish();
  FailOnExit guard{ex};
  auto shared_routing = std::make_shared<Routing>(std::move(routing));
  std::shared_ptr<Server> sp = c.server;
  if (!e.pool.Submit([sp, ex, shared_routing] { WorkerTask(*sp, *ex, *shared_routing); })) {
    co_return false;  // the pool stopped: the runtime is going away
  }

  bool body_complete = !has_body;
  bool accepted = false;
  for (;;) {
    auto d = ex->decision();
    if (d) {
      accepted = *d;
      break;
    }
    co_await ex->signal().AsyncWait(asio::use_awaitable);
  }

  if (accepted && has_body) {
    if (expect_continue) {
      bhttp::response<bhttp::empty_body> cont(bhttp::status::continue_, 11);
      lowest.expires_after(s.options.write_timeout);
      auto [ec, n] = co_await bhttp::async_write(stream, cont, kNoThrow);
      if (ec) ex->Fail(Error(ErrorCode::kUnavailable, "client went away"), 400);
    }
    uint64_t received = 0;
    const uint64_t limit = shared_routing->body_limit;
    while (!parser.is_done()) {
      auto state = ex->CheckPump();
      if (state == Exchange::Pump::kDone) break;
      if (state == Exchange::Pump::kWait) {
        co_await ex->signal().AsyncWait(asio::use_awaitable);
        continue;
      }
      // No larger than the rest of a Content-Length body: a small body (a KMS wrap's ~60 bytes)
      // costs no zero-filled 64 KiB buffer.
      size_t want = kChunkSize;
      if (auto rest = parser.content_length_remaining(); rest && *rest > 0 && *rest < want) {
        want = static_cast<size_t>(*rest);
      }
      std::vector<char> chunk(want);
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      lowest.expires_after(s.options.read_timeout);
      auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kNoThrow);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        if (ec == beast::error::timeout) {
          ex->Fail(Error(ErrorCode::kDeadlineExceeded,
                         "request body stalled longer than the read timeout"),
                   kStatusRequestTimeout);
        } else if (IsDisconnect(ec)) {
          ex->Fail(Error(ErrorCode::kUnavailable, "client closed the connection"), 400);
        } else {
          ex->Fail(Error(ErrorCode::kInvalidArgument, "malformed request body: " + ec.message()),
                   400);
        }
        break;
      }
      size_t got = chunk.size() - parser.get().body().size;
      received += got;
      if (received > limit) {
        ex->Fail(BodyTooLarge(limit), kStatusPayloadTooLarge);
        break;
      }
      if (got > 0) {
        chunk.resize(got);
        ex->Push(std::move(chunk));
      }
    }
    if (parser.is_done()) {
      ex->Finish();
      body_complete = true;
    }
  }

  while (!ex->done()) co_await ex->signal().AsyncWait(asio::use_awaitable);
  c.ctl->exchange.reset();
  Response resp = ex->TakeResponse();
  RequestContext& rctx = ex->ctx();

  if (!body_complete && BodyAlreadyBuffered(parser, buffer)) {
    body_complete = co_await DrainBody(c, stream, buffer, parser, kDrainLimit);
  }
  keep_alive = keep_alive && body_complete && !c.ctl->stopping &&
               !EqualsIgnoreCase(resp.headers.Get("Connection").value_or(""), "close");
  bool pull_inline = false;
  auto w = co_await WriteResponse(c, stream, rctx, resp, head, keep_alive, pull_inline);
  AccessLog(s, rctx, resp.status, w.bytes);
  if (!w.ok) co_return false;
  if (!body_complete) co_await LingeringClose(stream);
  co_return keep_alive;
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

// Registers the connection for the shutdown and counts it against max_connections.
class SessionScope {
 public:
  SessionScope(Server& s, std::shared_ptr<SessionControl> ctl) : s_(s), ctl_(std::move(ctl)) {
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
};

asio::awaitable<void> RunConnection(std::shared_ptr<Server> s, tcp::socket socket) {
  Conn c;
  c.server = s;
  c.ctl = std::make_shared<SessionControl>(socket.get_executor());
  SessionScope scope(*s, c.ctl);
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  c.remote_address = remote.address().to_string();
  c.remote_port = remote.port();
  socket.set_option(tcp::no_delay(true), ec);
  if (s->engine.stopping) co_return;

  if (s->ssl) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *s->ssl);
    c.ctl->socket = &beast::get_lowest_layer(stream).socket();
    beast::get_lowest_layer(stream).expires_after(s->options.read_timeout);
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

// A connection over max_connections: 503 at once (plain HTTP), or just closed (TLS, where an
// answer would need a handshake first).
asio::awaitable<void> RejectConnection(Server* s, tcp::socket socket) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  if (s->last_overload_log.exchange(now) != now) {
    log::Warn(s->options.service_name,
              "refusing connections: " + std::to_string(s->options.max_connections) +
                  " open (max_connections)");
  }
  if (!s->ssl) {
    Request req;
    RequestContext ctx(std::move(req), NewRequestId(), NewRequestId());
    ctx.set_error_renderer(&s->renderer);
    Response r = ctx.ErrorResponse(Error(ErrorCode::kUnavailable, "too many connections"), 503);
    std::string wire = "HTTP/1.1 503 Service Unavailable\r\n";
    for (const auto& [n, v] : r.headers) {
      if (!EqualsIgnoreCase(n, "Content-Length") && !EqualsIgnoreCase(n, "Connection")) {
        wire += n + ": " + v + "\r\n";
      }
    }
    wire += "Content-Length: " + std::to_string(r.body.size()) +
            "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + r.body;
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(2));
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(wire), kNoThrow);
    if (!ec) {
      // Discard what the client already sent, so that closing does not reset the connection
      // before it reads the 503; never wait for more (the flood this guards against must not
      // hold sockets open).
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
  }
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
    auto ex = socket.get_executor();
    std::string component = s->options.service_name;
    if (s->connections.fetch_add(1) >= s->options.max_connections) {
      s->connections.fetch_sub(1);
      asio::co_spawn(ex, RejectConnection(s, std::move(socket)),
                     [component](std::exception_ptr e) { LogEscaped(component, e); });
      continue;
    }
    asio::co_spawn(ex, RunConnection(s->shared_from_this(), std::move(socket)),
                   [component](std::exception_ptr e) { LogEscaped(component, e); });
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
