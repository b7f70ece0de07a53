#include "common/result.h"

#include <cstdio>
#include <cstdlib>

namespace veil {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "Ok";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "AlreadyExists";
    case ErrorCode::kPermissionDenied:
      return "PermissionDenied";
    case ErrorCode::kUnauthenticated:
      return "Unauthenticated";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kResourceExhausted:
      return "ResourceExhausted";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kDataLoss:
      return "DataLoss";
    case ErrorCode::kInternal:
      return "Internal";
    case ErrorCode::kCancelled:
      return "Cancelled";
    case ErrorCode::kDeadlineExceeded:
      return "DeadlineExceeded";
    case ErrorCode::kUnimplemented:
      return "Unimplemented";
    case ErrorCode::kOutOfRange:
      return "OutOfRange";
  }
  return "Unknown";
}

std::string Error::ToString() const {
  std::string s(ErrorCodeName(code));
  if (reason) {
    s += " [";
    s += reason.Name();
    s += "]";
  }
  s += ": ";
  s += message;
  return s;
}

Error Error::Wrap(std::string_view context) const& {
  Error wrapped = *this;
  wrapped.message = std::string(context) + ": " + message;
  return wrapped;
}
Error Error::Wrap(std::string_view context) && {
  message = std::string(context) + ": " + message;
  return std::move(*this);
}

void CheckFailed(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "VEIL_CHECK failed: %s at %s:%d%s%s\n", expr, file, line, msg ? ": " : "",
               msg ? msg : "");
  std::abort();
}

}  // namespace veil
