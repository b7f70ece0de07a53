#include "iam/api/errors.h"

#include <boost/json/object.hpp>

namespace veil::iam::api {

std::string IamErrorCodeFor(int status) {
  if (status < 0 || status > 9999) status = 500;
  std::string code = "BXNIM0000E";
  for (size_t i = 8; status > 0; --i, status /= 10) code[i] = static_cast<char>('0' + status % 10);
  return code;
}

http::Response IamErrorResponse(const http::RequestContext& ctx, int status, std::string_view code,
                                std::string_view message) {
  boost::json::object context;
  context["requestId"] = ctx.request_id();
  context["correlationId"] = ctx.correlation_id();
  context["clientIp"] = ctx.request().remote_address;
  context["url"] = ctx.request().path;  // never the query
  boost::json::object body;
  body["errorCode"] = code;
  body["errorMessage"] = message;
  body["context"] = std::move(context);
  return http::Response::Json(status, body);
}

http::ErrorRenderer IamErrorRenderer() {
  return [](const Error& error, int status, const http::RequestContext& ctx) {
    return IamErrorResponse(ctx, status, IamErrorCodeFor(status), error.message);
  };
}

}  // namespace veil::iam::api
