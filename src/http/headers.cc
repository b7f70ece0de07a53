#include "http/headers.h"

#include <algorithm>

#include "common/strings.h"

namespace veil::http {

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) out.emplace_back(v);
  }
  return out;
}

void Headers::Set(std::string_view name, std::string_view value) {
  auto first = std::find_if(fields_.begin(), fields_.end(),
                            [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
  if (first == fields_.end()) {
    fields_.emplace_back(std::string(name), std::string(value));
    return;
  }
  first->second.assign(value);
  auto rest = std::remove_if(first + 1, fields_.end(),
                             [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
  fields_.erase(rest, fields_.end());
}

void Headers::Add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

size_t Headers::Remove(std::string_view name) {
  auto rest = std::remove_if(fields_.begin(), fields_.end(),
                             [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
  size_t removed = static_cast<size_t>(fields_.end() - rest);
  fields_.erase(rest, fields_.end());
  return removed;
}

}  // namespace veil::http
