#include "audit/in_memory_sink.h"

#include <utility>

namespace veil::audit {

Status InMemorySink::Emit(const Event& event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_) return tl::unexpected(*failure_);
  events_.push_back(event);
  return OkStatus();
}

std::vector<Event> InMemorySink::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::size_t InMemorySink::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

void InMemorySink::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  events_.clear();
}

void InMemorySink::FailWith(std::optional<Error> error) {
  std::lock_guard<std::mutex> lock(mu_);
  failure_ = std::move(error);
}

}  // namespace veil::audit
