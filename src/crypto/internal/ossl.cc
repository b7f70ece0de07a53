#include "crypto/internal/ossl.h"

#include <openssl/err.h>

#include <string>

namespace veil::crypto::internal {
namespace {

const EVP_MD* FetchMd(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  VEIL_CHECK_MSG(md != nullptr, "OpenSSL digest unavailable");
  return md;  // kept for the life of the process
}

const EVP_CIPHER* FetchCipher(const char* name) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
  VEIL_CHECK_MSG(cipher != nullptr, "OpenSSL cipher unavailable");
  return cipher;  // kept for the life of the process
}

}  // namespace

const EVP_MD* Sha1() {
  static const EVP_MD* md = FetchMd("SHA1");
  return md;
}
const EVP_MD* Sha256() {
  static const EVP_MD* md = FetchMd("SHA256");
  return md;
}
const EVP_MD* Sha512() {
  static const EVP_MD* md = FetchMd("SHA512");
  return md;
}
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = FetchCipher("AES-256-GCM");
  return cipher;
}
const EVP_CIPHER* Aes128Xts() {
  static const EVP_CIPHER* cipher = FetchCipher("AES-128-XTS");
  return cipher;
}
const EVP_CIPHER* Aes256Xts() {
  static const EVP_CIPHER* cipher = FetchCipher("AES-256-XTS");
  return cipher;
}
const EVP_CIPHER* Aes128Ecb() {
  static const EVP_CIPHER* cipher = FetchCipher("AES-128-ECB");
  return cipher;
}
const EVP_CIPHER* Aes256Ecb() {
  static const EVP_CIPHER* cipher = FetchCipher("AES-256-ECB");
  return cipher;
}

Error OpenSslError(ErrorCode code, std::string_view what) {
  std::string message(what);
  unsigned long err = ERR_get_error();
  if (err != 0) {
    if (const char* reason = ERR_reason_error_string(err)) {
      message += ": ";
      message += reason;
    }
  }
  ERR_clear_error();
  return Error(code, std::move(message));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

}  // namespace veil::crypto::internal
