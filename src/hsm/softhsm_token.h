// First-start setup of a SoftHSM2 token for veild (Debian's softhsm2 package).
//
// PrepareSoftHsmToken(hsm_dir) makes hsm_dir (mode 0700) hold:
//   softhsm2.conf  (0600) tokendir = hsm_dir/tokens, file object store, log level ERROR
//   tokens/        (0700) SoftHSM2's token files
//   pins           (0600) "so_pin=<64 hex>\nuser_pin=<64 hex>\n", generated on the first start
// sets SOFTHSM2_CONF=hsm_dir/softhsm2.conf in this process's environment, and initializes a token
// labelled `token_label` (C_InitToken with the SO PIN, then C_InitPIN with the user PIN) unless
// the token exists already. Later starts read the PINs back. The steps are idempotent: a start
// killed half-way is completed by the next one (PINs are written before the token is created).
//
// Call it before any thread starts (it calls setenv) and before the SoftHSM2 module is loaded in
// this process: SoftHSM2 reads SOFTHSM2_CONF only in C_Initialize. kFailedPrecondition if the
// module is already loaded with another configuration, or if the token exists but the pins file
// does not; kDataLoss for an unreadable pins file; kInternal for file system failures.
//
// Returns the options to pass to Pkcs11KeyStore::Open (module, token label and user PIN; the other
// fields keep their defaults).
//
// Thread-safety: not thread-safe (process environment); call once at start-up.
#pragma once

#include <string>

#include "common/result.h"
#include "hsm/pkcs11_key_store.h"

namespace veil::hsm {

inline constexpr char kSoftHsmModulePath[] = "/usr/lib/softhsm/libsofthsm2.so";

[[nodiscard]] Result<Pkcs11Options> PrepareSoftHsmToken(
    const std::string& hsm_dir, std::string token_label = "veil",
    std::string module_path = kSoftHsmModulePath);

}  // namespace veil::hsm
