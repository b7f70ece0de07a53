#include "http/error_map.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "common/encoding.h"

namespace veil::http {

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kOutOfRange:
      return 416;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kCancelled:
      return 499;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kDataLoss:
      return 500;
    case ErrorCode::kUnimplemented:
      return 501;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kDeadlineExceeded:
      return 504;
  }
  return 500;
}

ErrorCode ErrorCodeForHttpStatus(int status) {
  if (status < 400) return ErrorCode::kOk;
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 408:
      return ErrorCode::kDeadlineExceeded;
    case 409:
      return ErrorCode::kAlreadyExists;
    case 412:
      return ErrorCode::kFailedPrecondition;
    case 413:
      return ErrorCode::kResourceExhausted;
    case 416:
      return ErrorCode::kOutOfRange;
    case 429:
      return ErrorCode::kResourceExhausted;
    case 431:
      return ErrorCode::kResourceExhausted;
    case 499:
      return ErrorCode::kCancelled;
    case 501:
      return ErrorCode::kUnimplemented;
    case 503:
      return ErrorCode::kUnavailable;
    case 504:
      return ErrorCode::kDeadlineExceeded;
    default:
      break;
  }
  return status < 500 ? ErrorCode::kInvalidArgument : ErrorCode::kInternal;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

std::string_view ErrorSlug(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 409:
      return "conflict";
    case 412:
      return "precondition_failed";
    case 413:
      return "request_entity_too_large";
    case 416:
      return "range_not_satisfiable";
    case 429:
      return "too_many_requests";
    case 431:
      return "request_header_fields_too_large";
    case 499:
      return "client_closed_request";
    case 501:
      return "not_implemented";
    case 503:
      return "service_unavailable";
    case 504:
      return "gateway_timeout";
    default:
      return status >= 500 ? "internal_error" : "bad_request";
  }
}

Error BodyTooLarge(uint64_t limit) {
  return Error(ErrorCode::kResourceExhausted,
               "request body exceeds the limit of " + std::to_string(limit) + " bytes");
}

Response RenderJsonError(const Error& error, int status, const RequestContext& ctx) {
  boost::json::object item;
  item["code"] = error.reason ? error.reason.Name() : ErrorSlug(status);
  item["message"] = error.message;
  item["more_info"] = "";
  boost::json::object body;
  body["errors"] = boost::json::array{std::move(item)};
  body["trace"] = ctx.request_id();
  body["status_code"] = status;
  return Response::Json(status, body);
}

ErrorRenderer JsonErrorRenderer() { return &RenderJsonError; }

std::string_view S3ErrorCode(int status) {
  switch (status) {
    case 400:
      return "InvalidRequest";
    case 401:
    case 403:
      return "AccessDenied";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 408:
      return "RequestTimeout";
    case 409:
      return "Conflict";
    case 411:
      return "MissingContentLength";
    case 412:
      return "PreconditionFailed";
    case 413:
      return "EntityTooLarge";
    case 416:
      return "InvalidRange";
    case 429:
      return "SlowDown";
    case 501:
      return "NotImplemented";
    case 503:
      return "ServiceUnavailable";
    default:
      return status >= 500 ? "InternalError" : "InvalidRequest";
  }
}

namespace {

void AppendElement(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  AppendXmlEscaped(out, text);
  out += "</";
  out += name;
  out += '>';
}

}  // namespace

Response RenderXmlError(const Error& error, int status, const RequestContext& ctx) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>";
  AppendElement(body, "Code", error.reason ? error.reason.Name() : S3ErrorCode(status));
  AppendElement(body, "Message", error.message);
  AppendElement(body, "Resource", ctx.request().path);
  AppendElement(body, "RequestId", ctx.request_id());
  body += "</Error>";
  return Response::Xml(status, std::move(body));
}

ErrorRenderer XmlErrorRenderer() { return &RenderXmlError; }

}  // namespace veil::http
