// JSON renderings of the KMS's objects in the shapes of Key Protect's API v2 (docs/kms.md has
// examples), and the media types that name them. Internal to src/kms/api: the route files render
// through these, the request-scope and route plumbing lives in handler_support.h.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/secret_bytes.h"
#include "common/time.h"
#include "http/response.h"
#include "kms/kms_service.h"
#include "kms/model.h"

namespace veil::kms::api::internal {

inline constexpr std::string_view kKeyType = "application/vnd.ibm.kms.key+json";
inline constexpr std::string_view kActionType = "application/vnd.ibm.kms.key_action+json";
inline constexpr std::string_view kPolicyType = "application/vnd.ibm.kms.policy+json";
inline constexpr std::string_view kCollectionType = "application/vnd.ibm.collection+json";
inline constexpr std::string_view kVersionType = "application/vnd.ibm.kms.key.version+json";
inline constexpr std::string_view kRegistrationType = "application/vnd.ibm.kms.registration+json";
inline constexpr std::string_view kErrorType = "application/vnd.ibm.kms.error+json";
inline constexpr std::string_view kKeyRingType = "application/vnd.ibm.kms.key_ring+json";
inline constexpr std::string_view kImportTokenType = "application/vnd.ibm.kms.import_token+json";
inline constexpr std::string_view kInstancePolicyType =
    "application/vnd.ibm.kms.instance_policy+json";
inline constexpr std::string_view kKeyAliasType = "application/vnd.ibm.kms.key_alias+json";

// A JSON response with Key Protect's collection envelope.
http::Response Collection(int status, std::string_view collection_type,
                          boost::json::array resources);
http::Response JsonResponse(int status, const boost::json::value& body);

// The key resource; `payload` (a standard key's material) only where the API returns it.
boost::json::object KeyJson(const Key& key, std::string_view region,
                            const SecretBytes* payload = nullptr);
boost::json::object RegistrationJson(const Registration& r);
boost::json::object VersionJson(const KeyVersion& v);
boost::json::object KeyRingJson(const KeyRing& r);
// The import token's dates and retrievals (GET adds its payload and nonce).
boost::json::object ImportTokenJson(const ImportToken& t);
// The key's policies (rotation for root keys, dualAuthDelete), or only the one `which` names.
boost::json::array KeyPoliciesJson(const Key& key, std::string_view region, std::string_view which);
// One instance policy: {"policy_type","policy_data","createdBy","updatedBy","creationDate",
// "lastUpdated"}.
boost::json::object InstancePolicyJson(const InstancePolicy& p);

}  // namespace veil::kms::api::internal
