// Test helpers for src/iam and src/iam/api: a temporary directory, a SQLite database in it, and
// the IAM parts wired as veild wires them (with a FakeClock), plus shortcuts to create service
// IDs with policies and API keys. Header-only; included by *_test.cc and *_itest.cc only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/random.h"
#include "crypto/aead.h"
#include "crypto/sign.h"
#include "iam/action_table.h"
#include "iam/authorizer.h"
#include "iam/iam_service.h"
#include "iam/secret_sealer.h"
#include "iam/signing_keys.h"
#include "iam/token_issuer.h"
#include "iam/token_verifier.h"
#include "store/sqlite/sqlite_database.h"

namespace veil::iam::testing {

inline constexpr std::string_view kIssuer = "https://iam.veil.test/identity";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "veil-iam-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// RSA key generation costs 0.1-0.5 s; tests draw from a small pool made once per process, in
// turn, so that consecutive rings (a restart, a rotation) get different keys.
inline Result<crypto::PrivateKey> PooledKey() {
  static std::mutex mu;
  static std::vector<SecretBytes>* pems = new std::vector<SecretBytes>();
  static size_t next = 0;
  constexpr size_t kPool = 6;
  std::lock_guard lock(mu);
  if (pems->size() < kPool) {
    auto key = crypto::PrivateKey::GenerateRsa(2048);
    if (!key) return tl::unexpected(key.error());
    pems->push_back(VEIL_TRY_VALUE(key->ToPem()));
    return key;
  }
  return crypto::PrivateKey::FromPem((*pems)[next++ % kPool].Reveal());
}

// A SecretSealer for tests that need no HSM: AES-256-GCM under a random key held in memory,
// blob = iv (12) || ciphertext || tag (16). Counts its calls. (veild seals with the HSM:
// apps/veild/hsm_secret_sealer.h, tested over SoftHSM2.)
class InMemorySecretSealer final : public SecretSealer {
 public:
  InMemorySecretSealer() : key_(OsRandom().Secret(crypto::kAesGcmKeySize)) {}

  Result<std::vector<uint8_t>> Seal(const SecretBytes& secret) override {
    ++seals;
    std::vector<uint8_t> blob = OsRandom().Bytes(crypto::kAesGcmIvSize);
    auto sealed = VEIL_TRY_VALUE(crypto::AesGcmSeal(key_.Reveal(), blob, {}, secret.Reveal()));
    blob.insert(blob.end(), sealed.begin(), sealed.end());
    return blob;
  }
  Result<SecretBytes> Unseal(std::span<const uint8_t> sealed) override {
    ++unseals;
    if (sealed.size() < crypto::kAesGcmIvSize + crypto::kAesGcmTagSize) {
      return InvalidArgument("sealed blob too short");
    }
    return crypto::AesGcmOpenSecret(key_.Reveal(), sealed.first(crypto::kAesGcmIvSize), {},
                                    sealed.subspan(crypto::kAesGcmIvSize));
  }

  std::atomic<int> seals{0};
  std::atomic<int> unseals{0};

 private:
  SecretBytes key_;
};

struct Credentials {
  Identity identity;
  std::string apikey;
};

// The IAM parts over one SQLite file, with the first account and its admin.
class IamFixture {
 public:
  IamFixture() {
    store::SqliteOptions options;
    options.clock = &clock;
    auto db_or = store::SqliteDatabase::Open(dir / "veil.db", options);
    VEIL_CHECK(db_or.has_value());
    db = std::move(*db_or);
    auto service_or = IamService::Create(*db, clock, random);
    VEIL_CHECK(service_or.has_value());
    service = std::move(*service_or);
    service->SetSecretSealer(&sealer);
    Start();
    auto created = service->CreateFirstAccount([&](const SecretBytes& key) {
      admin_key = std::string(AsStringView(key.Reveal()));
      return OkStatus();
    });
    VEIL_CHECK(created.has_value() && created->has_value());
    account_id = (*created)->account_id;
    admin = *service->GetIdentity((*created)->admin_iam_id);
  }

  // (Re)creates the signing keys, verifier, issuer and authorizer on the same database: what a
  // restart of veild does.
  void Start() {
    authorizer.reset();
    verifier.reset();
    issuer.reset();
    keys.reset();
    SigningKeyOptions key_options;
    key_options.generate = PooledKey;
    key_options.rotation = rotation;
    key_options.token_lifetime = lifetime;
    auto keys_or = SigningKeyRing::Create(service->store(), clock, random, key_options);
    VEIL_CHECK(keys_or.has_value());
    keys = std::move(*keys_or);
    TokenVerifierOptions verifier_options;
    verifier_options.issuer = std::string(kIssuer);
    verifier_options.max_lifetime = lifetime;
    auto verifier_or = TokenVerifier::Create(*db, service->store(), *keys, clock, verifier_options);
    VEIL_CHECK(verifier_or.has_value());
    verifier = std::move(*verifier_or);
    issuer = std::make_unique<TokenIssuer>(service->store(), *keys, clock, random,
                                           TokenIssuerOptions{std::string(kIssuer), lifetime});
    auto authorizer_or = LocalAuthorizer::Create(*db, service->store(), DefaultActionRegistry());
    VEIL_CHECK(authorizer_or.has_value());
    authorizer = std::move(*authorizer_or);
  }

  // A service ID in `account` with an API key, and (when roles are given) an access policy
  // granting them on every resource of the account (or on `resource` when given).
  Credentials ServiceIdWith(std::vector<std::string> roles, std::string account = "",
                            std::vector<PolicyAttribute> resource = {}) {
    if (account.empty()) account = account_id;
    auto id = service->CreateServiceId({account, "svc", ""}, "test");
    VEIL_CHECK(id.has_value());
    auto key = service->CreateApiKey({id->iam_id, "key", ""}, "test");
    VEIL_CHECK(key.has_value());
    if (!roles.empty()) Grant(id->iam_id, roles, account, resource);
    return {*id, std::string(AsStringView(key->value.Reveal()))};
  }

  void Grant(const std::string& iam_id, const std::vector<std::string>& roles,
             const std::string& account, std::vector<PolicyAttribute> resource = {}) {
    PolicySpec spec;
    spec.type = PolicyType::kAccess;
    spec.subject = {{"iam_id", iam_id}};
    if (resource.empty()) resource = {{"accountId", account}};
    spec.resource = resource;
    std::string service_name;
    for (const auto& a : resource) {
      if (a.name == "serviceName") service_name = a.value;
    }
    for (const std::string& r : roles) {
      auto role = Role::FromName(r, service_name);
      VEIL_CHECK(role.has_value());
      spec.roles.push_back(*role);
    }
    auto p = service->CreatePolicy(account, spec, "test");
    if (!p) ADD_FAILURE() << p.error().ToString();
  }

  // A cloud-object-storage instance of `account` (default: the first account).
  ResourceInstance CosInstance(std::string account = "", std::string name = "cos") {
    if (account.empty()) account = account_id;
    auto r =
        service->CreateInstance({account, name, std::string(kObjectStorageService), ""}, "test");
    VEIL_CHECK(r.has_value());
    return *r;
  }

  // A resource key of `instance` with `role` (and an HMAC key pair unless `hmac` is false).
  IamService::CreatedResourceKey KeyOf(const ResourceInstance& instance, const std::string& role,
                                       bool hmac = true, const std::string& name = "key") {
    auto k =
        service->CreateResourceKey({instance.account_id, name, instance.guid, role, hmac}, "test");
    if (!k) ADD_FAILURE() << k.error().ToString();
    VEIL_CHECK(k.has_value());
    return std::move(*k);
  }

  std::string TokenFor(const std::string& apikey) {
    auto t = issuer->IssueForApiKey(apikey);
    if (!t) {
      ADD_FAILURE() << t.error().ToString();
      return "";
    }
    return t->access_token;
  }

  TempDir dir;
  FakeClock clock;
  OsRandom random;
  InMemorySecretSealer sealer;
  std::chrono::seconds rotation{24 * 3600};
  std::chrono::seconds lifetime{3600};
  std::unique_ptr<store::SqliteDatabase> db;
  std::unique_ptr<IamService> service;
  std::unique_ptr<SigningKeyRing> keys;
  std::unique_ptr<TokenVerifier> verifier;
  std::unique_ptr<TokenIssuer> issuer;
  std::unique_ptr<LocalAuthorizer> authorizer;
  std::string account_id;
  Identity admin;
  std::string admin_key;
};

}  // namespace veil::iam::testing
