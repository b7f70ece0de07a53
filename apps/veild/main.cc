// veild: the Veil daemon. Parses flags, merges configuration, hands over to RunDaemon().
//
// Configuration precedence (docs/configuration.md): flags > VEIL_* environment > --config file >
// built-in defaults.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/services.h"
#include "daemon.h"

extern char** environ;

namespace {

using veil::Config;

struct Setting {
  const char* key;
  const char* default_value;
  const char* help;
  bool is_flag;  // a boolean switch on the command line
};

// The default data directory: $XDG_DATA_HOME/veil, else ~/.local/share/veil (./veil-data without
// a home). Never the CLI's profile directory (~/.veil), whichever directory veild starts in.
std::string DefaultDataDir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg == '/') {
    return std::string(xdg) + "/veil";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/share/veil";
  }
  return "veil-data";
}

const std::string kDefaultDataDir = DefaultDataDir();

// Every setting veild knows: its config key (flag --<key> with '.' -> '-'), default and help.
const std::vector<Setting> kSettings = {
    {"data-dir", kDefaultDataDir.c_str(),
     "Data directory (created with mode 0700; one veild at a time, locked)", false},
    {"bind", "127.0.0.1", "Address every service listens on", false},
    {"port-base", "8440", "Service k listens on port-base + k (iam 1, kms 2, cos 3, is 4, audit 5)",
     false},
    {"insecure-bind", "false", "Allow a non-loopback --bind without TLS", true},
    {"tls.cert", "", "TLS certificate chain (PEM); with tls.key, every service speaks HTTPS",
     false},
    {"tls.key", "", "TLS private key (PEM)", false},
    {"log.level", "info", "debug|info|warn|error|off", false},
    {"log.file", "", "Append log lines to this file instead of stderr", false},
    {"http.io-threads", "2", "Threads running network I/O", false},
    {"http.worker-threads", "8", "Threads running request handlers (database, HSM, disk)", false},
    {"http.max-header-size", "16KiB", "Largest request header accepted (431 past it)", false},
    {"http.max-body-size", "1MiB", "Default largest request body (413 past it)", false},
    {"http.request-timeout", "30s",
     "A request's header and small body (64 KiB at most) must arrive within this (408 past it)",
     false},
    {"http.read-timeout", "30s", "A large (streamed) body that stalls this long gets 408", false},
    {"http.min-body-rate", "16KiB",
     "Bytes per second a large body must average after the request timeout (0: none)", false},
    {"http.idle-timeout", "60s", "Idle keep-alive connections are closed after this", false},
    {"http.max-connections", "10000", "Connections per service beyond which new ones are refused",
     false},
    {"http.max-queued-requests", "512",
     "Requests waiting for a worker beyond which new ones get 503 with Retry-After", false},
    {"http.max-connections-per-address", "256",
     "Open connections one client address may hold over all services (0: no cap)", false},
    {"http.max-requests-per-address", "128",
     "Requests one client address may have waiting for or holding a worker (0: no cap)", false},
    {"iam.issuer", "https://iam.veil.local/identity",
     "The iss of access tokens (must start with https://iam)", false},
    {"iam.token-lifetime", "1h", "Lifetime of an access token (1m to 1h)", false},
    {"iam.signing-key-rotation", "24h",
     "A new token signing key (in memory only) this often; old ones verify until their tokens "
     "expire",
     false},
    {"iam.login-burst", "10", "Refused API keys one client address may send before it must wait",
     false},
    {"iam.login-refill", "6s", "After the burst, one more refused API key per this interval",
     false},
    {"iam.token-cache-size", "100000", "Verified access tokens kept in memory", false},
    {"region", "local", "Region named in CRNs (crn:v1:veil:private:<service>:<region>:...)", false},
    {"hsm.module", "",
     "PKCS#11 module of the HSM (empty: Debian's SoftHSM2 with a token made "
     "under DATA/hsm on first start)",
     false},
    {"hsm.token-label", "veil", "Label of the HSM token holding the master key", false},
    {"hsm.pin-file", "", "File holding the HSM user PIN (with hsm.module; or set VEIL_HSM_PIN)",
     false},
    {"hsm.pin", "", "The HSM user PIN (prefer the environment, VEIL_HSM_PIN, or hsm.pin-file)",
     false},
    {"hsm.sessions", "8", "HSM sessions: operations the HSM runs at once", false},
    {"kms.key-cache-size", "10000", "Root key versions kept unwrapped inside the HSM", false},
    {"kms.maintenance-interval", "60s", "How often expirations, scheduled rotations and purges run",
     false},
};

// What --help shows as a setting's value type, from its key and default.
std::string TypeName(const Setting& s) {
  const std::string_view key = s.key;
  const std::string_view value = s.default_value;
  auto ends_with = [&](std::string_view suffix) {
    return value.size() > suffix.size() && value.substr(value.size() - suffix.size()) == suffix;
  };
  if (key == "data-dir" || key == "log.file" || key.find("file") != std::string_view::npos ||
      key == "tls.cert" || key == "tls.key" || key == "hsm.module") {
    return "PATH";
  }
  if (!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos) {
    return "INT";
  }
  if (ends_with("KiB") || ends_with("MiB")) return "SIZE";
  if (!value.empty() && (ends_with("s") || ends_with("m") || ends_with("h")) &&
      value.find_first_of("0123456789") == 0) {
    return "DURATION";
  }
  return "TEXT";
}

std::string FlagName(std::string key) {
  for (char& c : key) {
    if (c == '.') c = '-';
  }
  return "--" + key;
}

veil::Result<veil::veild::DaemonOptions> Resolve(const Config& config) {
  veil::veild::DaemonOptions o;
  o.data_dir = VEIL_TRY_VALUE(config.GetString("data-dir"));
  o.bind_address = VEIL_TRY_VALUE(config.GetString("bind"));
  o.port_base = static_cast<uint16_t>(VEIL_TRY_VALUE(config.GetInt("port-base", 1, 65535)));
  o.insecure_bind = VEIL_TRY_VALUE(config.GetBool("insecure-bind"));
  o.tls_cert_file = VEIL_TRY_VALUE(config.GetString("tls.cert"));
  o.tls_key_file = VEIL_TRY_VALUE(config.GetString("tls.key"));
  o.io_threads = static_cast<int>(VEIL_TRY_VALUE(config.GetInt("http.io-threads", 1, 64)));
  o.worker_threads = static_cast<int>(VEIL_TRY_VALUE(config.GetInt("http.worker-threads", 1, 256)));
  o.max_header_bytes = VEIL_TRY_VALUE(config.GetSize("http.max-header-size"));
  o.max_body_bytes = VEIL_TRY_VALUE(config.GetSize("http.max-body-size"));
  o.request_timeout_ms = VEIL_TRY_VALUE(config.GetDuration("http.request-timeout")).count();
  o.read_timeout_ms = VEIL_TRY_VALUE(config.GetDuration("http.read-timeout")).count();
  o.min_body_rate = VEIL_TRY_VALUE(config.GetSize("http.min-body-rate"));
  o.max_queued_requests =
      static_cast<size_t>(VEIL_TRY_VALUE(config.GetInt("http.max-queued-requests", 0, 1000000)));
  o.max_connections_per_address = static_cast<size_t>(
      VEIL_TRY_VALUE(config.GetInt("http.max-connections-per-address", 0, 1000000)));
  o.max_requests_per_address = static_cast<size_t>(
      VEIL_TRY_VALUE(config.GetInt("http.max-requests-per-address", 0, 1000000)));
  o.idle_timeout_ms = VEIL_TRY_VALUE(config.GetDuration("http.idle-timeout")).count();
  o.max_connections =
      static_cast<size_t>(VEIL_TRY_VALUE(config.GetInt("http.max-connections", 1, 1000000)));
  o.iam.issuer = VEIL_TRY_VALUE(config.GetString("iam.issuer"));
  o.iam.token_lifetime_s = std::chrono::duration_cast<std::chrono::seconds>(
                               VEIL_TRY_VALUE(config.GetDuration("iam.token-lifetime")))
                               .count();
  o.iam.key_rotation_s = std::chrono::duration_cast<std::chrono::seconds>(
                             VEIL_TRY_VALUE(config.GetDuration("iam.signing-key-rotation")))
                             .count();
  o.iam.login_burst = static_cast<int>(VEIL_TRY_VALUE(config.GetInt("iam.login-burst", 1, 1000)));
  o.iam.login_refill_ms = VEIL_TRY_VALUE(config.GetDuration("iam.login-refill")).count();
  o.iam.token_cache_size =
      static_cast<size_t>(VEIL_TRY_VALUE(config.GetInt("iam.token-cache-size", 1, 10000000)));
  if (o.iam.token_lifetime_s < 60 || o.iam.token_lifetime_s > 3600) {
    return veil::InvalidArgument("iam.token-lifetime must be between 1m and 1h");
  }
  if (o.iam.key_rotation_s < 60) {
    return veil::InvalidArgument("iam.signing-key-rotation must be at least 1m");
  }
  if (o.iam.login_refill_ms <= 0) return veil::InvalidArgument("iam.login-refill must be positive");
  if (o.iam.issuer.rfind("https://iam", 0) != 0 || o.iam.issuer.size() <= 11) {
    return veil::InvalidArgument("iam.issuer must start with https://iam");
  }
  o.region = VEIL_TRY_VALUE(config.GetString("region"));
  o.kms.hsm_module = VEIL_TRY_VALUE(config.GetString("hsm.module"));
  o.kms.hsm_token_label = VEIL_TRY_VALUE(config.GetString("hsm.token-label"));
  o.kms.hsm_pin_file = VEIL_TRY_VALUE(config.GetString("hsm.pin-file"));
  o.kms.hsm_pin = VEIL_TRY_VALUE(config.GetString("hsm.pin"));
  o.kms.hsm_sessions = static_cast<size_t>(VEIL_TRY_VALUE(config.GetInt("hsm.sessions", 1, 256)));
  o.kms.key_cache_size =
      static_cast<size_t>(VEIL_TRY_VALUE(config.GetInt("kms.key-cache-size", 1, 10000000)));
  o.kms.maintenance_interval_ms =
      VEIL_TRY_VALUE(config.GetDuration("kms.maintenance-interval")).count();
  if (o.kms.maintenance_interval_ms < 1000) {
    return veil::InvalidArgument("kms.maintenance-interval must be at least 1s");
  }
  if (!o.kms.hsm_module.empty() && o.kms.hsm_pin.empty() && o.kms.hsm_pin_file.empty()) {
    return veil::InvalidArgument("hsm.module needs a PIN: hsm.pin-file or VEIL_HSM_PIN");
  }
  if (o.max_header_bytes < 1024 || o.max_header_bytes > (1 << 20)) {
    return veil::InvalidArgument("http.max-header-size must be between 1KiB and 1MiB");
  }
  if (o.request_timeout_ms <= 0 || o.read_timeout_ms <= 0 || o.idle_timeout_ms <= 0) {
    return veil::InvalidArgument(
        "http.request-timeout, http.read-timeout and http.idle-timeout must be positive");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "veild: the Veil daemon. Serves iam, kms, cos, is and audit, each on its own port.\n"
      "Every setting can also come from the environment (VEIL_<KEY>, e.g. VEIL_PORT_BASE) or a\n"
      "configuration file (--config); flags win over the environment, which wins over the file."};
  std::string config_file;
  std::vector<std::string> assignments;
  app.add_option("--config", config_file, "Configuration file (key = value lines, [sections])")
      ->check(CLI::ExistingFile);
  app.add_option("--set", assignments, "Set any configuration key: --set http.read-timeout=10s");
  std::vector<std::string> values(kSettings.size());
  std::vector<CLI::Option*> options;
  for (size_t i = 0; i < kSettings.size(); ++i) {
    const Setting& s = kSettings[i];
    std::string help =
        std::string(s.help) + " [default: " + (*s.default_value ? s.default_value : "none") + "]";
    if (s.is_flag) {
      // add_flag(name, std::string&) would take the help text for the flag's target variable.
      options.push_back(app.add_flag(FlagName(s.key))->description(help));
    } else {
      options.push_back(app.add_option(FlagName(s.key), values[i], help)->type_name(TypeName(s)));
    }
  }
  app.add_flag_callback(
      "--version",
      [] {
        std::cout << "veild " << veil::kVersion << "\n";
        std::exit(0);
      },
      "Print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Config config;
  for (const Setting& s : kSettings) config.SetDefault(s.key, s.default_value);
  if (!config_file.empty()) {
    if (auto st = config.LoadFile(config_file); !st) {
      std::cerr << "veild: " << st.error().message << "\n";
      return 2;
    }
  }
  config.LoadEnvironment(environ);
  for (size_t i = 0; i < kSettings.size(); ++i) {
    if (options[i]->count() == 0) continue;
    auto st = config.SetFlag(kSettings[i].key, kSettings[i].is_flag ? "true" : values[i]);
    if (!st) {
      std::cerr << "veild: " << st.error().message << "\n";
      return 2;
    }
  }
  for (const std::string& a : assignments) {
    if (auto st = config.SetFlagAssignment(a); !st) {
      std::cerr << "veild: --set " << a << ": " << st.error().message << "\n";
      return 2;
    }
  }

  auto level_text = config.GetString("log.level");
  veil::log::Level level;
  if (!level_text || !veil::log::ParseLevel(*level_text, &level)) {
    std::cerr << "veild: log.level must be debug, info, warn, error or off\n";
    return 2;
  }
  veil::log::SetLevel(level);
  bool log_to_file = false;
  if (auto file = config.GetString("log.file"); file && !file->empty()) {
    log_to_file = true;
    if (!veil::log::SetFile(*file)) {
      std::cerr << "veild: cannot open log file " << *file << "\n";
      return 2;
    }
  }
  std::set<std::string> known;
  for (const Setting& s : kSettings) known.insert(s.key);
  for (const char* client_var : {"VEIL_ENDPOINT", "VEIL_HOME"}) known.insert(client_var);
  for (const std::string& unknown : config.UnknownKeys(known)) {
    veil::log::Warn("veild", "ignoring unknown setting " + unknown);
  }

  auto options_or = Resolve(config);
  if (!options_or) {
    std::cerr << "veild: " << options_or.error().message << "\n";
    return 2;
  }
  if (auto st = veil::veild::RunDaemon(*options_or); !st) {
    veil::log::Error("veild", st.error().message);
    // The log line went to stderr already, unless the log goes to a file or errors are not
    // logged (log.level off).
    if (log_to_file || level > veil::log::Level::kError) {
      std::cerr << "veild: " << st.error().message << "\n";
    }
    return 1;
  }
  return 0;
}
