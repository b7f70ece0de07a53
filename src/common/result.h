// Result<T> and Error: Veil's one error model.
//
// Every fallible function returns Result<T> (a tl::expected<T, Error>) and is [[nodiscard]].
// An Error has a canonical ErrorCode (what kind of failure, for any caller) and may carry a
// typed, service-defined reason (which failure, in the service's own words: KmsReason, ...).
// HTTP stays out of both: each API dialect maps codes and reasons to statuses and bodies in its
// own `api/` folder, on top of src/http's one generic ErrorCode <-> status table.
// Our code does not throw: exceptions from libraries are caught in their adapters and become an
// Error; C return codes become Errors in their RAII wrappers. Invariants that only a bug can break
// use VEIL_CHECK, which aborts. Never VEIL_CHECK external input.
//
// Thread-safety: values; no shared state.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <type_traits>
#include <utility>

namespace veil {

// Canonical codes. Each API dialect maps them to its own status and body in one table
// (see src/http/error_map.h).
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kDataLoss,
  kInternal,
  kCancelled,
  kDeadlineExceeded,
  kUnimplemented,
  kOutOfRange,
};

std::string_view ErrorCodeName(ErrorCode code);

// A family of typed reasons: one per service, defined beside its `enum class` of reasons.
// A service declares, in its namespace (found by argument-dependent lookup):
//   enum class KmsReason { ... };
//   const ErrorDomain& ErrorDomainOf(KmsReason);
// and the domain's functions give each reason its ErrorCode and its name (the code word that
// API's clients know, e.g. "KEY_DELETED_ERR").
struct ErrorDomain {
  std::string_view name;                    // "kms"
  ErrorCode (*code_of)(int reason);         // the canonical code of a reason
  std::string_view (*name_of)(int reason);  // "KEY_DELETED_ERR"
};

// A reason of some domain, or none (domain == nullptr).
struct ErrorReason {
  const ErrorDomain* domain = nullptr;
  int value = 0;

  explicit operator bool() const { return domain != nullptr; }
  // The reason's name; "" for none.
  std::string_view Name() const { return domain ? domain->name_of(value) : std::string_view(); }
};

template <typename E>
concept ErrorReasonEnum = std::is_enum_v<E> && requires(E e) {
  { ErrorDomainOf(e) } -> std::same_as<const ErrorDomain&>;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  // Human-readable, safe to show to a client and to log: never a secret.
  std::string message;
  // The service's reason, when it gave one.
  ErrorReason reason;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
  // An error with a typed reason; its code is the one the reason's domain gives it.
  template <ErrorReasonEnum E>
  Error(E r, std::string m)
      : code(ErrorDomainOf(r).code_of(static_cast<int>(r))),
        message(std::move(m)),
        reason{&ErrorDomainOf(r), static_cast<int>(r)} {}

  // The reason if it is one of E's, else nullopt.
  template <ErrorReasonEnum E>
  std::optional<E> ReasonAs() const {
    if (reason.domain != &ErrorDomainOf(E{})) return std::nullopt;
    return static_cast<E>(reason.value);
  }
  template <ErrorReasonEnum E>
  bool Is(E r) const {
    return ReasonAs<E>() == r;
  }

  // "NotFound: key abc does not exist", "FailedPrecondition [KEY_DELETED_ERR]: key abc ..."
  std::string ToString() const;
  // Prefixes the message with context: Error{kNotFound, "x"}.Wrap("open db") -> "open db: x".
  Error Wrap(std::string_view context) const&;
  Error Wrap(std::string_view context) &&;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
// An error with a typed reason: return Fail(KmsReason::kKeyDeleted, "...").
template <ErrorReasonEnum E>
tl::unexpected<Error> Fail(E reason, std::string message) {
  return tl::unexpected<Error>(Error(reason, std::move(message)));
}
inline tl::unexpected<Error> InvalidArgument(std::string m) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(m));
}
inline tl::unexpected<Error> NotFound(std::string m) {
  return MakeError(ErrorCode::kNotFound, std::move(m));
}
inline tl::unexpected<Error> AlreadyExists(std::string m) {
  return MakeError(ErrorCode::kAlreadyExists, std::move(m));
}
inline tl::unexpected<Error> PermissionDenied(std::string m) {
  return MakeError(ErrorCode::kPermissionDenied, std::move(m));
}
inline tl::unexpected<Error> Unauthenticated(std::string m) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(m));
}
inline tl::unexpected<Error> FailedPrecondition(std::string m) {
  return MakeError(ErrorCode::kFailedPrecondition, std::move(m));
}
inline tl::unexpected<Error> ResourceExhausted(std::string m) {
  return MakeError(ErrorCode::kResourceExhausted, std::move(m));
}
inline tl::unexpected<Error> Unavailable(std::string m) {
  return MakeError(ErrorCode::kUnavailable, std::move(m));
}
inline tl::unexpected<Error> DataLoss(std::string m) {
  return MakeError(ErrorCode::kDataLoss, std::move(m));
}
inline tl::unexpected<Error> Internal(std::string m) {
  return MakeError(ErrorCode::kInternal, std::move(m));
}
inline tl::unexpected<Error> Unimplemented(std::string m) {
  return MakeError(ErrorCode::kUnimplemented, std::move(m));
}
inline tl::unexpected<Error> OutOfRange(std::string m) {
  return MakeError(ErrorCode::kOutOfRange, std::move(m));
}
inline tl::unexpected<Error> DeadlineExceeded(std::string m) {
  return MakeError(ErrorCode::kDeadlineExceeded, std::move(m));
}

inline Status OkStatus() { return {}; }

[[noreturn]] void CheckFailed(const char* expr, const char* file, int line, const char* msg);

}  // namespace veil

// Aborts on a broken invariant (a bug), never on bad input.
#define VEIL_CHECK(cond)                                                  \
  do {                                                                    \
    if (!(cond)) ::veil::CheckFailed(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)
#define VEIL_CHECK_MSG(cond, msg)                                       \
  do {                                                                  \
    if (!(cond)) ::veil::CheckFailed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)

// Propagates an error: VEIL_TRY(status_expr); or auto v = VEIL_TRY_VALUE(result_expr)
// (the latter uses a GNU statement expression, supported by g++ and clang; __extension__ keeps
// -Wpedantic quiet about it).
// Each expansion names its variable uniquely (__COUNTER__), so that one may nest inside
// another's expression (VEIL_TRY(f(VEIL_TRY_VALUE(g())))) without shadowing.
#define VEIL_TRY(expr) VEIL_TRY_IMPL_(expr, VEIL_CONCAT_(veil_try_r_, __COUNTER__))
#define VEIL_TRY_VALUE(expr) VEIL_TRY_VALUE_IMPL_(expr, VEIL_CONCAT_(veil_try_v_, __COUNTER__))
#define VEIL_CONCAT_INNER_(a, b) a##b
#define VEIL_CONCAT_(a, b) VEIL_CONCAT_INNER_(a, b)
#define VEIL_TRY_IMPL_(expr, var)                   \
  do {                                              \
    auto var = (expr);                              \
    if (!var) return ::tl::unexpected(var.error()); \
  } while (0)
#define VEIL_TRY_VALUE_IMPL_(expr, var)             \
  __extension__({                                   \
    auto var = (expr);                              \
    if (!var) return ::tl::unexpected(var.error()); \
    std::move(*var);                                \
  })
