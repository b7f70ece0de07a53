// Shared by the fuzz targets of client request parsers (http_request_fuzz, iam_request_fuzz,
// jwt_fuzz, kms_request_fuzz): how an input is split into a parser selector and that parser's
// bytes, and the property check that turns a broken invariant into a crash libFuzzer keeps.
//
// Input layout of every such target: byte 0 selects the parser (modulo the number of parsers),
// the rest is what that parser reads (a JSON body, a query string, a token, ...).
//
// Thread-safety: single-threaded fuzz entry only.
#pragma once

#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace veil::fuzz {

// A property every accepted input must have: a failure prints `what` and traps (a crash for
// libFuzzer, a failed ctest for the corpus replay).
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    __builtin_trap();
  }
}

struct Selected {
  uint8_t parser = 0;
  std::string_view rest;
};

// Byte 0 modulo `parsers`, and the bytes after it. False for an empty input, which selects
// nothing.
inline bool Select(const uint8_t* data, size_t size, uint8_t parsers, Selected* out) {
  if (size == 0) return false;
  out->parser = static_cast<uint8_t>(data[0] % parsers);
  out->rest = std::string_view(reinterpret_cast<const char*>(data + 1), size - 1);
  return true;
}

// Whether two JSON values are the same, doubles within a relative 1e-15: Boost.JSON 1.81 reads
// some doubles one ulp off what it wrote (118446744073709551615.0 is written 1.1844674407370955E20
// and read back as ...957E20), so a round trip is exact for everything but the last bit of a
// double.
inline bool JsonEquivalent(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-15 * std::fmax(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &p = a.get_array(), &q = b.get_array();
    if (p.size() != q.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      if (!JsonEquivalent(p[i], q[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto &p = a.get_object(), &q = b.get_object();
    if (p.size() != q.size()) return false;
    for (const auto& kv : p) {
      const boost::json::value* other = q.if_contains(kv.key());
      if (other == nullptr || !JsonEquivalent(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace veil::fuzz
