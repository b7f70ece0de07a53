#include "cos/cos_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/crn.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"
#include "common/uuid.h"
#include "cos/errors.h"
#include "cos/object_file.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "kms/errors.h"

namespace veil::cos {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kLog = "cos";
constexpr size_t kDekSize = 32;
constexpr size_t kDekIvSize = 12;
constexpr std::string_view kDekAadPrefix = "veil-cos-dek-v1:";

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A KMS refusal as the S3 error a client of object storage understands.
Error KmsToS3(const Error& e, std::string_view root_key_crn) {
  const std::string key(root_key_crn);
  auto reason = e.ReasonAs<kms::KmsReason>();
  if (!reason) {
    if (e.code == ErrorCode::kPermissionDenied || e.code == ErrorCode::kUnauthenticated) {
      return S3Error(S3Reason::kKmsAccessDenied, e.message);
    }
    return e;
  }
  switch (*reason) {
    case kms::KmsReason::kKeyNotFound:
    case kms::KmsReason::kNotFound:
    case kms::KmsReason::kInstanceNotFound:
      return S3Error(S3Reason::kKmsNotFound, "root key " + key + " does not exist");
    case kms::KmsReason::kUnauthorized:
    case kms::KmsReason::kForbidden:
      return S3Error(S3Reason::kKmsAccessDenied,
                     "cloud-object-storage may not use root key " + key +
                         ": its account must authorize cloud-object-storage -> kms Reader (" +
                         e.message + ")");
    case kms::KmsReason::kKeyActionInvalidState:
    case kms::KmsReason::kKeyInvalidState:
      return S3Error(S3Reason::kKmsDisabled,
                     "root key " + key + " is not enabled (" + e.message + ")");
    case kms::KmsReason::kKeyDeleted:
      return S3Error(S3Reason::kKmsInvalidState,
                     "root key " + key + " is deleted: what it protects is unreadable");
    case kms::KmsReason::kBadReq:
    case kms::KmsReason::kKeyRootReq:
      return S3Error(S3Reason::kInvalidArgument, e.message);
    default:
      return e;
  }
}

}  // namespace

Result<std::string> CanonicalRootKey(std::string_view crn) {
  if (crn.empty()) return std::string();
  auto parsed = Crn::Parse(crn);
  if (!parsed || parsed->service != "kms" || parsed->resource_type != "key" ||
      parsed->resource.empty()) {
    return S3Fail(S3Reason::kKmsNotFound,
                  "not the CRN of a KMS root key: " + std::string(crn.substr(0, 200)));
  }
  return parsed->ToString();
}

namespace {

std::string KeyIdOfCrn(std::string_view crn) {
  auto parsed = Crn::Parse(crn);
  return parsed ? parsed->resource : std::string();
}

// Reads an object across its data files (a binary search finds the first one a read touches).
class MultiFileReader final : public ObjectReader {
 public:
  explicit MultiFileReader(std::vector<std::unique_ptr<ObjectFileReader>> files)
      : files_(std::move(files)) {
    for (const auto& file : files_) {
      starts_.push_back(size_);
      size_ += file->size();
    }
  }
  uint64_t size() const override { return size_; }
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= size_ || out.empty()) return 0;
    out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset)));
    size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) -
                                   starts_.begin()) -
               1;
    size_t done = 0;
    for (; done < out.size() && i < files_.size(); ++i) {
      const uint64_t at = offset + done - starts_[i];
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(out.size() - done, files_[i]->size() - at));
      const size_t got = VEIL_TRY_VALUE(files_[i]->ReadAt(at, out.subspan(done, want)));
      if (got != want) return DataLoss("an object's data file ended early");
      done += got;
    }
    return done;
  }

 private:
  std::vector<std::unique_ptr<ObjectFileReader>> files_;
  std::vector<uint64_t> starts_;
  uint64_t size_ = 0;
};

}  // namespace

CosService::CosService(store::Database& db, kms::Client& kms, hsm::KeyStore& hsm,
                       const Clock& clock, Random& random, CosOptions options)
    : store_(db),
      kms_(kms),
      hsm_(hsm),
      clock_(clock),
      random_(random),
      options_(std::move(options)) {}

CosService::~CosService() = default;

int64_t CosService::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<CosService>> CosService::Create(store::Database& db, kms::Client& kms,
                                                       hsm::KeyStore& hsm, const Clock& clock,
                                                       Random& random, CosOptions options) {
  if (options.data_dir.empty()) return InvalidArgument("cos: no data directory");
  std::error_code ec;
  fs::create_directories(fs::path(options.data_dir) / "objects", ec);
  if (ec) return Internal("cannot create " + options.data_dir + "/objects: " + ec.message());
  VEIL_TRY(db.Migrate("cos", CosMigrations()));
  std::unique_ptr<CosService> service(
      new CosService(db, kms, hsm, clock, random, std::move(options)));
  size_t removed = VEIL_TRY_VALUE(service->Recover());
  if (removed > 0) {
    log::Info(kLog, "recovery removed " + std::to_string(removed) + " unreferenced data files");
  }
  return service;
}

kms::ActingFor CosService::ActingFor(const Bucket& bucket) const {
  return kms::ActingFor{bucket.account_id, bucket.instance_guid};
}

std::string CosService::FilePath(std::string_view file_id) const {
  return (fs::path(options_.data_dir) / "objects" / std::string(file_id.substr(0, 2)) /
          std::string(file_id))
      .string();
}

std::string CosService::BucketCrn(const CreateBucketSpec& spec) const {
  Crn crn;
  crn.service = "cloud-object-storage";
  crn.region = options_.region;
  crn.account = spec.account_id;
  crn.service_instance = spec.instance_guid;
  crn.resource_type = "bucket";
  crn.resource = spec.name;
  return crn.ToString();
}

// --- Bucket keys

Result<BucketKey> CosService::MakeBucketKey(const Bucket& bucket, const std::string& root_key_crn) {
  BucketKey key;
  key.id = NewUuidV4String(random_);
  key.bucket_id = bucket.id;
  key.root_key_crn = root_key_crn;
  SecretBytes plain;
  if (root_key_crn.empty()) {
    plain = random_.Secret(kDekSize);
    hsm::WrappedKey sealed = VEIL_TRY_VALUE(hsm_.SealPayload(plain));
    key.wrapped = Base64Encode(sealed);
    key.key_version = "hsm";
  } else {
    auto wrapped = kms_.Wrap(ActingFor(bucket), root_key_crn, std::nullopt, {bucket.crn});
    if (!wrapped) return tl::unexpected(KmsToS3(wrapped.error(), root_key_crn));
    if (!wrapped->generated) return Internal("the KMS returned no generated bucket key");
    plain = std::move(*wrapped->generated);
    key.wrapped = wrapped->ciphertext;
    key.key_version = wrapped->key_version_id;
    kms::Client::Registering registering{bucket.crn, "object storage bucket " + bucket.name, false};
    auto registered = kms_.Register(ActingFor(bucket), root_key_crn, registering);
    if (!registered && registered.error().code != ErrorCode::kAlreadyExists) {
      return tl::unexpected(KmsToS3(registered.error(), root_key_crn));
    }
  }
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= options_.bucket_key_cache_size) cache_.clear();
  cache_[key.id] = CachedKey{std::move(plain), root_key_crn,
                             std::chrono::steady_clock::now() + options_.bucket_key_ttl};
  return key;
}

Result<BucketKey> CosService::EnsureBucketKey(const Bucket& bucket,
                                              const std::string& root_key_crn) {
  auto found = VEIL_TRY_VALUE(store_.FindBucketKey(store_.db(), bucket.id, root_key_crn));
  if (found) return *found;
  BucketKey made = VEIL_TRY_VALUE(MakeBucketKey(bucket, root_key_crn));
  auto inserted = store_.InsertBucketKey(store_.db(), made);
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    // Another request made one at the same time: use the stored one.
    auto stored = VEIL_TRY_VALUE(store_.FindBucketKey(store_.db(), bucket.id, root_key_crn));
    if (stored) return *stored;
  }
  if (!inserted) return tl::unexpected(inserted.error());
  return made;
}

Result<SecretBytes> CosService::UnwrapBucketKey(const Bucket& bucket, const BucketKey& key) {
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(key.id);
    if (it != cache_.end() && it->second.expires > std::chrono::steady_clock::now()) {
      return SecretBytes(it->second.key.Reveal());
    }
  }
  SecretBytes plain;
  if (key.root_key_crn.empty()) {
    auto sealed = Base64Decode(key.wrapped);
    if (!sealed) return DataLoss("stored bucket key is not base64");
    plain = VEIL_TRY_VALUE(hsm_.UnsealPayload(*sealed));
  } else {
    auto unwrapped = kms_.Unwrap(ActingFor(bucket), key.root_key_crn, key.wrapped, {bucket.crn});
    if (!unwrapped) return tl::unexpected(KmsToS3(unwrapped.error(), key.root_key_crn));
    plain = std::move(unwrapped->plaintext);
    if (unwrapped->rewrapped) {
      auto s = store_.UpdateBucketKeyWrap(store_.db(), key.id, *unwrapped->rewrapped,
                                          unwrapped->rewrapped_version_id);
      if (!s) log::Warn(kLog, "cannot store a rewrapped bucket key: " + s.error().message);
    }
  }
  if (plain.size() != kDekSize) return DataLoss("bucket key of the wrong size");
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= options_.bucket_key_cache_size) cache_.clear();
  cache_[key.id] = CachedKey{SecretBytes(plain.Reveal()), key.root_key_crn,
                             std::chrono::steady_clock::now() + options_.bucket_key_ttl};
  return plain;
}

Result<std::string> CosService::SealDek(const SecretBytes& bucket_key, std::string_view object_id,
                                        const SecretBytes& dek) {
  std::vector<uint8_t> iv = random_.Bytes(kDekIvSize);
  const std::string aad = std::string(kDekAadPrefix) + std::string(object_id);
  auto sealed =
      VEIL_TRY_VALUE(crypto::AesGcmSeal(bucket_key.Reveal(), iv, Bytes(aad), dek.Reveal()));
  iv.insert(iv.end(), sealed.begin(), sealed.end());
  return Base64Encode(iv);
}

Result<std::pair<std::string, SecretBytes>> CosService::NewDek(const Bucket& bucket,
                                                               const std::string& root,
                                                               std::string_view object_id,
                                                               std::string* bucket_key_id) {
  BucketKey bucket_key = VEIL_TRY_VALUE(EnsureBucketKey(bucket, root));
  SecretBytes key_plain = VEIL_TRY_VALUE(UnwrapBucketKey(bucket, bucket_key));
  SecretBytes dek = random_.Secret(kDekSize);
  std::string sealed = VEIL_TRY_VALUE(SealDek(key_plain, object_id, dek));
  *bucket_key_id = bucket_key.id;
  return std::make_pair(std::move(sealed), std::move(dek));
}

Result<SecretBytes> CosService::DekOf(const Bucket& bucket, std::string_view bucket_key_id,
                                      std::string_view object_id, std::string_view sealed_dek) {
  BucketKey key = VEIL_TRY_VALUE(store_.GetBucketKey(store_.db(), bucket_key_id));
  SecretBytes bucket_key = VEIL_TRY_VALUE(UnwrapBucketKey(bucket, key));
  auto sealed = Base64Decode(sealed_dek);
  if (!sealed || sealed->size() < kDekIvSize) return DataLoss("stored object key is malformed");
  const std::string aad = std::string(kDekAadPrefix) + std::string(object_id);
  std::span<const uint8_t> all(*sealed);
  auto dek = crypto::AesGcmOpenSecret(bucket_key.Reveal(), all.first(kDekIvSize), Bytes(aad),
                                      all.subspan(kDekIvSize));
  if (!dek || dek->size() != kDekSize) return DataLoss("object key does not verify");
  return std::move(*dek);
}

size_t CosService::cached_bucket_keys() const {
  std::lock_guard lock(cache_mu_);
  return cache_.size();
}

Status CosService::OnKeyEvent(const kms::KeyEvent& event) {
  {
    std::lock_guard lock(cache_mu_);
    std::erase_if(cache_, [&](const auto& entry) {
      return entry.second.root_key_crn == event.key_crn ||
             KeyIdOfCrn(entry.second.root_key_crn) == event.key_id;
    });
  }
  if (event.type != "rotate") return OkStatus();
  auto keys = VEIL_TRY_VALUE(store_.BucketKeysOfRoot(store_.db(), event.key_crn));
  Status result = OkStatus();
  for (const BucketKey& key : keys) {
    auto bucket = store_.GetBucketById(store_.db(), key.bucket_id);
    if (!bucket) continue;
    auto rewrapped = kms_.Rewrap(ActingFor(*bucket), key.root_key_crn, key.wrapped, {bucket->crn});
    if (!rewrapped) {
      result = tl::unexpected(rewrapped.error());
      continue;
    }
    auto s = store_.UpdateBucketKeyWrap(store_.db(), key.id, rewrapped->ciphertext,
                                        rewrapped->key_version_id);
    if (!s) result = s;
  }
  return result;
}

// --- Buckets

Result<Bucket> CosService::CreateBucket(const CreateBucketSpec& spec) {
  if (!IsValidBucketName(spec.name)) {
    return S3Fail(S3Reason::kInvalidBucketName,
                  "bucket names are 3 to 63 characters of a-z, 0-9, '.' and '-', starting and "
                  "ending with a letter or digit, not shaped like an IP address");
  }
  Bucket bucket;
  bucket.id = NewUuidV4String(random_);
  bucket.name = spec.name;
  bucket.account_id = spec.account_id;
  bucket.instance_guid = spec.instance_guid;
  bucket.location = spec.location.empty() ? options_.region + "-standard" : spec.location;
  const std::string region_prefix = options_.region + "-";
  if (!bucket.location.starts_with(region_prefix) || bucket.location.size() > 64) {
    return S3Fail(S3Reason::kInvalidLocationConstraint,
                  "LocationConstraint must be " + options_.region + "-standard (or -vault, " +
                      "-cold, -smart) on this region");
  }
  bucket.sse_kp_root_key_crn = VEIL_TRY_VALUE(CanonicalRootKey(spec.sse_kp_root_key_crn));
  bucket.created_ms = NowMs();
  bucket.crn = BucketCrn(spec);
  if (auto existing = store_.GetBucket(store_.db(), spec.name)) {
    if (existing->account_id == spec.account_id) {
      return S3Fail(S3Reason::kBucketAlreadyOwnedByYou, "you already own bucket " + spec.name);
    }
    return S3Fail(S3Reason::kBucketAlreadyExists,
                  "bucket name " + spec.name + " is taken: bucket names are shared by all users");
  }
  // The bucket key of its SSE-KP root key first: an unusable key refuses the bucket.
  std::optional<BucketKey> key;
  if (!bucket.sse_kp_root_key_crn.empty()) {
    key = VEIL_TRY_VALUE(MakeBucketKey(bucket, bucket.sse_kp_root_key_crn));
  }
  auto stored = store_.db().WithTransaction([&](store::Tx& tx) -> Status {
    if (options_.hold_instance) {
      auto held = options_.hold_instance(tx, bucket.instance_guid);
      if (!held && held.error().code == ErrorCode::kNotFound) {
        return S3Fail(S3Reason::kAccessDenied, "the object storage instance no longer exists");
      }
      VEIL_TRY(held);
    }
    VEIL_TRY(store_.InsertBucket(tx, bucket));
    if (key) VEIL_TRY(store_.InsertBucketKey(tx, *key));
    return OkStatus();
  });
  if (!stored) {
    if (key) (void)kms_.Unregister(ActingFor(bucket), key->root_key_crn, bucket.crn);
    if (stored.error().code == ErrorCode::kAlreadyExists) {
      return S3Fail(S3Reason::kBucketAlreadyExists, "bucket name " + spec.name + " is taken");
    }
    return tl::unexpected(stored.error());
  }
  return bucket;
}

Result<Bucket> CosService::GetBucket(std::string_view name) {
  auto bucket = store_.GetBucket(store_.db(), name);
  if (!bucket && bucket.error().code == ErrorCode::kNotFound) {
    return S3Fail(S3Reason::kNoSuchBucket, "the bucket does not exist");
  }
  return bucket;
}

Result<std::vector<Bucket>> CosService::ListBuckets(std::string_view instance_guid) {
  return store_.ListBuckets(store_.db(), instance_guid);
}

Status CosService::DeleteBucket(const Bucket& bucket) {
  std::vector<BucketKey> keys;
  auto deleted = store_.db().WithTransaction([&](store::Tx& tx) -> Status {
    if (VEIL_TRY_VALUE(store_.BucketHasObjects(tx, bucket.id))) {
      return S3Fail(S3Reason::kBucketNotEmpty, "the bucket you tried to delete is not empty");
    }
    keys = VEIL_TRY_VALUE(store_.BucketKeysOfBucket(tx, bucket.id));
    return store_.DeleteBucket(tx, bucket.id);
  });
  if (!deleted) return deleted;
  std::set<std::string> roots;
  for (const BucketKey& key : keys) {
    {
      std::lock_guard lock(cache_mu_);
      cache_.erase(key.id);
    }
    if (!key.root_key_crn.empty()) roots.insert(key.root_key_crn);
  }
  for (const std::string& root : roots) {
    auto s = kms_.Unregister(ActingFor(bucket), root, bucket.crn);
    if (!s) log::Warn(kLog, "cannot unregister bucket " + bucket.name + ": " + s.error().message);
  }
  return OkStatus();
}

Status CosService::SetBucketEncryption(const Bucket& bucket, std::string_view root_key_crn) {
  const std::string canonical = VEIL_TRY_VALUE(CanonicalRootKey(root_key_crn));
  if (!canonical.empty()) VEIL_TRY(EnsureBucketKey(bucket, canonical));
  return store_.SetDefaultKmsKey(store_.db(), bucket.id, canonical);
}

// --- Objects

Result<DataFile> CosService::WriteDataFile(const SecretBytes& dek, std::string_view object_id,
                                           uint32_t part_number, UploadBody& body,
                                           std::array<uint8_t, 16>& md5) {
  DataFile file;
  file.file_id = part_number == 0 ? std::string(object_id) : NewUuidV4String(random_);
  file.part_number = part_number;
  const std::string path = FilePath(file.file_id);
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Internal("cannot create the object directory: " + ec.message());
  auto writer = VEIL_TRY_VALUE(ObjectFileWriter::Create(
      tmp, dek, ObjectFileId{std::string(object_id), part_number}, random_));
  crypto::Md5Hasher hasher;
  std::vector<uint8_t> buffer(options_.io_buffer_size);
  for (;;) {
    size_t n = VEIL_TRY_VALUE(body.Read(buffer));
    if (n == 0) break;
    std::span<const uint8_t> piece(buffer.data(), n);
    hasher.Update(piece);
    VEIL_TRY(writer->Write(piece));
  }
  VEIL_TRY(body.Verify());
  file.size = VEIL_TRY_VALUE(writer->Finish());
  md5 = hasher.Finish();
  writer.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Internal("cannot rename an object's data file into place");
  }
  VEIL_TRY(SyncDirectory(fs::path(path).parent_path().string()));
  return file;
}

Result<Object> CosService::PutObject(const Bucket& bucket, const PutObjectSpec& spec,
                                     UploadBody& body) {
  if (spec.key.empty() || spec.key.size() > kMaxKeyBytes) {
    return S3Fail(S3Reason::kInvalidArgument, "object keys are 1 to 1024 bytes");
  }
  if (spec.if_none_match_any && store_.GetObject(store_.db(), bucket.id, spec.key)) {
    return S3Fail(S3Reason::kPreconditionFailed, "the object exists (If-None-Match: *)");
  }
  std::string root = VEIL_TRY_VALUE(CanonicalRootKey(spec.root_key_crn));
  if (root.empty()) root = bucket.DefaultRootKey();
  Object object;
  object.bucket_id = bucket.id;
  object.key = spec.key;
  object.id = NewUuidV4String(random_);
  object.root_key_crn = root;
  object.headers = spec.headers;
  auto [sealed, dek] = VEIL_TRY_VALUE(NewDek(bucket, root, object.id, &object.bucket_key_id));
  object.sealed_dek = std::move(sealed);
  std::array<uint8_t, 16> md5{};
  DataFile file = VEIL_TRY_VALUE(WriteDataFile(dek, object.id, 0, body, md5));
  if (spec.content_md5 && *spec.content_md5 != md5) {
    RemoveFiles({file});
    return S3Fail(S3Reason::kBadDigest,
                  "the Content-MD5 you specified did not match what we received");
  }
  object.size = file.size;
  object.etag = "\"" + HexEncode(md5) + "\"";
  object.modified_ms = NowMs();
  object.files = {file};
  auto old = store_.db().WithTransaction([&](store::Tx& tx) -> Result<std::optional<Object>> {
    if (spec.if_none_match_any && store_.GetObject(tx, bucket.id, spec.key)) {
      return S3Fail(S3Reason::kPreconditionFailed, "the object exists (If-None-Match: *)");
    }
    return store_.PutObject(tx, object);
  });
  if (!old) {
    RemoveFiles(object.files);
    return tl::unexpected(old.error());
  }
  if (*old) RemoveFiles((*old)->files);
  return object;
}

Result<Object> CosService::HeadObject(const Bucket& bucket, std::string_view key) {
  auto object = store_.GetObject(store_.db(), bucket.id, key);
  if (!object && object.error().code == ErrorCode::kNotFound) {
    return S3Fail(S3Reason::kNoSuchKey, "the specified key does not exist");
  }
  return object;
}

Result<std::unique_ptr<ObjectReader>> CosService::OpenObject(const Bucket& bucket,
                                                             const Object& object) {
  SecretBytes dek =
      VEIL_TRY_VALUE(DekOf(bucket, object.bucket_key_id, object.id, object.sealed_dek));
  std::vector<std::unique_ptr<ObjectFileReader>> files;
  uint64_t total = 0;
  for (const DataFile& f : object.files) {
    auto reader = VEIL_TRY_VALUE(
        ObjectFileReader::Open(FilePath(f.file_id), dek, ObjectFileId{object.id, f.part_number}));
    if (reader->size() != f.size) return DataLoss("an object's data file has the wrong size");
    total += reader->size();
    files.push_back(std::move(reader));
  }
  if (total != object.size) return DataLoss("an object's data files do not add up to its size");
  return std::unique_ptr<ObjectReader>(new MultiFileReader(std::move(files)));
}

Result<bool> CosService::DeleteObject(const Bucket& bucket, std::string_view key) {
  auto old = VEIL_TRY_VALUE(store_.db().WithTransaction(
      [&](store::Tx& tx) { return store_.DeleteObject(tx, bucket.id, key); }));
  if (!old) return false;
  RemoveFiles(old->files);
  return true;
}

void CosService::RemoveFiles(const std::vector<DataFile>& files) {
  for (const DataFile& f : files) {
    if (::unlink(FilePath(f.file_id).c_str()) != 0 && errno != ENOENT) {
      log::Warn(kLog, "cannot remove a data file (start-up recovery will): " +
                          std::string(std::strerror(errno)));
    }
  }
}

Result<ListResult> CosService::ListObjects(const Bucket& bucket, const ListSpec& spec) {
  ListResult result;
  std::string after = spec.after;
  size_t count = 0;
  const size_t max_keys = std::min<size_t>(spec.max_keys, 1000);
  bool more = true;
  while (more) {
    ListQuery query{bucket.id, spec.prefix, after, max_keys - count + 1};
    auto batch = VEIL_TRY_VALUE(store_.ListObjects(store_.db(), query));
    more = batch.size() == query.limit;
    for (Object& object : batch) {
      if (count == max_keys) {
        result.truncated = true;
        return result;
      }
      const std::string_view rest = std::string_view(object.key).substr(spec.prefix.size());
      size_t cut = spec.delimiter.empty() ? std::string_view::npos : rest.find(spec.delimiter);
      if (cut != std::string_view::npos) {
        std::string prefix = spec.prefix + std::string(rest.substr(0, cut + spec.delimiter.size()));
        result.next_marker = prefix;
        after = prefix + "\xFF";  // past every key under this common prefix (UTF-8 has no 0xFF)
        result.common_prefixes.push_back(std::move(prefix));
        ++count;
        more = true;
        break;
      }
      after = object.key;
      result.next_marker = object.key;
      result.objects.push_back(std::move(object));
      ++count;
    }
    if (count == max_keys && !result.truncated) {
      ListQuery probe{bucket.id, spec.prefix, after, 1};
      result.truncated = !VEIL_TRY_VALUE(store_.ListObjects(store_.db(), probe)).empty();
      return result;
    }
  }
  return result;
}

Result<size_t> CosService::Recover() {
  const std::set<std::string> referenced = VEIL_TRY_VALUE(store_.ReferencedFiles(store_.db()));
  size_t removed = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(fs::path(options_.data_dir) / "objects", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string name = it->path().filename().string();
    if (name.ends_with(".tmp") || !referenced.contains(name)) {
      if (::unlink(it->path().c_str()) == 0) ++removed;
    }
  }
  if (ec) return Internal("cannot scan the object directory: " + ec.message());
  return removed;
}

namespace {

class RangeBody final : public UploadBody {
 public:
  RangeBody(std::shared_ptr<ObjectReader> reader, uint64_t start, uint64_t length)
      : reader_(std::move(reader)), pos_(start), end_(start + length) {}
  Result<size_t> Read(std::span<uint8_t> out) override {
    if (pos_ >= end_) return size_t{0};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), end_ - pos_));
    const size_t got = VEIL_TRY_VALUE(reader_->ReadAt(pos_, out.first(want)));
    if (got == 0) return DataLoss("the source object ended early");
    pos_ += got;
    return got;
  }
  Status Verify() override { return OkStatus(); }

 private:
  std::shared_ptr<ObjectReader> reader_;
  uint64_t pos_;
  uint64_t end_;
};

}  // namespace

std::unique_ptr<UploadBody> ObjectRangeBody(std::shared_ptr<ObjectReader> reader, uint64_t start,
                                            uint64_t length) {
  return std::make_unique<RangeBody>(std::move(reader), start, length);
}

Result<std::unique_ptr<ObjectReader>> OpenObjectUrl(CosService& cos, std::string_view url,
                                                    std::string_view account_id) {
  ObjectUrl parsed = VEIL_TRY_VALUE(ObjectUrl::Parse(url));
  if (parsed.region != cos.options().region) {
    return NotFound("object storage has no region " + parsed.region + " (this one is " +
                    cos.options().region + ")");
  }
  Bucket bucket = VEIL_TRY_VALUE(cos.GetBucket(parsed.bucket));
  if (bucket.account_id != account_id) {
    return PermissionDenied("bucket " + parsed.bucket + " belongs to another account");
  }
  Object object = VEIL_TRY_VALUE(cos.HeadObject(bucket, parsed.object));
  return cos.OpenObject(bucket, object);
}

}  // namespace veil::cos
