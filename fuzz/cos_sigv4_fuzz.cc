// Fuzz target for the S3 request signature parsers object storage runs on every request before it
// looks up a credential (src/cos/sigv4.h): ParseAuthorizationHeader, ParsePresignedQuery,
// CanonicalRequest (path and query canonicalization) and ParseAmzDate.
//
// Input: byte 0 selects the mode (fuzz/request_fuzz_support.h), the rest is
//   0: an Authorization header value;
//   1: a presigned URL's raw query string;
//   2: a raw request target "path?query", canonicalized with host signed;
//   3: an X-Amz-Date value;
//   4: an unsigned aws-chunked body with trailers, fed in pieces of 1 to 64 bytes;
//   5: a signed aws-chunked body (a fixed key and seed), fed whole;
//   6: an XML request body (src/cos/xml.h: Delete, CompleteMultipartUpload, ...).
// Properties: no exception escapes; an accepted header has a 64-hex signature and sorted, unique,
// lower-case signed headers, and written back from its parts parses to the same parts; an accepted
// presigned query's expiry is within S3's 7 days and its date parses; a canonical URI holds only
// unreserved bytes, '/' and %XX, and canonicalizing it again changes nothing; an accepted date is
// within years 0-9999; a decoder hands out exactly decoded_bytes(), and an unsigned body it
// accepts, framed again as one chunk with the same trailers, decodes to the same bytes; an
// accepted XML document nests at most kMaxXmlDepth deep, and each element's text, escaped and
// parsed again, comes back the same.
//
// Two builds from this one file, as the other request fuzzers: a libFuzzer binary (`make fuzz`)
// and a plain program replaying fuzz/corpus/cos/ (ctest cos.sigv4_fuzz_corpus, label unit).
// fuzz/api_corpus_gen.py writes the corpus.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "cos/aws_chunked.h"
#include "cos/sigv4.h"
#include "cos/xml.h"
#include "request_fuzz_support.h"

namespace {

using veil::fuzz::Check;
namespace cos = veil::cos;

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ";") + n;
  return out;
}

void Header(std::string_view value) {
  auto auth = cos::ParseAuthorizationHeader(value);
  if (!auth) return;
  Check(auth->signature.size() == 64, "a signature is 64 hex digits");
  Check(std::is_sorted(auth->signed_headers.begin(), auth->signed_headers.end()) &&
            std::adjacent_find(auth->signed_headers.begin(), auth->signed_headers.end()) ==
                auth->signed_headers.end(),
        "signed headers are sorted and unique");
  const std::string again = std::string(cos::kSigV4Algorithm) +
                            " Credential=" + auth->access_key_id + "/" + auth->scope.ToString() +
                            ", SignedHeaders=" + Join(auth->signed_headers) +
                            ", Signature=" + auth->signature;
  auto reparsed = cos::ParseAuthorizationHeader(again);
  Check(reparsed.has_value(), "a header written back from its parts parses");
  Check(reparsed->access_key_id == auth->access_key_id &&
            reparsed->scope.ToString() == auth->scope.ToString() &&
            reparsed->signed_headers == auth->signed_headers &&
            reparsed->signature == auth->signature,
        "a header written back parses to the same parts");
}

void Presigned(std::string_view query) {
  auto auth = cos::ParsePresignedQuery(query);
  if (!auth) return;
  Check(auth->presigned, "a presigned query is marked presigned");
  Check(auth->expires_seconds >= 1 && auth->expires_seconds <= cos::kMaxPresignedExpiresSeconds,
        "a presigned expiry is within 7 days");
  Check(cos::ParseAmzDate(auth->amz_date).has_value(), "a presigned date parses");
}

void Target(std::string_view target) {
  const size_t q = target.find('?');
  cos::SigV4Request request{"GET",
                            std::string(target.substr(0, q)),
                            q == std::string_view::npos ? "" : std::string(target.substr(q + 1)),
                            {{"host", "127.0.0.1"}}};
  cos::SigV4Auth auth;
  auth.scope = {"20130524", "us-east-1", "s3"};
  auth.signed_headers = {"host"};
  auto canonical = cos::CanonicalRequest(request, auth, cos::kUnsignedPayload);
  if (!canonical) return;
  const size_t start = canonical->find('\n') + 1;
  const std::string uri = canonical->substr(start, canonical->find('\n', start) - start);
  for (size_t i = 0; i < uri.size(); ++i) {
    const char c = uri[i];
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    Check(plain || (c == '%' && i + 2 < uri.size()), "a canonical URI is unreserved bytes and %XX");
  }
  request.raw_path = uri;
  auto again = cos::CanonicalRequest(request, auth, cos::kUnsignedPayload);
  Check(again.has_value() && *again == *canonical,
        "canonicalizing a canonical URI changes nothing");
}

void Date(std::string_view text) {
  auto seconds = cos::ParseAmzDate(text);
  if (!seconds) return;
  Check(*seconds >= -62167219200 && *seconds <= 253402300799, "a date lies in years 0-9999");
}

// What a decoder made of a body fed in pieces of `step` bytes: its payload when it accepted the
// body whole, and its trailers.
struct Decoded {
  std::optional<std::string> payload;
  std::vector<std::pair<std::string, std::string>> trailers;
};

Decoded Decode(std::string_view body, cos::AwsChunkedOptions options, size_t step) {
  cos::AwsChunkedDecoder decoder(std::move(options));
  std::vector<uint8_t> out;
  for (size_t at = 0; at < body.size(); at += step) {
    if (!decoder.Feed(veil::AsBytes(body.substr(at, step)), out)) return {};
    Check(decoder.decoded_bytes() == out.size(), "the decoder hands out decoded_bytes()");
  }
  if (!decoder.Finish()) return {};
  return {std::string(out.begin(), out.end()), decoder.trailers()};
}

void UnsignedChunked(std::string_view body) {
  if (body.empty()) return;
  const size_t step = 1 + static_cast<uint8_t>(body[0]) % 64;
  cos::AwsChunkedOptions options;
  options.trailers_allowed = true;
  options.max_chunk_bytes = 1 << 16;
  const Decoded first = Decode(body.substr(1), options, step);
  if (!first.payload) return;
  std::string again;
  if (!first.payload->empty()) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", first.payload->size());
    again = size + *first.payload + "\r\n";
  }
  again += "0\r\n";
  for (const auto& [name, value] : first.trailers) again += name + ":" + value + "\r\n";
  again += "\r\n";
  const Decoded second = Decode(again, options, 4096);
  Check(second.payload == first.payload, "a body framed again decodes the same");
  Check(second.trailers == first.trailers, "a body framed again has the same trailers");
}

void SignedChunked(std::string_view body) {
  cos::AwsChunkedOptions options;
  const cos::SigV4Scope scope{"20130524", "us-east-1", "s3"};
  options.signing = cos::ChunkSigning{cos::SigningKey(veil::AsBytes("secret"), scope),
                                      "20130524T000000Z", scope, std::string(64, 'a')};
  options.max_chunk_bytes = 1 << 16;
  Decode(body, options, body.size() + 1);
}

size_t CheckElement(const cos::XmlElement& e, size_t depth) {
  Check(depth <= cos::kMaxXmlDepth, "an accepted document nests at most kMaxXmlDepth deep");
  auto again = cos::ParseXml("<r>" + cos::XmlEscape(e.text) + "</r>");
  Check(again.has_value() && again->text == e.text, "escaped text parses back to itself");
  size_t count = 1;
  for (const cos::XmlElement& child : e.children) count += CheckElement(child, depth + 1);
  return count;
}

void Xml(std::string_view body) {
  auto doc = cos::ParseXml(body);
  if (!doc) return;
  Check(CheckElement(*doc, 1) <= cos::kMaxXmlElements, "at most kMaxXmlElements elements");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  veil::fuzz::Selected in;
  if (!veil::fuzz::Select(data, size, 7, &in)) return 0;
  switch (in.parser) {
    case 0:
      Header(in.rest);
      break;
    case 1:
      Presigned(in.rest);
      break;
    case 2:
      Target(in.rest);
      break;
    case 3:
      Date(in.rest);
      break;
    case 4:
      UnsignedChunked(in.rest);
      break;
    case 5:
      SignedChunked(in.rest);
      break;
    default:
      Xml(in.rest);
      break;
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

int main(int argc, char** argv) {
  return veil::fuzz::ReplayRequestCorpus(argc, argv, "cos_sigv4_fuzz");
}
#endif
