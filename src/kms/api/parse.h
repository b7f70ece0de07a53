// Pure parsers of Key Protect request bodies and query parameters (no I/O, no database): the
// "parse" step of the KMS handlers, which call them on the JSON ReadOptionalJson gives (nullopt
// for an empty body) and on the request's decoded query. fuzz/kms_request_fuzz.cc runs the same
// functions. Errors are Key Protect's (KmsFail): BAD_BODY_ERR, NO_BODY_ERR, BAD_REQ_ERR,
// NUM_COLLECTION_RESOURCE_ERR, COLLECTION_TOTAL_MISMATCH_ERR, BODY_QUERY_PARAM_MISMATCH_ERR,
// INCORRECT_NONCE_IV_ERR, naming the field, never quoting a secret.
//
// What a parser accepts is within the ranges the service and the store take, so that nothing it
// lets through makes a later step fail on the value's shape (a narrowed integer, a number that
// cannot be written back as JSON).
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"
#include "kms/kms_service.h"

namespace veil::kms::api {

// A decoded query, as http::Request::query holds it.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
// A request body parsed as JSON; nullopt for an empty body.
using OptionalBody = std::optional<boost::json::value>;

// ---- Fields: json::OptionalString and friends (common/json.h); their kInvalidArgument renders as
// BAD_BODY_ERR (ReasonOf).

// ---- Query parameters: BAD_REQ_ERR naming the parameter.
// An integer from `min` to `max`; `fallback` when absent or empty.
[[nodiscard]] Result<int64_t> IntQuery(const QueryParams& query, std::string_view name,
                                       int64_t fallback, int64_t min, int64_t max);
// "true" or "false"; false when absent or empty.
[[nodiscard]] Result<bool> BoolQuery(const QueryParams& query, std::string_view name);
// ?policy=: one of `allowed`, or "" when absent or empty.
[[nodiscard]] Result<std::string> PolicyQuery(const QueryParams& query,
                                              std::initializer_list<std::string_view> allowed);

// GET/HEAD /keys: limit (1-5000, default 200), offset (0 to INT64_MAX/2), state (a comma list of
// 0, 1, 2, 3, 5), extractable. The key ring (a header) is the handler's.
inline constexpr int64_t kMaxListLimit = 5000;
[[nodiscard]] Result<ListKeysOptions> ParseListKeysQuery(const QueryParams& query);

// The one resource of a collection body {"metadata":{"collectionType","collectionTotal"},
// "resources":[{...}]}: NO_BODY_ERR, BAD_BODY_ERR, COLLECTION_TOTAL_MISMATCH_ERR,
// NUM_COLLECTION_RESOURCE_ERR as the spec names them.
[[nodiscard]] Result<boost::json::object> SingleResource(const OptionalBody& body);

// The import fields (payload, encryptedNonce, iv, encryptionAlgorithm) of a create, rotate or
// restore resource; nullopt without a payload.
[[nodiscard]] Result<std::optional<ImportedMaterial>> MaterialOf(const boost::json::object& o);

// POST /keys: the resource's name, description, aliases, extractable, expirationDate (RFC 3339)
// and import fields. key_ring_id keeps its default (the handler takes it from a header).
[[nodiscard]] Result<CreateKeySpec> ParseCreateKey(const OptionalBody& body);

// PATCH /keys/{id}: {"keyRingID"}.
[[nodiscard]] Result<std::string> ParseKeyRingPatch(const OptionalBody& body);

// POST /keys/{id}/restore: the import fields of a one-resource collection, if the body has one.
[[nodiscard]] Result<std::optional<ImportedMaterial>> ParseRestore(const OptionalBody& body);

// ---- Key actions. A body is absent, null or an object; aad is at most kMaxAadEntries strings
// of at most kMaxAadEntryLength characters.
struct WrapRequest {
  std::optional<SecretBytes> plaintext;  // base64-decoded; nullopt: the KMS generates one
  std::vector<std::string> aad;
};
[[nodiscard]] Result<WrapRequest> ParseWrap(const OptionalBody& body);

// unwrap and rewrap: a non-empty ciphertext and the aad.
struct CiphertextRequest {
  std::string ciphertext;
  std::vector<std::string> aad;
};
[[nodiscard]] Result<CiphertextRequest> ParseCiphertextRequest(const OptionalBody& body);

// rotate: the import fields, if the body has a payload.
[[nodiscard]] Result<std::optional<ImportedMaterial>> ParseRotate(const OptionalBody& body);

// ---- Policies.
// PUT /keys/{id}/policies: 1 or 2 resources, each {"rotation":{"enabled"?,"interval_month"?}} or
// {"dualAuthDelete":{"enabled"}}, matching `which` (PolicyQuery) when it is not empty.
// interval_month is an integer 0 to 12 (the service wants 1 to 12 when enabled).
struct KeyPolicyUpdate {
  enum class Type { kRotation, kDualAuthDelete };
  Type type = Type::kRotation;
  bool enabled = true;
  std::optional<int> interval_month;  // rotation only; nullopt when not given
};
[[nodiscard]] Result<std::vector<KeyPolicyUpdate>> ParseKeyPolicies(const OptionalBody& body,
                                                                    std::string_view which);

// PUT /instance/policies: a non-empty list of {"policy_type", "policy_data"}, each read with
// ParseInstancePolicyData (kms/instance_policy.h), matching `which` (?policy) when it is not
// empty.
[[nodiscard]] Result<std::vector<InstancePolicyUpdate>> ParseInstancePolicies(
    const OptionalBody& body, std::string_view which);

// ?confirmOutsideAllowedIP: "true" or "false", false when absent or empty.
[[nodiscard]] Result<bool> ParseConfirmOutsideAllowedIp(const QueryParams& query);

// ---- Registrations.
// A body for POST/PATCH/PUT /keys/{id}/registrations/{crn}: a collection with one resource, or
// the object itself; an empty body has no fields.
struct RegistrationFields {
  std::optional<std::string> description;
  std::optional<bool> prevent_key_deletion;
  std::optional<std::string> key_version_id;  // "keyVersionId" or "keyVersion":{"id"}
};
[[nodiscard]] Result<RegistrationFields> ParseRegistration(const OptionalBody& body);

// GET /keys/registrations: urlEncodedResourceCRNQuery, preventKeyDeletion, limit (0-5000,
// default 200), offset (0 to INT64_MAX/2, default 0).
struct RegistrationQuery {
  std::string crn_query;
  std::optional<bool> prevent_key_deletion;
  int64_t limit = 200;
  int64_t offset = 0;
};
[[nodiscard]] Result<RegistrationQuery> ParseRegistrationQuery(const QueryParams& query);

// ---- POST /import_token: {"expiration"?, "maxAllowedRetrievals"?}, integers (the service
// checks their ranges), 600 and 1 by default.
struct ImportTokenRequest {
  int64_t expiration = 600;
  int64_t max_retrievals = 1;
};
[[nodiscard]] Result<ImportTokenRequest> ParseImportTokenCreate(const OptionalBody& body);

}  // namespace veil::kms::api
