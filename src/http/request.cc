#include "http/request.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "common/encoding.h"

namespace veil::http {

BodyReader& Request::body() {
  if (body_ != nullptr) return *body_;
  return empty_body_;
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::PathParam(std::string_view name) const {
  auto it = path_params.find(std::string(name));
  if (it == path_params.end()) return std::nullopt;
  return std::string_view(it->second);
}

Result<ParsedTarget> ParseTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return InvalidArgument("request target must be an absolute path");
  }
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return InvalidArgument("malformed request target");
  const boost::urls::url_view& u = *parsed;
  ParsedTarget out;
  out.raw_path = std::string(u.encoded_path());
  auto path = PercentDecode(out.raw_path);
  if (!path) return tl::unexpected(path.error());
  out.path = std::move(*path);
  if (u.has_query()) {
    for (auto param : u.params()) {
      if (param.key.find('\0') != std::string::npos ||
          param.value.find('\0') != std::string::npos) {
        return InvalidArgument("NUL in request target");
      }
      out.query.emplace_back(std::move(param.key), std::move(param.value));
    }
  }
  return out;
}

}  // namespace veil::http
