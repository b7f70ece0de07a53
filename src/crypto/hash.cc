#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/hmac.h>

#include <climits>

#include "crypto/internal/ossl.h"

namespace veil::crypto {
namespace {

using internal::OpenSslFailure;

const EVP_MD* Md(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1:
      return internal::Sha1();
    case HashAlgorithm::kSha256:
      return internal::Sha256();
    case HashAlgorithm::kSha512:
      return internal::Sha512();
  }
  VEIL_CHECK_MSG(false, "unknown HashAlgorithm");
  return nullptr;
}

// A valid pointer for zero-length inputs: OpenSSL rejects some (nullptr, 0) pairs.
const uint8_t kEmpty[1] = {0};
const uint8_t* DataOrEmpty(std::span<const uint8_t> s) { return s.empty() ? kEmpty : s.data(); }

void DigestInto(const EVP_MD* md, std::span<const uint8_t> data, uint8_t* out) {
  unsigned int len = 0;
  VEIL_CHECK_MSG(EVP_Digest(DataOrEmpty(data), data.size(), out, &len, md, nullptr) == 1,
                 "EVP_Digest failed");
}

void HmacInto(const EVP_MD* md, std::span<const uint8_t> key, std::span<const uint8_t> data,
              uint8_t* out) {
  VEIL_CHECK_MSG(key.size() <= INT_MAX, "HMAC key too large");
  unsigned int len = 0;
  VEIL_CHECK_MSG(HMAC(md, DataOrEmpty(key), static_cast<int>(key.size()), DataOrEmpty(data),
                      data.size(), out, &len) != nullptr,
                 "HMAC failed");
}

}  // namespace

size_t DigestSize(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1:
      return kSha1Size;
    case HashAlgorithm::kSha256:
      return kSha256Size;
    case HashAlgorithm::kSha512:
      return kSha512Size;
  }
  return 0;
}

Sha1Digest Sha1(std::span<const uint8_t> data) {
  Sha1Digest out;
  DigestInto(internal::Sha1(), data, out.data());
  return out;
}

Sha256Digest Sha256(std::span<const uint8_t> data) {
  Sha256Digest out;
  DigestInto(internal::Sha256(), data, out.data());
  return out;
}

Sha512Digest Sha512(std::span<const uint8_t> data) {
  Sha512Digest out;
  DigestInto(internal::Sha512(), data, out.data());
  return out;
}

std::vector<uint8_t> Digest(HashAlgorithm algorithm, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(DigestSize(algorithm));
  DigestInto(Md(algorithm), data, out.data());
  return out;
}

Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Sha256Digest out;
  HmacInto(internal::Sha256(), key, data, out.data());
  return out;
}

std::vector<uint8_t> Hmac(HashAlgorithm algorithm, std::span<const uint8_t> key,
                          std::span<const uint8_t> data) {
  std::vector<uint8_t> out(DigestSize(algorithm));
  HmacInto(Md(algorithm), key, data, out.data());
  return out;
}

struct Sha256Hasher::State {
  internal::MdCtx ctx{EVP_MD_CTX_new()};
};

Sha256Hasher::Sha256Hasher() : state_(std::make_unique<State>()) {
  VEIL_CHECK(state_->ctx != nullptr);
  VEIL_CHECK(EVP_DigestInit_ex2(state_->ctx.get(), internal::Sha256(), nullptr) == 1);
}

Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

void Sha256Hasher::Update(std::span<const uint8_t> data) {
  VEIL_CHECK_MSG(state_ != nullptr, "Sha256Hasher used after move");
  if (data.empty()) return;
  VEIL_CHECK(EVP_DigestUpdate(state_->ctx.get(), data.data(), data.size()) == 1);
}

Sha256Digest Sha256Hasher::Finish() {
  VEIL_CHECK_MSG(state_ != nullptr, "Sha256Hasher used after move");
  Sha256Digest out;
  unsigned int len = 0;
  VEIL_CHECK(EVP_DigestFinal_ex(state_->ctx.get(), out.data(), &len) == 1);
  VEIL_CHECK(EVP_DigestInit_ex2(state_->ctx.get(), nullptr, nullptr) == 1);
  return out;
}

struct Md5Hasher::State {
  internal::MdCtx ctx{EVP_MD_CTX_new()};
};

Md5Hasher::Md5Hasher() : state_(std::make_unique<State>()) {
  VEIL_CHECK(state_->ctx != nullptr);
  VEIL_CHECK(EVP_DigestInit_ex2(state_->ctx.get(), EVP_md5(), nullptr) == 1);
}

Md5Hasher::~Md5Hasher() = default;
Md5Hasher::Md5Hasher(Md5Hasher&&) noexcept = default;
Md5Hasher& Md5Hasher::operator=(Md5Hasher&&) noexcept = default;

void Md5Hasher::Update(std::span<const uint8_t> data) {
  VEIL_CHECK_MSG(state_ != nullptr, "Md5Hasher used after move");
  if (data.empty()) return;
  VEIL_CHECK(EVP_DigestUpdate(state_->ctx.get(), data.data(), data.size()) == 1);
}

Md5Digest Md5Hasher::Finish() {
  VEIL_CHECK_MSG(state_ != nullptr, "Md5Hasher used after move");
  Md5Digest out;
  unsigned int len = 0;
  VEIL_CHECK(EVP_DigestFinal_ex(state_->ctx.get(), out.data(), &len) == 1);
  VEIL_CHECK(EVP_DigestInit_ex2(state_->ctx.get(), nullptr, nullptr) == 1);
  return out;
}

Md5Digest Md5(std::span<const uint8_t> data) {
  Md5Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

Result<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                               std::span<const uint8_t> info, size_t length) {
  if (length == 0 || length > 255 * kSha256Size) {
    return InvalidArgument("HKDF-SHA256: output length must be 1..8160 bytes");
  }
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  VEIL_CHECK_MSG(kdf != nullptr, "OpenSSL HKDF unavailable");
  internal::KdfCtx ctx(EVP_KDF_CTX_new(kdf));
  if (!ctx) return OpenSslFailure(ErrorCode::kInternal, "HKDF: context");

  // OSSL_PARAM takes non-const pointers but only reads through them here.
  auto octets = [](const char* name, std::span<const uint8_t> s) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<uint8_t*>(DataOrEmpty(s)), s.size());
  };
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[n++] = octets(OSSL_KDF_PARAM_KEY, ikm);
  if (!salt.empty()) params[n++] = octets(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[n++] = octets(OSSL_KDF_PARAM_INFO, info);
  params[n] = OSSL_PARAM_construct_end();

  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.RevealMutable().data(), length, params) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "HKDF-SHA256 failed");
  }
  return out;
}

Result<SecretBytes> Pbkdf2Hmac(const Pbkdf2Params& params, std::span<const uint8_t> password,
                               std::span<const uint8_t> salt) {
  if (params.iterations == 0 || params.iterations > INT_MAX) {
    return InvalidArgument("PBKDF2: iterations must be 1..2^31-1");
  }
  if (params.length == 0 || params.length > (size_t{1} << 20)) {
    return InvalidArgument("PBKDF2: output length must be 1 byte .. 1 MiB");
  }
  if (password.size() > INT_MAX || salt.size() > INT_MAX) {
    return InvalidArgument("PBKDF2: password or salt too large");
  }
  SecretBytes out(params.length);
  if (PKCS5_PBKDF2_HMAC(
          reinterpret_cast<const char*>(DataOrEmpty(password)), static_cast<int>(password.size()),
          DataOrEmpty(salt), static_cast<int>(salt.size()), static_cast<int>(params.iterations),
          Md(params.hash), static_cast<int>(params.length), out.RevealMutable().data()) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "PBKDF2 failed");
  }
  return out;
}

}  // namespace veil::crypto
