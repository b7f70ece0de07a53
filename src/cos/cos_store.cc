#include "cos/cos_store.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace veil::cos {
namespace {

namespace json = boost::json;

constexpr std::string_view kBucketColumns =
    "id, name, account_id, instance_guid, location, sse_kp_root_key_crn, default_kms_key_crn,"
    " created_ms, crn";
constexpr std::string_view kObjectColumns =
    "bucket_id, key, id, size, etag, modified_ms, bucket_key_id, sealed_dek, root_key_crn, "
    "headers, files";

Result<Bucket> BucketFromRow(const store::Row& row) {
  Bucket b;
  b.id = VEIL_TRY_VALUE(row.GetText("id"));
  b.name = VEIL_TRY_VALUE(row.GetText("name"));
  b.account_id = VEIL_TRY_VALUE(row.GetText("account_id"));
  b.instance_guid = VEIL_TRY_VALUE(row.GetText("instance_guid"));
  b.location = VEIL_TRY_VALUE(row.GetText("location"));
  b.sse_kp_root_key_crn = VEIL_TRY_VALUE(row.GetText("sse_kp_root_key_crn"));
  b.default_kms_key_crn = VEIL_TRY_VALUE(row.GetText("default_kms_key_crn"));
  b.created_ms = VEIL_TRY_VALUE(row.GetInt64("created_ms"));
  b.crn = VEIL_TRY_VALUE(row.GetText("crn"));
  return b;
}

Result<BucketKey> BucketKeyFromRow(const store::Row& row) {
  BucketKey k;
  k.id = VEIL_TRY_VALUE(row.GetText("id"));
  k.bucket_id = VEIL_TRY_VALUE(row.GetText("bucket_id"));
  k.root_key_crn = VEIL_TRY_VALUE(row.GetText("root_key_crn"));
  k.wrapped = VEIL_TRY_VALUE(row.GetText("wrapped"));
  k.key_version = VEIL_TRY_VALUE(row.GetText("key_version"));
  return k;
}

std::string HeadersJson(const std::map<std::string, std::string>& headers) {
  json::object o;
  for (const auto& [name, value] : headers) o[name] = value;
  return json::serialize(o);
}

std::string FilesJson(const std::vector<DataFile>& files) {
  json::array a;
  for (const DataFile& f : files) {
    a.push_back(json::object{
        {"file", f.file_id}, {"part", f.part_number}, {"size", f.size}, {"etag", f.etag}});
  }
  return json::serialize(a);
}

Result<json::value> ParseColumn(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return DataLoss("stored object metadata is not JSON");
  return v;
}

Result<std::map<std::string, std::string>> HeadersFromJson(const std::string& text) {
  json::value v = VEIL_TRY_VALUE(ParseColumn(text));
  if (!v.is_object()) return DataLoss("stored object headers are not an object");
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : v.as_object()) {
    if (!value.is_string()) return DataLoss("stored object header is not a string");
    headers.emplace(std::string(name), std::string(value.as_string()));
  }
  return headers;
}

Result<std::vector<DataFile>> FilesFromJson(const std::string& text) {
  json::value v = VEIL_TRY_VALUE(ParseColumn(text));
  if (!v.is_array()) return DataLoss("stored object files are not an array");
  std::vector<DataFile> files;
  for (const json::value& item : v.as_array()) {
    const json::object* o = item.if_object();
    if (o == nullptr) return DataLoss("stored object file is not an object");
    const json::value* file = o->if_contains("file");
    const json::value* part = o->if_contains("part");
    const json::value* size = o->if_contains("size");
    const json::value* etag = o->if_contains("etag");
    if (!file || !file->is_string() || !part || !part->is_number() || !size || !size->is_number() ||
        !etag || !etag->is_string()) {
      return DataLoss("stored object file is incomplete");
    }
    DataFile f;
    f.file_id = std::string(file->as_string());
    f.part_number = static_cast<uint32_t>(part->to_number<uint64_t>());
    f.size = size->to_number<uint64_t>();
    f.etag = std::string(etag->as_string());
    files.push_back(std::move(f));
  }
  return files;
}

Result<Object> ObjectFromRow(const store::Row& row) {
  Object o;
  o.bucket_id = VEIL_TRY_VALUE(row.GetText("bucket_id"));
  o.key = VEIL_TRY_VALUE(row.GetText("key"));
  o.id = VEIL_TRY_VALUE(row.GetText("id"));
  o.size = static_cast<uint64_t>(VEIL_TRY_VALUE(row.GetInt64("size")));
  o.etag = VEIL_TRY_VALUE(row.GetText("etag"));
  o.modified_ms = VEIL_TRY_VALUE(row.GetInt64("modified_ms"));
  o.bucket_key_id = VEIL_TRY_VALUE(row.GetText("bucket_key_id"));
  o.sealed_dek = VEIL_TRY_VALUE(row.GetText("sealed_dek"));
  o.root_key_crn = VEIL_TRY_VALUE(row.GetText("root_key_crn"));
  o.headers = VEIL_TRY_VALUE(HeadersFromJson(VEIL_TRY_VALUE(row.GetText("headers"))));
  o.files = VEIL_TRY_VALUE(FilesFromJson(VEIL_TRY_VALUE(row.GetText("files"))));
  return o;
}

template <typename T, typename F>
Result<std::vector<T>> Map(const store::Rows& rows, F from_row) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const store::Row& row : rows) out.push_back(VEIL_TRY_VALUE(from_row(row)));
  return out;
}

}  // namespace

std::vector<store::Migration> CosMigrations() {
  return {
      {1,
       "CREATE TABLE cos_buckets (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
       " account_id TEXT NOT NULL, instance_guid TEXT NOT NULL, location TEXT NOT NULL,"
       " sse_kp_root_key_crn TEXT NOT NULL, default_kms_key_crn TEXT NOT NULL,"
       " created_ms INTEGER NOT NULL, crn TEXT NOT NULL);"
       "CREATE INDEX cos_buckets_instance ON cos_buckets (instance_guid, name);"
       "CREATE TABLE cos_bucket_keys (id TEXT PRIMARY KEY, bucket_id TEXT NOT NULL,"
       " root_key_crn TEXT NOT NULL, wrapped TEXT NOT NULL, key_version TEXT NOT NULL,"
       " UNIQUE (bucket_id, root_key_crn));"
       "CREATE INDEX cos_bucket_keys_root ON cos_bucket_keys (root_key_crn);"
       "CREATE TABLE cos_objects (bucket_id TEXT NOT NULL, key TEXT NOT NULL,"
       " id TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, etag TEXT NOT NULL,"
       " modified_ms INTEGER NOT NULL, bucket_key_id TEXT NOT NULL, sealed_dek TEXT NOT NULL,"
       " root_key_crn TEXT NOT NULL, headers TEXT NOT NULL, files TEXT NOT NULL,"
       " PRIMARY KEY (bucket_id, key));"
       "CREATE TABLE cos_uploads (id TEXT PRIMARY KEY, bucket_id TEXT NOT NULL,"
       " key TEXT NOT NULL, object_id TEXT NOT NULL, initiated_ms INTEGER NOT NULL,"
       " bucket_key_id TEXT NOT NULL, sealed_dek TEXT NOT NULL, root_key_crn TEXT NOT NULL,"
       " headers TEXT NOT NULL, owner TEXT NOT NULL);"
       "CREATE INDEX cos_uploads_bucket ON cos_uploads (bucket_id, key, initiated_ms);"
       "CREATE TABLE cos_parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL,"
       " file_id TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
       " modified_ms INTEGER NOT NULL, PRIMARY KEY (upload_id, part_number))"},
  };
}

Status CosStore::InsertBucket(store::Executor& ex, const Bucket& b) {
  auto inserted = ex.Exec(
      "INSERT INTO cos_buckets (" + std::string(kBucketColumns) + ") VALUES (?,?,?,?,?,?,?,?,?)",
      {b.id, b.name, b.account_id, b.instance_guid, b.location, b.sse_kp_root_key_crn,
       b.default_kms_key_crn, b.created_ms, b.crn});
  if (!inserted) return tl::unexpected(inserted.error());
  return OkStatus();
}

Result<Bucket> CosStore::GetBucket(store::Executor& ex, std::string_view name) {
  auto row =
      ex.QueryRow("SELECT " + std::string(kBucketColumns) + " FROM cos_buckets WHERE name = ?",
                  {std::string(name)});
  if (!row) return tl::unexpected(row.error());
  return BucketFromRow(*row);
}

Result<Bucket> CosStore::GetBucketById(store::Executor& ex, std::string_view id) {
  auto row = VEIL_TRY_VALUE(
      ex.QueryRow("SELECT " + std::string(kBucketColumns) + " FROM cos_buckets WHERE id = ?",
                  {std::string(id)}));
  return BucketFromRow(row);
}

Result<std::vector<Bucket>> CosStore::ListBuckets(store::Executor& ex,
                                                  std::string_view instance_guid) {
  auto rows = VEIL_TRY_VALUE(ex.Query("SELECT " + std::string(kBucketColumns) +
                                          " FROM cos_buckets WHERE instance_guid = ? ORDER BY name",
                                      {std::string(instance_guid)}));
  return Map<Bucket>(rows, BucketFromRow);
}

Result<int64_t> CosStore::CountBuckets(store::Executor& ex, std::string_view instance_guid) {
  auto row =
      VEIL_TRY_VALUE(ex.QueryRow("SELECT COUNT(*) AS n FROM cos_buckets WHERE instance_guid = ?",
                                 {std::string(instance_guid)}));
  return row.GetInt64("n");
}

Status CosStore::SetDefaultKmsKey(store::Executor& ex, std::string_view bucket_id,
                                  std::string_view root_key_crn) {
  auto changed = ex.Exec("UPDATE cos_buckets SET default_kms_key_crn = ? WHERE id = ?",
                         {std::string(root_key_crn), std::string(bucket_id)});
  if (!changed) return tl::unexpected(changed.error());
  return OkStatus();
}

Status CosStore::DeleteBucket(store::Executor& ex, std::string_view bucket_id) {
  VEIL_TRY(ex.Exec("DELETE FROM cos_bucket_keys WHERE bucket_id = ?", {std::string(bucket_id)}));
  VEIL_TRY(ex.Exec("DELETE FROM cos_buckets WHERE id = ?", {std::string(bucket_id)}));
  return OkStatus();
}

Status CosStore::InsertBucketKey(store::Executor& ex, const BucketKey& k) {
  auto inserted = ex.Exec(
      "INSERT INTO cos_bucket_keys (id, bucket_id, root_key_crn, wrapped, key_version)"
      " VALUES (?,?,?,?,?)",
      {k.id, k.bucket_id, k.root_key_crn, k.wrapped, k.key_version});
  if (!inserted) return tl::unexpected(inserted.error());
  return OkStatus();
}

Result<BucketKey> CosStore::GetBucketKey(store::Executor& ex, std::string_view id) {
  auto row = VEIL_TRY_VALUE(ex.QueryRow(
      "SELECT id, bucket_id, root_key_crn, wrapped, key_version FROM cos_bucket_keys WHERE id = ?",
      {std::string(id)}));
  return BucketKeyFromRow(row);
}

Result<std::optional<BucketKey>> CosStore::FindBucketKey(store::Executor& ex,
                                                         std::string_view bucket_id,
                                                         std::string_view root_key_crn) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT id, bucket_id, root_key_crn, wrapped, key_version FROM cos_bucket_keys"
               " WHERE bucket_id = ? AND root_key_crn = ?",
               {std::string(bucket_id), std::string(root_key_crn)}));
  if (rows.empty()) return std::optional<BucketKey>();
  return std::optional<BucketKey>(VEIL_TRY_VALUE(BucketKeyFromRow(rows.front())));
}

Result<std::vector<BucketKey>> CosStore::BucketKeysOfRoot(store::Executor& ex,
                                                          std::string_view root_key_crn) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT id, bucket_id, root_key_crn, wrapped, key_version FROM cos_bucket_keys"
               " WHERE root_key_crn = ?",
               {std::string(root_key_crn)}));
  return Map<BucketKey>(rows, BucketKeyFromRow);
}

Result<std::vector<BucketKey>> CosStore::BucketKeysOfBucket(store::Executor& ex,
                                                            std::string_view bucket_id) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT id, bucket_id, root_key_crn, wrapped, key_version FROM cos_bucket_keys"
               " WHERE bucket_id = ?",
               {std::string(bucket_id)}));
  return Map<BucketKey>(rows, BucketKeyFromRow);
}

Status CosStore::UpdateBucketKeyWrap(store::Executor& ex, std::string_view id,
                                     std::string_view wrapped, std::string_view key_version) {
  VEIL_TRY(ex.Exec("UPDATE cos_bucket_keys SET wrapped = ?, key_version = ? WHERE id = ?",
                   {std::string(wrapped), std::string(key_version), std::string(id)}));
  return OkStatus();
}

Result<std::optional<Object>> CosStore::PutObject(store::Executor& ex, const Object& o) {
  auto old = VEIL_TRY_VALUE(DeleteObject(ex, o.bucket_id, o.key));
  VEIL_TRY(ex.Exec(
      "INSERT INTO cos_objects (" + std::string(kObjectColumns) +
          ") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
      {o.bucket_id, o.key, o.id, static_cast<int64_t>(o.size), o.etag, o.modified_ms,
       o.bucket_key_id, o.sealed_dek, o.root_key_crn, HeadersJson(o.headers), FilesJson(o.files)}));
  return old;
}

Result<Object> CosStore::GetObject(store::Executor& ex, std::string_view bucket_id,
                                   std::string_view key) {
  auto row = VEIL_TRY_VALUE(ex.QueryRow(
      "SELECT " + std::string(kObjectColumns) + " FROM cos_objects WHERE bucket_id = ? AND key = ?",
      {std::string(bucket_id), std::string(key)}));
  return ObjectFromRow(row);
}

Result<std::optional<Object>> CosStore::DeleteObject(store::Executor& ex,
                                                     std::string_view bucket_id,
                                                     std::string_view key) {
  auto old = GetObject(ex, bucket_id, key);
  if (!old) {
    if (old.error().code == ErrorCode::kNotFound) return std::optional<Object>();
    return tl::unexpected(old.error());
  }
  VEIL_TRY(ex.Exec("DELETE FROM cos_objects WHERE bucket_id = ? AND key = ?",
                   {std::string(bucket_id), std::string(key)}));
  return std::optional<Object>(std::move(*old));
}

Result<std::vector<Object>> CosStore::ListObjects(store::Executor& ex, const ListQuery& q) {
  std::string sql =
      "SELECT " + std::string(kObjectColumns) + " FROM cos_objects WHERE bucket_id = ? AND key > ?";
  store::Params params{q.bucket_id, q.after};
  if (!q.prefix.empty()) {
    // Binary order: every key with the prefix sorts at or after it and before prefix + 0xFF.
    sql += " AND key >= ? AND key < ?";
    params.emplace_back(q.prefix);
    params.emplace_back(q.prefix + "\xFF");
  }
  sql += " ORDER BY key LIMIT ?";
  params.emplace_back(static_cast<int64_t>(q.limit));
  auto rows = VEIL_TRY_VALUE(ex.Query(sql, params));
  return Map<Object>(rows, ObjectFromRow);
}

Result<bool> CosStore::BucketHasObjects(store::Executor& ex, std::string_view bucket_id) {
  auto rows = VEIL_TRY_VALUE(ex.Query("SELECT 1 AS x FROM cos_objects WHERE bucket_id = ? LIMIT 1",
                                      {std::string(bucket_id)}));
  if (!rows.empty()) return true;
  rows = VEIL_TRY_VALUE(ex.Query("SELECT 1 AS x FROM cos_uploads WHERE bucket_id = ? LIMIT 1",
                                 {std::string(bucket_id)}));
  return !rows.empty();
}

namespace {

constexpr std::string_view kUploadColumns =
    "id, bucket_id, key, object_id, initiated_ms, bucket_key_id, sealed_dek, root_key_crn, "
    "headers, owner";

Result<Upload> UploadFromRow(const store::Row& row) {
  Upload u;
  u.id = VEIL_TRY_VALUE(row.GetText("id"));
  u.bucket_id = VEIL_TRY_VALUE(row.GetText("bucket_id"));
  u.key = VEIL_TRY_VALUE(row.GetText("key"));
  u.object_id = VEIL_TRY_VALUE(row.GetText("object_id"));
  u.initiated_ms = VEIL_TRY_VALUE(row.GetInt64("initiated_ms"));
  u.bucket_key_id = VEIL_TRY_VALUE(row.GetText("bucket_key_id"));
  u.sealed_dek = VEIL_TRY_VALUE(row.GetText("sealed_dek"));
  u.root_key_crn = VEIL_TRY_VALUE(row.GetText("root_key_crn"));
  u.headers = VEIL_TRY_VALUE(HeadersFromJson(VEIL_TRY_VALUE(row.GetText("headers"))));
  u.owner = VEIL_TRY_VALUE(row.GetText("owner"));
  return u;
}

Result<Part> PartFromRow(const store::Row& row) {
  Part p;
  p.part_number = static_cast<uint32_t>(VEIL_TRY_VALUE(row.GetInt64("part_number")));
  p.file_id = VEIL_TRY_VALUE(row.GetText("file_id"));
  p.size = static_cast<uint64_t>(VEIL_TRY_VALUE(row.GetInt64("size")));
  p.etag = VEIL_TRY_VALUE(row.GetText("etag"));
  p.modified_ms = VEIL_TRY_VALUE(row.GetInt64("modified_ms"));
  return p;
}

}  // namespace

Status CosStore::InsertUpload(store::Executor& ex, const Upload& u) {
  VEIL_TRY(ex.Exec(
      "INSERT INTO cos_uploads (" + std::string(kUploadColumns) + ") VALUES (?,?,?,?,?,?,?,?,?,?)",
      {u.id, u.bucket_id, u.key, u.object_id, u.initiated_ms, u.bucket_key_id, u.sealed_dek,
       u.root_key_crn, HeadersJson(u.headers), u.owner}));
  return OkStatus();
}

Result<Upload> CosStore::GetUpload(store::Executor& ex, std::string_view id) {
  auto row = VEIL_TRY_VALUE(
      ex.QueryRow("SELECT " + std::string(kUploadColumns) + " FROM cos_uploads WHERE id = ?",
                  {std::string(id)}));
  return UploadFromRow(row);
}

Result<std::vector<Upload>> CosStore::ListUploads(store::Executor& ex, std::string_view bucket_id,
                                                  std::string_view prefix,
                                                  std::string_view key_marker,
                                                  std::string_view upload_id_marker, size_t limit) {
  std::string sql = "SELECT " + std::string(kUploadColumns) +
                    " FROM cos_uploads WHERE bucket_id = ? AND (key > ? OR (key = ? AND id > ?))";
  store::Params params{std::string(bucket_id), std::string(key_marker), std::string(key_marker),
                       std::string(upload_id_marker)};
  if (!prefix.empty()) {
    sql += " AND key >= ? AND key < ?";
    params.emplace_back(std::string(prefix));
    params.emplace_back(std::string(prefix) + "\xFF");
  }
  sql += " ORDER BY key, id LIMIT ?";
  params.emplace_back(static_cast<int64_t>(limit));
  auto rows = VEIL_TRY_VALUE(ex.Query(sql, params));
  return Map<Upload>(rows, UploadFromRow);
}

Result<std::vector<Part>> CosStore::DeleteUpload(store::Executor& ex, std::string_view id) {
  auto parts = VEIL_TRY_VALUE(ListParts(ex, id, 0, 10001));
  VEIL_TRY(ex.Exec("DELETE FROM cos_parts WHERE upload_id = ?", {std::string(id)}));
  VEIL_TRY(ex.Exec("DELETE FROM cos_uploads WHERE id = ?", {std::string(id)}));
  return parts;
}

Result<std::optional<Part>> CosStore::PutPart(store::Executor& ex, std::string_view upload_id,
                                              const Part& p) {
  auto rows =
      VEIL_TRY_VALUE(ex.Query("SELECT part_number, file_id, size, etag, modified_ms FROM cos_parts"
                              " WHERE upload_id = ? AND part_number = ?",
                              {std::string(upload_id), static_cast<int64_t>(p.part_number)}));
  std::optional<Part> old;
  if (!rows.empty()) {
    old = VEIL_TRY_VALUE(PartFromRow(rows.front()));
    VEIL_TRY(ex.Exec("DELETE FROM cos_parts WHERE upload_id = ? AND part_number = ?",
                     {std::string(upload_id), static_cast<int64_t>(p.part_number)}));
  }
  VEIL_TRY(
      ex.Exec("INSERT INTO cos_parts (upload_id, part_number, file_id, size, etag, modified_ms)"
              " VALUES (?,?,?,?,?,?)",
              {std::string(upload_id), static_cast<int64_t>(p.part_number), p.file_id,
               static_cast<int64_t>(p.size), p.etag, p.modified_ms}));
  return old;
}

Result<std::vector<Part>> CosStore::ListParts(store::Executor& ex, std::string_view upload_id,
                                              uint32_t after, size_t limit) {
  auto rows = VEIL_TRY_VALUE(
      ex.Query("SELECT part_number, file_id, size, etag, modified_ms FROM cos_parts"
               " WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
               {std::string(upload_id), static_cast<int64_t>(after), static_cast<int64_t>(limit)}));
  return Map<Part>(rows, PartFromRow);
}

Result<std::set<std::string>> CosStore::ReferencedFiles(store::Executor& ex) {
  std::set<std::string> files;
  auto rows = VEIL_TRY_VALUE(ex.Query("SELECT files FROM cos_objects"));
  for (const store::Row& row : rows) {
    for (DataFile& f : VEIL_TRY_VALUE(FilesFromJson(VEIL_TRY_VALUE(row.GetText("files"))))) {
      files.insert(std::move(f.file_id));
    }
  }
  rows = VEIL_TRY_VALUE(ex.Query("SELECT file_id FROM cos_parts"));
  for (const store::Row& row : rows) files.insert(VEIL_TRY_VALUE(row.GetText("file_id")));
  return files;
}

}  // namespace veil::cos
