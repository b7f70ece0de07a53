// RawConn: a raw loopback socket client that speaks just enough HTTP/1.1 to send hand-made (and
// hostile) bytes and read responses, from a loopback source address of the caller's choice. For
// src/http's tests, the e2e attack tests and the slow-client benchmark. Header-only.
//
// Thread-safety: one RawConn per thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "http/headers.h"

namespace veil::http::testing {

struct RawResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class RawConn {
 public:
  // `source`: the local IPv4 address to connect from (any of 127.0.0.0/8 on loopback), so that a
  // test can give an attacker an address of its own; nullptr lets the kernel choose.
  explicit RawConn(uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConn() { Close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends everything; false when the peer is gone.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response: header, then a Content-Length or chunked body, or (neither) up to EOF.
  std::optional<RawResponse> ReadResponse(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    RawResponse r;
    std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    r.status = std::atoi(status_line.c_str() + 9);
    size_t pos = line_end + 2;
    while (pos < head.size()) {
      size_t eol = head.find("\r\n", pos);
      std::string line = head.substr(pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.Add(line.substr(0, colon), value);
    }
    if (r.status == 100 || r.status == 204 || r.status == 304 || head_only_) return r;
    if (auto cl = r.headers.Get("Content-Length")) {
      size_t n = std::strtoull(std::string(*cl).c_str(), nullptr, 10);
      while (buf_.size() < n) {
        if (!Fill(deadline)) return std::nullopt;
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      return r;
    }
    if (auto te = r.headers.Get("Transfer-Encoding"); te && *te == "chunked") {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!Fill(deadline)) return std::nullopt;
        }
        size_t n = std::strtoull(buf_.substr(0, eol).c_str(), nullptr, 16);
        while (buf_.size() < eol + 2 + n + 2) {
          if (!Fill(deadline)) return std::nullopt;
        }
        r.body += buf_.substr(eol + 2, n);
        buf_.erase(0, eol + 2 + n + 2);
        if (n == 0) return r;
      }
    }
    while (Fill(deadline)) {
    }
    r.body = std::move(buf_);
    buf_.clear();
    return r;
  }

  // True when the peer closes the connection (EOF or reset) within `timeout`; bytes that arrive
  // meanwhile are kept for ReadResponse.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int r = FillOnce(deadline);
      if (r == 0) return true;  // EOF or error
      if (r < 0) return false;  // timed out
    }
  }

  void set_head_only(bool v) { head_only_ = v; }
  const std::string& pending() const { return buf_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline) { return FillOnce(deadline) > 0; }

  // >0 bytes read, 0 closed, -1 timeout.
  int FillOnce(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr == 0) return -1;
    if (pr < 0) return 0;
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return 0;
    buf_.append(tmp, static_cast<size_t>(n));
    return 1;
  }

  int fd_ = -1;
  std::string buf_;
  bool head_only_ = false;
};

}  // namespace veil::http::testing
