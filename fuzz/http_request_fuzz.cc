// Fuzz target for the pure request parsing of src/http, which every API runs on client bytes
// before a handler sees them: ParseTarget (the request-target: path and query), PercentDecode (a
// path segment or component) and ParseJson (every JSON request body).
//
// Input: byte 0 selects the parser (fuzz/request_fuzz_support.h), the rest is its text.
// Properties: no exception escapes; nothing accepted holds a NUL; a decoded query or component
// re-encoded and parsed again gives the same values; JSON accepted holds only finite numbers,
// and its serialization parses again to the same value (doubles within an ulp or two:
// JsonEquivalent).
//
// Two builds from this one file, as luks_header_fuzz.cc: a libFuzzer binary (`make fuzz`,
// docs/fuzzing.md) and, by default, a plain program replaying fuzz/corpus/http/ (ctest
// http.request_fuzz_corpus, label unit). fuzz/api_corpus_gen.py writes the corpus.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "http/json_body.h"
#include "http/request.h"
#include "request_fuzz_support.h"

namespace {

using veil::fuzz::Check;

// Every byte but the unreserved ones as %XX: the strictest spelling, which must decode back.
std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

void Target(std::string_view text) {
  auto target = veil::http::ParseTarget(text);
  if (!target) return;
  Check(!target->raw_path.empty() && target->raw_path.front() == '/', "raw path starts with /");
  Check(!HasNul(target->path), "decoded path has no NUL");
  std::string again = "/?";
  for (const auto& [name, value] : target->query) {
    Check(!HasNul(name) && !HasNul(value), "query has no NUL");
    again += Encode(name) + "=" + Encode(value) + "&";
  }
  if (target->query.empty()) return;
  again.pop_back();
  auto reparsed = veil::http::ParseTarget(again);
  Check(reparsed.has_value(), "a re-encoded query parses");
  Check(reparsed->query == target->query, "a re-encoded query reads the same");
}

void Component(std::string_view text) {
  auto decoded = veil::http::PercentDecode(text);
  if (!decoded) return;
  Check(!HasNul(*decoded), "a decoded component has no NUL");
  auto again = veil::http::PercentDecode(Encode(*decoded));
  Check(again && *again == *decoded, "a re-encoded component decodes the same");
}

void Json(std::string_view text) {
  auto v = veil::http::ParseJson(text);
  if (!v) return;
  Check(veil::AllNumbersFinite(*v), "accepted JSON has finite numbers");
  const std::string once = boost::json::serialize(*v);
  auto again = veil::http::ParseJson(once);
  Check(again.has_value(), "accepted JSON, serialized, parses again");
  Check(veil::fuzz::JsonEquivalent(*again, *v), "serialized JSON reads back the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  veil::fuzz::Selected in;
  if (!veil::fuzz::Select(data, size, 3, &in)) return 0;
  switch (in.parser) {
    case 0:
      Target(in.rest);
      break;
    case 1:
      Component(in.rest);
      break;
    default:
      Json(in.rest);
      break;
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

int main(int argc, char** argv) {
  return veil::fuzz::ReplayRequestCorpus(argc, argv, "http_request_fuzz");
}
#endif
