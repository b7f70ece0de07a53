// InMemorySink: an AuditSink that keeps events in memory, for tests of the layers that emit
// events (the HTTP layer's "one event per request", services' event fields). It can be told to
// fail, to test what an emitter does when the audit trail is unavailable.
//
// Thread-safety: every function may be called from any thread concurrently.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

#include "audit/sink.h"
#include "common/result.h"

namespace veil::audit {

class InMemorySink final : public AuditSink {
 public:
  // Records a copy of `event`, or returns the error set by FailWith() (and records nothing).
  [[nodiscard]] Status Emit(const Event& event) override;

  // A snapshot of the events recorded so far, in Emit() order.
  std::vector<Event> events() const;
  std::size_t size() const;
  void Clear();
  // Makes every later Emit() fail with `error`; std::nullopt restores normal recording.
  void FailWith(std::optional<Error> error);

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::optional<Error> failure_;
};

}  // namespace veil::audit
