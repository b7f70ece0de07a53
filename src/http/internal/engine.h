// The server's shared state: the runtime's engine (worker pool, audit lane, per-address limits,
// the session registry), each listener's Server, each connection's Conn, and the Exchange through
// which a connection's I/O coroutine and its request's worker task meet. Shared by server.cc (the
// runtime, listeners and admission) and session.cc (the request path). Internal to src/http;
// includes Asio and Beast.
//
// Threads: each connection runs one coroutine on its own strand; handlers run on the WorkerPool;
// events of requests answered by the I/O side on a one-thread audit lane.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/internal/address_limits.h"
#include "http/internal/any_stream.h"
#include "http/internal/phases.h"
#include "http/server.h"
#include "http/worker_pool.h"

namespace veil::http::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
inline constexpr size_t kChunkSize = 64 * 1024;           // one socket read of a request body
inline constexpr size_t kQueueCapacity = 4 * kChunkSize;  // body bytes queued for a handler
inline constexpr size_t kResponseChunk = 128 * 1024;      // one pull of a streamed response
inline constexpr uint64_t kDrainLimit = 64 * 1024;  // unread body drained to keep a connection
inline constexpr size_t kLingerBytes = 4 << 20;     // discarded after a response that closes
inline constexpr auto kLingerTime = std::chrono::seconds(2);
inline constexpr std::string_view kRetryAfterSeconds = "1";

// ---------------------------------------------------------------------------------------------
// Waiting on worker threads from a coroutine.

// Runs `fn` on the pool and resumes the awaiting coroutine on its own executor afterwards; the
// result is false when the pool is stopped (fn did not run).
template <typename Token>
auto AsyncOnPool(WorkerPool& pool, const std::function<void()>& fn, Token&& token) {
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
      token, fn);
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

// Logs a warning at most once a second per `last` (floods must not flood the log).
void WarnThrottled(std::atomic<int64_t>& last, std::string_view component, const std::string& text);
// Whether `ec` means the peer went away (or the socket was closed under us).
bool IsDisconnect(const error_code& ec);

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

// The worker's part of a request: decide, run the handler, finalize, emit the event.
void WorkerTask(const Server& s, Exchange& ex, const Routing& routing);

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

// Serves requests on a connection until it closes, the client stops, or the runtime stops.
asio::awaitable<void> ServeHttp(Conn& c, AnyStream& stream);

}  // namespace veil::http::internal
