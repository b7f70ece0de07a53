#include "iam/iam_store.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "iam/store_rows.h"

namespace veil::iam {
namespace {

using internal::ExpectOneRow;
using internal::PageOf;
using internal::Sql;
using internal::Time;
using internal::TimeColumn;
using store::Executor;
using store::Params;
using store::Row;

constexpr std::string_view kIdentityColumns =
    "iam_id, id, kind, account_id, name, description, email, locked, version, created_at, "
    "modified_at, created_by";

Result<Identity> IdentityFromRow(const Row& row) {
  Identity i;
  i.iam_id = VEIL_TRY_VALUE(row.GetText("iam_id"));
  i.id = VEIL_TRY_VALUE(row.GetText("id"));
  std::string kind = VEIL_TRY_VALUE(row.GetText("kind"));
  if (kind == "user") {
    i.kind = IdentityKind::kUser;
  } else if (kind == "serviceid") {
    i.kind = IdentityKind::kServiceId;
  } else {
    return DataLoss("iam: unknown identity kind");
  }
  i.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  i.name = VEIL_TRY_VALUE(row.GetText("name"));
  i.description = VEIL_TRY_VALUE(row.GetText("description"));
  i.email = VEIL_TRY_VALUE(row.GetText("email"));
  i.locked = VEIL_TRY_VALUE(row.GetInt64("locked")) != 0;
  i.version = VEIL_TRY_VALUE(row.GetInt64("version"));
  i.created_at = VEIL_TRY_VALUE(TimeColumn(row, "created_at"));
  i.modified_at = VEIL_TRY_VALUE(TimeColumn(row, "modified_at"));
  i.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  return i;
}

constexpr std::string_view kApiKeyColumns =
    "id, iam_id, account_id, name, description, locked, version, created_at, modified_at, "
    "created_by";

Result<ApiKey> ApiKeyFromRow(const Row& row) {
  ApiKey k;
  k.id = VEIL_TRY_VALUE(row.GetText("id"));
  k.iam_id = VEIL_TRY_VALUE(row.GetText("iam_id"));
  k.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  k.name = VEIL_TRY_VALUE(row.GetText("name"));
  k.description = VEIL_TRY_VALUE(row.GetText("description"));
  k.locked = VEIL_TRY_VALUE(row.GetInt64("locked")) != 0;
  k.version = VEIL_TRY_VALUE(row.GetInt64("version"));
  k.created_at = VEIL_TRY_VALUE(TimeColumn(row, "created_at"));
  k.modified_at = VEIL_TRY_VALUE(TimeColumn(row, "modified_at"));
  k.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  return k;
}

constexpr std::string_view kAccountColumns =
    "id, name, state, created_at, owner_iam_id, created_by";

Result<Account> AccountFromRow(const Row& row) {
  Account a;
  a.id = VEIL_TRY_VALUE(row.GetText("id"));
  a.name = VEIL_TRY_VALUE(row.GetText("name"));
  a.active = VEIL_TRY_VALUE(row.GetText("state")) == "active";
  a.created_at = VEIL_TRY_VALUE(TimeColumn(row, "created_at"));
  a.owner_iam_id = VEIL_TRY_VALUE(row.GetText("owner_iam_id"));
  a.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  return a;
}

constexpr std::string_view kPolicyColumns =
    "id, account_id, body, version, created_at, created_by, modified_at, modified_by";
// The stored policy body: PolicySpecToJson plus a format version (docs/formats/iam.md).
constexpr int64_t kPolicyBodyFormat = 1;

std::string PolicyBody(const Policy& p) {
  boost::json::object body = PolicySpecToJson(p);
  body["format"] = kPolicyBodyFormat;
  return boost::json::serialize(body);
}

Result<Policy> PolicyFromRow(const Row& row) {
  Policy p;
  p.id = VEIL_TRY_VALUE(row.GetText("id"));
  std::string body = VEIL_TRY_VALUE(row.GetText("body"));
  boost::system::error_code ec;
  boost::json::value json;
  try {
    json = boost::json::parse(body, ec);
  } catch (...) {
    ec = boost::json::make_error_code(boost::json::error::syntax);
  }
  const boost::json::value* format =
      json.is_object() ? json.as_object().if_contains("format") : nullptr;
  if (ec || format == nullptr || !format->is_int64() || format->as_int64() != kPolicyBodyFormat) {
    return DataLoss("iam: stored policy " + p.id + " does not parse");
  }
  auto spec = ParsePolicySpec(json);
  if (!spec) return DataLoss("iam: stored policy " + p.id + ": " + spec.error().message);
  static_cast<PolicySpec&>(p) = std::move(*spec);
  p.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  p.version = VEIL_TRY_VALUE(row.GetInt64("version"));
  p.created_at = VEIL_TRY_VALUE(TimeColumn(row, "created_at"));
  p.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  p.modified_at = VEIL_TRY_VALUE(TimeColumn(row, "modified_at"));
  p.modified_by = VEIL_TRY_VALUE(row.GetText("modified_by"));
  return p;
}

constexpr std::string_view kInstanceColumns =
    "guid, crn, account_id, name, resource_id, region, state, created_at, updated_at, created_by";

Result<ResourceInstance> InstanceFromRow(const Row& row) {
  ResourceInstance r;
  r.guid = VEIL_TRY_VALUE(row.GetText("guid"));
  r.crn = VEIL_TRY_VALUE(row.GetText("crn"));
  r.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  r.name = VEIL_TRY_VALUE(row.GetText("name"));
  r.resource_id = VEIL_TRY_VALUE(row.GetText("resource_id"));
  r.region = VEIL_TRY_VALUE(row.GetText("region"));
  r.state = VEIL_TRY_VALUE(row.GetText("state"));
  r.created_at = VEIL_TRY_VALUE(TimeColumn(row, "created_at"));
  r.updated_at = VEIL_TRY_VALUE(TimeColumn(row, "updated_at"));
  r.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  return r;
}

// Migration 3: resource keys of cloud-object-storage instances (ResourceKeyStore). Each names its
// own service ID; the HMAC secret is kept only sealed (SecretSealer).
constexpr std::string_view kResourceKeysMigration = R"sql(
CREATE TABLE iam_resource_keys (
  guid TEXT PRIMARY KEY,
  crn TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES iam_accounts (id),
  name TEXT NOT NULL,
  instance_guid TEXT NOT NULL REFERENCES iam_resource_instances (guid),
  source_crn TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('Reader', 'Writer', 'Manager')),
  iam_id TEXT NOT NULL UNIQUE REFERENCES iam_identities (iam_id),
  apikey_id TEXT NOT NULL,
  policy_id TEXT NOT NULL,
  access_key_id TEXT UNIQUE,
  sealed_secret BLOB,
  state TEXT NOT NULL CHECK (state IN ('active')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  CHECK ((access_key_id IS NULL) = (sealed_secret IS NULL))
);
CREATE INDEX iam_resource_keys_by_account ON iam_resource_keys (account_id, created_at);
CREATE INDEX iam_resource_keys_by_instance ON iam_resource_keys (instance_guid);
)sql";

}  // namespace

std::vector<store::Migration> IamMigrations() {
  return {{1, R"sql(
CREATE TABLE iam_accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'disabled')),
  created_at TEXT NOT NULL
);
CREATE TABLE iam_identities (
  iam_id TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'serviceid')),
  account_id TEXT NOT NULL REFERENCES iam_accounts (id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  email TEXT NOT NULL,
  locked INTEGER NOT NULL,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX iam_identities_by_account ON iam_identities (account_id, kind, created_at);
CREATE TABLE iam_apikeys (
  id TEXT PRIMARY KEY,
  iam_id TEXT NOT NULL REFERENCES iam_identities (iam_id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES iam_accounts (id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  locked INTEGER NOT NULL,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX iam_apikeys_by_owner ON iam_apikeys (iam_id, created_at);
CREATE INDEX iam_apikeys_by_account ON iam_apikeys (account_id, created_at);
CREATE TABLE iam_policies (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES iam_accounts (id),
  type TEXT NOT NULL CHECK (type IN ('access', 'authorization')),
  subject_iam_id TEXT NOT NULL,
  body TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  modified_at TEXT NOT NULL,
  modified_by TEXT NOT NULL
);
CREATE INDEX iam_policies_by_account ON iam_policies (account_id, created_at);
CREATE INDEX iam_policies_by_subject ON iam_policies (subject_iam_id);
CREATE TABLE iam_resource_instances (
  guid TEXT PRIMARY KEY,
  crn TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES iam_accounts (id),
  name TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  region TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX iam_resource_instances_by_account ON iam_resource_instances (account_id, created_at);
CREATE TABLE iam_signing_keys (
  kid TEXT PRIMARY KEY,
  alg TEXT NOT NULL,
  n TEXT NOT NULL,
  e TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  not_after_ms BIGINT NOT NULL,
  holder TEXT NOT NULL
);
CREATE TABLE iam_meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
          // Accounts made through the operator's accounts API (POST /v1/accounts) record their
          // first administrator and their creator; the first account's are filled in.
          {2, R"sql(
ALTER TABLE iam_accounts ADD COLUMN owner_iam_id TEXT NOT NULL DEFAULT '';
ALTER TABLE iam_accounts ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE iam_accounts SET created_by = 'system',
  owner_iam_id = COALESCE((SELECT i.iam_id FROM iam_identities i
                           WHERE i.account_id = iam_accounts.id AND i.kind = 'user'
                           ORDER BY i.created_at, i.iam_id LIMIT 1), '')
  WHERE id IN (SELECT value FROM iam_meta WHERE name = 'first_account');
CREATE INDEX iam_accounts_by_created ON iam_accounts (created_at, id);
)sql"},
          // Resource keys of cloud-object-storage instances (ResourceKeyStore).
          {3, std::string(kResourceKeysMigration)}};
}

Status IamStore::InsertAccount(Executor& ex, const Account& a) {
  VEIL_TRY(
      ex.Exec(Sql("INSERT INTO iam_accounts (", kAccountColumns, ") VALUES (?, ?, ?, ?, ?, ?)"),
              {a.id, a.name, a.active ? "active" : "disabled", Time(a.created_at), a.owner_iam_id,
               a.created_by}));
  return OkStatus();
}

Result<Account> IamStore::GetAccount(std::string_view id) {
  auto row = db_.QueryRow(Sql("SELECT ", kAccountColumns, " FROM iam_accounts WHERE id = ?"),
                          {std::string(id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("account not found");
    return tl::unexpected(row.error());
  }
  return AccountFromRow(*row);
}

Result<Page<Account>> IamStore::ListAccounts(int64_t offset, int64_t limit) {
  return PageOf<Account>(db_,
                         Sql("SELECT ", kAccountColumns,
                             " FROM iam_accounts ORDER BY created_at, id LIMIT ? OFFSET ?"),
                         {}, offset, limit, AccountFromRow);
}

Status IamStore::SetAccountActive(Executor& ex, std::string_view id, bool active) {
  return ExpectOneRow(ex.Exec("UPDATE iam_accounts SET state = ? WHERE id = ?",
                              {active ? "active" : "disabled", std::string(id)}),
                      "account");
}

Status IamStore::InsertIdentity(Executor& ex, const Identity& i) {
  VEIL_TRY(ex.Exec(Sql("INSERT INTO iam_identities (", kIdentityColumns,
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                   {i.iam_id, i.id, i.kind == IdentityKind::kUser ? "user" : "serviceid",
                    i.account_id, i.name, i.description, i.email, int64_t{i.locked ? 1 : 0},
                    i.version, Time(i.created_at), Time(i.modified_at), i.created_by}));
  return OkStatus();
}

Result<Identity> IamStore::GetIdentity(Executor& ex, std::string_view iam_id) {
  auto row = ex.QueryRow(Sql("SELECT ", kIdentityColumns, " FROM iam_identities WHERE iam_id = ?"),
                         {std::string(iam_id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("identity not found");
    return tl::unexpected(row.error());
  }
  return IdentityFromRow(*row);
}

Result<Page<Identity>> IamStore::ListIdentities(std::string_view account_id, IdentityKind kind,
                                                int64_t offset, int64_t limit) {
  return PageOf<Identity>(
      db_,
      Sql("SELECT ", kIdentityColumns,
          " FROM iam_identities WHERE account_id = ? AND kind = ? ORDER BY created_at, iam_id "
          "LIMIT ? OFFSET ?"),
      {std::string(account_id), kind == IdentityKind::kUser ? "user" : "serviceid"}, offset, limit,
      IdentityFromRow);
}

Status IamStore::UpdateIdentity(Executor& ex, const Identity& i) {
  return ExpectOneRow(
      ex.Exec("UPDATE iam_identities SET name = ?, description = ?, locked = ?, version = ?, "
              "modified_at = ? WHERE iam_id = ?",
              {i.name, i.description, int64_t{i.locked ? 1 : 0}, i.version, Time(i.modified_at),
               i.iam_id}),
      "identity");
}

Status IamStore::DeleteIdentity(Executor& ex, std::string_view iam_id) {
  VEIL_TRY(ex.Exec("DELETE FROM iam_policies WHERE subject_iam_id = ?", {std::string(iam_id)}));
  VEIL_TRY(ex.Exec("DELETE FROM iam_apikeys WHERE iam_id = ?", {std::string(iam_id)}));
  return ExpectOneRow(ex.Exec("DELETE FROM iam_identities WHERE iam_id = ?", {std::string(iam_id)}),
                      "identity");
}

Status IamStore::InsertApiKey(Executor& ex, const ApiKey& k, std::span<const uint8_t> salt,
                              std::span<const uint8_t> hash) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO iam_apikeys (id, iam_id, account_id, name, description, salt, hash, locked, "
      "version, created_at, modified_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {k.id, k.iam_id, k.account_id, k.name, k.description, store::Blob(salt.begin(), salt.end()),
       store::Blob(hash.begin(), hash.end()), int64_t{k.locked ? 1 : 0}, k.version,
       Time(k.created_at), Time(k.modified_at), k.created_by}));
  return OkStatus();
}

Result<ApiKey> IamStore::GetApiKey(Executor& ex, std::string_view id) {
  auto row = ex.QueryRow(Sql("SELECT ", kApiKeyColumns, " FROM iam_apikeys WHERE id = ?"),
                         {std::string(id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("API key not found");
    return tl::unexpected(row.error());
  }
  return ApiKeyFromRow(*row);
}

Result<ApiKeyCredential> IamStore::GetApiKeyCredential(std::string_view id) {
  // One read for a login: the key with its owner and the owner's account.
  auto row = db_.QueryRow(
      "SELECT k.id AS id, k.iam_id AS iam_id, k.account_id AS account_id, k.name AS name, "
      "k.description AS description, k.locked AS locked, k.version AS version, "
      "k.created_at AS created_at, k.modified_at AS modified_at, k.created_by AS created_by, "
      "k.salt AS salt, k.hash AS hash, "
      "i.id AS o_id, i.kind AS o_kind, i.account_id AS o_account_id, i.name AS o_name, "
      "i.description AS o_description, i.email AS o_email, i.locked AS o_locked, "
      "i.version AS o_version, i.created_at AS o_created_at, i.modified_at AS o_modified_at, "
      "i.created_by AS o_created_by, "
      "a.name AS a_name, a.state AS a_state, a.created_at AS a_created_at "
      "FROM iam_apikeys k JOIN iam_identities i ON i.iam_id = k.iam_id "
      "JOIN iam_accounts a ON a.id = i.account_id WHERE k.id = ?",
      {std::string(id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("API key not found");
    return tl::unexpected(row.error());
  }
  ApiKeyCredential c;
  c.key = VEIL_TRY_VALUE(ApiKeyFromRow(*row));
  c.salt = VEIL_TRY_VALUE(row->GetBlob("salt"));
  c.hash = VEIL_TRY_VALUE(row->GetBlob("hash"));
  Identity& o = c.owner;
  o.iam_id = c.key.iam_id;
  o.id = VEIL_TRY_VALUE(row->GetText("o_id"));
  o.kind = VEIL_TRY_VALUE(row->GetText("o_kind")) == "user" ? IdentityKind::kUser
                                                            : IdentityKind::kServiceId;
  o.account_id = VEIL_TRY_VALUE(row->GetText("o_account_id"));
  o.name = VEIL_TRY_VALUE(row->GetText("o_name"));
  o.description = VEIL_TRY_VALUE(row->GetText("o_description"));
  o.email = VEIL_TRY_VALUE(row->GetText("o_email"));
  o.locked = VEIL_TRY_VALUE(row->GetInt64("o_locked")) != 0;
  o.version = VEIL_TRY_VALUE(row->GetInt64("o_version"));
  o.created_at = VEIL_TRY_VALUE(TimeColumn(*row, "o_created_at"));
  o.modified_at = VEIL_TRY_VALUE(TimeColumn(*row, "o_modified_at"));
  o.created_by = VEIL_TRY_VALUE(row->GetText("o_created_by"));
  c.account.id = o.account_id;
  c.account.name = VEIL_TRY_VALUE(row->GetText("a_name"));
  c.account.active = VEIL_TRY_VALUE(row->GetText("a_state")) == "active";
  c.account.created_at = VEIL_TRY_VALUE(TimeColumn(*row, "a_created_at"));
  return c;
}

Result<Page<ApiKey>> IamStore::ListApiKeys(std::string_view account_id, std::string_view iam_id,
                                           int64_t offset, int64_t limit) {
  if (iam_id.empty()) {
    return PageOf<ApiKey>(db_,
                          Sql("SELECT ", kApiKeyColumns,
                              " FROM iam_apikeys WHERE account_id = ? ORDER BY created_at, id "
                              "LIMIT ? OFFSET ?"),
                          {std::string(account_id)}, offset, limit, ApiKeyFromRow);
  }
  return PageOf<ApiKey>(db_,
                        Sql("SELECT ", kApiKeyColumns,
                            " FROM iam_apikeys WHERE account_id = ? AND iam_id = ? ORDER BY "
                            "created_at, id LIMIT ? OFFSET ?"),
                        {std::string(account_id), std::string(iam_id)}, offset, limit,
                        ApiKeyFromRow);
}

Status IamStore::UpdateApiKey(Executor& ex, const ApiKey& k) {
  return ExpectOneRow(ex.Exec("UPDATE iam_apikeys SET name = ?, description = ?, locked = ?, "
                              "version = ?, modified_at = ? WHERE id = ?",
                              {k.name, k.description, int64_t{k.locked ? 1 : 0}, k.version,
                               Time(k.modified_at), k.id}),
                      "API key");
}

Status IamStore::DeleteApiKey(Executor& ex, std::string_view id) {
  return ExpectOneRow(ex.Exec("DELETE FROM iam_apikeys WHERE id = ?", {std::string(id)}),
                      "API key");
}

Status IamStore::CheckTokenSubject(std::string_view iam_id, std::string_view account_id,
                                   std::string_view apikey_id) {
  auto row = db_.QueryRow(
      "SELECT i.locked AS locked, i.account_id AS account_id, a.state AS state "
      "FROM iam_identities i JOIN iam_accounts a ON a.id = i.account_id WHERE i.iam_id = ?",
      {std::string(iam_id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) {
      return Unauthenticated("the token's identity no longer exists");
    }
    return tl::unexpected(row.error());
  }
  if (VEIL_TRY_VALUE(row->GetText("account_id")) != account_id) {
    return Unauthenticated("the token is for another account");
  }
  if (VEIL_TRY_VALUE(row->GetText("state")) != "active") {
    return Unauthenticated("the token's account is disabled");
  }
  if (VEIL_TRY_VALUE(row->GetInt64("locked")) != 0) {
    return Unauthenticated("the token's identity is locked");
  }
  if (apikey_id.empty()) return OkStatus();
  auto key =
      db_.QueryRow("SELECT iam_id, locked FROM iam_apikeys WHERE id = ?", {std::string(apikey_id)});
  if (!key) {
    if (key.error().code == ErrorCode::kNotFound) {
      return Unauthenticated("the token's API key was deleted");
    }
    return tl::unexpected(key.error());
  }
  if (VEIL_TRY_VALUE(key->GetText("iam_id")) != iam_id) {
    return Unauthenticated("the token's API key belongs to another identity");
  }
  if (VEIL_TRY_VALUE(key->GetInt64("locked")) != 0) {
    return Unauthenticated("the token's API key is locked");
  }
  return OkStatus();
}

Status IamStore::InsertPolicy(Executor& ex, const Policy& p) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO iam_policies (id, account_id, type, subject_iam_id, body, version, created_at, "
      "created_by, modified_at, modified_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {p.id, p.account_id, std::string(PolicyTypeName(p.type)),
       std::string(p.SubjectValue("iam_id").value_or("")), PolicyBody(p), p.version,
       Time(p.created_at), p.created_by, Time(p.modified_at), p.modified_by}));
  return OkStatus();
}

Result<Policy> IamStore::GetPolicy(Executor& ex, std::string_view id) {
  auto row = ex.QueryRow(Sql("SELECT ", kPolicyColumns, " FROM iam_policies WHERE id = ?"),
                         {std::string(id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("policy not found");
    return tl::unexpected(row.error());
  }
  return PolicyFromRow(*row);
}

Status IamStore::ReplacePolicy(Executor& ex, const Policy& p) {
  return ExpectOneRow(
      ex.Exec(
          "UPDATE iam_policies SET type = ?, subject_iam_id = ?, body = ?, version = ?, "
          "modified_at = ?, modified_by = ? WHERE id = ?",
          {std::string(PolicyTypeName(p.type)), std::string(p.SubjectValue("iam_id").value_or("")),
           PolicyBody(p), p.version, Time(p.modified_at), p.modified_by, p.id}),
      "policy");
}

Status IamStore::DeletePolicy(Executor& ex, std::string_view id) {
  return ExpectOneRow(ex.Exec("DELETE FROM iam_policies WHERE id = ?", {std::string(id)}),
                      "policy");
}

Result<std::vector<Policy>> IamStore::ListPoliciesOfAccount(std::string_view account_id) {
  return ListPoliciesOfAccount(db_, account_id);
}

Result<std::vector<Policy>> IamStore::ListPoliciesOfAccount(Executor& ex,
                                                            std::string_view account_id) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query(Sql("SELECT ", kPolicyColumns,
                   " FROM iam_policies WHERE account_id = ? ORDER BY created_at, id"),
               {std::string(account_id)}));
  std::vector<Policy> out;
  out.reserve(rows.size());
  for (const Row& row : rows) out.push_back(VEIL_TRY_VALUE(PolicyFromRow(row)));
  return out;
}

Status IamStore::InsertInstance(Executor& ex, const ResourceInstance& r) {
  VEIL_TRY(ex.Exec(Sql("INSERT INTO iam_resource_instances (", kInstanceColumns,
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                   {r.guid, r.crn, r.account_id, r.name, r.resource_id, r.region, r.state,
                    Time(r.created_at), Time(r.updated_at), r.created_by}));
  return OkStatus();
}

Result<ResourceInstance> IamStore::GetInstance(std::string_view guid) {
  auto row =
      db_.QueryRow(Sql("SELECT ", kInstanceColumns, " FROM iam_resource_instances WHERE guid = ?"),
                   {std::string(guid)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("resource instance not found");
    return tl::unexpected(row.error());
  }
  return InstanceFromRow(*row);
}

Result<Page<ResourceInstance>> IamStore::ListInstances(std::string_view account_id,
                                                       const InstanceFilter& filter, int64_t offset,
                                                       int64_t limit) {
  // Empty filters match everything: "? = ''" keeps one portable statement.
  return PageOf<ResourceInstance>(
      db_,
      Sql("SELECT ", kInstanceColumns,
          " FROM iam_resource_instances WHERE account_id = ? AND (? = '' OR resource_id = ?) "
          "AND (? = '' OR name = ?) ORDER BY created_at, guid LIMIT ? OFFSET ?"),
      {std::string(account_id), filter.resource_id, filter.resource_id, filter.name, filter.name},
      offset, limit, InstanceFromRow);
}

Status IamStore::DeleteInstance(Executor& ex, std::string_view guid) {
  return ExpectOneRow(
      ex.Exec("DELETE FROM iam_resource_instances WHERE guid = ?", {std::string(guid)}),
      "resource instance");
}

Status IamStore::HoldInstance(Executor& ex, std::string_view guid) {
  return ExpectOneRow(ex.Exec("UPDATE iam_resource_instances SET state = state"
                              " WHERE guid = ? AND state = 'active'",
                              {std::string(guid)}),
                      "resource instance");
}

Status IamStore::PublishSigningKey(const SigningKeyRow& k) {
  VEIL_TRY(
      db_.Exec("INSERT INTO iam_signing_keys (kid, alg, n, e, created_at_ms, not_after_ms, holder) "
               "VALUES (?, 'RS256', ?, ?, ?, ?, ?)",
               {k.kid, k.n, k.e, k.created_at_ms, k.not_after_ms, k.holder}));
  return OkStatus();
}

Result<std::vector<SigningKeyRow>> IamStore::ListSigningKeys(int64_t now_ms) {
  auto rows = VEIL_TRY_VALUE(
      db_.Query("SELECT kid, n, e, created_at_ms, not_after_ms, holder FROM iam_signing_keys "
                "WHERE alg = 'RS256' AND not_after_ms > ? ORDER BY created_at_ms, kid",
                {now_ms}));
  std::vector<SigningKeyRow> out;
  for (const Row& row : rows) {
    SigningKeyRow k;
    k.kid = VEIL_TRY_VALUE(row.GetText("kid"));
    k.n = VEIL_TRY_VALUE(row.GetText("n"));
    k.e = VEIL_TRY_VALUE(row.GetText("e"));
    k.created_at_ms = VEIL_TRY_VALUE(row.GetInt64("created_at_ms"));
    k.not_after_ms = VEIL_TRY_VALUE(row.GetInt64("not_after_ms"));
    k.holder = VEIL_TRY_VALUE(row.GetText("holder"));
    out.push_back(std::move(k));
  }
  return out;
}

Status IamStore::PruneSigningKeys(int64_t now_ms) {
  VEIL_TRY(db_.Exec("DELETE FROM iam_signing_keys WHERE not_after_ms <= ?", {now_ms}));
  return OkStatus();
}

Result<std::optional<std::string>> IamStore::GetMeta(Executor& ex, std::string_view name) {
  auto row = ex.QueryRow("SELECT value FROM iam_meta WHERE name = ?", {std::string(name)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return std::optional<std::string>();
    return tl::unexpected(row.error());
  }
  return std::optional<std::string>(VEIL_TRY_VALUE(row->GetText("value")));
}

Status IamStore::InsertMeta(Executor& ex, std::string_view name, std::string_view value) {
  VEIL_TRY(ex.Exec("INSERT INTO iam_meta (name, value) VALUES (?, ?)",
                   {std::string(name), std::string(value)}));
  return OkStatus();
}

}  // namespace veil::iam
