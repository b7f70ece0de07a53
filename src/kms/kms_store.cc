#include "kms/kms_store.h"

#include <chrono>
#include <unordered_map>

#include "kms/instance_policy.h"

namespace veil::kms {
namespace {

using store::Blob;
using store::kSqlNull;
using store::Params;
using store::Row;
using store::Value;

int64_t Ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMs(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
Value OptMs(const std::optional<TimePoint>& t) { return t ? Value(Ms(*t)) : Value(kSqlNull); }

Result<std::optional<TimePoint>> OptTime(const Row& row, std::string_view column) {
  if (VEIL_TRY_VALUE(row.IsNull(column))) return std::optional<TimePoint>();
  return std::optional<TimePoint>(FromMs(VEIL_TRY_VALUE(row.GetInt64(column))));
}

Result<TimePoint> TimeOf(const Row& row, std::string_view column) {
  return FromMs(VEIL_TRY_VALUE(row.GetInt64(column)));
}

constexpr std::string_view kKeyColumns =
    "k.id, k.instance_id, k.account_id, k.name, k.description, k.key_ring_id, k.extractable, "
    "k.imported, k.state, k.created_by, k.created_ms, k.updated_ms, k.rotated_ms, k.expires_ms, "
    "k.deleted_by, k.deleted_ms, k.dual_auth_delete, k.rotation_enabled, "
    "k.rotation_interval_month, k.dual_auth_set_by, k.dual_auth_set_ms, k.revision, "
    "v.id AS version_id, v.seq AS version_seq, v.created_ms AS version_created_ms, "
    "LENGTH(v.material) AS material_length";

constexpr std::string_view kKeyFrom =
    " FROM kms_keys k JOIN kms_key_versions v ON v.key_id = k.id AND v.seq = "
    "(SELECT MAX(seq) FROM kms_key_versions WHERE key_id = k.id)";

Result<Key> KeyFromRow(const Row& row) {
  Key k;
  k.id = VEIL_TRY_VALUE(row.GetText("id"));
  k.instance_id = VEIL_TRY_VALUE(row.GetText("instance_id"));
  k.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  k.name = VEIL_TRY_VALUE(row.GetText("name"));
  k.description = VEIL_TRY_VALUE(row.GetText("description"));
  k.key_ring_id = VEIL_TRY_VALUE(row.GetText("key_ring_id"));
  k.extractable = VEIL_TRY_VALUE(row.GetInt64("extractable")) != 0;
  k.imported = VEIL_TRY_VALUE(row.GetInt64("imported")) != 0;
  auto state = KeyStateFromInt(VEIL_TRY_VALUE(row.GetInt64("state")));
  if (!state) return DataLoss("kms_keys row " + k.id + " has an unknown state");
  k.state = *state;
  k.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  k.created_at = VEIL_TRY_VALUE(TimeOf(row, "created_ms"));
  k.updated_at = VEIL_TRY_VALUE(TimeOf(row, "updated_ms"));
  k.rotated_at = VEIL_TRY_VALUE(OptTime(row, "rotated_ms"));
  k.expires_at = VEIL_TRY_VALUE(OptTime(row, "expires_ms"));
  k.deleted_by = VEIL_TRY_VALUE(row.GetText("deleted_by"));
  k.deleted_at = VEIL_TRY_VALUE(OptTime(row, "deleted_ms"));
  k.dual_auth_delete = VEIL_TRY_VALUE(row.GetInt64("dual_auth_delete")) != 0;
  k.rotation_enabled = VEIL_TRY_VALUE(row.GetInt64("rotation_enabled")) != 0;
  k.rotation_interval_month =
      static_cast<int>(VEIL_TRY_VALUE(row.GetInt64("rotation_interval_month")));
  k.dual_auth_set_by = VEIL_TRY_VALUE(row.GetText("dual_auth_set_by"));
  k.dual_auth_set_at = VEIL_TRY_VALUE(OptTime(row, "dual_auth_set_ms"));
  k.revision = VEIL_TRY_VALUE(row.GetInt64("revision"));
  k.current.id = VEIL_TRY_VALUE(row.GetText("version_id"));
  k.current.key_id = k.id;
  k.current.seq = VEIL_TRY_VALUE(row.GetInt64("version_seq"));
  k.current.created_at = VEIL_TRY_VALUE(TimeOf(row, "version_created_ms"));
  // hsm/key_store.h blob layouts: root 2 + KWP (key + 8); sealed payload 2 + 12 + payload + 16.
  const int64_t length = VEIL_TRY_VALUE(row.GetInt64("material_length"));
  k.material_bits = k.extractable ? (length - 30) * 8 : (length - 10) * 8;
  return k;
}

// Fills the aliases of `keys` with one query (portable: no group_concat/string_agg).
Status AttachAliases(store::Executor& ex, std::vector<Key>& keys) {
  if (keys.empty()) return OkStatus();
  std::string sql = "SELECT key_id, alias FROM kms_aliases WHERE key_id IN (";
  Params params;
  for (size_t i = 0; i < keys.size(); ++i) {
    sql += i ? ",?" : "?";
    params.push_back(keys[i].id);
  }
  sql += ") ORDER BY alias";
  auto rows = VEIL_TRY_VALUE(ex.Query(sql, params));
  std::unordered_map<std::string, Key*> by_id;
  for (Key& k : keys) by_id[k.id] = &k;
  for (const Row& row : rows) {
    auto it = by_id.find(VEIL_TRY_VALUE(row.GetText(0)));
    if (it != by_id.end()) it->second->aliases.push_back(VEIL_TRY_VALUE(row.GetText(1)));
  }
  return OkStatus();
}

Result<std::vector<Key>> KeysFromRows(store::Executor& ex, const store::Rows& rows) {
  std::vector<Key> keys;
  keys.reserve(rows.size());
  for (const Row& row : rows) keys.push_back(VEIL_TRY_VALUE(KeyFromRow(row)));
  VEIL_TRY(AttachAliases(ex, keys));
  return keys;
}

// " AND k.state IN (...) AND k.extractable = ? AND k.key_ring_id = ?" with its parameters.
std::string FilterSql(const KeyFilter& filter, Params& params) {
  std::string sql;
  if (!filter.states.empty()) {
    sql += " AND k.state IN (";
    for (size_t i = 0; i < filter.states.size(); ++i) {
      sql += i ? ",?" : "?";
      params.push_back(static_cast<int64_t>(filter.states[i]));
    }
    sql += ")";
  }
  if (filter.extractable) {
    sql += " AND k.extractable = ?";
    params.push_back(static_cast<int64_t>(*filter.extractable ? 1 : 0));
  }
  if (!filter.key_ring_id.empty()) {
    sql += " AND k.key_ring_id = ?";
    params.push_back(filter.key_ring_id);
  }
  return sql;
}

Result<Registration> RegistrationFromRow(const Row& row) {
  Registration r;
  r.key_id = VEIL_TRY_VALUE(row.GetText("key_id"));
  r.resource_crn = VEIL_TRY_VALUE(row.GetText("resource_crn"));
  r.instance_id = VEIL_TRY_VALUE(row.GetText("instance_id"));
  r.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
  r.created_at = VEIL_TRY_VALUE(TimeOf(row, "created_ms"));
  r.updated_by = VEIL_TRY_VALUE(row.GetText("updated_by"));
  r.updated_at = VEIL_TRY_VALUE(TimeOf(row, "updated_ms"));
  r.description = VEIL_TRY_VALUE(row.GetText("description"));
  r.prevent_key_deletion = VEIL_TRY_VALUE(row.GetInt64("prevent_key_deletion")) != 0;
  r.key_version_id = VEIL_TRY_VALUE(row.GetText("key_version_id"));
  r.key_version_created_at = VEIL_TRY_VALUE(TimeOf(row, "key_version_created_ms"));
  return r;
}

Result<std::vector<Registration>> RegistrationsFromRows(const store::Rows& rows) {
  std::vector<Registration> out;
  out.reserve(rows.size());
  for (const Row& row : rows) out.push_back(VEIL_TRY_VALUE(RegistrationFromRow(row)));
  return out;
}

constexpr std::string_view kRegistrationColumns =
    "r.key_id, r.resource_crn, r.instance_id, r.created_by, r.created_ms, r.updated_by, "
    "r.updated_ms, r.description, r.prevent_key_deletion, r.key_version_id, "
    "COALESCE(v.created_ms, r.created_ms) AS key_version_created_ms";

constexpr std::string_view kRegistrationFrom =
    " FROM kms_registrations r LEFT JOIN kms_key_versions v ON v.id = r.key_version_id";

}  // namespace

std::vector<store::Migration> KmsMigrations() {
  return {
      {1,
       "CREATE TABLE kms_keys ("
       " id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, account_id TEXT NOT NULL,"
       " name TEXT NOT NULL, description TEXT NOT NULL, key_ring_id TEXT NOT NULL,"
       " extractable INTEGER NOT NULL, imported INTEGER NOT NULL, state INTEGER NOT NULL,"
       " created_by TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
       " rotated_ms INTEGER, expires_ms INTEGER, deleted_by TEXT NOT NULL, deleted_ms INTEGER,"
       " dual_auth_delete INTEGER NOT NULL, rotation_enabled INTEGER NOT NULL,"
       " rotation_interval_month INTEGER NOT NULL, dual_auth_set_by TEXT NOT NULL,"
       " dual_auth_set_ms INTEGER, revision INTEGER NOT NULL);"
       "CREATE INDEX kms_keys_instance ON kms_keys (instance_id, created_ms);"
       "CREATE TABLE kms_key_versions ("
       " id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,"
       " seq INTEGER NOT NULL, material BLOB NOT NULL, created_ms INTEGER NOT NULL,"
       " UNIQUE (key_id, seq));"
       "CREATE TABLE kms_aliases ("
       " instance_id TEXT NOT NULL, alias TEXT NOT NULL,"
       " key_id TEXT NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,"
       " created_ms INTEGER NOT NULL, PRIMARY KEY (instance_id, alias));"
       "CREATE INDEX kms_aliases_key ON kms_aliases (key_id);"
       "CREATE TABLE kms_key_rings ("
       " instance_id TEXT NOT NULL, id TEXT NOT NULL, created_by TEXT NOT NULL,"
       " created_ms INTEGER NOT NULL, PRIMARY KEY (instance_id, id));"
       "CREATE TABLE kms_registrations ("
       " key_id TEXT NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,"
       " resource_crn TEXT NOT NULL, instance_id TEXT NOT NULL, created_by TEXT NOT NULL,"
       " created_ms INTEGER NOT NULL, updated_by TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
       " description TEXT NOT NULL, prevent_key_deletion INTEGER NOT NULL,"
       " key_version_id TEXT NOT NULL, PRIMARY KEY (key_id, resource_crn));"
       "CREATE INDEX kms_registrations_instance ON kms_registrations (instance_id);"
       "CREATE TABLE kms_instance_policies ("
       " instance_id TEXT NOT NULL, policy_type TEXT NOT NULL, data TEXT NOT NULL,"
       " updated_by TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
       " PRIMARY KEY (instance_id, policy_type));"
       "CREATE TABLE kms_import_tokens ("
       " instance_id TEXT PRIMARY KEY, id TEXT NOT NULL, created_ms INTEGER NOT NULL,"
       " expires_ms INTEGER NOT NULL, max_retrievals INTEGER NOT NULL,"
       " remaining_retrievals INTEGER NOT NULL, public_key_pem TEXT NOT NULL,"
       " sealed_private_key BLOB NOT NULL, sealed_nonce BLOB NOT NULL)"},
      {2,
       "CREATE TABLE kms_import_token_uses ("
       " token_id TEXT NOT NULL, nonce_digest TEXT NOT NULL, instance_id TEXT NOT NULL,"
       " used_ms INTEGER NOT NULL, PRIMARY KEY (token_id, nonce_digest));"
       "CREATE INDEX kms_import_token_uses_instance ON kms_import_token_uses (instance_id)"},
  };
}

Status KmsStore::InsertKey(store::Executor& ex, const Key& k, std::span<const uint8_t> material) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_keys (id, instance_id, account_id, name, description, key_ring_id,"
      " extractable, imported, state, created_by, created_ms, updated_ms, rotated_ms, expires_ms,"
      " deleted_by, deleted_ms, dual_auth_delete, rotation_enabled, rotation_interval_month,"
      " dual_auth_set_by, dual_auth_set_ms, revision)"
      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      {k.id,
       k.instance_id,
       k.account_id,
       k.name,
       k.description,
       k.key_ring_id,
       static_cast<int64_t>(k.extractable),
       static_cast<int64_t>(k.imported),
       static_cast<int64_t>(k.state),
       k.created_by,
       Ms(k.created_at),
       Ms(k.updated_at),
       OptMs(k.rotated_at),
       OptMs(k.expires_at),
       k.deleted_by,
       OptMs(k.deleted_at),
       static_cast<int64_t>(k.dual_auth_delete),
       static_cast<int64_t>(k.rotation_enabled),
       static_cast<int64_t>(k.rotation_interval_month),
       k.dual_auth_set_by,
       OptMs(k.dual_auth_set_at),
       k.revision}));
  VEIL_TRY(InsertVersion(ex, k.current, material));
  for (const std::string& alias : k.aliases) {
    VEIL_TRY(InsertAlias(ex, k.instance_id, alias, k.id, k.created_at));
  }
  return OkStatus();
}

Result<Key> KmsStore::GetKey(store::Executor& ex, std::string_view id) {
  auto row = ex.QueryRow(
      std::string("SELECT ") + std::string(kKeyColumns) + std::string(kKeyFrom) + " WHERE k.id = ?",
      {std::string(id)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) return NotFound("key " + std::string(id));
    return tl::unexpected(row.error());
  }
  std::vector<Key> keys{VEIL_TRY_VALUE(KeyFromRow(*row))};
  VEIL_TRY(AttachAliases(ex, keys));
  return std::move(keys[0]);
}

Result<std::string> KmsStore::KeyIdOfAlias(store::Executor& ex, std::string_view instance_id,
                                           std::string_view alias) {
  auto row = ex.QueryRow("SELECT key_id FROM kms_aliases WHERE instance_id = ? AND alias = ?",
                         {std::string(instance_id), std::string(alias)});
  if (!row) return tl::unexpected(row.error());
  return row->GetText(0);
}

Status KmsStore::UpdateKey(store::Executor& ex, const Key& k) {
  int64_t n = VEIL_TRY_VALUE(ex.Exec(
      "UPDATE kms_keys SET name = ?, description = ?, key_ring_id = ?, state = ?,"
      " updated_ms = ?, rotated_ms = ?, expires_ms = ?, deleted_by = ?, deleted_ms = ?,"
      " dual_auth_delete = ?, rotation_enabled = ?, rotation_interval_month = ?,"
      " dual_auth_set_by = ?, dual_auth_set_ms = ?, imported = ?, revision = ?"
      " WHERE id = ? AND revision = ?",
      {k.name, k.description, k.key_ring_id, static_cast<int64_t>(k.state), Ms(k.updated_at),
       OptMs(k.rotated_at), OptMs(k.expires_at), k.deleted_by, OptMs(k.deleted_at),
       static_cast<int64_t>(k.dual_auth_delete), static_cast<int64_t>(k.rotation_enabled),
       static_cast<int64_t>(k.rotation_interval_month), k.dual_auth_set_by,
       OptMs(k.dual_auth_set_at), static_cast<int64_t>(k.imported), k.revision, k.id,
       k.revision - 1}));
  if (n != 1) return FailedPrecondition("the key " + k.id + " changed meanwhile");
  return OkStatus();
}

Status KmsStore::DeleteKey(store::Executor& ex, std::string_view id) {
  // Children first: portable without relying on ON DELETE CASCADE being enabled.
  for (std::string_view table : {"kms_aliases", "kms_registrations", "kms_key_versions"}) {
    VEIL_TRY(ex.Exec("DELETE FROM " + std::string(table) + " WHERE key_id = ?", {std::string(id)}));
  }
  VEIL_TRY(ex.Exec("DELETE FROM kms_keys WHERE id = ?", {std::string(id)}));
  return OkStatus();
}

Result<std::vector<Key>> KmsStore::ListKeys(store::Executor& ex, std::string_view instance_id,
                                            const KeyFilter& filter, int64_t limit,
                                            int64_t offset) {
  Params params{std::string(instance_id)};
  std::string sql = std::string("SELECT ") + std::string(kKeyColumns) + std::string(kKeyFrom) +
                    " WHERE k.instance_id = ?" + FilterSql(filter, params) +
                    " ORDER BY k.created_ms, k.id LIMIT ? OFFSET ?";
  params.push_back(limit);
  params.push_back(offset);
  return KeysFromRows(ex, VEIL_TRY_VALUE(ex.Query(sql, params)));
}

Result<int64_t> KmsStore::CountKeys(store::Executor& ex, std::string_view instance_id,
                                    const KeyFilter& filter) {
  Params params{std::string(instance_id)};
  std::string sql =
      "SELECT COUNT(*) FROM kms_keys k WHERE k.instance_id = ?" + FilterSql(filter, params);
  return VEIL_TRY_VALUE(ex.QueryRow(sql, params)).GetInt64(0);
}

Result<std::vector<Key>> KmsStore::ListMaintenanceCandidates(store::Executor& ex) {
  return KeysFromRows(
      ex, VEIL_TRY_VALUE(ex.Query(std::string("SELECT ") + std::string(kKeyColumns) +
                                  std::string(kKeyFrom) +
                                  " WHERE k.expires_ms IS NOT NULL OR k.deleted_ms IS NOT NULL"
                                  " OR k.dual_auth_set_ms IS NOT NULL OR k.state IN (1, 3)")));
}

Result<std::vector<StoredVersion>> KmsStore::ListVersions(store::Executor& ex,
                                                          std::string_view key_id) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT id, seq, material, created_ms FROM kms_key_versions WHERE key_id = ?"
               " ORDER BY seq",
               {std::string(key_id)}));
  std::vector<StoredVersion> out;
  out.reserve(rows.size());
  for (const Row& row : rows) {
    StoredVersion v;
    v.version.id = VEIL_TRY_VALUE(row.GetText("id"));
    v.version.key_id = std::string(key_id);
    v.version.seq = VEIL_TRY_VALUE(row.GetInt64("seq"));
    v.version.created_at = VEIL_TRY_VALUE(TimeOf(row, "created_ms"));
    v.material = VEIL_TRY_VALUE(row.GetBlob("material"));
    out.push_back(std::move(v));
  }
  return out;
}

Status KmsStore::InsertVersion(store::Executor& ex, const KeyVersion& v,
                               std::span<const uint8_t> material) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_key_versions (id, key_id, seq, material, created_ms) VALUES (?,?,?,?,?)",
      {v.id, v.key_id, v.seq, Blob(material.begin(), material.end()), Ms(v.created_at)}));
  return OkStatus();
}

Result<KeyVersion> KmsStore::LatestVersion(store::Executor& ex, std::string_view key_id) {
  Row row =
      VEIL_TRY_VALUE(ex.QueryRow("SELECT id, seq, created_ms FROM kms_key_versions WHERE key_id = ?"
                                 " ORDER BY seq DESC LIMIT 1",
                                 {std::string(key_id)}));
  KeyVersion v;
  v.id = VEIL_TRY_VALUE(row.GetText("id"));
  v.key_id = std::string(key_id);
  v.seq = VEIL_TRY_VALUE(row.GetInt64("seq"));
  v.created_at = VEIL_TRY_VALUE(TimeOf(row, "created_ms"));
  return v;
}

Status KmsStore::InsertAlias(store::Executor& ex, std::string_view instance_id,
                             std::string_view alias, std::string_view key_id, TimePoint at) {
  VEIL_TRY(
      ex.Exec("INSERT INTO kms_aliases (instance_id, alias, key_id, created_ms) VALUES (?,?,?,?)",
              {std::string(instance_id), std::string(alias), std::string(key_id), Ms(at)}));
  return OkStatus();
}

Status KmsStore::DeleteAlias(store::Executor& ex, std::string_view instance_id,
                             std::string_view alias) {
  int64_t n = VEIL_TRY_VALUE(ex.Exec("DELETE FROM kms_aliases WHERE instance_id = ? AND alias = ?",
                                     {std::string(instance_id), std::string(alias)}));
  if (n == 0) return NotFound("alias " + std::string(alias));
  return OkStatus();
}

Status KmsStore::InsertKeyRing(store::Executor& ex, const KeyRing& ring) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_key_rings (instance_id, id, created_by, created_ms) VALUES (?,?,?,?)",
      {ring.instance_id, ring.id, ring.created_by, Ms(ring.created_at)}));
  return OkStatus();
}

Result<std::vector<KeyRing>> KmsStore::ListKeyRings(store::Executor& ex,
                                                    std::string_view instance_id) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT id, created_by, created_ms FROM kms_key_rings WHERE instance_id = ?"
               " ORDER BY created_ms, id",
               {std::string(instance_id)}));
  std::vector<KeyRing> out;
  for (const Row& row : rows) {
    KeyRing r;
    r.id = VEIL_TRY_VALUE(row.GetText("id"));
    r.instance_id = std::string(instance_id);
    r.created_by = VEIL_TRY_VALUE(row.GetText("created_by"));
    r.created_at = VEIL_TRY_VALUE(TimeOf(row, "created_ms"));
    out.push_back(std::move(r));
  }
  return out;
}

Result<bool> KmsStore::KeyRingExists(store::Executor& ex, std::string_view instance_id,
                                     std::string_view id) {
  auto rows =
      VEIL_TRY_VALUE(ex.Query("SELECT 1 FROM kms_key_rings WHERE instance_id = ? AND id = ?",
                              {std::string(instance_id), std::string(id)}));
  return !rows.empty();
}

Status KmsStore::DeleteKeyRing(store::Executor& ex, std::string_view instance_id,
                               std::string_view id) {
  int64_t n = VEIL_TRY_VALUE(ex.Exec("DELETE FROM kms_key_rings WHERE instance_id = ? AND id = ?",
                                     {std::string(instance_id), std::string(id)}));
  if (n == 0) return NotFound("key ring " + std::string(id));
  return OkStatus();
}

Result<std::pair<int64_t, int64_t>> KmsStore::CountKeysInRing(store::Executor& ex,
                                                              std::string_view instance_id,
                                                              std::string_view ring) {
  Row row = VEIL_TRY_VALUE(
      ex.QueryRow("SELECT COUNT(*), COALESCE(SUM(CASE WHEN state <> 5 THEN 1 ELSE 0 END), 0)"
                  " FROM kms_keys WHERE instance_id = ? AND key_ring_id = ?",
                  {std::string(instance_id), std::string(ring)}));
  return std::pair<int64_t, int64_t>(VEIL_TRY_VALUE(row.GetInt64(0)),
                                     VEIL_TRY_VALUE(row.GetInt64(1)));
}

Status KmsStore::MoveKeysToRing(store::Executor& ex, std::string_view instance_id,
                                std::string_view from, std::string_view to) {
  VEIL_TRY(
      ex.Exec("UPDATE kms_keys SET key_ring_id = ?, revision = revision + 1"
              " WHERE instance_id = ? AND key_ring_id = ?",
              {std::string(to), std::string(instance_id), std::string(from)}));
  return OkStatus();
}

Status KmsStore::UpsertRegistration(store::Executor& ex, const Registration& r) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_registrations (key_id, resource_crn, instance_id, created_by, created_ms,"
      " updated_by, updated_ms, description, prevent_key_deletion, key_version_id)"
      " VALUES (?,?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT (key_id, resource_crn) DO UPDATE SET updated_by = excluded.updated_by,"
      " updated_ms = excluded.updated_ms, description = excluded.description,"
      " prevent_key_deletion = excluded.prevent_key_deletion,"
      " key_version_id = excluded.key_version_id",
      {r.key_id, r.resource_crn, r.instance_id, r.created_by, Ms(r.created_at), r.updated_by,
       Ms(r.updated_at), r.description, static_cast<int64_t>(r.prevent_key_deletion),
       r.key_version_id}));
  return OkStatus();
}

Result<Registration> KmsStore::GetRegistration(store::Executor& ex, std::string_view key_id,
                                               std::string_view crn) {
  auto row =
      ex.QueryRow(std::string("SELECT ") + std::string(kRegistrationColumns) +
                      std::string(kRegistrationFrom) + " WHERE r.key_id = ? AND r.resource_crn = ?",
                  {std::string(key_id), std::string(crn)});
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) {
      return NotFound("registration of " + std::string(crn));
    }
    return tl::unexpected(row.error());
  }
  return RegistrationFromRow(*row);
}

Status KmsStore::DeleteRegistration(store::Executor& ex, std::string_view key_id,
                                    std::string_view crn) {
  int64_t n =
      VEIL_TRY_VALUE(ex.Exec("DELETE FROM kms_registrations WHERE key_id = ? AND resource_crn = ?",
                             {std::string(key_id), std::string(crn)}));
  if (n == 0) return NotFound("registration of " + std::string(crn));
  return OkStatus();
}

Result<std::vector<Registration>> KmsStore::ListRegistrations(store::Executor& ex,
                                                              std::string_view key_id) {
  return RegistrationsFromRows(VEIL_TRY_VALUE(ex.Query(
      std::string("SELECT ") + std::string(kRegistrationColumns) + std::string(kRegistrationFrom) +
          " WHERE r.key_id = ? ORDER BY r.created_ms, r.resource_crn",
      {std::string(key_id)})));
}

Result<std::vector<Registration>> KmsStore::ListInstanceRegistrations(
    store::Executor& ex, std::string_view instance_id) {
  return RegistrationsFromRows(VEIL_TRY_VALUE(ex.Query(
      std::string("SELECT ") + std::string(kRegistrationColumns) + std::string(kRegistrationFrom) +
          " WHERE r.instance_id = ? ORDER BY r.created_ms, r.resource_crn",
      {std::string(instance_id)})));
}

Result<std::vector<InstancePolicy>> KmsStore::GetInstancePolicies(store::Executor& ex,
                                                                  std::string_view instance_id) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT policy_type, data, updated_by, updated_ms FROM kms_instance_policies"
               " WHERE instance_id = ? ORDER BY policy_type",
               {std::string(instance_id)}));
  std::vector<InstancePolicy> out;
  for (const Row& row : rows) {
    InstancePolicy p;
    p.type = VEIL_TRY_VALUE(row.GetText("policy_type"));
    // Fails closed: a row that does not read back fails the request rather than read as no
    // policy (an allowedIP list among them).
    auto data = ReadStoredInstancePolicyData(p.type, VEIL_TRY_VALUE(row.GetText("data")));
    if (!data) {
      return Internal("stored " + p.type + " policy of instance " + std::string(instance_id) +
                      " does not read back: " + data.error().message);
    }
    p.data = std::move(*data);
    p.updated_by = VEIL_TRY_VALUE(row.GetText("updated_by"));
    p.updated_at = VEIL_TRY_VALUE(TimeOf(row, "updated_ms"));
    out.push_back(std::move(p));
  }
  return out;
}

Status KmsStore::PutInstancePolicy(store::Executor& ex, std::string_view instance_id,
                                   const InstancePolicy& p) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_instance_policies (instance_id, policy_type, data, updated_by, updated_ms)"
      " VALUES (?,?,?,?,?) ON CONFLICT (instance_id, policy_type) DO UPDATE SET"
      " data = excluded.data, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms",
      {std::string(instance_id), p.type, InstancePolicyDataText(p.data), p.updated_by,
       Ms(p.updated_at)}));
  return OkStatus();
}

Status KmsStore::PutImportToken(store::Executor& ex, const ImportToken& t) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_import_tokens (instance_id, id, created_ms, expires_ms, max_retrievals,"
      " remaining_retrievals, public_key_pem, sealed_private_key, sealed_nonce)"
      " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (instance_id) DO UPDATE SET id = excluded.id,"
      " created_ms = excluded.created_ms, expires_ms = excluded.expires_ms,"
      " max_retrievals = excluded.max_retrievals,"
      " remaining_retrievals = excluded.remaining_retrievals,"
      " public_key_pem = excluded.public_key_pem,"
      " sealed_private_key = excluded.sealed_private_key, sealed_nonce = excluded.sealed_nonce",
      {t.instance_id, t.id, Ms(t.created_at), Ms(t.expires_at), t.max_retrievals,
       t.remaining_retrievals, t.public_key_pem, Blob(t.sealed_private_key),
       Blob(t.sealed_nonce)}));
  VEIL_TRY(ex.Exec("DELETE FROM kms_import_token_uses WHERE instance_id = ? AND token_id <> ?",
                   {t.instance_id, t.id}));
  return OkStatus();
}

Result<ImportToken> KmsStore::GetImportToken(store::Executor& ex, std::string_view instance_id) {
  auto row = ex.QueryRow(
      "SELECT id, created_ms, expires_ms, max_retrievals, remaining_retrievals, public_key_pem,"
      " sealed_private_key, sealed_nonce FROM kms_import_tokens WHERE instance_id = ?",
      {std::string(instance_id)});
  if (!row) return tl::unexpected(row.error());
  ImportToken t;
  t.instance_id = std::string(instance_id);
  t.id = VEIL_TRY_VALUE(row->GetText("id"));
  t.created_at = VEIL_TRY_VALUE(TimeOf(*row, "created_ms"));
  t.expires_at = VEIL_TRY_VALUE(TimeOf(*row, "expires_ms"));
  t.max_retrievals = VEIL_TRY_VALUE(row->GetInt64("max_retrievals"));
  t.remaining_retrievals = VEIL_TRY_VALUE(row->GetInt64("remaining_retrievals"));
  t.public_key_pem = VEIL_TRY_VALUE(row->GetText("public_key_pem"));
  t.sealed_private_key = VEIL_TRY_VALUE(row->GetBlob("sealed_private_key"));
  t.sealed_nonce = VEIL_TRY_VALUE(row->GetBlob("sealed_nonce"));
  return t;
}

Status KmsStore::SetImportTokenRemaining(store::Executor& ex, std::string_view instance_id,
                                         int64_t remaining) {
  VEIL_TRY(ex.Exec("UPDATE kms_import_tokens SET remaining_retrievals = ? WHERE instance_id = ?",
                   {remaining, std::string(instance_id)}));
  return OkStatus();
}

Status KmsStore::RecordImportTokenUse(store::Executor& ex, std::string_view instance_id,
                                      std::string_view token_id, std::string_view nonce_digest,
                                      TimePoint at) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO kms_import_token_uses (token_id, nonce_digest, instance_id, used_ms)"
      " VALUES (?,?,?,?)",
      {std::string(token_id), std::string(nonce_digest), std::string(instance_id), Ms(at)}));
  return OkStatus();
}

Result<int64_t> KmsStore::CountImportTokenUses(store::Executor& ex, std::string_view token_id) {
  return VEIL_TRY_VALUE(ex.QueryRow("SELECT COUNT(*) FROM kms_import_token_uses WHERE token_id = ?",
                                    {std::string(token_id)}))
      .GetInt64(0);
}

Result<InstanceContents> KmsStore::CountInstanceContents(store::Executor& ex,
                                                         std::string_view instance_id) {
  InstanceContents c;
  c.keys = VEIL_TRY_VALUE(VEIL_TRY_VALUE(ex.QueryRow("SELECT COUNT(*) FROM kms_keys"
                                                     " WHERE instance_id = ?",
                                                     {std::string(instance_id)}))
                              .GetInt64(0));
  c.registrations = VEIL_TRY_VALUE(VEIL_TRY_VALUE(ex.QueryRow("SELECT COUNT(*) FROM"
                                                              " kms_registrations"
                                                              " WHERE instance_id = ?",
                                                              {std::string(instance_id)}))
                                       .GetInt64(0));
  return c;
}

Status KmsStore::DeleteInstanceData(store::Executor& ex, std::string_view instance_id) {
  for (std::string_view table :
       {"kms_key_rings", "kms_instance_policies", "kms_import_tokens", "kms_import_token_uses"}) {
    VEIL_TRY(ex.Exec("DELETE FROM " + std::string(table) + " WHERE instance_id = ?",
                     {std::string(instance_id)}));
  }
  return OkStatus();
}

}  // namespace veil::kms
