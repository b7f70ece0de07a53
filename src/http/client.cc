// HttpClient: Beast over a private io_context, driven synchronously by Send().
#include "http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "http/internal/any_stream.h"

namespace veil::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using internal::AnyStream;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kChunk = 64 * 1024;

struct Target {
  bool tls = false;
  std::string host;         // for resolving, without brackets
  std::string host_header;  // host[:port] as in the URL
  uint16_t port = 0;
  std::string target;  // origin-form
  std::string key;     // pool key: scheme://host:port
  bool host_is_ip = false;
};

Result<Target> ParseUrl(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return InvalidArgument("invalid URL");
  const boost::urls::url_view& u = *parsed;
  Target t;
  if (u.scheme() == "https") {
    t.tls = true;
  } else if (u.scheme() != "http") {
    return InvalidArgument("unsupported URL scheme '" + std::string(u.scheme()) + "'");
  }
  if (!u.has_authority() || u.encoded_host().empty()) return InvalidArgument("URL has no host");
  if (u.has_userinfo()) return InvalidArgument("URL must not carry credentials");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv6:
      t.host = u.host_ipv6_address().to_string();
      t.host_is_ip = true;
      break;
    case boost::urls::host_type::ipv4:
      t.host = u.host_ipv4_address().to_string();
      t.host_is_ip = true;
      break;
    default:
      t.host = u.host();
      break;
  }
  if (u.has_port()) {
    if (u.port_number() == 0) return InvalidArgument("invalid port in URL");
    t.port = u.port_number();
  } else {
    t.port = t.tls ? 443 : 80;
  }
  t.host_header = std::string(u.encoded_host_and_port());
  t.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) t.target += "?" + std::string(u.encoded_query());
  t.key = std::string(t.tls ? "https://" : "http://") + t.host + ":" + std::to_string(t.port);
  return t;
}

struct Connection {
  std::string key;
  std::optional<AnyStream> stream;  // plain TCP or TLS; set once connected
  beast::flat_buffer buffer;
};

// How an exchange went, beyond its result.
struct Outcome {
  bool reusable = false;   // the connection may serve another request
  bool retryable = false;  // failed before any response byte: a fresh connection may succeed
};

Error IoError(const error_code& ec, std::string_view what) {
  if (ec == beast::error::timeout) {
    return Error(ErrorCode::kDeadlineExceeded, std::string(what) + ": timed out");
  }
  return Error(ErrorCode::kUnavailable, std::string(what) + ": " + ec.message());
}

bool IsStaleConnection(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

bool ValidHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7f || c == ':') return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// What one exchange works with.
struct ExchangeIo {
  const ClientOptions& options;
  AnyStream& stream;
  beast::flat_buffer& buffer;
  Outcome& outcome;
};

// The request's header: the caller's fields but Host, Content-Length and Transfer-Encoding, which
// the client sets itself.
bhttp::request<bhttp::buffer_body> RequestHeader(const ClientRequest& request, const Target& t) {
  bhttp::request<bhttp::buffer_body> req;
  req.method_string(request.method);
  req.target(t.target);
  req.version(11);
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoreCase(name, "Host") || EqualsIgnoreCase(name, "Content-Length") ||
        EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    req.insert(name, value);
  }
  req.set(bhttp::field::host, t.host_header);
  if (!request.headers.Has("User-Agent")) req.set(bhttp::field::user_agent, "veil-http/1");
  if (request.body_source) {
    if (request.body_length) {
      req.content_length(*request.body_length);
    } else {
      req.chunked(true);
    }
  } else if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
             request.method == "PATCH") {
    req.content_length(request.body.size());
  }
  return req;
}

// Pulls the body from request.body_source and writes it chunk by chunk after the header.
asio::awaitable<Status> SendStreamedBody(ExchangeIo& io, const ClientRequest& request,
                                         bhttp::request<bhttp::buffer_body>& req,
                                         bhttp::request_serializer<bhttp::buffer_body>& sr) {
  std::vector<char> buf(kChunk);
  uint64_t sent = 0;
  for (;;) {
    Result<size_t> got = size_t{0};
    try {
      got = request.body_source(std::span<char>(buf.data(), buf.size()));
    } catch (...) {
      got = Internal("request body source threw");
    }
    if (!got) co_return tl::unexpected(got.error());
    if (*got > buf.size()) co_return Internal("request body source overran its buffer");
    if (request.body_length && sent + *got > *request.body_length) {
      co_return InvalidArgument("request body longer than its declared length");
    }
    io.stream.lowest().expires_after(io.options.request_timeout);
    if (*got == 0 && request.body_length && sent != *request.body_length) {
      co_return InvalidArgument("request body shorter than its declared length");
    }
    req.body().data = *got == 0 ? nullptr : buf.data();
    req.body().size = *got;
    req.body().more = *got != 0;
    auto [ec, n] = co_await bhttp::async_write(io.stream, sr, kNoThrow);
    if (*got == 0) {
      if (ec) co_return tl::unexpected(IoError(ec, "send request"));
      co_return OkStatus();
    }
    if (ec == bhttp::error::need_buffer) ec = {};
    // The server may answer early (413, 401) and close: its response is read next.
    if (ec) co_return OkStatus();
    sent += *got;
  }
}

asio::awaitable<Status> SendRequest(ExchangeIo& io, const ClientRequest& request, const Target& t) {
  bhttp::request<bhttp::buffer_body> req = RequestHeader(request, t);
  bhttp::request_serializer<bhttp::buffer_body> sr(req);
  io.stream.lowest().expires_after(io.options.request_timeout);
  if (!request.body_source) {
    req.body().data = request.body.empty() ? nullptr : const_cast<char*>(request.body.data());
    req.body().size = request.body.size();
    req.body().more = false;
    auto [ec, n] = co_await bhttp::async_write(io.stream, sr, kNoThrow);
    if (ec) {
      io.outcome.retryable = IsStaleConnection(ec);
      co_return tl::unexpected(IoError(ec, "send request"));
    }
    co_return OkStatus();
  }
  req.body().data = nullptr;
  req.body().more = true;
  auto [ec, n] = co_await bhttp::async_write_header(io.stream, sr, kNoThrow);
  if (ec) co_return tl::unexpected(IoError(ec, "send request"));
  co_return co_await SendStreamedBody(io, request, req, sr);
}

// Reads the response body into `out.body` (within max_response_bytes) or hands it to `sink`.
asio::awaitable<Status> ReadBody(ExchangeIo& io, bhttp::response_parser<bhttp::buffer_body>& parser,
                                 const BodySink* sink, ClientResponse& out) {
  std::vector<char> buf(kChunk);
  while (!parser.is_done()) {
    parser.get().body().data = buf.data();
    parser.get().body().size = buf.size();
    io.stream.lowest().expires_after(io.options.request_timeout);
    auto [ec, n] = co_await bhttp::async_read_some(io.stream, io.buffer, parser, kNoThrow);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      if (ec == beast::error::timeout || IsStaleConnection(ec) ||
          ec == bhttp::error::partial_message) {
        co_return tl::unexpected(IoError(ec, "read response body"));
      }
      co_return DataLoss("malformed response body: " + ec.message());
    }
    size_t got = buf.size() - parser.get().body().size;
    if (got == 0) continue;
    if (sink != nullptr) {
      Status st = Status();
      try {
        st = (*sink)(std::span<const char>(buf.data(), got));
      } catch (...) {
        st = Internal("response sink threw");
      }
      if (!st) co_return tl::unexpected(st.error());
    } else {
      if (out.body.size() + got > io.options.max_response_bytes) {
        co_return ResourceExhausted("response body exceeds " +
                                    std::to_string(io.options.max_response_bytes) + " bytes");
      }
      out.body.append(buf.data(), got);
    }
  }
  co_return OkStatus();
}

asio::awaitable<Result<ClientResponse>> ReadResponse(ExchangeIo& io, const ClientRequest& request,
                                                     const BodySink* sink) {
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(boost::none);
  if (request.method == "HEAD") parser.skip(true);
  io.stream.lowest().expires_after(io.options.request_timeout);
  auto [ec, n] = co_await bhttp::async_read_header(io.stream, io.buffer, parser, kNoThrow);
  if (ec) {
    io.outcome.retryable = !request.body_source && IsStaleConnection(ec);
    if (ec == bhttp::error::header_limit || ec == bhttp::error::bad_version ||
        ec == bhttp::error::bad_status || ec == bhttp::error::bad_field ||
        ec == bhttp::error::bad_value) {
      co_return DataLoss("malformed response: " + ec.message());
    }
    co_return tl::unexpected(IoError(ec, "read response"));
  }
  ClientResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get()) out.headers.Add(f.name_string(), f.value());
  auto body = co_await ReadBody(io, parser, sink, out);
  if (!body) co_return tl::unexpected(body.error());
  io.outcome.reusable = parser.get().keep_alive();
  co_return out;
}

// One request and its response on a connection.
asio::awaitable<Result<ClientResponse>> Exchange(ExchangeIo& io, const ClientRequest& request,
                                                 const Target& t, const BodySink* sink) {
  auto sent = co_await SendRequest(io, request, t);
  if (!sent) co_return tl::unexpected(sent.error());
  co_return co_await ReadResponse(io, request, sink);
}

}  // namespace

struct HttpClient::Core {
  explicit Core(ClientOptions o) : options(std::move(o)), ssl(asio::ssl::context::tls_client) {
    error_code ec;
    ssl.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    if (options.verify_tls) {
      ssl.set_verify_mode(asio::ssl::verify_peer, ec);
      if (!options.ca_file.empty()) {
        ssl.load_verify_file(options.ca_file, ec);
        if (ec)
          ssl_error = Error(ErrorCode::kInvalidArgument,
                            "cannot load CA file " + options.ca_file + ": " + ec.message());
      } else {
        ssl.set_default_verify_paths(ec);
      }
    } else {
      ssl.set_verify_mode(asio::ssl::verify_none, ec);
    }
  }

  // Runs one coroutine to completion on the private io_context.
  template <typename T>
  Result<T> RunSync(asio::awaitable<Result<T>> op) {
    std::optional<Result<T>> out;
    ioc.restart();
    asio::co_spawn(ioc, std::move(op), [&out](std::exception_ptr e, Result<T> r) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          out = Internal(std::string("http client: ") + ex.what());
        } catch (...) {
          out = Internal("http client: unknown exception");
        }
      } else {
        out = std::move(r);
      }
    });
    ioc.run();
    if (!out) return Internal("http client: operation did not complete");
    return std::move(*out);
  }

  asio::awaitable<Result<bool>> Connect(Connection& c, const Target& t) {
    tcp::resolver resolver(ioc);
    auto [rec, results] = co_await resolver.async_resolve(t.host, std::to_string(t.port), kNoThrow);
    if (rec) co_return Unavailable("cannot resolve " + t.host + ": " + rec.message());
    auto tcp_stream = std::make_unique<beast::tcp_stream>(ioc);
    tcp_stream->expires_after(options.connect_timeout);
    auto [cec, ep] = co_await tcp_stream->async_connect(results, kNoThrow);
    if (cec) co_return tl::unexpected(IoError(cec, "connect to " + t.key));
    error_code ignored;
    tcp_stream->socket().set_option(tcp::no_delay(true), ignored);
    ++opened;
    if (!t.tls) {
      c.stream = AnyStream::Plain(std::move(*tcp_stream));
      co_return true;
    }
    if (ssl_error) co_return tl::unexpected(*ssl_error);
    AnyStream::TlsPeer peer;
    if (!t.host_is_ip) peer.sni_host = t.host;
    if (options.verify_tls) peer.verify_host = t.host;
    auto tls = AnyStream::Tls(std::move(*tcp_stream), ssl, peer);
    if (!tls) co_return tl::unexpected(tls.error());
    tls->lowest().expires_after(options.connect_timeout);
    auto [hec] = co_await tls->async_handshake(false, kNoThrow);
    if (hec) co_return tl::unexpected(IoError(hec, "TLS handshake with " + t.key));
    c.stream = std::move(*tls);
    co_return true;
  }

  asio::awaitable<Result<ClientResponse>> Attempt(Connection& c, bool fresh, const Target& t,
                                                  const ClientRequest& request,
                                                  const BodySink* sink, Outcome& outcome) {
    if (fresh) {
      auto connected = co_await Connect(c, t);
      if (!connected) co_return tl::unexpected(connected.error());
    }
    ExchangeIo io{options, *c.stream, c.buffer, outcome};
    co_return co_await Exchange(io, request, t, sink);
  }

  Result<ClientResponse> Send(const ClientRequest& request, const BodySink* sink) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [name, value] : request.headers) {
      if (!ValidHeader(name, value)) return InvalidArgument("invalid request header");
    }
    if (request.method.empty()) return InvalidArgument("empty method");
    for (char ch : request.method) {
      if (ch <= 0x20 || ch >= 0x7f) return InvalidArgument("invalid method");
    }
    auto target = ParseUrl(request.url);
    if (!target) return tl::unexpected(target.error());
    const bool replayable = !request.body_source;
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Connection> conn;
      for (auto it = idle.begin(); it != idle.end(); ++it) {
        if ((*it)->key == target->key) {
          conn = std::move(*it);
          idle.erase(it);
          break;
        }
      }
      bool fresh = conn == nullptr;
      if (fresh) {
        conn = std::make_unique<Connection>();
        conn->key = target->key;
      }
      Outcome outcome;
      auto result = RunSync<ClientResponse>(Attempt(*conn, fresh, *target, request, sink, outcome));
      if (result) {
        if (outcome.reusable) {
          if (idle.size() >= options.max_idle_connections && !idle.empty()) {
            idle.erase(idle.begin());
          }
          if (options.max_idle_connections > 0) idle.push_back(std::move(conn));
        }
        return result;
      }
      if (!fresh && outcome.retryable && replayable && attempt == 0) continue;
      return result;
    }
  }

  ClientOptions options;
  asio::io_context ioc{1};
  asio::ssl::context ssl;
  std::optional<Error> ssl_error;
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;
  uint64_t opened = 0;
};

HttpClient::HttpClient(ClientOptions options) : core_(std::make_unique<Core>(std::move(options))) {}

HttpClient::~HttpClient() {
  // Connections hold sockets of the io_context: release them first.
  core_->idle.clear();
}

Result<ClientResponse> HttpClient::Send(const ClientRequest& request) {
  return core_->Send(request, nullptr);
}

Result<ClientResponse> HttpClient::Send(const ClientRequest& request, const BodySink& sink) {
  return core_->Send(request, &sink);
}

uint64_t HttpClient::connections_opened() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->opened;
}

}  // namespace veil::http
