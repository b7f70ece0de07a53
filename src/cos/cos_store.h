// CosStore: the object storage's metadata in the Database (docs/storage.md's portable SQL).
//
// Tables: cos_buckets (one row per bucket; names are unique across accounts, as S3),
// cos_bucket_keys (a bucket's intermediate key per root key), cos_objects (one row per visible
// object, its data files in a JSON column), cos_uploads and cos_parts (multipart uploads in
// progress). A data file is visible only through a committed row: the service writes, fsyncs
// and renames the file first, then commits the row, so a crash leaves at worst a file no row
// names, which start-up recovery deletes (ReferencedFiles()).
//
// Thread-safety: stateless over the Database; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "cos/model.h"
#include "store/database.h"

namespace veil::cos {

std::vector<store::Migration> CosMigrations();

struct ListQuery {
  std::string bucket_id;
  std::string prefix;
  std::string after;  // keys strictly greater than this ("" = from the start)
  size_t limit = 1000;
};

class CosStore {
 public:
  explicit CosStore(store::Database& db) : db_(db) {}
  store::Database& db() { return db_; }

  // kAlreadyExists when a bucket of that name exists (in any account).
  [[nodiscard]] Status InsertBucket(store::Executor& ex, const Bucket& bucket);
  // kNotFound when none.
  [[nodiscard]] Result<Bucket> GetBucket(store::Executor& ex, std::string_view name);
  // kNotFound when none.
  [[nodiscard]] Result<Bucket> GetBucketById(store::Executor& ex, std::string_view id);
  // The buckets of one instance, by name.
  [[nodiscard]] Result<std::vector<Bucket>> ListBuckets(store::Executor& ex,
                                                        std::string_view instance_guid);
  [[nodiscard]] Result<int64_t> CountBuckets(store::Executor& ex, std::string_view instance_guid);
  [[nodiscard]] Status SetDefaultKmsKey(store::Executor& ex, std::string_view bucket_id,
                                        std::string_view root_key_crn);
  // Deletes the bucket and its bucket keys; the caller checked it is empty.
  [[nodiscard]] Status DeleteBucket(store::Executor& ex, std::string_view bucket_id);

  [[nodiscard]] Status InsertBucketKey(store::Executor& ex, const BucketKey& key);
  // kNotFound when none.
  [[nodiscard]] Result<BucketKey> GetBucketKey(store::Executor& ex, std::string_view id);
  [[nodiscard]] Result<std::optional<BucketKey>> FindBucketKey(store::Executor& ex,
                                                               std::string_view bucket_id,
                                                               std::string_view root_key_crn);
  [[nodiscard]] Result<std::vector<BucketKey>> BucketKeysOfRoot(store::Executor& ex,
                                                                std::string_view root_key_crn);
  [[nodiscard]] Result<std::vector<BucketKey>> BucketKeysOfBucket(store::Executor& ex,
                                                                  std::string_view bucket_id);
  [[nodiscard]] Status UpdateBucketKeyWrap(store::Executor& ex, std::string_view id,
                                           std::string_view wrapped, std::string_view key_version);

  // Inserts or replaces the object (bucket_id, key); returns the replaced object, if any.
  [[nodiscard]] Result<std::optional<Object>> PutObject(store::Executor& ex, const Object& object);
  // kNotFound when none.
  [[nodiscard]] Result<Object> GetObject(store::Executor& ex, std::string_view bucket_id,
                                         std::string_view key);
  // Deletes and returns the object; nullopt when there was none.
  [[nodiscard]] Result<std::optional<Object>> DeleteObject(store::Executor& ex,
                                                           std::string_view bucket_id,
                                                           std::string_view key);
  // Objects of the bucket in key order (binary, as S3) after `after` starting with `prefix`.
  [[nodiscard]] Result<std::vector<Object>> ListObjects(store::Executor& ex,
                                                        const ListQuery& query);
  [[nodiscard]] Result<bool> BucketHasObjects(store::Executor& ex, std::string_view bucket_id);

  // --- Multipart uploads
  [[nodiscard]] Status InsertUpload(store::Executor& ex, const Upload& upload);
  // kNotFound when none.
  [[nodiscard]] Result<Upload> GetUpload(store::Executor& ex, std::string_view id);
  // Uploads of the bucket ordered by key then initiation, after (key_marker, upload_id_marker).
  [[nodiscard]] Result<std::vector<Upload>> ListUploads(
      store::Executor& ex, std::string_view bucket_id, std::string_view prefix,
      std::string_view key_marker, std::string_view upload_id_marker, size_t limit);
  // Deletes the upload and its parts' rows; returns the parts.
  [[nodiscard]] Result<std::vector<Part>> DeleteUpload(store::Executor& ex, std::string_view id);
  // Inserts or replaces a part; returns the replaced one.
  [[nodiscard]] Result<std::optional<Part>> PutPart(store::Executor& ex, std::string_view upload_id,
                                                    const Part& part);
  // Parts in order, after `after` (a part number), at most `limit`.
  [[nodiscard]] Result<std::vector<Part>> ListParts(store::Executor& ex, std::string_view upload_id,
                                                    uint32_t after, size_t limit);

  // Every data file id a row names (objects and multipart parts), for start-up recovery.
  [[nodiscard]] Result<std::set<std::string>> ReferencedFiles(store::Executor& ex);

 private:
  store::Database& db_;
};

}  // namespace veil::cos
