// TestServer: a Runtime serving one router on 127.0.0.1 with an in-memory audit sink, for
// src/http's tests (with RawConn, testing/raw_conn.h). Header-only; tests only.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "audit/in_memory_sink.h"
#include "http/server.h"
#include "http/testing/raw_conn.h"

namespace veil::http::testing {

// A runtime serving one router on 127.0.0.1:0, stopped and joined on destruction.
class TestServer {
 public:
  explicit TestServer(Router router, ServerOptions options = {}, Authenticator auth = {},
                      RuntimeOptions runtime_options = DefaultRuntime())
      : runtime_(runtime_options) {
    options.service_name = "test";
    options.bind_address = "127.0.0.1";
    options.port = 0;
    ServerHooks hooks;
    hooks.authenticator = std::move(auth);
    hooks.audit = &sink_;
    auto port = runtime_.AddServer(options, std::move(router), hooks);
    EXPECT_TRUE(port) << port.error().ToString();
    port_ = port.value_or(0);
    runtime_.RunInBackground();
  }
  ~TestServer() {
    runtime_.Stop();
    runtime_.Join();
  }

  static RuntimeOptions DefaultRuntime() {
    RuntimeOptions o;
    o.io_threads = 2;
    o.worker_threads = 4;
    o.shutdown_grace = std::chrono::seconds(3);
    o.handle_signals = false;
    return o;
  }

  uint16_t port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  Runtime& runtime() { return runtime_; }
  audit::InMemorySink& sink() { return sink_; }

 private:
  audit::InMemorySink sink_;
  Runtime runtime_;
  uint16_t port_ = 0;
};

// Options of a route that needs no login.
inline RouteOptions Anonymous() {
  RouteOptions o;
  o.authenticated = false;
  return o;
}

}  // namespace veil::http::testing
