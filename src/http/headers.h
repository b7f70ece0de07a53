// Headers: the header fields of an HTTP request or response.
//
// An ordered multi-map: fields keep the order in which they were added, a name may repeat
// (Set-Cookie, repeated X-Amz-Meta-*), and every lookup compares names case-insensitively
// (RFC 9110 §5.1). Names and values are stored as given; the server validates what it puts on
// the wire (a value holding CR, LF or NUL makes the response a 500, never a split response).
//
// Used by Request, Response, ClientRequest and ClientResponse. A header set is a handful of
// fields, so lookups are linear scans over a vector: faster than a hash map at this size.
//
// Thread-safety: a value type; no shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace veil::http {

class Headers {
 public:
  using Field = std::pair<std::string, std::string>;
  using const_iterator = std::vector<Field>::const_iterator;

  // The value of the first field called `name`, or nullopt. The view lives as long as the field.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Every value of the fields called `name`, in order.
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }

  // Replaces every field called `name` by one field (kept at the position of the first).
  void Set(std::string_view name, std::string_view value);
  // Appends a field, keeping any existing ones of the same name.
  void Add(std::string_view name, std::string_view value);
  // Removes every field called `name`; returns how many were removed.
  size_t Remove(std::string_view name);
  void Clear() { fields_.clear(); }

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const_iterator begin() const { return fields_.begin(); }
  const_iterator end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

}  // namespace veil::http
