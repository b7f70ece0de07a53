// HttpClient: a synchronous HTTP/1.1 client for the CLI and for service-to-service calls.
//
// Send() blocks the calling thread until the whole response has been read (or streamed into a
// sink). Connections are kept alive and reused per scheme://host:port; a request that fails on
// a reused connection before any response byte arrived (the server closed it while idle) is
// retried once on a fresh connection, unless its body is a stream that cannot be replayed.
// https verifies the server's certificate chain and host name by default.
//
// Errors: kInvalidArgument (bad URL or header), kUnavailable (cannot connect, TLS failure,
// connection lost), kDeadlineExceeded (connect_timeout or request_timeout passed),
// kResourceExhausted (response body over max_response_bytes), kDataLoss (malformed response),
// or the error of a BodySource / sink. An HTTP error status is not an Error: it is in
// ClientResponse::status.
//
// Thread-safety: Send() may be called from several threads; calls are serialized (one client
// runs one exchange at a time). Use one client per thread for parallel requests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "http/body.h"
#include "http/headers.h"

namespace veil::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // The longest any single read or write may go without progress (so a multi-GiB stream that
  // keeps moving never times out, and a stalled one does).
  std::chrono::milliseconds request_timeout{30000};
  bool verify_tls = true;
  std::string ca_file;  // PEM bundle to trust; empty: the system's default trust store
  // Largest body Send() without a sink accepts.
  size_t max_response_bytes = 64 << 20;
  // Idle keep-alive connections kept for reuse, over all hosts.
  size_t max_idle_connections = 8;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://...
  Headers headers;  // Host, Content-Length and Transfer-Encoding are set by the client
  std::string body;
  // A streamed upload instead of `body`: sent with Content-Length when body_length is set
  // (the source must yield exactly that many bytes), else chunked.
  BodySource body_source;
  std::optional<uint64_t> body_length;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;  // empty when streamed into a sink
};

// Receives a response body chunk by chunk; an error aborts the exchange and is returned.
using BodySink = std::function<Status(std::span<const char>)>;

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and reads the whole response into ClientResponse::body.
  [[nodiscard]] Result<ClientResponse> Send(const ClientRequest& request);
  // Sends `request` and streams the response body into `sink` (body stays empty).
  [[nodiscard]] Result<ClientResponse> Send(const ClientRequest& request, const BodySink& sink);

  // Connections opened so far (for tests of connection reuse).
  uint64_t connections_opened() const;

 private:
  struct Core;
  std::unique_ptr<Core> core_;
};

}  // namespace veil::http
