// CosService: buckets and objects, every byte encrypted at rest (docs/cos.md, "Storage and
// keys"; docs/formats/cos-object.md).
//
// Keys: each object has its own random 256-bit DEK, which encrypts its data files (object_file.h)
// and is stored sealed (AES-256-GCM) under a bucket key: 32 random bytes per bucket and root key,
// wrapped by the customer's KMS root key through kms::Client acting as cloud-object-storage for
// the bucket's account (SSE-KP), or sealed by the HSM's master key when no root key is named.
// Unwrapped bucket keys stay in a small cache for a short time; a lifecycle event of the root key
// (disable, delete, restore, rotate: KeyEventListener) drops them at once, so that the next read
// asks the KMS, which refuses a disabled or deleted key (crypto-shredding) and serves a restored
// one. A rotation rewraps the bucket keys under the new version.
//
// The service knows no HTTP and no IAM: the API layer (api/) authenticates, authorizes and maps
// the S3 wire format onto these calls. Errors carry S3 reasons (errors.h).
//
// Crash safety: a data file is written under a temporary name, fsynced, renamed and its
// directory fsynced before the metadata row that names it commits; a replaced or deleted
// object's files are removed after the commit. Recover() (at start) removes temporary files and
// files no row names.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "cos/cos_store.h"
#include "cos/model.h"
#include "hsm/key_store.h"
#include "kms/client.h"
#include "kms/kms_service.h"
#include "store/database.h"

namespace veil::cos {

struct CosOptions {
  std::string region = "local";
  // Holds the bucket's instance in the transaction that creates the bucket (the resource
  // controller's HoldInstance: kNotFound once the instance is gone). Unset: no hold (tests).
  std::function<Status(store::Tx&, std::string_view instance_guid)> hold_instance;
  std::string data_dir;  // the service's directory (veild: DATA/cos); created when missing
  std::chrono::seconds bucket_key_ttl{300};
  size_t bucket_key_cache_size = 4096;
  size_t io_buffer_size = 1 << 20;
  // The smallest part but the last of a multipart upload (S3: 5 MiB).
  uint64_t min_part_size = 5 << 20;
};

inline constexpr uint32_t kMaxParts = 10000;
inline constexpr size_t kMaxKeyBytes = 1024;  // an object key's longest UTF-8 form (S3)

// The canonical form of a root key CRN as a request names it ("" stays ""); KMS.NotFoundException
// for text that is not the CRN of a KMS key.
[[nodiscard]] Result<std::string> CanonicalRootKey(std::string_view crn);

// The plaintext of an upload as the API layer decodes it (aws-chunked, signatures).
class UploadBody {
 public:
  virtual ~UploadBody() = default;
  // Up to out.size() bytes; 0 at the end.
  [[nodiscard]] virtual Result<size_t> Read(std::span<uint8_t> out) = 0;
  // Called once after Read returned 0, before anything is stored: the checks that need the whole
  // body (a signed payload's SHA-256, the final chunk signature). An error: nothing is stored.
  [[nodiscard]] virtual Status Verify() = 0;
};

struct CreateBucketSpec {
  std::string name;
  std::string account_id;
  std::string instance_guid;
  std::string location;             // "" = "<region>-standard"
  std::string sse_kp_root_key_crn;  // "" = none
};

struct PutObjectSpec {
  std::string key;
  std::string root_key_crn;  // x-amz-server-side-encryption-aws-kms-key-id; "" = the bucket's
  std::map<std::string, std::string> headers;          // stored and returned as they are
  std::optional<std::array<uint8_t, 16>> content_md5;  // BadDigest when the body differs
  bool if_none_match_any = false;                      // If-None-Match: *
};

struct CreateUploadSpec {
  std::string key;
  std::string root_key_crn;  // as PutObjectSpec
  std::map<std::string, std::string> headers;
  std::string owner;  // the initiator's IAM id
};

struct CompletePart {
  uint32_t part_number = 0;
  std::string etag;  // as the client sent it, quoted or not
};

struct ListResult {
  std::vector<Object> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_marker;  // the last key or common prefix returned, when truncated
};

struct ListSpec {
  std::string prefix;
  std::string delimiter;
  std::string after;  // marker / start-after / continuation
  size_t max_keys = 1000;
};

// Random access to an object's plaintext, across its data files.
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual uint64_t size() const = 0;
  // Plaintext [offset, offset + out.size()) clamped to size(); kDataLoss when a chunk does not
  // verify (tampered data is an error, never bytes).
  [[nodiscard]] virtual Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) = 0;
};

class CosService : public kms::KeyEventListener {
 public:
  // Migrates the "cos" component, creates the data directories and runs Recover(). Everything
  // must outlive the service.
  [[nodiscard]] static Result<std::unique_ptr<CosService>> Create(
      store::Database& db, kms::Client& kms, hsm::KeyStore& hsm, const Clock& clock, Random& random,
      CosOptions options);
  ~CosService() override;

  const CosOptions& options() const { return options_; }
  CosStore& store() { return store_; }

  // --- Buckets
  // BucketAlreadyExists (another account's), BucketAlreadyOwnedByYou, InvalidBucketName,
  // InvalidLocationConstraint, KMS.* when the root key is not usable by cloud-object-storage in
  // that account.
  [[nodiscard]] Result<Bucket> CreateBucket(const CreateBucketSpec& spec);
  // NoSuchBucket when none.
  [[nodiscard]] Result<Bucket> GetBucket(std::string_view name);
  [[nodiscard]] Result<std::vector<Bucket>> ListBuckets(std::string_view instance_guid);
  // BucketNotEmpty while it holds objects or uploads.
  [[nodiscard]] Status DeleteBucket(const Bucket& bucket);
  // PutBucketEncryption with aws:kms (a root key CRN; "" removes it). Checks that the key is
  // usable (KMS.*) by making the bucket key for it.
  [[nodiscard]] Status SetBucketEncryption(const Bucket& bucket, std::string_view root_key_crn);

  // --- Objects
  [[nodiscard]] Result<Object> PutObject(const Bucket& bucket, const PutObjectSpec& spec,
                                         UploadBody& body);
  // NoSuchKey when none.
  [[nodiscard]] Result<Object> HeadObject(const Bucket& bucket, std::string_view key);
  // A reader of the object's plaintext (unwraps its keys: KMS.* when the root key is unusable).
  [[nodiscard]] Result<std::unique_ptr<ObjectReader>> OpenObject(const Bucket& bucket,
                                                                 const Object& object);
  // Deleting a missing key is not an error (S3): returns whether it existed.
  [[nodiscard]] Result<bool> DeleteObject(const Bucket& bucket, std::string_view key);
  [[nodiscard]] Result<ListResult> ListObjects(const Bucket& bucket, const ListSpec& spec);

  // --- Multipart uploads
  [[nodiscard]] Result<Upload> CreateUpload(const Bucket& bucket, const CreateUploadSpec& spec);
  // NoSuchUpload unless the upload exists for this bucket and key.
  [[nodiscard]] Result<Upload> GetUpload(const Bucket& bucket, std::string_view key,
                                         std::string_view upload_id);
  // Stores part `part_number` (1..10000, InvalidArgument otherwise), replacing an earlier one.
  [[nodiscard]] Result<Part> UploadPart(const Bucket& bucket, const Upload& upload,
                                        uint32_t part_number,
                                        const std::optional<std::array<uint8_t, 16>>& content_md5,
                                        UploadBody& body);
  // Stitches the parts named (ascending, InvalidPartOrder; each uploaded with that ETag,
  // InvalidPart; all but the last at least min_part_size, EntityTooSmall) into the object;
  // parts not named are dropped. The object's ETag is S3's: MD5 of the parts' MD5s, "-N".
  [[nodiscard]] Result<Object> CompleteUpload(const Bucket& bucket, const Upload& upload,
                                              const std::vector<CompletePart>& parts);
  [[nodiscard]] Status AbortUpload(const Bucket& bucket, const Upload& upload);
  [[nodiscard]] Result<std::vector<Part>> ListParts(const Upload& upload, uint32_t after,
                                                    size_t limit);
  [[nodiscard]] Result<std::vector<Upload>> ListUploads(const Bucket& bucket,
                                                        std::string_view prefix,
                                                        std::string_view key_marker,
                                                        std::string_view upload_id_marker,
                                                        size_t limit);

  // Removes temporary files and data files no metadata row names (after a crash). Returns how
  // many files it removed.
  [[nodiscard]] Result<size_t> Recover();

  // KeyEventListener: drops the cached bucket keys of the root key; rewraps them on rotate.
  [[nodiscard]] Status OnKeyEvent(const kms::KeyEvent& event) override;

  // Cached bucket keys (for tests and metrics).
  size_t cached_bucket_keys() const;

 private:
  CosService(store::Database& db, kms::Client& kms, hsm::KeyStore& hsm, const Clock& clock,
             Random& random, CosOptions options);

  struct CachedKey {
    SecretBytes key;
    std::string root_key_crn;
    std::chrono::steady_clock::time_point expires;
  };
  kms::ActingFor ActingFor(const Bucket& bucket) const;
  int64_t NowMs() const;
  [[nodiscard]] Result<BucketKey> MakeBucketKey(const Bucket& bucket,
                                                const std::string& root_key_crn);
  [[nodiscard]] Result<BucketKey> EnsureBucketKey(const Bucket& bucket,
                                                  const std::string& root_key_crn);
  [[nodiscard]] Result<SecretBytes> UnwrapBucketKey(const Bucket& bucket, const BucketKey& key);
  [[nodiscard]] Result<SecretBytes> DekOf(const Bucket& bucket, std::string_view bucket_key_id,
                                          std::string_view object_id, std::string_view sealed_dek);
  [[nodiscard]] Result<std::string> SealDek(const SecretBytes& bucket_key,
                                            std::string_view object_id, const SecretBytes& dek);
  [[nodiscard]] Result<std::pair<std::string, SecretBytes>> NewDek(const Bucket& bucket,
                                                                   const std::string& root,
                                                                   std::string_view object_id,
                                                                   std::string* bucket_key_id);
  [[nodiscard]] Result<DataFile> WriteDataFile(const SecretBytes& dek, std::string_view object_id,
                                               uint32_t part_number, UploadBody& body,
                                               std::array<uint8_t, 16>& md5);
  std::string FilePath(std::string_view file_id) const;
  void RemoveFiles(const std::vector<DataFile>& files);
  std::string BucketCrn(const CreateBucketSpec& spec) const;

  CosStore store_;
  kms::Client& kms_;
  hsm::KeyStore& hsm_;
  const Clock& clock_;
  Random& random_;
  CosOptions options_;
  mutable std::mutex cache_mu_;
  std::map<std::string, CachedKey> cache_;  // bucket key id -> key; cache_mu_
};

// An upload body that reads [start, start + length) of `reader` (CopyObject, UploadPartCopy).
std::unique_ptr<UploadBody> ObjectRangeBody(std::shared_ptr<ObjectReader> reader, uint64_t start,
                                            uint64_t length);

// "cos://<region>/<bucket>/<object>" -> the object's plaintext, for the image service: the
// bucket must belong to `account_id` (kPermissionDenied otherwise, never another account's).
// (The caller authorizes the read as the service acting for the account.)
[[nodiscard]] Result<std::unique_ptr<ObjectReader>> OpenObjectUrl(CosService& cos,
                                                                  std::string_view url,
                                                                  std::string_view account_id);

}  // namespace veil::cos
