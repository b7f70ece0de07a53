#include "cos/aws_chunked.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bytes.h"

namespace veil::cos {
namespace {

constexpr std::string_view kExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSeed =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
// AWS's aws-chunked example (S3 API reference, "Signature Calculations for the Authorization
// Header: Transferring Payload in Multiple Chunks"): 66560 bytes of 'a' as a 64 KiB chunk, a
// 1 KiB chunk and the empty last chunk; the signatures sigv4_test.cc derives.
constexpr std::string_view kSig1 =
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr std::string_view kSig2 =
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr std::string_view kSig3 =
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

std::string AwsExampleBody() {
  return "10000;chunk-signature=" + std::string(kSig1) + "\r\n" + std::string(65536, 'a') +
         "\r\n400;chunk-signature=" + std::string(kSig2) + "\r\n" + std::string(1024, 'a') +
         "\r\n0;chunk-signature=" + std::string(kSig3) + "\r\n\r\n";
}

AwsChunkedOptions Signed() {
  AwsChunkedOptions o;
  SigV4Scope scope{"20130524", "us-east-1", "s3"};
  o.signing = ChunkSigning{SigningKey(AsBytes(kExampleSecret), scope), "20130524T000000Z", scope,
                           std::string(kSeed)};
  return o;
}

// Feeds `body` in pieces of `step` bytes; the decoded payload, or the first error.
Result<std::string> Decode(const std::string& body, AwsChunkedOptions options, size_t step) {
  AwsChunkedDecoder d(std::move(options));
  std::vector<uint8_t> out;
  for (size_t at = 0; at < body.size(); at += step) {
    VEIL_TRY(d.Feed(AsBytes(std::string_view(body).substr(at, step)), out));
  }
  VEIL_TRY(d.Finish());
  EXPECT_EQ(d.decoded_bytes(), out.size());
  return std::string(out.begin(), out.end());
}

TEST(AwsChunked, AwsSignedExampleDecodesWholeAndByteByByte) {
  const std::string body = AwsExampleBody();
  EXPECT_EQ(body.size(), 66824u);  // the example's Content-Length
  for (size_t step : {body.size(), size_t{1}, size_t{7}, size_t{65536}}) {
    auto decoded = Decode(body, Signed(), step);
    ASSERT_TRUE(decoded) << step << ": " << decoded.error().ToString();
    EXPECT_EQ(*decoded, std::string(66560, 'a'));
  }
}

TEST(AwsChunked, ATamperedChunkOrSwappedSignaturesAreRefused) {
  std::string tampered = AwsExampleBody();
  tampered[200] = 'b';  // a payload byte of the first chunk
  auto r = Decode(tampered, Signed(), 4096);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  // The chunks' signatures in another order: each is signed over the previous one.
  std::string swapped = "400;chunk-signature=" + std::string(kSig2) + "\r\n" +
                        std::string(1024, 'a') + "\r\n10000;chunk-signature=" + std::string(kSig1) +
                        "\r\n" + std::string(65536, 'a') +
                        "\r\n0;chunk-signature=" + std::string(kSig3) + "\r\n\r\n";
  EXPECT_FALSE(Decode(swapped, Signed(), 4096));
  // Truncated: the last chunk never came.
  const std::string body = AwsExampleBody();
  auto cut = Decode(body.substr(0, body.size() - 90), Signed(), 4096);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::kInvalidArgument);
  // Bytes after the end.
  EXPECT_FALSE(Decode(body + "x", Signed(), 4096));
}

TEST(AwsChunked, UnsignedBodyWithChecksumTrailers) {
  AwsChunkedOptions o;
  o.trailers_allowed = true;
  const std::string body =
      "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\nX-Other: v \r\n\r\n";
  AwsChunkedDecoder d(o);
  std::vector<uint8_t> out;
  ASSERT_TRUE(d.Feed(AsBytes(body), out));
  ASSERT_TRUE(d.Finish());
  EXPECT_EQ(std::string(out.begin(), out.end()), "hello world");
  ASSERT_EQ(d.trailers().size(), 2u);
  EXPECT_EQ(d.trailers()[0],
            (std::pair<std::string, std::string>{"x-amz-checksum-crc32", "DUoRhQ=="}));
  EXPECT_EQ(d.trailers()[1].first, "x-other");
}

TEST(AwsChunked, MalformedFramingIsRefused) {
  AwsChunkedOptions unsigned_form;
  for (std::string bad : {
           std::string("g\r\n"),                                       // not hex
           std::string("5;chunk-signature=ab\r\nhello\r\n0\r\n\r\n"),  // extension when unsigned
           std::string("5\r\nhelloX\r\n"),                             // data overruns its size
           std::string("12345678901234567\r\n"),                       // 17 hex digits
           std::string("0\r\nx-amz-checksum-crc32:AA==\r\n\r\n"),      // trailers not allowed
           std::string(200, '1'),                                      // an endless size line
       }) {
    AwsChunkedDecoder d(unsigned_form);
    std::vector<uint8_t> out;
    Status s = d.Feed(AsBytes(bad), out);  // refused as the bytes arrive, not only at the end
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_FALSE(d.Feed({}, out)) << bad;  // and it stays failed
  }
  // A chunk over the limit is refused from its size line, before any byte of it is read.
  AwsChunkedOptions small;
  small.max_chunk_bytes = 1024;
  AwsChunkedDecoder d(small);
  std::vector<uint8_t> out;
  EXPECT_FALSE(d.Feed(AsBytes("401\r\n"), out));
  // A signed body whose chunk lines carry no signature.
  EXPECT_FALSE(Decode("5\r\nhello\r\n0\r\n\r\n", Signed(), 64));
}

}  // namespace
}  // namespace veil::cos
