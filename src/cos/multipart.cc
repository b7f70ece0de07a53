// CosService's multipart uploads (cos_service.h).
#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"
#include "common/uuid.h"
#include "cos/cos_service.h"
#include "cos/errors.h"
#include "crypto/hash.h"

namespace veil::cos {
namespace {

std::string Unquoted(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

tl::unexpected<Error> NoSuchUpload() {
  return S3Fail(S3Reason::kNoSuchUpload,
                "The specified upload does not exist: it may have been aborted or completed");
}

}  // namespace

Result<Upload> CosService::CreateUpload(const Bucket& bucket, const CreateUploadSpec& spec) {
  if (spec.key.empty() || spec.key.size() > kMaxKeyBytes) {
    return S3Fail(S3Reason::kInvalidArgument, "object keys are 1 to 1024 bytes");
  }
  Upload upload;
  std::string root = VEIL_TRY_VALUE(CanonicalRootKey(spec.root_key_crn));
  if (root.empty()) root = bucket.DefaultRootKey();
  upload.id = HexEncode(random_.Bytes(16));
  upload.bucket_id = bucket.id;
  upload.key = spec.key;
  upload.object_id = NewUuidV4String(random_);
  upload.initiated_ms = NowMs();
  upload.root_key_crn = root;
  upload.headers = spec.headers;
  upload.owner = spec.owner;
  auto [sealed, dek] =
      VEIL_TRY_VALUE(NewDek(bucket, root, upload.object_id, &upload.bucket_key_id));
  upload.sealed_dek = std::move(sealed);
  VEIL_TRY(store_.InsertUpload(store_.db(), upload));
  return upload;
}

Result<Upload> CosService::GetUpload(const Bucket& bucket, std::string_view key,
                                     std::string_view upload_id) {
  auto upload = store_.GetUpload(store_.db(), upload_id);
  if (!upload) {
    if (upload.error().code == ErrorCode::kNotFound) return NoSuchUpload();
    return tl::unexpected(upload.error());
  }
  if (upload->bucket_id != bucket.id || upload->key != key) return NoSuchUpload();
  return upload;
}

Result<Part> CosService::UploadPart(const Bucket& bucket, const Upload& upload,
                                    uint32_t part_number,
                                    const std::optional<std::array<uint8_t, 16>>& content_md5,
                                    UploadBody& body) {
  if (part_number < 1 || part_number > kMaxParts) {
    return S3Fail(S3Reason::kInvalidArgument, "Part number must be an integer between 1 and 10000");
  }
  SecretBytes dek =
      VEIL_TRY_VALUE(DekOf(bucket, upload.bucket_key_id, upload.object_id, upload.sealed_dek));
  std::array<uint8_t, 16> md5{};
  DataFile file = VEIL_TRY_VALUE(WriteDataFile(dek, upload.object_id, part_number, body, md5));
  if (content_md5 && *content_md5 != md5) {
    RemoveFiles({file});
    return S3Fail(S3Reason::kBadDigest,
                  "the Content-MD5 you specified did not match what we received");
  }
  Part part{part_number, file.file_id, file.size, "\"" + HexEncode(md5) + "\"", NowMs()};
  auto old = store_.db().WithTransaction([&](store::Tx& tx) -> Result<std::optional<Part>> {
    auto still = store_.GetUpload(tx, upload.id);
    if (!still) {
      if (still.error().code == ErrorCode::kNotFound) return NoSuchUpload();
      return tl::unexpected(still.error());
    }
    return store_.PutPart(tx, upload.id, part);
  });
  if (!old) {
    RemoveFiles({file});
    return tl::unexpected(old.error());
  }
  if (*old) RemoveFiles({DataFile{(*old)->file_id, part_number, (*old)->size, ""}});
  return part;
}

Result<Object> CosService::CompleteUpload(const Bucket& bucket, const Upload& upload,
                                          const std::vector<CompletePart>& wanted) {
  if (wanted.empty()) {
    return S3Fail(S3Reason::kMalformedXml, "CompleteMultipartUpload names no part");
  }
  for (size_t i = 1; i < wanted.size(); ++i) {
    if (wanted[i].part_number <= wanted[i - 1].part_number) {
      return S3Fail(S3Reason::kInvalidPartOrder,
                    "The list of parts was not in ascending order: parts must be ordered by part "
                    "number");
    }
  }
  Object object;
  std::vector<DataFile> dropped;
  auto committed = store_.db().WithTransaction([&](store::Tx& tx) -> Result<std::optional<Object>> {
    if (!store_.GetUpload(tx, upload.id)) return NoSuchUpload();
    auto stored = VEIL_TRY_VALUE(store_.ListParts(tx, upload.id, 0, kMaxParts + 1));
    object = Object{};
    object.bucket_id = bucket.id;
    object.key = upload.key;
    object.id = upload.object_id;
    object.bucket_key_id = upload.bucket_key_id;
    object.sealed_dek = upload.sealed_dek;
    object.root_key_crn = upload.root_key_crn;
    object.headers = upload.headers;
    object.modified_ms = NowMs();
    // Every part named must exist with its ETag before any size rule is judged (as S3).
    std::vector<const Part*> chosen;
    for (const CompletePart& w : wanted) {
      auto it = std::find_if(stored.begin(), stored.end(),
                             [&](const Part& p) { return p.part_number == w.part_number; });
      if (it == stored.end() || Unquoted(it->etag) != Unquoted(w.etag)) {
        return S3Fail(S3Reason::kInvalidPart,
                      "One or more of the specified parts could not be found or its ETag did not "
                      "match: part " +
                          std::to_string(w.part_number));
      }
      chosen.push_back(&*it);
    }
    crypto::Md5Hasher etags;
    for (size_t i = 0; i < chosen.size(); ++i) {
      const Part& part = *chosen[i];
      if (i + 1 < chosen.size() && part.size < options_.min_part_size) {
        return S3Fail(S3Reason::kEntityTooSmall,
                      "Your proposed upload is smaller than the minimum allowed size: part " +
                          std::to_string(part.part_number) + " is " + std::to_string(part.size) +
                          " bytes, every part but the last must be at least " +
                          std::to_string(options_.min_part_size));
      }
      auto md5 = VEIL_TRY_VALUE(HexDecode(Unquoted(part.etag)));
      etags.Update(md5);
      object.size += part.size;
      object.files.push_back(DataFile{part.file_id, part.part_number, part.size, part.etag});
    }
    object.etag = "\"" + HexEncode(etags.Finish()) + "-" + std::to_string(wanted.size()) + "\"";
    dropped.clear();
    for (const Part& p : stored) {
      bool used = std::any_of(object.files.begin(), object.files.end(),
                              [&](const DataFile& f) { return f.file_id == p.file_id; });
      if (!used) dropped.push_back(DataFile{p.file_id, p.part_number, p.size, p.etag});
    }
    VEIL_TRY(store_.DeleteUpload(tx, upload.id));
    return store_.PutObject(tx, object);
  });
  if (!committed) return tl::unexpected(committed.error());
  if (*committed) {
    for (const DataFile& f : (*committed)->files) dropped.push_back(f);
  }
  RemoveFiles(dropped);
  return object;
}

Status CosService::AbortUpload(const Bucket&, const Upload& upload) {
  auto parts =
      VEIL_TRY_VALUE(store_.db().WithTransaction([&](store::Tx& tx) -> Result<std::vector<Part>> {
        if (!store_.GetUpload(tx, upload.id)) return NoSuchUpload();
        return store_.DeleteUpload(tx, upload.id);
      }));
  std::vector<DataFile> files;
  for (const Part& p : parts) files.push_back(DataFile{p.file_id, p.part_number, p.size, ""});
  RemoveFiles(files);
  return OkStatus();
}

Result<std::vector<Part>> CosService::ListParts(const Upload& upload, uint32_t after,
                                                size_t limit) {
  return store_.ListParts(store_.db(), upload.id, after, limit);
}

Result<std::vector<Upload>> CosService::ListUploads(const Bucket& bucket, std::string_view prefix,
                                                    std::string_view key_marker,
                                                    std::string_view upload_id_marker,
                                                    size_t limit) {
  return store_.ListUploads(store_.db(), bucket.id, prefix, key_marker, upload_id_marker, limit);
}

}  // namespace veil::cos
