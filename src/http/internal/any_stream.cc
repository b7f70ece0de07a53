// The two kinds of AnyStream. The only translation unit of Veil that instantiates the TLS
// stream's operations.
#include "http/internal/any_stream.h"

#include <openssl/ssl.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <span>
#include <utility>

namespace veil::http::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

// A type-erased handler bound to the stream's executor. Beast 1.81's stream operations post their
// completions with blocking.never, which the type-erased handler's own executor
// (any_completion_executor) does not offer; the stream's executor is the one every operation on
// it runs on anyway (a strand per server connection, the client's io_context).
template <typename Handler>
auto OnStream(beast::tcp_stream& tcp, Handler handler) {
  return asio::bind_executor(tcp.get_executor(), std::move(handler));
}

class PlainImpl final : public AnyStream::Impl {
 public:
  explicit PlainImpl(beast::tcp_stream tcp) : tcp_(std::move(tcp)) {}
  beast::tcp_stream& lowest() override { return tcp_; }
  void ReadSome(asio::mutable_buffer buffer, AnyStream::Handler handler) override {
    tcp_.async_read_some(buffer, OnStream(tcp_, std::move(handler)));
  }
  void WriteSome(const AnyStream::WriteBuffers& buffers, std::size_t count,
                 AnyStream::Handler handler) override {
    // The sequence by value (entries past `count` are empty): the operation outlives this call
    // whenever the socket is not writable at once, and a span would point at the caller's
    // array, gone by then (another connection's bytes, or EFAULT, went out instead).
    (void)count;
    tcp_.async_write_some(buffers, OnStream(tcp_, std::move(handler)));
  }
  void Handshake(bool, AnyStream::Done done) override {
    asio::post(tcp_.get_executor(),
               [d = std::move(done)]() mutable { std::move(d)(error_code{}); });
  }
  void Shutdown(AnyStream::Done done) override {
    error_code ignored;
    tcp_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    asio::post(tcp_.get_executor(),
               [d = std::move(done)]() mutable { std::move(d)(error_code{}); });
  }

 private:
  beast::tcp_stream tcp_;
};

class TlsImpl final : public AnyStream::Impl {
 public:
  TlsImpl(beast::tcp_stream tcp, asio::ssl::context& context) : tls_(std::move(tcp), context) {}
  beast::ssl_stream<beast::tcp_stream>& tls() { return tls_; }
  beast::tcp_stream& lowest() override { return beast::get_lowest_layer(tls_); }
  void ReadSome(asio::mutable_buffer buffer, AnyStream::Handler handler) override {
    tls_.async_read_some(buffer, OnStream(lowest(), std::move(handler)));
  }
  void WriteSome(const AnyStream::WriteBuffers& buffers, std::size_t count,
                 AnyStream::Handler handler) override {
    (void)count;  // by value, as PlainImpl::WriteSome
    tls_.async_write_some(buffers, OnStream(lowest(), std::move(handler)));
  }
  void Handshake(bool server, AnyStream::Done done) override {
    tls_.async_handshake(server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
                         OnStream(lowest(), std::move(done)));
  }
  void Shutdown(AnyStream::Done done) override {
    tls_.async_shutdown(OnStream(lowest(), std::move(done)));
  }

 private:
  beast::ssl_stream<beast::tcp_stream> tls_;
};

}  // namespace

AnyStream AnyStream::Plain(beast::tcp_stream tcp) {
  return AnyStream(std::make_unique<PlainImpl>(std::move(tcp)), false);
}

Result<AnyStream> AnyStream::Tls(beast::tcp_stream tcp, asio::ssl::context& context,
                                 const TlsPeer& peer) {
  auto impl = std::make_unique<TlsImpl>(std::move(tcp), context);
  if (!peer.sni_host.empty() &&
      !SSL_set_tlsext_host_name(impl->tls().native_handle(), peer.sni_host.c_str())) {
    return Unavailable("cannot set the TLS server name");
  }
  if (!peer.verify_host.empty()) {
    impl->tls().set_verify_callback(asio::ssl::host_name_verification(peer.verify_host));
  }
  return AnyStream(std::move(impl), true);
}

}  // namespace veil::http::internal
