// The HTTP server: Runtime owns the I/O threads, the worker pool and every listener.
//
// Each request goes through fixed phases on the connection's I/O coroutine: read the header
// (within max_header_bytes and request_timeout) -> parse the target -> match the route -> read a
// small body whole (within request_timeout) -> admission (per-address cap, bounded worker
// queue) -> authenticate (ServerHooks::authenticator) -> enforce the route's anonymity and body
// limit -> run the handler (on a worker thread, or inline on the I/O thread for inline routes),
// streaming a large body to it under min_body_rate -> emit the request's one audit event ->
// write the response -> write one access-log line. Every error response, from any phase, is
// rendered by the server's ErrorRenderer with the status of error_map.h; 5xx and 401 bodies
// carry fixed wording (internal/phases.h, ClientError), the cause goes to the log or the event.
//
// Public headers of src/http include no Asio or Beast header: only server.cc and client.cc do.
//
// Thread-safety: AddServer(), Run(), RunInBackground(), Join() from the owning thread; Stop()
// from any thread (and from a signal, through Run()'s handler). Hooks are called concurrently
// from I/O and worker threads and must be thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "audit/sink.h"
#include "common/result.h"
#include "http/context.h"
#include "http/request.h"
#include "http/router.h"

namespace veil::http {

struct TlsOptions {
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
};

struct ServerOptions {
  // Names the service in audit actions of rejected requests ("kms.http.request") and is the
  // component of its access-log lines.
  std::string service_name = "http";
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; AddServer returns it
  // Request line plus header fields; beyond it the answer is 431 and the connection closes.
  size_t max_header_bytes = 16 * 1024;
  // Body limit of routes that set none; beyond it 413.
  size_t default_body_limit = 1 << 20;
  // A body no larger than this (a route whose limit is at most this, or a declared
  // Content-Length at most this) is read whole by the I/O side before the request takes a
  // worker: a client that trickles it holds a socket, never a worker. Larger bodies stream to
  // the handler under min_body_rate.
  size_t buffered_body_limit = 64 * 1024;
  // Total time from a request's first byte to the end of its header and, for a body read before
  // the handler, to the end of its body. Past it: a header is dropped with the connection (no
  // request, no answer), a body is answered 408 and the connection closes.
  std::chrono::milliseconds request_timeout{30000};
  // Longest stall of each read of a streamed request body (408 past it).
  std::chrono::milliseconds read_timeout{30000};
  // A streamed request body must arrive at this many bytes per second on average, counted from
  // its start after a grace of request_timeout (408 past it). 0: no minimum.
  uint64_t min_body_rate = 16 * 1024;
  // Longest wait for the first byte of the next request on a keep-alive connection.
  std::chrono::milliseconds idle_timeout{60000};
  // Longest wait for each write to make progress.
  std::chrono::milliseconds write_timeout{60000};
  // Open connections beyond this are answered 503 (plain HTTP) or closed (TLS) at once.
  size_t max_connections = 10000;
  std::optional<TlsOptions> tls;
};

// Establishes who is calling, once per request, before routing. Returns:
//   a Principal        the credentials are valid;
//   nullopt            the request carries no credentials (anonymous);
//   an Error           the credentials are invalid (kUnauthenticated -> 401) or could not be
//                      checked (kUnavailable -> 503, ...); the request is rejected.
// An anonymous request to a route with RouteOptions::authenticated gets 401.
using Authenticator = std::function<Result<std::optional<Principal>>(const Request&)>;

struct ServerHooks {
  Authenticator authenticator;        // empty: every request is anonymous
  ErrorRenderer error_renderer;       // empty: JsonErrorRenderer()
  ErrorStatusFn error_status;         // empty: HttpStatusFor(error.code)
  audit::AuditSink* audit = nullptr;  // not owned, may be null; must outlive the Runtime
};

struct RuntimeOptions {
  int io_threads = 2;
  int worker_threads = 8;
  // Requests waiting for a worker beyond this are answered 503 with Retry-After at once (load
  // shedding) instead of waiting behind the others. 0: unbounded.
  size_t max_queued_requests = 512;
  // Per client address, over every listener (0: no cap): open connections (beyond it a new one
  // is answered 503 and closed, as over max_connections) and requests holding or waiting for a
  // worker (beyond it 503 with Retry-After).
  size_t max_connections_per_address = 256;
  size_t max_requests_per_address = 128;
  // How long Stop() lets in-flight requests finish before closing their connections.
  std::chrono::milliseconds shutdown_grace{10000};
  // Whether Run() stops on SIGINT and SIGTERM.
  bool handle_signals = true;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  // Stops (as Stop() with the grace period), joins and releases everything.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Binds and listens at once (so a port-0 server knows its port), serving once the runtime
  // runs. Returns the bound port. kInvalidArgument for a bad address or unreadable TLS files,
  // kUnavailable when the address cannot be bound, kFailedPrecondition after Stop().
  [[nodiscard]] Result<uint16_t> AddServer(ServerOptions options, Router router,
                                           ServerHooks hooks = {});

  // Serves until Stop() (or SIGINT/SIGTERM when handle_signals) and the graceful shutdown end:
  // listeners close, idle keep-alive connections close, in-flight requests finish (up to
  // shutdown_grace, then their connections are closed and their body readers fail).
  void Run();
  // Starts the I/O threads and returns; Join() waits for the end of the shutdown.
  void RunInBackground();
  void Join();
  // Begins the graceful shutdown. Idempotent; safe from any thread.
  void Stop();

  // Open connections over all servers (for tests and metrics).
  size_t active_connections() const;

 private:
  struct Core;
  std::unique_ptr<Core> core_;
};

}  // namespace veil::http
