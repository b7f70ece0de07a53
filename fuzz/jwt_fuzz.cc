// Fuzz target for the token parsing every authenticated request goes through before its signature
// is checked: ParseJwt (src/iam/jwt.h: compact JWS, base64url segments, JSON header and claims)
// and NumericDateClaim (exp, iat, nbf), as TokenVerifier runs them on a bearer token.
//
// Input: byte 0 selects the mode (fuzz/request_fuzz_support.h), the rest is
//   0: a whole token;
//   1: a claims payload (JSON text), wrapped into a token with a fixed RS256 header, so that
//      mutations reach the claims without first having to be base64url;
//   2: a header (JSON text), wrapped with a fixed payload.
// Properties: no exception escapes; an accepted token's signing input is its first two segments;
// its header and claims, signed again with JwtSigningInput, parse to the same values; every date
// accepted lies in 0..kMaxNumericDate and converts to a TimePoint without overflow.
//
// Two builds from this one file, as luks_header_fuzz.cc: a libFuzzer binary (`make fuzz`,
// docs/fuzzing.md) and, by default, a plain program replaying fuzz/corpus/jwt/ (ctest
// iam.jwt_fuzz_corpus, label unit). fuzz/api_corpus_gen.py writes the corpus.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "iam/jwt.h"
#include "request_fuzz_support.h"

namespace {

using veil::fuzz::Check;

std::string B64(std::string_view s) { return veil::Base64UrlEncode(veil::AsBytes(s)); }

void Dates(const boost::json::object& claims) {
  for (std::string_view name : {"exp", "iat", "nbf"}) {
    auto t = veil::iam::NumericDateClaim(claims, name);
    if (!t || !*t) continue;
    const auto s = std::chrono::duration_cast<std::chrono::seconds>((*t)->time_since_epoch());
    Check(s.count() >= 0 && s.count() <= veil::iam::kMaxNumericDate, "a date is within bounds");
    // What the verifier does with it: compare, add its leeway, subtract.
    const auto later = **t + std::chrono::hours(24 * 366);
    Check(later > **t, "a date plus a year does not overflow");
  }
}

void Token(std::string_view token) {
  auto jwt = veil::iam::ParseJwt(token);
  if (!jwt) return;
  Check(token.size() <= veil::iam::kMaxTokenSize, "an accepted token is within the size limit");
  const size_t last = token.rfind('.');
  Check(jwt->signing_input == token.substr(0, last), "the signing input is the first segments");
  Dates(jwt->claims);
  // Signed again, the same header fields and claims come back.
  const std::string input = veil::iam::JwtSigningInput(jwt->header, jwt->claims);
  const std::string again_token = input + "." + B64("sig");
  if (again_token.size() > veil::iam::kMaxTokenSize) return;
  auto again = veil::iam::ParseJwt(again_token);
  Check(again.has_value(), "a re-signed token parses");
  Check(again->header.alg == jwt->header.alg && again->header.kid == jwt->header.kid &&
            again->header.typ == jwt->header.typ,
        "a re-signed token has the same header");
  Check(veil::fuzz::JsonEquivalent(again->claims, jwt->claims),
        "a re-signed token has the same claims");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  veil::fuzz::Selected in;
  if (!veil::fuzz::Select(data, size, 3, &in)) return 0;
  switch (in.parser) {
    case 0:
      Token(in.rest);
      break;
    case 1:
      Token(B64(R"({"alg":"RS256","typ":"JWT","kid":"k1"})") + "." + B64(in.rest) + "." +
            B64("sig"));
      break;
    default:
      Token(B64(in.rest) + "." + B64(R"({"iam_id":"iam-x","exp":1700000000,"iat":1699996400})") +
            "." + B64("sig"));
      break;
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

int main(int argc, char** argv) { return veil::fuzz::ReplayRequestCorpus(argc, argv, "jwt_fuzz"); }
#endif
