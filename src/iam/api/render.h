// JSON renderings of IAM's objects in the shapes of IBM's APIs (docs/iam.md has examples).
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>
#include <vector>

#include "common/secret_bytes.h"
#include "iam/iam_service.h"
#include "iam/model.h"
#include "iam/policy.h"
#include "iam/signing_keys.h"
#include "iam/token_issuer.h"

namespace veil::iam::api {

// {"id","iam_id","entity_tag","crn","locked","created_at","modified_at","account_id","name",
//  "description"} (+ "email" for users).
boost::json::object IdentityJson(const Identity& identity);
// {"id","entity_tag","crn","locked","created_at","created_by","modified_at","name",
//  "description","iam_id","account_id"}, plus "apikey" when `value` is given (creation only).
boost::json::object ApiKeyJson(const ApiKey& key, const SecretBytes* value = nullptr);
// The IBM v1 policy: type, subjects, roles (role_id, display_name, description), resources,
// description, id, href, account_id, entity_tag, created_at, created_by_id, last_modified_at,
// last_modified_by_id.
boost::json::object PolicyJson(const Policy& policy);
// {"id" (the CRN),"guid","crn","url","name","region_id","account_id","resource_id","state",
//  "type":"service_instance","created_at","updated_at","created_by"}.
boost::json::object InstanceJson(const ResourceInstance& instance);
// IBM's resource key: {"id" (the CRN),"guid","crn","url","name","account_id","source_crn",
//  "resource_instance_url","role" (the role_id),"state","iam_compatible":true,"created_at",
//  "updated_at","created_by","credentials":{"iam_apikey_id","iam_apikey_name",
//  "iam_apikey_description","iam_role_crn","iam_serviceid_crn","resource_instance_id",
//  "cos_hmac_keys"?:{"access_key_id"}}}. With `created` (the creation's answer only), the
//  credentials also hold "apikey" and cos_hmac_keys.secret_access_key: shown this once.
boost::json::object ResourceKeyJson(const ResourceKey& key,
                                    const IamService::CreatedResourceKey* created = nullptr);
// IBM's Enterprise account: {"url","id","crn","name","state":"ACTIVE"|"SUSPENDED",
//  "owner_iam_id","is_enterprise_account" (true for the operator's account),"created_at",
//  "created_by"}. `operator_account` is the operator's account id.
boost::json::object AccountJson(const Account& account, std::string_view operator_account);
// The answer to POST /v1/accounts, IBM's CreateAccountResponse: {"account_id","owner_iam_id",
//  "iam_apikey_id","iam_apikey"} (the key's value, shown this once).
boost::json::object CreatedAccountJson(const IamService::CreatedAccount& created);
// crn:v1:veil:private:enterprise::a/<operator account>::account:<id>.
std::string AccountCrn(std::string_view operator_account, std::string_view account_id);
// {"keys":[{"kty":"RSA","kid","alg":"RS256","use":"sig","n","e"}]}.
boost::json::object JwksJson(const std::vector<PublishedKey>& keys);
// {"access_token","refresh_token":"not_supported","token_type":"Bearer","expires_in",
//  "expiration","scope":"ibm openid"}.
boost::json::object TokenJson(const IssuedToken& token);

}  // namespace veil::iam::api
