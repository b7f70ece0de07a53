#include "iam/signing_keys.h"

#include <algorithm>
#include <utility>

#include "common/encoding.h"
#include "common/log.h"

namespace veil::iam {
namespace {

int64_t ToMs(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMs(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

}  // namespace

struct SigningKeyRing::Current {
  std::string kid;
  crypto::PrivateKey key;
  TimePoint retire_at;
};

SigningKeyRing::SigningKeyRing(IamStore& store, const Clock& clock, Random& random,
                               SigningKeyOptions options)
    : store_(store), clock_(clock), random_(random), options_(std::move(options)) {}

SigningKeyRing::~SigningKeyRing() = default;

Result<std::unique_ptr<SigningKeyRing>> SigningKeyRing::Create(IamStore& store, const Clock& clock,
                                                               Random& random,
                                                               SigningKeyOptions options) {
  if (options.rotation.count() <= 0 || options.token_lifetime.count() <= 0 ||
      options.leeway.count() < 0) {
    return InvalidArgument("signing keys: rotation and token lifetime must be positive");
  }
  if (!options.generate) {
    options.generate = [] { return crypto::PrivateKey::GenerateRsa(2048); };
  }
  std::unique_ptr<SigningKeyRing> ring(
      new SigningKeyRing(store, clock, random, std::move(options)));
  VEIL_TRY(ring->store_.PruneSigningKeys(ToMs(clock.Now())));
  VEIL_TRY(ring->Reload());
  std::lock_guard lock(ring->rotate_mu_);
  VEIL_TRY(ring->RotateLocked());
  return ring;
}

std::shared_ptr<const SigningKeyRing::Current> SigningKeyRing::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string SigningKeyRing::current_kid() const {
  auto c = current();
  return c ? c->kid : std::string();
}

Status SigningKeyRing::RotateLocked() {
  crypto::PrivateKey key = VEIL_TRY_VALUE(options_.generate());
  if (key.type() != crypto::KeyType::kRsa) return InvalidArgument("signing keys must be RSA");
  crypto::PublicKey pub = key.public_key();
  crypto::RsaPublicJwk jwk = VEIL_TRY_VALUE(pub.ToRsaJwk());
  const TimePoint now = clock_.Now();
  const TimePoint retire_at = now + options_.rotation;
  const TimePoint not_after = retire_at + options_.token_lifetime + options_.leeway;
  // kid: creation time and 64 random bits, unique across replicas.
  std::string kid = FormatRfc3339Seconds(now).substr(0, 10);
  kid.erase(std::remove(kid.begin(), kid.end(), '-'), kid.end());
  kid += "-" + HexEncode(random_.Bytes(8));

  SigningKeyRow row;
  row.kid = kid;
  row.n = jwk.n;
  row.e = jwk.e;
  row.created_at_ms = ToMs(now);
  row.not_after_ms = ToMs(not_after);
  row.holder = options_.holder;
  // Published before it signs anything: a token never names a kid the database lacks.
  VEIL_TRY(store_.PublishSigningKey(row));
  (void)store_.PruneSigningKeys(ToMs(now));

  auto next = std::make_shared<Current>(Current{kid, std::move(key), retire_at});
  std::lock_guard lock(mu_);
  verifiers_.insert_or_assign(kid, Verifier{std::move(pub), not_after});
  current_ = std::move(next);
  log::Info("iam", "new token signing key " + kid + " (public key published; retires at " +
                       FormatRfc3339Seconds(retire_at) + ")");
  return OkStatus();
}

Status SigningKeyRing::Rotate() {
  std::lock_guard lock(rotate_mu_);
  return RotateLocked();
}

Result<SigningKeyRing::Signature> SigningKeyRing::Sign(std::span<const uint8_t> data) {
  auto c = current();
  if (!c || clock_.Now() >= c->retire_at) {
    std::lock_guard lock(rotate_mu_);
    c = current();
    // Another thread may have rotated while this one waited.
    if (!c || clock_.Now() >= c->retire_at) {
      VEIL_TRY(RotateLocked());
      c = current();
    }
  }
  Signature sig;
  sig.kid = c->kid;
  sig.bytes = VEIL_TRY_VALUE(c->key.Sign(crypto::SignatureAlgorithm::kRs256, data));
  return sig;
}

Status SigningKeyRing::Reload() {
  auto rows = VEIL_TRY_VALUE(store_.ListSigningKeys(ToMs(clock_.Now())));
  std::map<std::string, Verifier, std::less<>> loaded;
  for (const SigningKeyRow& row : rows) {
    auto key = crypto::PublicKey::FromRsaJwk({row.n, row.e});
    if (!key) {
      log::Warn("iam", "ignoring published signing key " + row.kid + ": " + key.error().message);
      continue;
    }
    loaded.insert_or_assign(row.kid, Verifier{std::move(*key), FromMs(row.not_after_ms)});
  }
  std::lock_guard lock(mu_);
  // Keep our own current key even if its row vanished (it is re-published on rotation).
  if (current_) {
    if (auto it = verifiers_.find(current_->kid); it != verifiers_.end()) {
      loaded.insert_or_assign(it->first, it->second);
    }
  }
  verifiers_ = std::move(loaded);
  return OkStatus();
}

Result<crypto::PublicKey> SigningKeyRing::PublicKeyFor(std::string_view kid) {
  const TimePoint now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    if (auto it = verifiers_.find(kid); it != verifiers_.end()) {
      if (now < it->second.not_after) return it->second.key;
      verifiers_.erase(it);
      return NotFound("signing key has expired");
    }
    // Unknown: reload at most once per refresh_interval, so a flood of made-up kids cannot
    // turn into a flood of queries.
    const MonotonicTime mono = clock_.Monotonic();
    if (reloaded_once_ && mono - last_reload_ < options_.refresh_interval) {
      return NotFound("unknown signing key");
    }
    reloaded_once_ = true;
    last_reload_ = mono;
  }
  VEIL_TRY(Reload());
  std::lock_guard lock(mu_);
  if (auto it = verifiers_.find(kid); it != verifiers_.end() && now < it->second.not_after) {
    return it->second.key;
  }
  return NotFound("unknown signing key");
}

Result<std::vector<PublishedKey>> SigningKeyRing::PublishedKeys() {
  auto rows = VEIL_TRY_VALUE(store_.ListSigningKeys(ToMs(clock_.Now())));
  std::vector<PublishedKey> out;
  for (const SigningKeyRow& row : rows) {
    out.push_back({row.kid, {row.n, row.e}, FromMs(row.created_at_ms), FromMs(row.not_after_ms)});
  }
  return out;
}

}  // namespace veil::iam
