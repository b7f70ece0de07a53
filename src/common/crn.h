// Cloud resource names (CRNs) and cos:// object URLs: parsing and formatting.
//
// Grammar (10 colon-separated fields, docs/design.md "Identifiers"):
//
//   crn:v1:<cname>:<ctype>:<service>:<region>:<scope>:<service_instance>:<resource_type>:<resource>
//
//   e.g. crn:v1:veil:private:kms:local:a/0f1e2d:3c4b5a69-...:key:7d8e9f...
//
// Rules enforced by Crn::Parse (violations -> kInvalidArgument naming the field):
//   - literal "crn" and "v1"; cname, ctype and service are non-empty;
//   - scope is empty or "a/<account>" with a non-empty account;
//   - region, service_instance, resource_type and resource may be empty (a service-level CRN such
//     as "crn:v1:veil:private:kms:local:a/acct:inst::" names an instance, not a resource);
//   - every field uses only ALPHA / DIGIT / "-" / "_" / "." / "~" (the "/" of the scope aside),
//     so a CRN never needs escaping in a URL path, a header or a policy; no field contains ':';
//   - at most 512 characters in total.
// Format(Parse(x)) == x for every accepted x.
//
// Object URLs: cos://<region>/<bucket>/<object>, e.g. cos://local/images/disk.luks. The region is
// [a-z0-9-]+, the bucket follows the S3 naming rules (3-63 of [a-z0-9.-], starting and ending with
// a letter or digit, no ".."), the object key is the non-empty rest (may contain '/', at most 1024
// bytes, no control characters). No percent-decoding is done.
//
// Thread-safety: values and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace veil {

struct Crn {
  std::string cname = "veil";
  std::string ctype = "private";
  std::string service;
  std::string region = "local";
  std::string account;  // the <account> of the "a/<account>" scope; empty = no scope
  std::string service_instance;
  std::string resource_type;
  std::string resource;

  [[nodiscard]] static Result<Crn> Parse(std::string_view text);
  // The canonical text form. Precondition: the fields satisfy the rules above (use Validate()).
  std::string ToString() const;
  // Checks the fields against the rules above, as Parse does.
  [[nodiscard]] Status Validate() const;

  friend bool operator==(const Crn&, const Crn&) = default;
};

struct ObjectUrl {
  std::string region;
  std::string bucket;
  std::string object;

  [[nodiscard]] static Result<ObjectUrl> Parse(std::string_view text);
  std::string ToString() const;

  friend bool operator==(const ObjectUrl&, const ObjectUrl&) = default;
};

// S3 bucket naming rules, as above.
bool IsValidBucketName(std::string_view name);

}  // namespace veil
