#include "kms/api/parse.h"

#include <boost/json/array.hpp>
#include <charconv>

#include "common/encoding.h"
#include "common/json.h"
#include "common/time.h"
#include "kms/errors.h"
#include "kms/instance_policy.h"
#include "kms/wdek.h"

namespace veil::kms::api {
namespace {

std::optional<std::string_view> Find(const QueryParams& query, std::string_view name) {
  for (const auto& [n, v] : query) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

// The body of a key action: absent, null or an object.
Result<std::optional<boost::json::object>> ActionObject(const OptionalBody& body) {
  if (!body || body->is_null()) return std::optional<boost::json::object>();
  if (!body->is_object()) return KmsFail(KmsReason::kBadBody, "the body must be a JSON object");
  return std::optional<boost::json::object>(body->get_object());
}

// The aad list: at most 255 strings of at most 255 characters.
Result<std::vector<std::string>> AadOf(const std::optional<boost::json::object>& o) {
  if (!o) return std::vector<std::string>();
  auto aad = VEIL_TRY_VALUE(json::OptionalStringList(*o, "aad"));
  if (aad.size() > kMaxAadEntries)
    return KmsFail(KmsReason::kBadBody, "aad holds at most 255 strings");
  for (const std::string& s : aad) {
    if (s.size() > kMaxAadEntryLength) {
      return KmsFail(KmsReason::kBadBody, "each aad string has at most 255 characters");
    }
  }
  return aad;
}

Result<KeyPolicyUpdate> ParseKeyPolicy(const boost::json::value& item, std::string_view which) {
  if (!item.is_object()) return KmsFail(KmsReason::kBadBody, "a policy must be a JSON object");
  const boost::json::object& p = item.get_object();
  KeyPolicyUpdate update;
  if (const auto* rotation = p.if_contains("rotation")) {
    if (!which.empty() && which != "rotation") {
      return KmsFail(KmsReason::kBodyQueryParamMismatch, "the body does not match ?policy");
    }
    if (!rotation->is_object()) return KmsFail(KmsReason::kBadBody, "rotation must be an object");
    update.type = KeyPolicyUpdate::Type::kRotation;
    update.enabled =
        VEIL_TRY_VALUE(json::OptionalBool(rotation->get_object(), "enabled")).value_or(true);
    const auto* interval = rotation->get_object().if_contains("interval_month");
    // Checked as int64 before it becomes an int: 4294967297 would otherwise narrow to 1.
    if (interval != nullptr && interval->is_int64() && interval->get_int64() >= 0 &&
        interval->get_int64() <= 12) {
      update.interval_month = static_cast<int>(interval->get_int64());
    } else if (interval != nullptr || update.enabled) {
      // Turning rotation off needs no interval (the key keeps the one it had, if any).
      return KmsFail(KmsReason::kBadBody, "rotation.interval_month must be an integer 1 to 12");
    }
    return update;
  }
  if (const auto* dual = p.if_contains("dualAuthDelete")) {
    if (!which.empty() && which != "dualAuthDelete") {
      return KmsFail(KmsReason::kBodyQueryParamMismatch, "the body does not match ?policy");
    }
    if (!dual->is_object()) return KmsFail(KmsReason::kBadBody, "dualAuthDelete must be an object");
    auto enabled = VEIL_TRY_VALUE(json::OptionalBool(dual->get_object(), "enabled"));
    if (!enabled) return KmsFail(KmsReason::kBadBody, "dualAuthDelete.enabled is required");
    update.type = KeyPolicyUpdate::Type::kDualAuthDelete;
    update.enabled = *enabled;
    return update;
  }
  return KmsFail(KmsReason::kBadBody, "a key policy is rotation or dualAuthDelete");
}

Result<InstancePolicyUpdate> ParseInstancePolicy(const boost::json::value& item,
                                                 std::string_view which) {
  if (!item.is_object()) return KmsFail(KmsReason::kBadBody, "a policy must be a JSON object");
  const auto& p = item.get_object();
  auto type = VEIL_TRY_VALUE(json::OptionalString(p, "policy_type"));
  if (!type) return KmsFail(KmsReason::kBadBody, "policy_type is required");
  if (!IsInstancePolicyType(*type)) {
    return KmsFail(KmsReason::kBadBody, "unknown policy_type " + *type);
  }
  if (!which.empty() && *type != which) {
    return KmsFail(KmsReason::kBodyQueryParamMismatch, "policy_type does not match ?policy");
  }
  const auto* data = p.if_contains("policy_data");
  if (data == nullptr) return KmsFail(KmsReason::kBadBody, "policy_data must be an object");
  // Not inside the braces: a VEIL_TRY_VALUE that returns from a half-built aggregate leaks the
  // members already built (GCC 12's statement expressions; found by LeakSanitizer).
  InstancePolicyData parsed = VEIL_TRY_VALUE(ParseInstancePolicyData(*type, *data));
  return InstancePolicyUpdate{*type, std::move(parsed)};
}

}  // namespace

Result<int64_t> IntQuery(const QueryParams& query, std::string_view name, int64_t fallback,
                         int64_t min, int64_t max) {
  auto text = Find(query, name);
  if (!text || text->empty()) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    return KmsFail(KmsReason::kBadReq, std::string(name) + " must be an integer from " +
                                           std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

Result<bool> BoolQuery(const QueryParams& query, std::string_view name) {
  auto text = Find(query, name);
  if (!text || text->empty() || *text == "false") return false;
  if (*text == "true") return true;
  return KmsFail(KmsReason::kBadReq, std::string(name) + " must be true or false");
}

Result<std::string> PolicyQuery(const QueryParams& query,
                                std::initializer_list<std::string_view> allowed) {
  auto policy = Find(query, "policy");
  if (!policy || policy->empty()) return std::string();
  for (std::string_view a : allowed) {
    if (*policy == a) return std::string(a);
  }
  return KmsFail(KmsReason::kBadReq, "unknown policy " + std::string(*policy));
}

Result<ListKeysOptions> ParseListKeysQuery(const QueryParams& query) {
  ListKeysOptions o;
  o.limit = VEIL_TRY_VALUE(IntQuery(query, "limit", 200, 1, kMaxListLimit));
  o.offset = VEIL_TRY_VALUE(IntQuery(query, "offset", 0, 0, INT64_MAX / 2));
  if (auto states = Find(query, "state"); states && !states->empty()) {
    std::string_view rest = *states;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      int value = -1;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
      auto state = KeyStateFromInt(value);
      if (ec != std::errc() || end != item.data() + item.size() || !state) {
        return KmsFail(KmsReason::kBadReq, "state must list key states from 0, 1, 2, 3, 5");
      }
      o.states.push_back(*state);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  if (auto extractable = Find(query, "extractable"); extractable && !extractable->empty()) {
    if (*extractable != "true" && *extractable != "false") {
      return KmsFail(KmsReason::kBadReq, "extractable must be true or false");
    }
    o.extractable = *extractable == "true";
  }
  return o;
}

Result<boost::json::object> SingleResource(const OptionalBody& body) {
  if (!body) return KmsFail(KmsReason::kNoBody, "the request needs a body");
  if (!body->is_object()) return KmsFail(KmsReason::kBadBody, "the body must be a JSON object");
  const boost::json::object& o = body->get_object();
  const boost::json::value* resources = o.if_contains("resources");
  if (resources == nullptr || !resources->is_array()) {
    return KmsFail(KmsReason::kBadBody, "the body needs a resources array");
  }
  const boost::json::array& list = resources->get_array();
  if (const boost::json::value* metadata = o.if_contains("metadata")) {
    const boost::json::value* total =
        metadata->is_object() ? metadata->get_object().if_contains("collectionTotal") : nullptr;
    if (total != nullptr && total->is_int64() &&
        total->get_int64() != static_cast<int64_t>(list.size())) {
      return KmsFail(KmsReason::kCollectionTotalMismatch,
                     "metadata.collectionTotal does not match the number of resources");
    }
  }
  if (list.size() != 1) {
    return KmsFail(KmsReason::kNumCollectionResource,
                   "the collection must hold exactly 1 resource");
  }
  if (!list[0].is_object()) return KmsFail(KmsReason::kBadBody, "a resource must be a JSON object");
  return list[0].get_object();
}

Result<std::optional<ImportedMaterial>> MaterialOf(const boost::json::object& o) {
  auto payload = VEIL_TRY_VALUE(json::OptionalString(o, "payload"));
  if (!payload) return std::optional<ImportedMaterial>();
  ImportedMaterial m;
  m.payload = std::move(*payload);
  m.encrypted_nonce = VEIL_TRY_VALUE(json::OptionalString(o, "encryptedNonce")).value_or("");
  m.iv = VEIL_TRY_VALUE(json::OptionalString(o, "iv")).value_or("");
  m.encryption_algorithm =
      VEIL_TRY_VALUE(json::OptionalString(o, "encryptionAlgorithm")).value_or("");
  if (!m.encrypted_nonce.empty() && m.iv.empty()) {
    return KmsFail(KmsReason::kIncorrectNonceIv, "encryptedNonce needs its iv");
  }
  return std::optional<ImportedMaterial>(std::move(m));
}

Result<CreateKeySpec> ParseCreateKey(const OptionalBody& body) {
  boost::json::object r = VEIL_TRY_VALUE(SingleResource(body));
  CreateKeySpec spec;
  spec.name = VEIL_TRY_VALUE(json::OptionalString(r, "name")).value_or("");
  spec.description = VEIL_TRY_VALUE(json::OptionalString(r, "description")).value_or("");
  spec.aliases = VEIL_TRY_VALUE(json::OptionalStringList(r, "aliases"));
  spec.extractable = VEIL_TRY_VALUE(json::OptionalBool(r, "extractable")).value_or(false);
  if (auto expiry = VEIL_TRY_VALUE(json::OptionalString(r, "expirationDate"))) {
    auto t = ParseRfc3339(*expiry);
    if (!t) return KmsFail(KmsReason::kBadBody, "expirationDate must be an RFC 3339 time");
    spec.expires_at = *t;
  }
  spec.material = VEIL_TRY_VALUE(MaterialOf(r));
  return spec;
}

Result<std::string> ParseKeyRingPatch(const OptionalBody& body) {
  if (!body || !body->is_object())
    return KmsFail(KmsReason::kNoBody, "PATCH needs {\"keyRingID\"}");
  auto ring = VEIL_TRY_VALUE(json::OptionalString(body->get_object(), "keyRingID"));
  if (!ring) return KmsFail(KmsReason::kBadBody, "keyRingID is required");
  return std::move(*ring);
}

Result<std::optional<ImportedMaterial>> ParseRestore(const OptionalBody& body) {
  if (!body || !body->is_object() || !body->get_object().contains("resources")) {
    return std::optional<ImportedMaterial>();
  }
  // A body for restore arrives without the single-resource check: read it from the value.
  const auto& resources = body->get_object().at("resources");
  if (resources.is_array() && resources.get_array().size() == 1 &&
      resources.get_array()[0].is_object()) {
    return MaterialOf(resources.get_array()[0].get_object());
  }
  return std::optional<ImportedMaterial>();
}

Result<WrapRequest> ParseWrap(const OptionalBody& body) {
  auto o = VEIL_TRY_VALUE(ActionObject(body));
  WrapRequest out;
  if (o) {
    if (auto text = VEIL_TRY_VALUE(json::OptionalString(*o, "plaintext"))) {
      auto decoded = DecodeBase64Secret(*text);
      if (!decoded) return KmsFail(KmsReason::kBadBody, "plaintext must be base64");
      out.plaintext = std::move(*decoded);
    }
  }
  out.aad = VEIL_TRY_VALUE(AadOf(o));
  return out;
}

Result<CiphertextRequest> ParseCiphertextRequest(const OptionalBody& body) {
  auto o = VEIL_TRY_VALUE(ActionObject(body));
  std::optional<std::string> text;
  if (o) text = VEIL_TRY_VALUE(json::OptionalString(*o, "ciphertext"));
  if (!text || text->empty()) return KmsFail(KmsReason::kBadBody, "ciphertext is required");
  CiphertextRequest out;
  out.ciphertext = std::move(*text);
  out.aad = VEIL_TRY_VALUE(AadOf(o));
  return out;
}

Result<std::optional<ImportedMaterial>> ParseRotate(const OptionalBody& body) {
  auto o = VEIL_TRY_VALUE(ActionObject(body));
  if (!o) return std::optional<ImportedMaterial>();
  return MaterialOf(*o);
}

Result<std::vector<KeyPolicyUpdate>> ParseKeyPolicies(const OptionalBody& body,
                                                      std::string_view which) {
  if (!body) return KmsFail(KmsReason::kNoBody, "the request needs a body");
  const boost::json::value* resources =
      body->is_object() ? body->get_object().if_contains("resources") : nullptr;
  if (resources == nullptr || !resources->is_array() || resources->get_array().empty() ||
      resources->get_array().size() > 2) {
    return KmsFail(KmsReason::kNumCollectionResource, "the body needs 1 or 2 policy resources");
  }
  std::vector<KeyPolicyUpdate> updates;
  for (const boost::json::value& item : resources->get_array()) {
    updates.push_back(VEIL_TRY_VALUE(ParseKeyPolicy(item, which)));
  }
  return updates;
}

Result<std::vector<InstancePolicyUpdate>> ParseInstancePolicies(const OptionalBody& body,
                                                                std::string_view which) {
  if (!body) return KmsFail(KmsReason::kNoBody, "the request needs a body");
  const boost::json::value* resources =
      body->is_object() ? body->get_object().if_contains("resources") : nullptr;
  if (resources == nullptr || !resources->is_array() || resources->get_array().empty()) {
    return KmsFail(KmsReason::kNumCollectionResource, "the body needs policy resources");
  }
  std::vector<InstancePolicyUpdate> updates;
  for (const boost::json::value& item : resources->get_array()) {
    updates.push_back(VEIL_TRY_VALUE(ParseInstancePolicy(item, which)));
  }
  return updates;
}

Result<bool> ParseConfirmOutsideAllowedIp(const QueryParams& query) {
  auto confirm = Find(query, "confirmOutsideAllowedIP").value_or("");
  if (!confirm.empty() && confirm != "true" && confirm != "false") {
    return KmsFail(KmsReason::kBadReq, "confirmOutsideAllowedIP must be true or false");
  }
  return confirm == "true";
}

Result<RegistrationFields> ParseRegistration(const OptionalBody& body) {
  RegistrationFields out;
  if (!body) return out;
  if (!body->is_object()) return KmsFail(KmsReason::kBadBody, "the body must be a JSON object");
  const boost::json::object* o = &body->get_object();
  if (const auto* resources = o->if_contains("resources")) {
    if (!resources->is_array() || resources->get_array().size() != 1 ||
        !resources->get_array()[0].is_object()) {
      return KmsFail(KmsReason::kNumCollectionResource, "the collection must hold 1 registration");
    }
    o = &resources->get_array()[0].get_object();
  }
  out.description = VEIL_TRY_VALUE(json::OptionalString(*o, "description"));
  out.prevent_key_deletion = VEIL_TRY_VALUE(json::OptionalBool(*o, "preventKeyDeletion"));
  if (auto id = VEIL_TRY_VALUE(json::OptionalString(*o, "keyVersionId"))) {
    out.key_version_id = std::move(id);
  } else if (const auto* v = o->if_contains("keyVersion"); v && v->is_object()) {
    out.key_version_id = VEIL_TRY_VALUE(json::OptionalString(v->get_object(), "id"));
  }
  return out;
}

Result<RegistrationQuery> ParseRegistrationQuery(const QueryParams& query) {
  RegistrationQuery out;
  out.crn_query = std::string(Find(query, "urlEncodedResourceCRNQuery").value_or(""));
  if (auto p = Find(query, "preventKeyDeletion"); p && !p->empty()) {
    if (*p != "true" && *p != "false") {
      return KmsFail(KmsReason::kBadReq, "preventKeyDeletion must be true or false");
    }
    out.prevent_key_deletion = *p == "true";
  }
  out.limit = VEIL_TRY_VALUE(IntQuery(query, "limit", 200, 0, kMaxListLimit));
  out.offset = VEIL_TRY_VALUE(IntQuery(query, "offset", 0, 0, INT64_MAX / 2));
  return out;
}

Result<ImportTokenRequest> ParseImportTokenCreate(const OptionalBody& body) {
  ImportTokenRequest out;
  if (!body) return out;
  if (!body->is_object()) return KmsFail(KmsReason::kBadBody, "the body must be a JSON object");
  const auto& o = body->get_object();
  if (const auto* e = o.if_contains("expiration")) {
    if (!e->is_int64()) return KmsFail(KmsReason::kBadBody, "expiration must be an integer");
    out.expiration = e->get_int64();
  }
  if (const auto* m = o.if_contains("maxAllowedRetrievals")) {
    if (!m->is_int64())
      return KmsFail(KmsReason::kBadBody, "maxAllowedRetrievals must be an integer");
    out.max_retrievals = m->get_int64();
  }
  return out;
}

}  // namespace veil::kms::api
