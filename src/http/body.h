// Streaming bodies: BodyReader (request bodies, pulled by the handler) and BodySource (response
// and upload bodies, pulled by the writer).
//
// The server never buffers a whole body. The I/O thread reads a request body from the socket in
// chunks and hands them to the handler through a bounded queue; the handler, which runs on a
// worker thread, pulls them with BodyReader::Read(), which blocks until data arrives. When the
// queue is full the I/O thread stops reading from the socket, so TCP flow control pushes back on
// the client. A response body is either a string or a BodySource the server pulls chunk by chunk
// as the socket drains.
//
// Thread-safety: a BodyReader is used by one handler thread at a time. A BodySource is called
// from one thread at a time (a worker thread, or the I/O thread for inline routes), never
// concurrently, and the server stops calling it after it returns 0 or an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "common/result.h"

namespace veil::http {

// Fills the span with up to span.size() bytes and returns how many; 0 means the end of the body.
// An error aborts the transfer: the server closes the connection (the status line has gone out
// already), the client's Send() returns the error.
using BodySource = std::function<Result<size_t>(std::span<char>)>;

class BodyReader {
 public:
  virtual ~BodyReader() = default;

  // Reads up to out.size() bytes of the request body into `out` (which must not be empty:
  // kInvalidArgument); returns the count, 0 at the end of the body. Blocks until at least one
  // byte or the end is available. Errors (terminal: every later call returns the same one):
  //   kResourceExhausted   the body is larger than the route's limit (the response becomes 413)
  //   kDeadlineExceeded    the client stalled longer than the read timeout (408)
  //   kInvalidArgument     malformed chunked encoding (400)
  //   kUnavailable         the client went away or the server is shutting down
  [[nodiscard]] virtual Result<size_t> Read(std::span<char> out) = 0;

  // Reads the rest of the body into a string. kResourceExhausted when it holds more than `limit`
  // bytes (the response becomes 413); otherwise the errors of Read().
  [[nodiscard]] Result<std::string> ReadAll(size_t limit);

  // Why reading the body failed and the HTTP status the server must answer with (413, 408,
  // 400), or nullopt and 0. When the handler then returns an error, or a success despite the
  // failure, the server answers with this error and status.
  const std::optional<Error>& failure() const { return failure_; }
  int failure_status() const { return failure_status_; }

 protected:
  void SetFailure(Error error, int status) {
    failure_ = std::move(error);
    failure_status_ = status;
  }

 private:
  std::optional<Error> failure_;
  int failure_status_ = 0;
};

// A BodyReader over a string held in memory: the body of inline routes (read whole, within the
// route's limit, before the handler runs) and of handler unit tests.
class StringBodyReader final : public BodyReader {
 public:
  StringBodyReader() = default;
  explicit StringBodyReader(std::string data) : data_(std::move(data)) {}
  [[nodiscard]] Result<size_t> Read(std::span<char> out) override;

 private:
  std::string data_;
  size_t offset_ = 0;
};

// A BodySource that yields `data` (for uploads and responses built in memory but sent as streams).
BodySource StringSource(std::string data);

}  // namespace veil::http
