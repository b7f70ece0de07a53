// `veil kms ...`: the CLI11 wiring of the KMS's Key Protect v2 API (src/kms/api/kms_api.h) over
// ApiClient, registered by main.cc; docs/kms-cli.md is the user's page.
//
//   veil kms key create|import|list|show|rotate|disable|enable|delete|restore|purge|versions|
//                policy|set-for-deletion|unset-for-deletion
//   veil kms wrap|unwrap|rewrap KEY
//   veil kms import-token create|show
//   veil kms instance use|show        the profile's default KMS instance
//
// Every command but `instance` sends `bluemix-instance`: --instance GUID, else $VEIL_KMS_INSTANCE,
// else `kms_instance` in the profile's config (set by `veil kms instance use GUID` or `veil
// resource instance create NAME --service kms --use`).
//
// Secrets (imported key material, a DEK given to or returned by wrap and unwrap, a standard key's
// payload) are read into SecretBytes, sent from them (ApiRequest::secret_body), and their JSON
// copies are wiped; they are printed only by the commands whose purpose is to print them (wrap
// with a generated DEK, unwrap, key show --payload).
//
// Exit codes: those of ApiExit (0 ok, 1 failed, 2 bad arguments or HTTP 400, 3 not logged in or
// refused credentials, 4 permission denied, 5 not found) and the KMS's own below.
//
// Thread-safety: runs on the main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "api_client.h"
#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::cli {

// The KMS commands' own exit codes, beside ApiExit's 0 to 5 (404, no such key, alias or instance,
// is ApiExit::kNotFound, as for every command).
enum class KmsExit : int {
  kKeyState = 6,    // the key's state refuses the action: 409 KEY_ACTION_INVALID_STATE_ERR,
                    // 410 KEY_DELETED_ERR, 422 KEY_INVALID_STATE_ERR
  kCiphertext = 7,  // 422 UNPROCESSABLE_CIPHERTEXT_ERR, KEY_VERSION_INVALID: a ciphertext
                    // of another key, tampered, or unwrapped with another aad list
  kConflict = 8,    // any other 409: alias in use, registrations protect the key, dual
                    // authorization missing, too early, import token used up, ...
};
constexpr int ExitCode(KmsExit e) { return static_cast<int>(e); }

// The exit status of a failed KMS command: a KmsExit from the HTTP status and Key Protect reason
// code when the service answered one (`failure`), else ApiExitCode(error).
int KmsExitCode(const Error& error, const HttpFailure& failure);

// "Active" for 1, ... ("Pre-activation", "Active", "Suspended", "Deactivated", "Destroyed");
// the number for an unknown state.
std::string KeyStateText(int64_t state);

// The `state` query of `key list`: comma-separated states from 0, 1, 2, 3, 5 (names accepted
// too: active, suspended, deactivated, destroyed, pre-activation; case-insensitive), without
// duplicates, as the numbers. kInvalidArgument otherwise.
[[nodiscard]] Result<std::string> ParseStateList(std::string_view text);

// Key Protect's secure import (docs/api-compatibility.md) of `material` for the import
// token whose public key is `public_key_pem` and whose nonce is `nonce`: payload =
// base64(RSA-OAEP-SHA256(material)), encryptedNonce = base64(AES-GCM(material, iv, nonce) ||
// tag), iv = base64(iv). `iv` must be 12 bytes. kInvalidArgument for a PEM that is not an RSA
// public key, or material that is not 16, 24 or 32 bytes.
struct SecureImportFields {
  std::string payload;
  std::string encrypted_nonce;
  std::string iv;
  std::string algorithm = "RSAES_OAEP_SHA_256";
};
[[nodiscard]] Result<SecureImportFields> SealForImport(std::string_view public_key_pem,
                                                       std::span<const uint8_t> nonce,
                                                       const SecretBytes& material,
                                                       std::span<const uint8_t> iv);

// Where a secret goes in a JSON body: a string member whose value is exactly this placeholder.
inline constexpr std::string_view kSecretPlaceholder = "veil:secret-placeholder";
// The JSON text of `body` with the one placeholder value replaced by base64(secret), built in
// SecretBytes only. kInvalidArgument when the placeholder is not there exactly once.
[[nodiscard]] Result<SecretBytes> JsonWithSecret(const boost::json::value& body,
                                                 const SecretBytes& secret);

// The standard base64 text of `data`, in SecretBytes.
SecretBytes Base64Secret(std::span<const uint8_t> data);

// Adds `kms` and its subcommands to `app`. `g` holds the global options (read when a command
// runs); `exit_code` receives the command's exit code.
void RegisterKmsCommands(CLI::App& app, const GlobalOptions& g, int& exit_code);

// The default KMS instance for commands without --instance: $VEIL_KMS_INSTANCE, else
// `kms_instance` in the profile's config; "" when neither is set.
[[nodiscard]] Result<std::string> DefaultKmsInstance();
// Saves `guid` as the profile's `kms_instance`.
[[nodiscard]] Status SaveDefaultKmsInstance(const std::string& guid);

}  // namespace veil::cli
