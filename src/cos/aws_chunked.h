// The aws-chunked request body (Content-Encoding: aws-chunked) that S3 clients send for
// streaming uploads, decoded as it arrives (docs/cos.md, "Authentication"):
//
//   signed    (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
//     <hex size>;chunk-signature=<64 hex>\r\n <size bytes> \r\n ... 0;chunk-signature=<sig>\r\n\r\n
//   unsigned, with trailers (STREAMING-UNSIGNED-PAYLOAD-TRAILER, boto3 and aws-cli's checksums)
//     <hex size>\r\n <size bytes> \r\n ... 0\r\n <name>:<value>\r\n ... \r\n
//
// Each chunk's signature is HMAC(signing key, chunk string to sign) over the previous signature
// (sigv4.h): a signed body is accepted only if every chunk's signature, the empty last one's
// included, matches. Decoded bytes are handed out as they arrive, before their chunk's signature
// is known: the caller keeps them out of sight (a temporary file) until Finish() succeeds.
//
// Thread-safety: an AwsChunkedDecoder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "cos/sigv4.h"
#include "crypto/hash.h"

namespace veil::cos {

// What checks the chunk signatures of a signed body: the request's signing key, date, scope and
// its own (seed) signature.
struct ChunkSigning {
  crypto::Sha256Digest signing_key{};
  std::string amz_date;
  SigV4Scope scope;
  std::string seed_signature;
};

struct AwsChunkedOptions {
  // Set for STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk line must carry a chunk-signature,
  // checked; unset for the unsigned form, whose chunk lines carry none.
  std::optional<ChunkSigning> signing;
  // Trailers are allowed only in the unsigned form (STREAMING-UNSIGNED-PAYLOAD-TRAILER): ignored
  // when `signing` is set.
  bool trailers_allowed = false;
  uint64_t max_chunk_bytes = 64ull << 20;  // S3 clients send 8 KiB to 16 MiB
  size_t max_trailer_bytes = 4096;
};

class AwsChunkedDecoder {
 public:
  explicit AwsChunkedDecoder(AwsChunkedOptions options);

  // Decodes `in`, appending payload bytes to `out`. kInvalidArgument (framing, a chunk over the
  // limit, bytes after the end) or kPermissionDenied (a chunk signature that does not match);
  // after an error the decoder stays failed.
  [[nodiscard]] Status Feed(std::span<const uint8_t> in, std::vector<uint8_t>& out);

  // Whether the terminating chunk (and trailers) arrived; kInvalidArgument for a body that ended
  // early. Call when the body has ended.
  [[nodiscard]] Status Finish() const;

  uint64_t decoded_bytes() const { return decoded_; }
  // The trailers, names lower case, in order ("x-amz-checksum-crc32", ...).
  const std::vector<std::pair<std::string, std::string>>& trailers() const { return trailers_; }

 private:
  enum class State { kSizeLine, kData, kDataEnd, kTrailers, kDone, kFailed };

  Status Fail(Status s);
  Status OnSizeLine(std::string_view line);
  Status OnTrailerLine(std::string_view line);
  Status CheckChunkSignature();

  AwsChunkedOptions options_;
  State state_ = State::kSizeLine;
  std::string line_;  // the line being read (size line, trailer, or the CRLF after data)
  uint64_t remaining_ = 0;
  bool last_chunk_ = false;
  std::string chunk_signature_;
  std::string previous_signature_;
  crypto::Sha256Hasher hasher_;
  uint64_t decoded_ = 0;
  size_t trailer_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> trailers_;
};

}  // namespace veil::cos
