#include "http/context.h"

#include <utility>

#include "http/error_map.h"

namespace veil::http {

RequestContext::RequestContext(Request request, std::string request_id, std::string correlation_id)
    : request_(std::move(request)),
      request_id_(std::move(request_id)),
      correlation_id_(std::move(correlation_id)),
      start_time_(std::chrono::steady_clock::now()) {}

Response RequestContext::ErrorResponse(const Error& error, std::optional<int> status) const {
  int s = status.value_or(HttpStatusFor(error.code));
  if (renderer_ != nullptr && *renderer_) return (*renderer_)(error, s, *this);
  return RenderJsonError(error, s, *this);
}

}  // namespace veil::http
