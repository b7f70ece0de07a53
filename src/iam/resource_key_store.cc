#include "iam/resource_key_store.h"

#include "iam/store_rows.h"

namespace veil::iam {
namespace {

using internal::ExpectOneRow;
using internal::PageOf;
using internal::Sql;
using internal::Time;
using internal::TimeColumn;
using store::Executor;
using store::Row;

constexpr std::string_view kColumns =
    "guid, crn, account_id, name, instance_guid, source_crn, role, iam_id, apikey_id, policy_id, "
    "access_key_id, state, created_at, updated_at, created_by";

Result<ResourceKey> KeyFromRow(const Row& row) {
  ResourceKey k;
  k.guid = VEIL_TRY_VALUE(row.GetText("guid"));
  k.crn = VEIL_TRY_VALUE(row.GetText("crn"));
  k.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  k.name = VEIL_TRY_VALUE(row.GetText("name"));
  k.instance_guid = VEIL_TRY_VALUE(row.GetText("instance_guid"));
  k.source_crn = VEIL_TRY_VALUE(row.GetText("source_crn"));
  k.role = VEIL_TRY_VALUE(row.GetText("role"));
  k.iam_id = VEIL_TRY_VALUE(row.GetText("iam_id"));
  k.apikey_id = VEIL_TRY_VALUE(row.GetText("apikey_id"));
  k.policy_id = VEIL_TRY_VALUE(row.GetText("policy_id"));
  if (!VEIL_TRY_VALUE(row.IsNull("access_key_id"))) {
    k.access_key_id = VEIL_TRY_VALUE(row.GetText("access_key_id"));
  }
  k.state = VEIL_TRY_VALUE(row.GetText("state"));
  k.created_at = VEIL_TRY_VALUE(TimeColumn(row, "created_at"));
  k.updated_at = VEIL_TRY_VALUE(TimeColumn(row, "updated_at"));
  k.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  return k;
}

Error NotFoundOr(const Error& e) {
  if (e.code == ErrorCode::kNotFound) return Error(ErrorCode::kNotFound, "resource key not found");
  return e;
}

}  // namespace

Status ResourceKeyStore::Insert(Executor& ex, const ResourceKey& k,
                                std::span<const uint8_t> sealed_secret) {
  const bool hmac = !k.access_key_id.empty();
  if (hmac == sealed_secret.empty()) {
    return InvalidArgument("a resource key has an access key id exactly when it has a secret");
  }
  store::Value access_key_id = store::kSqlNull;
  store::Value sealed = store::kSqlNull;
  if (hmac) {
    access_key_id = k.access_key_id;
    sealed = store::Blob(sealed_secret.begin(), sealed_secret.end());
  }
  VEIL_TRY(ex.Exec(Sql("INSERT INTO iam_resource_keys (", kColumns,
                       ", sealed_secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                   {k.guid, k.crn, k.account_id, k.name, k.instance_guid, k.source_crn, k.role,
                    k.iam_id, k.apikey_id, k.policy_id, access_key_id, k.state, Time(k.created_at),
                    Time(k.updated_at), k.created_by, sealed}));
  return OkStatus();
}

Result<ResourceKey> ResourceKeyStore::Get(Executor& ex, std::string_view guid) {
  auto row = ex.QueryRow(Sql("SELECT ", kColumns, " FROM iam_resource_keys WHERE guid = ?"),
                         {std::string(guid)});
  if (!row) return tl::unexpected(NotFoundOr(row.error()));
  return KeyFromRow(*row);
}

Result<Page<ResourceKey>> ResourceKeyStore::List(std::string_view account_id,
                                                 const ResourceKeyFilter& filter, int64_t offset,
                                                 int64_t limit) {
  // An empty filter matches everything: "? = ''" keeps one portable statement.
  return PageOf<ResourceKey>(
      db_,
      Sql("SELECT ", kColumns,
          " FROM iam_resource_keys WHERE account_id = ? AND (? = '' OR name = ?) "
          "ORDER BY created_at, guid LIMIT ? OFFSET ?"),
      {std::string(account_id), filter.name, filter.name}, offset, limit, KeyFromRow);
}

Status ResourceKeyStore::Delete(Executor& ex, std::string_view guid) {
  return ExpectOneRow(ex.Exec("DELETE FROM iam_resource_keys WHERE guid = ?", {std::string(guid)}),
                      "resource key");
}

Result<int64_t> ResourceKeyStore::CountOfInstance(Executor& ex, std::string_view instance_guid) {
  auto row = VEIL_TRY_VALUE(
      ex.QueryRow("SELECT COUNT(*) AS n FROM iam_resource_keys WHERE instance_guid = ?",
                  {std::string(instance_guid)}));
  return row.GetInt64("n");
}

Result<std::optional<std::string>> ResourceKeyStore::KeyOfIdentity(Executor& ex,
                                                                   std::string_view iam_id) {
  auto row =
      ex.QueryRow("SELECT guid FROM iam_resource_keys WHERE iam_id = ?", {std::string(iam_id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return std::optional<std::string>();
    return tl::unexpected(row.error());
  }
  return std::optional<std::string>(VEIL_TRY_VALUE(row->GetText("guid")));
}

Result<HmacKeyRow> ResourceKeyStore::GetHmac(std::string_view access_key_id) {
  auto row = db_.QueryRow(
      "SELECT k.guid AS guid, k.crn AS crn, k.account_id AS account_id, k.name AS name, "
      "k.instance_guid AS instance_guid, k.source_crn AS source_crn, k.role AS role, "
      "k.iam_id AS iam_id, k.apikey_id AS apikey_id, k.policy_id AS policy_id, "
      "k.access_key_id AS access_key_id, k.state AS state, k.created_at AS created_at, "
      "k.updated_at AS updated_at, k.created_by AS created_by, "
      "k.sealed_secret AS sealed_secret, i.locked AS locked, a.state AS account_state "
      "FROM iam_resource_keys k JOIN iam_identities i ON i.iam_id = k.iam_id "
      "JOIN iam_accounts a ON a.id = k.account_id "
      "WHERE k.access_key_id = ? AND k.state = 'active'",
      {std::string(access_key_id)});
  if (!row) return tl::unexpected(NotFoundOr(row.error()));
  HmacKeyRow out;
  out.key = VEIL_TRY_VALUE(KeyFromRow(*row));
  out.sealed_secret = VEIL_TRY_VALUE(row->GetBlob("sealed_secret"));
  out.identity_locked = VEIL_TRY_VALUE(row->GetInt64("locked")) != 0;
  out.account_active = VEIL_TRY_VALUE(row->GetText("account_state")) == "active";
  return out;
}

}  // namespace veil::iam
