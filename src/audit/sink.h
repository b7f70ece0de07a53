// AuditSink: where audit events go. The JSON-lines file sink is the first implementation; the
// tamper-evident hash-chained trail (a later issue) is the second.
//
// Thread-safety: implementations must accept Emit() from any thread concurrently.
#pragma once

#include "audit/event.h"
#include "common/result.h"

namespace veil::audit {

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Records one event durably (per the implementation's contract) or returns why it could not.
  [[nodiscard]] virtual Status Emit(const Event& event) = 0;
};

}  // namespace veil::audit
