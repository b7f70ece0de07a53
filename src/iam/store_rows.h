// Helpers of IAM's SQL (internal to src/iam: iam_store.cc and resource_key_store.cc): timestamps
// as stored, statement assembly, page queries and "exactly one row changed".
//
// Thread-safety: pure functions (PageOf runs on the Database it is given).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/time.h"
#include "iam/model.h"
#include "store/database.h"

namespace veil::iam::internal {

// RFC 3339 UTC with milliseconds, as every IAM timestamp column holds.
inline std::string Time(TimePoint t) { return FormatRfc3339(t, TimePrecision::kMillis); }

inline Result<TimePoint> TimeColumn(const store::Row& row, std::string_view name) {
  std::string text = VEIL_TRY_VALUE(row.GetText(name));
  auto t = ParseRfc3339(text);
  if (!t) return DataLoss("iam: stored time in " + std::string(name) + " does not parse");
  return *t;
}

inline std::string Sql(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
  std::string s(a);
  s.append(b);
  s.append(c);
  return s;
}

// Runs a page query: `sql` ends with "LIMIT ? OFFSET ?"; one row more than `limit` is asked so
// that the page knows whether another follows.
template <typename T, typename F>
Result<Page<T>> PageOf(store::Database& db, const std::string& sql, store::Params params,
                       int64_t offset, int64_t limit, F from_row) {
  params.emplace_back(limit + 1);
  params.emplace_back(offset);
  auto rows = VEIL_TRY_VALUE(db.Query(sql, params));
  Page<T> page;
  page.offset = offset;
  page.limit = limit;
  for (const store::Row& row : rows) {
    if (static_cast<int64_t>(page.items.size()) == limit) {
      page.next = std::to_string(offset + limit);
      break;
    }
    page.items.push_back(VEIL_TRY_VALUE(from_row(row)));
  }
  return page;
}

inline Status ExpectOneRow(Result<int64_t> changed, std::string_view what) {
  if (!changed) return tl::unexpected(changed.error());
  if (*changed == 0) return NotFound(std::string(what) + " not found");
  return OkStatus();
}

}  // namespace veil::iam::internal
