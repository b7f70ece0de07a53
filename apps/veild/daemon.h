// veild's composition root: reads its options, prepares the data directory, constructs every
// component and wires them to their listeners. Nothing else lives here.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace veil::veild {

// The IAM service's settings (docs/iam.md "Configuration").
struct IamOptions {
  std::string issuer = "https://iam.veil.local/identity";
  int64_t token_lifetime_s = 3600;
  int64_t key_rotation_s = 24 * 3600;
  int login_burst = 10;
  int64_t login_refill_ms = 6000;
  size_t token_cache_size = 100000;
};

// The KMS and its HSM (docs/kms.md "Configuration").
struct KmsDaemonOptions {
  std::string hsm_module;  // empty: SoftHSM2 under DATA/hsm
  std::string hsm_token_label = "veil";
  std::string hsm_pin_file;
  std::string hsm_pin;
  size_t hsm_sessions = 8;
  size_t key_cache_size = 10000;
  int64_t maintenance_interval_ms = 60000;
};

struct DaemonOptions {
  std::string data_dir = ".veil";
  std::string bind_address = "127.0.0.1";
  uint16_t port_base = 8440;
  bool insecure_bind = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  int io_threads = 2;
  int worker_threads = 8;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
  int64_t request_timeout_ms = 30000;
  int64_t read_timeout_ms = 30000;
  int64_t idle_timeout_ms = 60000;
  uint64_t min_body_rate = 16 * 1024;
  size_t max_connections = 10000;
  size_t max_queued_requests = 512;
  size_t max_connections_per_address = 256;
  size_t max_requests_per_address = 128;
  std::string region = "local";
  IamOptions iam;
  KmsDaemonOptions kms;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(const std::string& address);

// Runs the daemon until SIGTERM/SIGINT. Returns the error that stopped it from starting.
[[nodiscard]] Status RunDaemon(const DaemonOptions& options);

}  // namespace veil::veild
