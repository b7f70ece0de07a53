#include "daemon.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "audit/jsonl_file_sink.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "common/random.h"
#include "common/services.h"
#include "cos/api/cos_api.h"
#include "cos/cos_service.h"
#include "cos/instance_guard.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/softhsm_token.h"
#include "hsm_secret_sealer.h"
#include "http/router.h"
#include "http/server.h"
#include "iam/action_table.h"
#include "iam/api/errors.h"
#include "iam/api/iam_api.h"
#include "iam/api/principal.h"
#include "iam/authorizer.h"
#include "iam/bootstrap.h"
#include "iam/iam_service.h"
#include "iam/login_limiter.h"
#include "iam/signing_keys.h"
#include "iam/token_issuer.h"
#include "iam/token_verifier.h"
#include "kms/api/instance_cache.h"
#include "kms/api/kms_api.h"
#include "kms/client.h"
#include "kms/instance_guard.h"
#include "kms/kms_service.h"
#include "service_routes.h"
#include "store/sqlite/sqlite_database.h"

namespace veil::veild {
namespace {

namespace fs = std::filesystem;

// A process that holds keys must not leave them in a core file.
void DisableCoreDumps() {
  struct rlimit none {};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

Status PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  bool created = fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create data directory " + dir + ": " + ec.message());
  // The directory holds wrapped keys and the audit trail: owner only, whether new or old.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Internal("cannot set mode 0700 on " + dir + ": " + std::strerror(errno));
  }
  for (const char* sub : {"audit"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec)
      return Internal("cannot create " + (fs::path(dir) / sub).string() + ": " + ec.message());
    ::chmod((fs::path(dir) / sub).c_str(), 0700);
  }
  if (created) log::Info("veild", "created data directory " + dir);
  return OkStatus();
}

// One veild per data directory: an exclusive lock on DATA/veild.lock, held until veild exits
// (a veild that dies releases it). Two veilds on one directory would each cache keys, API keys
// and policies, and a revocation made through one would not reach the other.
Result<Fd> LockDataDir(const std::string& dir) {
  const std::string path = (fs::path(dir) / "veild.lock").string();
  auto lock = LockFile(path, "pid " + std::to_string(::getpid()));
  if (!lock && lock.error().code == ErrorCode::kFailedPrecondition) {
    return FailedPrecondition("data directory " + dir + " is in use by another veild (" +
                              lock.error().message + ", lock " + path +
                              "): stop that one first, or give this one another --data-dir");
  }
  return lock;
}

// Whether every service's port can be bound, checked before anything is stored: a start that
// fails at bind would otherwise have created the HSM token, the first account or a signing key.
// (A program that takes a port between this check and the bind still fails the start, later.)
Status CheckPortsFree(const DaemonOptions& options) {
  for (const ServiceInfo& service : kServices) {
    const int port = options.port_base + service.port_offset;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(options.bind_address.c_str(), std::to_string(port).c_str(), &hints, &found) !=
            0 ||
        found == nullptr) {
      return InvalidArgument("--bind " + options.bind_address + " is not an IP address");
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
    Fd probe(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid()) return Internal(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as the server
    if (::bind(probe.get(), found->ai_addr, found->ai_addrlen) != 0) {
      const int err = errno;
      return FailedPrecondition("cannot listen on " + options.bind_address + ":" +
                                std::to_string(port) + " (" + std::string(service.name) +
                                "): " + std::strerror(err) +
                                (err == EADDRINUSE ? "; another program uses the port: stop it "
                                                     "or choose another --port-base"
                                                   : ""));
    }
  }
  return OkStatus();
}

// Schema of veild itself (each service migrates its own component).
std::vector<store::Migration> DaemonMigrations() {
  return {
      {1, "CREATE TABLE veild_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"},
  };
}

// The HSM: a SoftHSM2 token under DATA/hsm (made on the first start), or the configured module.
Result<hsm::Pkcs11Options> HsmOptions(const DaemonOptions& options) {
  hsm::Pkcs11Options hsm;
  if (options.kms.hsm_module.empty()) {
    hsm = VEIL_TRY_VALUE(hsm::PrepareSoftHsmToken((fs::path(options.data_dir) / "hsm").string(),
                                                  options.kms.hsm_token_label));
  } else {
    hsm.module_path = options.kms.hsm_module;
    hsm.token_label = options.kms.hsm_token_label;
    if (!options.kms.hsm_pin.empty()) {
      hsm.user_pin =
          SecretBytes(std::span(reinterpret_cast<const uint8_t*>(options.kms.hsm_pin.data()),
                                options.kms.hsm_pin.size()));
    } else {
      // Read straight into locked memory; the first line is the PIN.
      // (read(2), not a stream: no unlocked stream buffer keeps a copy).
      int fd = ::open(options.kms.hsm_pin_file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return InvalidArgument("cannot read the HSM PIN from " + options.kms.hsm_pin_file);
      SecretBytes buffer(256);
      ssize_t got = ::read(fd, buffer.RevealMutable().data(), buffer.size());
      ::close(fd);
      size_t n = got > 0 ? static_cast<size_t>(got) : 0;
      auto bytes = buffer.Reveal().first(n);
      size_t end = 0;
      while (end < n && bytes[end] != '\n' && bytes[end] != '\r') ++end;
      if (end == 0)
        return InvalidArgument("the HSM PIN file is empty: " + options.kms.hsm_pin_file);
      hsm.user_pin = SecretBytes(bytes.first(end));
    }
  }
  hsm.session_pool_size = options.kms.hsm_sessions;
  hsm.max_cached_keys = options.kms.key_cache_size;
  return hsm;
}

// Runs KmsService::RunMaintenance every `interval` on one replica at a time (a store lease),
// until destroyed.
class MaintenanceLoop {
 public:
  MaintenanceLoop(kms::KmsService& kms, store::Database& db, std::chrono::milliseconds interval,
                  std::string holder)
      : thread_([this, &kms, &db, interval, holder = std::move(holder)] {
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
            lock.unlock();
            auto leader = db.TryAcquireLease("kms.maintenance", holder, interval * 3);
            if (leader && *leader) {
              auto changed = kms.RunMaintenance();
              if (!changed) {
                log::Warn("kms", "maintenance pass failed: " + changed.error().message);
              } else if (*changed > 0) {
                log::Info("kms", "maintenance pass changed " + std::to_string(*changed) + " keys");
              }
            }
            lock.lock();
          }
        }) {}
  ~MaintenanceLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

bool IsLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address == "[::1]" ||
         address.rfind("127.", 0) == 0;
}

namespace {

Status CheckOptions(const DaemonOptions& options, bool tls) {
  if (tls && (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return InvalidArgument("TLS needs both a certificate (--tls-cert) and a key (--tls-key)");
  }
  if (!IsLoopback(options.bind_address) && !tls && !options.insecure_bind) {
    return InvalidArgument("refusing to serve " + options.bind_address +
                           " without TLS: give --tls-cert and --tls-key, or --insecure-bind");
  }
  if (options.port_base == 0 || options.port_base > 65535 - kServices.size()) {
    return InvalidArgument("--port-base must leave room for " + std::to_string(kServices.size()) +
                           " ports below 65536");
  }
  return OkStatus();
}

// IAM: the identity store, the in-memory signing keys, the token verifier every service's
// authenticator uses, and the policy decision point. Members refer to one another: the parts
// live in this object, which does not move once built.
struct IamParts {
  std::unique_ptr<iam::IamService> service;
  std::unique_ptr<iam::SigningKeyRing> keys;
  std::unique_ptr<iam::TokenVerifier> verifier;
  std::unique_ptr<iam::TokenIssuer> issuer;
  std::unique_ptr<iam::LocalAuthorizer> authorizer;
  std::unique_ptr<iam::LoginRateLimiter> limiter;
  iam::api::IamApiDeps deps;
};

Status StartIam(const DaemonOptions& options, store::Database& db, Clock& clock, Random& random,
                IamParts& iam) {
  auto service = iam::IamService::Create(db, clock, random);
  if (!service) return tl::unexpected(service.error().Wrap("iam"));
  iam.service = std::move(*service);
  iam::IamStore& iam_store = iam.service->store();
  const std::chrono::seconds lifetime(options.iam.token_lifetime_s);
  iam::SigningKeyOptions key_options;
  key_options.rotation = std::chrono::seconds(options.iam.key_rotation_s);
  key_options.token_lifetime = lifetime;
  key_options.holder = "veild-" + std::to_string(::getpid());
  auto keys = iam::SigningKeyRing::Create(iam_store, clock, random, key_options);
  if (!keys) return tl::unexpected(keys.error().Wrap("iam signing keys"));
  iam.keys = std::move(*keys);
  iam::TokenVerifierOptions verifier_options;
  verifier_options.issuer = options.iam.issuer;
  verifier_options.max_lifetime = lifetime;
  verifier_options.cache_capacity = options.iam.token_cache_size;
  auto verifier = iam::TokenVerifier::Create(db, iam_store, *iam.keys, clock, verifier_options);
  if (!verifier) return tl::unexpected(verifier.error().Wrap("iam token verifier"));
  iam.verifier = std::move(*verifier);
  iam.issuer = std::make_unique<iam::TokenIssuer>(
      iam_store, *iam.keys, clock, random, iam::TokenIssuerOptions{options.iam.issuer, lifetime});
  auto authorizer = iam::LocalAuthorizer::Create(db, iam_store, iam::DefaultActionRegistry());
  if (!authorizer) return tl::unexpected(authorizer.error().Wrap("iam authorizer"));
  iam.authorizer = std::move(*authorizer);
  iam::LoginLimiterOptions limiter_options;
  limiter_options.burst = options.iam.login_burst;
  limiter_options.refill_interval = std::chrono::milliseconds(options.iam.login_refill_ms);
  iam.limiter = std::make_unique<iam::LoginRateLimiter>(clock, limiter_options);
  auto first = iam::EnsureFirstAccount(*iam.service, options.data_dir);
  if (!first) return tl::unexpected(first.error().Wrap("iam first start"));
  iam.deps = iam::api::IamApiDeps{iam.service.get(), iam.issuer.get(), iam.keys.get(),
                                  iam.authorizer.get(), iam.limiter.get()};
  return OkStatus();
}

// KMS: root keys behind the HSM's master key. The same HSM seals IAM's HMAC secrets (sealer).
struct KmsParts {
  std::unique_ptr<hsm::Pkcs11KeyStore> key_store;
  std::unique_ptr<HsmSecretSealer> sealer;
  std::unique_ptr<kms::KmsService> service;
  std::unique_ptr<kms::KmsInstanceGuard> guard;
  kms::api::KmsApiDeps deps;
};

Status StartKms(const DaemonOptions& options, const hsm::Pkcs11Options& hsm_options,
                store::Database& db, Clock& clock, Random& random, IamParts& iam, KmsParts& kms) {
  auto key_store = hsm::Pkcs11KeyStore::Open(hsm_options);
  if (!key_store) return tl::unexpected(key_store.error().Wrap("hsm"));
  kms.key_store = std::move(*key_store);
  iam::IamService* iam_raw = iam.service.get();
  // The secret access keys of resource keys are stored sealed by the HSM (iam/secret_sealer.h).
  kms.sealer = std::make_unique<HsmSecretSealer>(*kms.key_store);
  iam_raw->SetSecretSealer(kms.sealer.get());
  kms::KmsOptions kms_options;
  kms_options.region = options.region;
  // Keys, key rings, policies and import tokens land only in instances that still exist; the
  // guard refuses to delete an instance that holds keys (iam/instance_guard.h).
  kms_options.hold_instance = [iam_raw](store::Tx& tx, std::string_view guid) {
    return iam_raw->HoldInstance(tx, guid);
  };
  auto service = kms::KmsService::Create(db, *kms.key_store, clock, random, kms_options);
  if (!service) return tl::unexpected(service.error().Wrap("kms"));
  kms.service = std::move(*service);
  kms.guard = std::make_unique<kms::KmsInstanceGuard>(kms.service->store());
  iam_raw->SetInstanceGuard("kms", kms.guard.get());
  kms.deps.service = kms.service.get();
  kms.deps.authorizer = iam.authorizer.get();
  kms.deps.resolve_instance = kms::api::CachedInstanceResolver(
      [iam_raw](std::string_view guid) -> Result<kms::InstanceRef> {
        auto instance = iam_raw->GetInstance(guid);
        if (!instance) return tl::unexpected(instance.error());
        if (instance->resource_id != "kms" || instance->state != "active") {
          return NotFound("no active KMS instance " + std::string(guid));
        }
        return kms::InstanceRef{instance->guid, instance->account_id, instance->crn};
      },
      clock, std::chrono::seconds(5));
  return OkStatus();
}

// Object storage: buckets and objects under keys wrapped by the KMS (as cloud-object-storage)
// or sealed by the HSM.
struct CosParts {
  std::unique_ptr<kms::LocalClient> kms_client;
  std::unique_ptr<cos::CosService> service;
  std::unique_ptr<cos::CosInstanceGuard> guard;
  cos::api::CosApiDeps deps;
};

Status StartCos(const DaemonOptions& options, store::Database& db, Clock& clock, Random& random,
                IamParts& iam, KmsParts& kms, CosParts& cos) {
  cos.kms_client =
      std::make_unique<kms::LocalClient>(*kms.service, *iam.authorizer, "cloud-object-storage");
  cos::CosOptions cos_options;
  cos_options.region = options.region;
  cos_options.data_dir = (fs::path(options.data_dir) / "cos").string();
  iam::IamService* resource_controller = iam.service.get();
  // Buckets land only in instances that still exist; an instance with buckets is not deleted.
  cos_options.hold_instance = [resource_controller](store::Tx& tx, std::string_view guid) {
    return resource_controller->HoldInstance(tx, guid);
  };
  auto service = cos::CosService::Create(db, *cos.kms_client, *kms.key_store, clock, random,
                                         std::move(cos_options));
  if (!service) return tl::unexpected(service.error().Wrap("cos"));
  cos.service = std::move(*service);
  kms.service->AddListener(iam::ServiceIamId("cloud-object-storage"), cos.service.get());
  cos.guard = std::make_unique<cos::CosInstanceGuard>(cos.service->store());
  resource_controller->SetInstanceGuard("cloud-object-storage", cos.guard.get());
  iam::IamService* iam_raw = iam.service.get();
  cos.deps.service = cos.service.get();
  cos.deps.authorizer = iam.authorizer.get();
  cos.deps.clock = &clock;
  cos.deps.resolve_instance = [iam_raw](std::string_view guid) -> Result<cos::api::CosInstance> {
    auto instance = iam_raw->GetInstance(guid);
    if (!instance) return tl::unexpected(instance.error());
    if (instance->resource_id != "cloud-object-storage" || instance->state != "active") {
      return NotFound("no active object storage instance " + std::string(guid));
    }
    return cos::api::CosInstance{instance->guid, instance->account_id};
  };
  cos.deps.lookup_hmac = [iam_raw](std::string_view id) -> Result<cos::api::HmacIdentity> {
    iam::HmacCredential credential = VEIL_TRY_VALUE(iam_raw->LookupHmacCredential(id));
    cos::api::HmacIdentity identity;
    identity.secret_access_key = std::move(credential.secret_access_key);
    identity.access_key_id = std::move(credential.access_key_id);
    identity.iam_id = std::move(credential.iam_id);
    identity.account_id = std::move(credential.account_id);
    identity.instance_guid = std::move(credential.instance_guid);
    identity.name = std::move(credential.name);
    return identity;
  };
  return OkStatus();
}

http::RuntimeOptions RuntimeOptionsFor(const DaemonOptions& options) {
  http::RuntimeOptions runtime_options;
  runtime_options.io_threads = options.io_threads;
  runtime_options.worker_threads = options.worker_threads;
  runtime_options.max_queued_requests = options.max_queued_requests;
  runtime_options.max_connections_per_address = options.max_connections_per_address;
  runtime_options.max_requests_per_address = options.max_requests_per_address;
  return runtime_options;
}

http::ServerOptions ServerOptionsFor(const DaemonOptions& options, const ServiceInfo& service,
                                     bool tls) {
  http::ServerOptions server;
  server.service_name = std::string(service.name);
  server.bind_address = options.bind_address;
  server.port = static_cast<uint16_t>(options.port_base + service.port_offset);
  server.max_header_bytes = options.max_header_bytes;
  server.default_body_limit = options.max_body_bytes;
  server.request_timeout = std::chrono::milliseconds(options.request_timeout_ms);
  server.read_timeout = std::chrono::milliseconds(options.read_timeout_ms);
  server.min_body_rate = options.min_body_rate;
  server.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
  server.max_connections = options.max_connections;
  if (tls) server.tls = http::TlsOptions{options.tls_cert_file, options.tls_key_file};
  return server;
}

// The hooks of `service`: the audit sink, bearer-token authentication (/healthz stays
// anonymous) and the service's error dialect.
http::ServerHooks HooksFor(const ServiceInfo& service, audit::AuditSink* sink,
                           iam::TokenVerifier& verifier, const cos::api::CosApiDeps& cos) {
  http::ServerHooks hooks;
  hooks.audit = sink;
  hooks.authenticator = iam::api::MakeIamAuthenticator(verifier);
  if (service.name == "iam") {
    hooks.authenticator = iam::api::MakeIamServiceAuthenticator(verifier);
    hooks.error_renderer = iam::api::IamErrorRenderer();
  }
  if (service.name == "kms") {
    hooks.error_renderer = kms::api::KmsErrorRenderer();
    hooks.error_status = kms::api::KmsErrorStatus();
  }
  if (service.name == "cos") {
    hooks.authenticator =
        cos::api::MakeCosAuthenticator(cos, iam::api::MakeIamAuthenticator(verifier));
    hooks.error_renderer = cos::api::CosErrorRenderer();
    hooks.error_status = cos::api::CosErrorStatus();
  }
  return hooks;
}

}  // namespace

Status RunDaemon(const DaemonOptions& options) {
  DisableCoreDumps();
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  VEIL_TRY(CheckOptions(options, tls));
  VEIL_TRY(PrepareDataDir(options.data_dir));
  const Fd data_dir_lock = VEIL_TRY_VALUE(LockDataDir(options.data_dir));
  VEIL_TRY(CheckPortsFree(options));
  // Before any thread starts: SoftHSM2's first-start setup sets SOFTHSM2_CONF.
  auto hsm_options = HsmOptions(options);
  if (!hsm_options) return tl::unexpected(hsm_options.error().Wrap("hsm"));

  const fs::path data(options.data_dir);
  auto db = store::SqliteDatabase::Open((data / "veil.db").string(), {});
  if (!db) return tl::unexpected(db.error().Wrap("open database"));
  VEIL_TRY((*db)->Migrate("veild", DaemonMigrations()));

  auto sink = audit::JsonLinesFileSink::Open((data / "audit" / "events.jsonl").string());
  if (!sink) return tl::unexpected(sink.error().Wrap("open audit log"));

  SystemClock clock;
  OsRandom random;
  IamParts iam;
  VEIL_TRY(StartIam(options, **db, clock, random, iam));
  KmsParts kms;
  VEIL_TRY(StartKms(options, *hsm_options, **db, clock, random, iam, kms));
  CosParts cos;
  VEIL_TRY(StartCos(options, **db, clock, random, iam, kms, cos));
  MaintenanceLoop maintenance(*kms.service, **db,
                              std::chrono::milliseconds(options.kms.maintenance_interval_ms),
                              "veild-" + std::to_string(::getpid()));

  http::Runtime runtime(RuntimeOptionsFor(options));
  for (const ServiceInfo& service : kServices) {
    auto router = ServiceRouter(service, {&iam.deps, &kms.deps, &cos.deps});
    if (!router) return tl::unexpected(router.error());
    auto port = runtime.AddServer(ServerOptionsFor(options, service, tls), std::move(*router),
                                  HooksFor(service, sink->get(), *iam.verifier, cos.deps));
    if (!port) return tl::unexpected(port.error().Wrap("start " + std::string(service.name)));
  }
  log::Info("veild", "ready (version " + std::string(kVersion) + ", data directory " +
                         options.data_dir + ")");
  runtime.Run();
  log::Info("veild", "stopped");
  return OkStatus();
}

}  // namespace veil::veild
