// The object storage's records: buckets, their keys, objects and the data files that hold them.
//
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace veil::cos {

struct Bucket {
  std::string id;  // internal, names the bucket's directory; never shown
  std::string name;
  std::string account_id;
  std::string instance_guid;  // the cloud-object-storage instance that owns it
  std::string location;       // LocationConstraint, e.g. "local-standard"
  // SSE-KP: the root key named at creation (ibm-sse-kp-customer-root-key-crn), else empty.
  std::string sse_kp_root_key_crn;
  // PutBucketEncryption's aws:kms key, else empty (the SSE-KP key takes precedence).
  std::string default_kms_key_crn;
  int64_t created_ms = 0;
  std::string
      crn;  // crn:v1:veil:private:cloud-object-storage:<region>:a/<acct>:<inst>:bucket:<name>

  // The root key new objects are wrapped under when the request names none ("" = the service's
  // own HSM-held key).
  const std::string& DefaultRootKey() const {
    return sse_kp_root_key_crn.empty() ? default_kms_key_crn : sse_kp_root_key_crn;
  }
};

// A bucket's intermediate key under one root key (as S3 Bucket Keys): 32 random bytes wrapped by
// the root key through the KMS (or sealed by the HSM when root_key_crn is empty). Object DEKs are
// sealed under it, so that hot objects cost no KMS call and a rotation rewraps one blob per
// bucket and root key, not one per object.
struct BucketKey {
  std::string id;
  std::string bucket_id;
  std::string root_key_crn;  // "" = the service's HSM key
  std::string wrapped;       // the KMS ciphertext (base64) or the HSM seal (base64)
  std::string key_version;   // the root key version that wrapped it
};

// One data file of an object (docs/formats/cos-object.md): a single PUT has one, part 0; a
// multipart object has one per part, in order.
struct DataFile {
  std::string file_id;  // the file's name under the data directory
  uint32_t part_number = 0;
  uint64_t size = 0;  // plaintext bytes
  std::string etag;   // the part's ETag (multipart), "" for a single PUT
};

struct Object {
  std::string bucket_id;
  std::string key;
  std::string id;  // the identity bound into its data files
  uint64_t size = 0;
  std::string etag;  // quoted as S3 sends it: "\"<md5 hex>\"" or "\"<hex>-<parts>\""
  int64_t modified_ms = 0;
  std::string bucket_key_id;
  std::string sealed_dek;  // base64 of iv || AES-256-GCM(bucket key, DEK) || tag
  // The root key the object was written under (echoed as x-amz-server-side-encryption-aws-kms-
  // key-id), "" for the service's own key.
  std::string root_key_crn;
  // Content-Type, Content-Disposition, Content-Encoding, Cache-Control, Expires, Content-Language,
  // x-amz-meta-*, and the checksums: as they are returned on GET and HEAD (lower-case names).
  std::map<std::string, std::string> headers;
  std::vector<DataFile> files;
};

// A multipart upload in progress: its object's identity and key are fixed at creation, each
// part is a data file of its own (re-uploading a part replaces it), Complete stitches the parts
// into an Object without rewriting them.
struct Upload {
  std::string id;  // the UploadId
  std::string bucket_id;
  std::string key;
  std::string object_id;
  int64_t initiated_ms = 0;
  std::string bucket_key_id;
  std::string sealed_dek;
  std::string root_key_crn;
  std::map<std::string, std::string> headers;
  std::string owner;  // the initiator's IAM id
};

struct Part {
  uint32_t part_number = 0;
  std::string file_id;
  uint64_t size = 0;
  std::string etag;  // quoted MD5 of the part
  int64_t modified_ms = 0;
};

}  // namespace veil::cos
