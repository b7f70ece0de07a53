// Shared by the fuzz targets of client request parsers (http_request_fuzz, iam_request_fuzz,
// jwt_fuzz, kms_request_fuzz): how an input is split into a parser selector and that parser's
// bytes, and the property check that turns a broken invariant into a crash libFuzzer keeps.
//
// Input layout of every such target: byte 0 selects the parser (modulo the number of parsers),
// the rest is what that parser reads (a JSON body, a query string, a token, ...).
//
// Thread-safety: single-threaded fuzz entry only.
#pragma once

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

}  // namespace veil::fuzz
