#include "cos/aws_chunked.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/strings.h"

namespace veil::cos {
namespace {

constexpr std::string_view kSignaturePrefix = ";chunk-signature=";
// A size line is at most 16 hex digits and the signature part (81 bytes).
constexpr size_t kMaxSizeLine = 16 + 17 + 64;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(AwsChunkedOptions options) : options_(std::move(options)) {
  if (options_.signing) {
    previous_signature_ = options_.signing->seed_signature;
    // Trailers of a signed body would need their own signature, which is not checked here.
    options_.trailers_allowed = false;
  }
}

Status AwsChunkedDecoder::Fail(Status s) {
  state_ = State::kFailed;
  return s;
}

Status AwsChunkedDecoder::OnSizeLine(std::string_view line) {
  const size_t semi = line.find(';');
  std::string_view hex = line.substr(0, semi);
  if (hex.empty() || hex.size() > 16) {
    return InvalidArgument("aws-chunked: a chunk size must be 1 to 16 hex digits");
  }
  uint64_t size = 0;
  for (char c : hex) {
    const int d = HexDigit(c);
    if (d < 0) return InvalidArgument("aws-chunked: a chunk size must be hex digits");
    size = size * 16 + static_cast<uint64_t>(d);
  }
  if (size > options_.max_chunk_bytes) {
    return InvalidArgument("aws-chunked: a chunk is larger than " +
                           std::to_string(options_.max_chunk_bytes) + " bytes");
  }
  std::string_view rest = semi == std::string_view::npos ? "" : line.substr(semi);
  if (options_.signing) {
    if (rest.substr(0, kSignaturePrefix.size()) != kSignaturePrefix ||
        rest.size() != kSignaturePrefix.size() + 64) {
      return InvalidArgument("aws-chunked: each chunk needs ;chunk-signature=<64 hex digits>");
    }
    chunk_signature_ = std::string(rest.substr(kSignaturePrefix.size()));
  } else if (!rest.empty()) {
    return InvalidArgument("aws-chunked: an unsigned chunk carries no extension");
  }
  remaining_ = size;
  last_chunk_ = size == 0;
  return OkStatus();
}

Status AwsChunkedDecoder::CheckChunkSignature() {
  if (!options_.signing) return OkStatus();
  const ChunkSigning& s = *options_.signing;
  const std::string expected = SignatureHex(
      s.signing_key,
      ChunkStringToSignOfDigest(s.amz_date, s.scope, previous_signature_, hasher_.Finish()));
  if (!SignaturesEqual(expected, chunk_signature_)) {
    return PermissionDenied("aws-chunked: a chunk signature does not match");
  }
  previous_signature_ = chunk_signature_;
  return OkStatus();
}

Status AwsChunkedDecoder::OnTrailerLine(std::string_view line) {
  trailer_bytes_ += line.size() + 2;
  if (trailer_bytes_ > options_.max_trailer_bytes) {
    return InvalidArgument("aws-chunked: the trailers are too large");
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument("aws-chunked: a trailer must be <name>:<value>");
  }
  trailers_.emplace_back(AsciiLower(line.substr(0, colon)),
                         std::string(TrimAsciiBlank(line.substr(colon + 1))));
  return OkStatus();
}

Status AwsChunkedDecoder::Feed(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  if (state_ == State::kFailed) return InvalidArgument("aws-chunked: the body already failed");
  size_t at = 0;
  while (at < in.size()) {
    switch (state_) {
      case State::kFailed:
        return InvalidArgument("aws-chunked: the body already failed");
      case State::kDone:
        return Fail(InvalidArgument("aws-chunked: bytes after the last chunk"));
      case State::kData: {
        const size_t n = static_cast<size_t>(
            std::min<uint64_t>(remaining_, static_cast<uint64_t>(in.size() - at)));
        out.insert(out.end(), in.begin() + static_cast<ptrdiff_t>(at),
                   in.begin() + static_cast<ptrdiff_t>(at + n));
        if (options_.signing) hasher_.Update(in.subspan(at, n));
        at += n;
        remaining_ -= n;
        decoded_ += n;
        if (remaining_ == 0) state_ = State::kDataEnd;
        break;
      }
      case State::kSizeLine:
      case State::kDataEnd:
      case State::kTrailers: {
        const char c = static_cast<char>(in[at++]);
        line_.push_back(c);
        const size_t limit =
            state_ == State::kTrailers ? options_.max_trailer_bytes + 2 : kMaxSizeLine + 2;
        if (line_.size() > limit) {
          return Fail(InvalidArgument("aws-chunked: a line is too long"));
        }
        if (line_.size() < 2 || line_[line_.size() - 2] != '\r' || c != '\n') break;
        const std::string line = line_.substr(0, line_.size() - 2);
        line_.clear();
        if (state_ == State::kDataEnd) {
          if (!line.empty()) return Fail(InvalidArgument("aws-chunked: a chunk overran its size"));
          if (auto s = CheckChunkSignature(); !s) return Fail(s);
          state_ = State::kSizeLine;
        } else if (state_ == State::kSizeLine) {
          if (auto s = OnSizeLine(line); !s) return Fail(s);
          if (!last_chunk_) {
            state_ = State::kData;
          } else {
            if (auto s = CheckChunkSignature(); !s) return Fail(s);
            state_ = State::kTrailers;
          }
        } else if (line.empty()) {
          state_ = State::kDone;
        } else if (!options_.trailers_allowed) {
          return Fail(InvalidArgument("aws-chunked: this body may not carry trailers"));
        } else if (auto s = OnTrailerLine(line); !s) {
          return Fail(s);
        }
        break;
      }
    }
  }
  return OkStatus();
}

Status AwsChunkedDecoder::Finish() const {
  if (state_ == State::kDone) return OkStatus();
  if (state_ == State::kFailed) return InvalidArgument("aws-chunked: the body failed");
  return InvalidArgument("aws-chunked: the body ended before its last chunk");
}

}  // namespace veil::cos
