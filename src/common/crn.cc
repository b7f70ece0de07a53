#include "common/crn.h"

#include <vector>

namespace veil {
namespace {

constexpr size_t kMaxCrnLength = 512;
constexpr size_t kMaxObjectKeyLength = 1024;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsFieldChar(char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.' || c == '~'; }

Status CheckField(std::string_view name, std::string_view value, bool required) {
  if (value.empty()) {
    if (required) return InvalidArgument("CRN: " + std::string(name) + " is empty");
    return OkStatus();
  }
  for (char c : value) {
    if (!IsFieldChar(c)) {
      return InvalidArgument("CRN: " + std::string(name) + " contains an invalid character");
    }
  }
  return OkStatus();
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

}  // namespace

Status Crn::Validate() const {
  VEIL_TRY(CheckField("cname", cname, true));
  VEIL_TRY(CheckField("ctype", ctype, true));
  VEIL_TRY(CheckField("service", service, true));
  VEIL_TRY(CheckField("region", region, false));
  VEIL_TRY(CheckField("account", account, false));
  VEIL_TRY(CheckField("service instance", service_instance, false));
  VEIL_TRY(CheckField("resource type", resource_type, false));
  VEIL_TRY(CheckField("resource", resource, false));
  if (ToString().size() > kMaxCrnLength) return InvalidArgument("CRN: longer than 512 characters");
  return OkStatus();
}

Result<Crn> Crn::Parse(std::string_view text) {
  if (text.size() > kMaxCrnLength) return InvalidArgument("CRN: longer than 512 characters");
  std::vector<std::string_view> f = Split(text, ':');
  if (f.size() != 10) return InvalidArgument("CRN: expected 10 colon-separated fields");
  if (f[0] != "crn") return InvalidArgument("CRN: must start with \"crn:\"");
  if (f[1] != "v1") return InvalidArgument("CRN: unsupported version (expected v1)");
  Crn crn;
  crn.cname = std::string(f[2]);
  crn.ctype = std::string(f[3]);
  crn.service = std::string(f[4]);
  crn.region = std::string(f[5]);
  std::string_view scope = f[6];
  if (!scope.empty()) {
    if (scope.substr(0, 2) != "a/" || scope.size() == 2) {
      return InvalidArgument("CRN: scope must be empty or a/<account>");
    }
    crn.account = std::string(scope.substr(2));
  }
  crn.service_instance = std::string(f[7]);
  crn.resource_type = std::string(f[8]);
  crn.resource = std::string(f[9]);
  VEIL_TRY(crn.Validate());
  return crn;
}

std::string Crn::ToString() const {
  std::string out = "crn:v1:";
  for (const std::string* part : {&cname, &ctype, &service, &region}) {
    out += *part;
    out += ':';
  }
  if (!account.empty()) {
    out += "a/";
    out += account;
  }
  for (const std::string* part : {&service_instance, &resource_type, &resource}) {
    out += ':';
    out += *part;
  }
  return out;
}

bool IsValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  auto alnum_end = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum_end(name.front()) || !alnum_end(name.back())) return false;
  if (name.find("..") != std::string_view::npos) return false;
  // Not shaped like an IPv4 address (S3 rule).
  bool digits_and_dots = true;
  int dots = 0;
  for (char c : name) {
    if (c == '.') {
      ++dots;
    } else if (!(c >= '0' && c <= '9')) {
      digits_and_dots = false;
    }
  }
  return !(digits_and_dots && dots == 3);
}

Result<ObjectUrl> ObjectUrl::Parse(std::string_view text) {
  constexpr std::string_view kScheme = "cos://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("object URL: must start with cos://");
  }
  std::string_view rest = text.substr(kScheme.size());
  size_t slash1 = rest.find('/');
  if (slash1 == std::string_view::npos) {
    return InvalidArgument("object URL: expected cos://<region>/<bucket>/<object>");
  }
  size_t slash2 = rest.find('/', slash1 + 1);
  if (slash2 == std::string_view::npos) {
    return InvalidArgument("object URL: expected cos://<region>/<bucket>/<object>");
  }
  ObjectUrl url;
  std::string_view region = rest.substr(0, slash1);
  std::string_view bucket = rest.substr(slash1 + 1, slash2 - slash1 - 1);
  std::string_view object = rest.substr(slash2 + 1);
  if (region.empty()) return InvalidArgument("object URL: region is empty");
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgument("object URL: invalid region");
    }
  }
  if (!IsValidBucketName(bucket)) return InvalidArgument("object URL: invalid bucket name");
  if (object.empty()) return InvalidArgument("object URL: object key is empty");
  if (object.size() > kMaxObjectKeyLength) {
    return InvalidArgument("object URL: object key longer than 1024 bytes");
  }
  for (char c : object) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return InvalidArgument("object URL: object key contains a control character");
    }
  }
  url.region = std::string(region);
  url.bucket = std::string(bucket);
  url.object = std::string(object);
  return url;
}

std::string ObjectUrl::ToString() const { return "cos://" + region + "/" + bucket + "/" + object; }

}  // namespace veil
