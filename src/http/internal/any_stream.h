// AnyStream: a byte stream, plain TCP or TLS over TCP, behind one type. The HTTP request path
// (Beast's parser and serializer operations and our coroutines) is written against AnyStream and
// so instantiated once, not once per stream type: instantiating it for Beast's ssl_stream as well
// cost the server's translation unit 100 s of compile time. Only any_stream.cc instantiates the
// TLS stream's operations. Internal to src/http (server and client); includes Asio and Beast.
//
// A read or write goes through one virtual call and a type-erased completion handler
// (asio::any_completion_handler, which keeps the handler's executor, allocator and cancellation
// slot). A write hands over at most kMaxWriteBuffers buffers of its sequence at a time, which a
// write_some may do.
//
// Thread-safety: as the stream it wraps: one operation of each direction at a time, on the
// stream's executor.
#pragma once

#include <array>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/result.h"

namespace veil::http::internal {

class AnyStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using Handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
  using Done = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  static constexpr std::size_t kMaxWriteBuffers = 16;
  using WriteBuffers = std::array<boost::asio::const_buffer, kMaxWriteBuffers>;

  // What a kind of stream implements.
  class Impl {
   public:
    virtual ~Impl() = default;
    virtual boost::beast::tcp_stream& lowest() = 0;
    virtual void ReadSome(boost::asio::mutable_buffer buffer, Handler handler) = 0;
    // `buffers` holds `count` buffers then empty ones; implementations pass the array by value
    // to the operation, which may outlive the call.
    virtual void WriteSome(const WriteBuffers& buffers, std::size_t count, Handler handler) = 0;
    // TLS: the server or client handshake and the close_notify; plain TCP: nothing (at once).
    virtual void Handshake(bool server, Done done) = 0;
    virtual void Shutdown(Done done) = 0;
  };

  // Plain TCP.
  static AnyStream Plain(boost::beast::tcp_stream tcp);

  // A TLS client's view of its server.
  struct TlsPeer {
    std::string sni_host;     // sent as the server name (empty: none, e.g. for an IP address)
    std::string verify_host;  // the name (or IP) the certificate must carry; empty: not checked
  };
  // TLS over `tcp` with `context`, which must outlive the stream. The handshake is not made yet
  // (async_handshake). kUnavailable when OpenSSL refuses the server name.
  [[nodiscard]] static Result<AnyStream> Tls(boost::beast::tcp_stream tcp,
                                             boost::asio::ssl::context& context,
                                             const TlsPeer& peer = {});

  executor_type get_executor() { return impl_->lowest().get_executor(); }
  // The TCP layer: its socket, and Beast's timeout for the operations in flight.
  boost::beast::tcp_stream& lowest() { return impl_->lowest(); }

  // AsyncReadStream: reads into the first non-empty buffer of the sequence.
  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b(*it);
      if (b.size() > 0) {
        first = b;
        break;
      }
    }
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [](Handler handler, Impl* impl, boost::asio::mutable_buffer b) {
          impl->ReadSome(b, std::move(handler));
        },
        token, impl_.get(), first);
  }

  // AsyncWriteStream: writes from the first kMaxWriteBuffers buffers of the sequence.
  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    WriteBuffers gathered;
    std::size_t count = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && count < kMaxWriteBuffers; ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() > 0) gathered[count++] = b;
    }
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [](Handler handler, Impl* impl, const WriteBuffers& g, std::size_t n) {
          impl->WriteSome(g, n, std::move(handler));
        },
        token, impl_.get(), gathered, count);
  }

  template <typename Token>
  auto async_handshake(bool server, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [](Done done, Impl* impl, bool s) { impl->Handshake(s, std::move(done)); }, token,
        impl_.get(), server);
  }
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [](Done done, Impl* impl) { impl->Shutdown(std::move(done)); }, token, impl_.get());
  }

  bool tls() const { return tls_; }

 private:
  AnyStream(std::unique_ptr<Impl> impl, bool tls) : impl_(std::move(impl)), tls_(tls) {}
  std::unique_ptr<Impl> impl_;
  bool tls_ = false;
};

}  // namespace veil::http::internal
