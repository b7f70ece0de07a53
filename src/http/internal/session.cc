// The request path of a connection: header, routing, body, dispatch to a worker (or inline),
// response, access log. Written once against AnyStream, for plain TCP and TLS alike.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <tuple>
#include <utility>

#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "http/error_map.h"
#include "http/internal/body_pace.h"
#include "http/internal/engine.h"
#include "http/request_id.h"

namespace veil::http::internal {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using SteadyTime = std::chrono::steady_clock::time_point;

// Logs a warning at most once a second per `last` (floods must not flood the log).
void WarnThrottled(std::atomic<int64_t>& last, std::string_view component,
                   const std::string& text) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  if (last.exchange(now) != now) log::Warn(component, text);
}

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

namespace {

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

using ResponseHeader = bhttp::response<bhttp::buffer_body>;

// The response's header on the wire: the handler's fields, the server's own (Date, the request
// and correlation ids, Connection), and the framing (Content-Length or chunked; a HEAD keeps the
// length the GET would have had).
ResponseHeader MakeResponseHeader(const RequestContext& ctx, Response& resp, WriteOptions wo) {
  ResponseHeader res;
  res.version(ctx.request().version == 10 ? 10 : 11);
  res.result(static_cast<unsigned>(resp.status));
  std::optional<std::string> head_length;
  if (wo.head) {
    if (auto cl = resp.headers.Get("Content-Length")) head_length = std::string(*cl);
  }
  resp.headers.Remove("Content-Length");
  resp.headers.Remove("Transfer-Encoding");
  resp.headers.Remove("Connection");
  for (const auto& [name, value] : resp.headers) res.insert(name, value);
  res.set(bhttp::field::date, CurrentHttpDate());
  if (!resp.headers.Has("correlation-id")) res.set("correlation-id", ctx.correlation_id());
  if (ctx.request().headers.Has("X-Correlation-ID") && !resp.headers.Has("X-Correlation-ID")) {
    res.set("X-Correlation-ID", ctx.correlation_id());
  }
  if (!resp.headers.Has("x-request-id")) res.set("x-request-id", ctx.request_id());
  res.keep_alive(wo.keep_alive);
  if (IsBodiless(resp.status)) return res;
  if (resp.source) {
    if (resp.source_length) {
      res.content_length(*resp.source_length);
    } else if (!wo.head) {
      res.chunked(true);
    }
  } else if (wo.head && head_length) {
    res.set(bhttp::field::content_length, *head_length);
  } else {
    res.content_length(resp.body.size());
  }
  return res;
}

// A streamed body after its header: one pull and one write at a time, so that a slow client slows
// the source down instead of filling memory. Aborts (ok false, the connection closes) when the
// source fails or yields more or fewer bytes than its declared length.
struct StreamedBody {
  const RequestContext& ctx;
  Response& resp;
  ResponseHeader& header;
  bhttp::response_serializer<bhttp::buffer_body>& serializer;
  bool pull_inline = false;  // pull on this thread (inline routes), not on the pool
};

asio::awaitable<WriteResult> WriteStreamedBody(Conn& c, AnyStream& stream, StreamedBody body) {
  Server& s = *c.server;
  const RequestContext& ctx = body.ctx;
  Response& resp = body.resp;
  ResponseHeader& res = body.header;
  WriteResult out;
  auto abort = [&](const std::string& why) {
    log::Warn(s.options.service_name,
              "response body of request " + ctx.request_id() + " aborted: " + why);
    return out;
  };
  std::vector<char> buf(kResponseChunk);
  uint64_t sent = 0;
  Result<size_t> got = size_t{0};
  // A named std::function, made once: GCC 12 may destroy a temporary made inside a co_await
  // expression twice, and a lambda converted to std::function there would be one.
  const std::function<void()> pull = [&] {
    try {
      got = resp.source(std::span<char>(buf.data(), buf.size()));
    } catch (...) {
      got = Internal("response body source threw");
    }
  };
  for (;;) {
    got = size_t{0};
    if (body.pull_inline) {
      pull();
    } else if (!co_await AsyncOnPool(s.engine.pool, pull, asio::use_awaitable)) {
      got = Unavailable("server is shutting down");
    }
    if (!got) co_return abort(got.error().ToString());
    if (*got > buf.size()) co_return abort("source overran its buffer");
    if (resp.source_length && sent + *got > *resp.source_length) {
      co_return abort("longer than its Content-Length");
    }
    if (*got == 0 && resp.source_length && sent != *resp.source_length) {
      co_return abort("shorter than its Content-Length");
    }
    stream.lowest().expires_after(s.options.write_timeout);
    res.body().data = *got == 0 ? nullptr : buf.data();
    res.body().size = *got;
    res.body().more = *got != 0;
    auto [ec, n] = co_await bhttp::async_write(stream, body.serializer, kNoThrow);
    if (*got == 0) {
      out.ok = !ec;
      out.bytes = sent;
      co_return out;
    }
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return out;
    sent += *got;
  }
}

asio::awaitable<WriteResult> WriteResponse(Conn& c, AnyStream& stream, const RequestContext& ctx,
                                           Response& resp, WriteOptions wo) {
  Server& s = *c.server;
  WriteResult out;
  ResponseHeader res = MakeResponseHeader(ctx, resp, wo);
  const bool bodiless = IsBodiless(resp.status);
  const bool streamed = static_cast<bool>(resp.source);
  bhttp::response_serializer<bhttp::buffer_body> sr(res);
  stream.lowest().expires_after(s.options.write_timeout);
  if (wo.head || bodiless || (!streamed && resp.body.empty())) {
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, n] = wo.head || bodiless ? co_await bhttp::async_write_header(stream, sr, kNoThrow)
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
  res.body().data = nullptr;
  res.body().more = true;
  auto [ec, n] = co_await bhttp::async_write_header(stream, sr, kNoThrow);
  if (ec) co_return out;
  StreamedBody body{ctx, resp, res, sr, wo.pull_inline};
  co_return co_await WriteStreamedBody(c, stream, body);
}

// Reads and discards what is left of a request body, up to `limit` bytes. True when the whole
// message has been read (the connection can be reused).
asio::awaitable<bool> DrainBody(Conn& c, AnyStream& stream, beast::flat_buffer& buffer,
                                bhttp::request_parser<bhttp::buffer_body>& parser, uint64_t limit) {
  auto& lowest = stream.lowest();
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
asio::awaitable<void> LingeringClose(AnyStream& stream) {
  auto& lowest = stream.lowest();
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
struct RequestIo {
  Conn& c;
  AnyStream& stream;
  beast::flat_buffer& buffer;
  Parser& parser;
  SteadyTime deadline;  // request_timeout after the header began
  bool has_body = false;
  bool head = false;
  bool keep_alive = false;
  bool expect_continue = false;

  Server& server() { return *c.server; }
  beast::tcp_stream& lowest() { return stream.lowest(); }
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
// (GCC 12 destroys brace-initialized temporaries in a co_await expression twice: every call
// below passes named objects by reference.)
asio::awaitable<bool> SendReply(RequestIo& io, const RequestContext& ctx, Reply& reply) {
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
  const std::function<void()> emit = [&] { phases.EmitAudit(ctx, route); };  // named: see above
  co_await AsyncOnPool(s.engine.audit_lane, emit, asio::use_awaitable);
}

// Answers a request the I/O side refuses (bad header, body over its limit or too slow, load
// shed): finalize, audit, write.
asio::awaitable<bool> AnswerRefusal(RequestIo& io, RequestContext& ctx, const Routing& routing,
                                    Outcome& outcome, bool body_complete) {
  Server& s = io.server();
  const bool shed = outcome.expected;
  Response resp = s.phases.Finalize(ctx, routing, std::move(outcome));
  if (shed) resp.headers.Set("Retry-After", std::string(kRetryAfterSeconds));
  co_await EmitOnAuditLane(s, ctx, routing.match.route);
  Reply reply{std::move(resp), body_complete, true};
  co_return co_await SendReply(io, ctx, reply);
}

// A header that could not be read: 431 or 400 when it can be answered, else nothing.
asio::awaitable<bool> RefuseHeader(RequestIo& io, const error_code& hec) {
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
asio::awaitable<std::tuple<error_code, size_t>> ReadBodySome(RequestIo& io, SteadyTime deadline) {
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

asio::awaitable<bool> SendContinue(RequestIo& io) {
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

asio::awaitable<WholeBody> ReadWholeBody(RequestIo& io, size_t limit) {
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
asio::awaitable<bool> ServeInline(RequestIo& io, RequestContext& ctx, const Routing& routing,
                                  StringBodyReader& body) {
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
asio::awaitable<bool> PumpBody(RequestIo& io, Exchange& ex, uint64_t limit) {
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
asio::awaitable<bool> ServeOnWorker(RequestIo& io, RequestContext ctx, Routing routing,
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
asio::awaitable<bool> ServeOne(Conn& c, AnyStream& stream, beast::flat_buffer& buffer) {
  Server& s = *c.server;
  Parser parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(s.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(boost::none);  // each route's limit is enforced below, not by Beast
  RequestIo io{c, stream, buffer, parser,
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

}  // namespace

asio::awaitable<void> ServeHttp(Conn& c, AnyStream& stream) {
  Server& s = *c.server;
  auto& lowest = stream.lowest();
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

}  // namespace veil::http::internal
