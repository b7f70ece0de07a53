// INTERNAL to src/crypto: RAII holders for OpenSSL objects, algorithm handles fetched once, and the
// conversion of OpenSSL's error queue into an Error. Not a public header: only src/crypto/*.cc
// include it, so that OpenSSL headers stay out of every public header.
//
// Thread-safety: the fetched algorithm handles are immutable and shared by all threads; the RAII
// holders are owned by one object each.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <memory>
#include <string_view>

#include "common/result.h"

namespace veil::crypto::internal {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// Algorithms fetched from the default provider once per process (explicit fetching avoids the
// per-call implicit fetch of EVP_sha256() and friends). Abort if unavailable: a broken OpenSSL
// installation is not an input error.
const EVP_MD* Sha1();
const EVP_MD* Sha256();
const EVP_MD* Sha512();
const EVP_CIPHER* Aes256Gcm();
const EVP_CIPHER* Aes128Xts();
const EVP_CIPHER* Aes256Xts();
const EVP_CIPHER* Aes128Ecb();
const EVP_CIPHER* Aes256Ecb();

// Builds an Error with `code` from `what` and the first reason on OpenSSL's error queue (reason
// strings name the failure, never key material), and empties the queue so that a stale entry
// cannot confuse a later, unrelated OpenSSL call on this thread.
Error OpenSslError(ErrorCode code, std::string_view what);
inline tl::unexpected<Error> OpenSslFailure(ErrorCode code, std::string_view what) {
  return tl::unexpected<Error>(OpenSslError(code, what));
}

// Empties this thread's OpenSSL error queue (after an expected failure, e.g. a bad signature).
void ClearOpenSslErrors();

}  // namespace veil::crypto::internal
