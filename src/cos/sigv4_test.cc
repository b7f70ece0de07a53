#include "cos/sigv4.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bytes.h"

namespace veil::cos {
namespace {

// AWS's example credentials (S3 API reference, "Signature Calculations for the Authorization
// Header" and "Authenticating Requests: Using Query Parameters").
constexpr std::string_view kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Signs `request` as a client would and returns the signature.
std::string Sign(const SigV4Request& request, const SigV4Auth& auth, std::string_view payload,
                 std::string_view amz_date) {
  auto canonical = CanonicalRequest(request, auth, payload);
  EXPECT_TRUE(canonical) << canonical.error().ToString();
  if (!canonical) return "";
  return SignatureHex(SigningKey(AsBytes(kSecret), auth.scope),
                      StringToSign(amz_date, auth.scope, *canonical));
}

// AWS's GET Object example; botocore 1.29's S3SigV4Auth gives the same signature.
TEST(SigV4, GetObjectWithRangeMatchesAwsExample) {
  auto auth = ParseAuthorizationHeader(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  ASSERT_TRUE(auth) << auth.error().ToString();
  EXPECT_EQ(auth->access_key_id, kAccessKey);
  EXPECT_EQ(auth->scope.ToString(), "20130524/us-east-1/s3/aws4_request");
  SigV4Request r{"GET",
                 "/test.txt",
                 "",
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"Range", "bytes=0-9"},
                  {"x-amz-content-sha256", std::string(kEmptySha256)},
                  {"x-amz-date", "20130524T000000Z"},
                  {"User-Agent", "not signed"}}};
  auto canonical = CanonicalRequest(r, *auth, kEmptySha256);
  ASSERT_TRUE(canonical);
  EXPECT_EQ(*canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sign(r, *auth, kEmptySha256, "20130524T000000Z"), auth->signature);
}

// AWS's presigned URL example (botocore's S3SigV4QueryAuth gives the same URL).
TEST(SigV4, PresignedUrlMatchesAwsExample) {
  const std::string query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
      "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
      "SignedHeaders=host&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  auto auth = ParsePresignedQuery(query);
  ASSERT_TRUE(auth) << auth.error().ToString();
  EXPECT_TRUE(auth->presigned);
  EXPECT_EQ(auth->expires_seconds, 86400);
  EXPECT_EQ(auth->amz_date, "20130524T000000Z");
  SigV4Request r{"GET", "/test.txt", query, {{"host", "examplebucket.s3.amazonaws.com"}}};
  EXPECT_EQ(Sign(r, *auth, kUnsignedPayload, auth->amz_date), auth->signature);
}

// A path and query with bytes clients escape differently, and a header value with runs of
// spaces; the signature is botocore 1.29's for the same request.
TEST(SigV4, EscapingAndHeaderSpacesMatchBotocore) {
  auto auth = ParseAuthorizationHeader(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-note, "
      "Signature=5a431237010fd2ffe1dabde943700df4d025725fe258758e18cb9ecb8b2122a3");
  ASSERT_TRUE(auth) << auth.error().ToString();
  const SigV4Request botocore{"GET",
                              "/my-bucket/dir/a%20b%2Bc~x.txt",
                              "list-type=2&prefix=a%2Fb&delimiter=%2F&encoding-type=url",
                              {{"host", "127.0.0.1:8443"},
                               {"X-Amz-Meta-Note", "  hello   world  "},
                               {"X-Amz-Content-SHA256", std::string(kEmptySha256)},
                               {"X-Amz-Date", "20130524T000000Z"}}};
  EXPECT_EQ(Sign(botocore, *auth, kEmptySha256, "20130524T000000Z"), auth->signature);
  // The same bytes escaped otherwise (lower-case hex, '~' escaped, '/' in the query left bare,
  // parameters in another order) canonicalize the same.
  SigV4Request other = botocore;
  other.raw_path = "/my-bucket/dir/a%20b%2bc%7Ex.txt";
  other.raw_query = "prefix=a/b&delimiter=%2f&list-type=2&encoding-type=url";
  EXPECT_EQ(Sign(other, *auth, kEmptySha256, "20130524T000000Z"), auth->signature);
}

// AWS's aws-chunked upload example (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): 66560 bytes of 'a' in a
// 65536-byte chunk, a 1024-byte chunk and the empty final chunk, each signed over the previous.
TEST(SigV4, ChunkSignaturesMatchAwsStreamingExample) {
  auto auth = ParseAuthorizationHeader(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-decoded-content-length;x-amz-storage-class,"
      "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  ASSERT_TRUE(auth) << auth.error().ToString();
  SigV4Request r{"PUT",
                 "/examplebucket/chunkObject.txt",
                 "",
                 {{"Host", "s3.amazonaws.com"},
                  {"x-amz-date", "20130524T000000Z"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                  {"x-amz-content-sha256", std::string(kStreamingPayload)},
                  {"Content-Encoding", "aws-chunked"},
                  {"x-amz-decoded-content-length", "66560"},
                  {"Content-Length", "66824"}}};
  const std::string seed = Sign(r, *auth, kStreamingPayload, "20130524T000000Z");
  EXPECT_EQ(seed, auth->signature);
  const crypto::Sha256Digest key = SigningKey(AsBytes(kSecret), auth->scope);
  const std::string big(65536, 'a'), small(1024, 'a');
  const std::string first =
      SignatureHex(key, ChunkStringToSign("20130524T000000Z", auth->scope, seed, AsBytes(big)));
  EXPECT_EQ(first, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
  const std::string second =
      SignatureHex(key, ChunkStringToSign("20130524T000000Z", auth->scope, first, AsBytes(small)));
  EXPECT_EQ(second, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
  const std::string last =
      SignatureHex(key, ChunkStringToSign("20130524T000000Z", auth->scope, second, {}));
  EXPECT_EQ(last, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
}

TEST(SigV4, MalformedAuthorizationIsRefusedWithoutEchoingTheSignature) {
  const std::string sig = "Signature=" + std::string(64, 'a');
  for (const std::string& bad : std::vector<std::string>{
           std::string(
               "AWS4-HMAC-SHA1 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host,") +
               sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host",
           "AWS4-HMAC-SHA256 Credential=A/2013052/r/s3/aws4_request,SignedHeaders=host," + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws5_request,SignedHeaders=host," + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request/x,SignedHeaders=host," + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=Host," + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=x;host," + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host;host," +
               sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host,"
           "Signature=ABCDEF",
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host," + sig +
               "," + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host,Extra=1," +
               sig,
       }) {
    auto r = ParseAuthorizationHeader(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.find(std::string(64, 'a')), std::string::npos);
  }
}

TEST(SigV4, PresignedQueryBoundsAndDuplicates) {
  const std::string base =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20130524%2Fr%2Fs3%2Faws4_request&"
      "X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=" +
      std::string(64, 'b');
  EXPECT_TRUE(ParsePresignedQuery(base + "&X-Amz-Expires=604800"));
  for (std::string expires : {"0", "604801", "-1", "+5", "1e3", "", "99999999999999999999"}) {
    EXPECT_FALSE(ParsePresignedQuery(base + "&X-Amz-Expires=" + expires)) << expires;
  }
  EXPECT_FALSE(ParsePresignedQuery(base + "&X-Amz-Expires=60&X-Amz-Expires=60"));
  EXPECT_FALSE(ParsePresignedQuery(base));  // no X-Amz-Expires
  // The credential's day must be the request's: a signing key is good for one day.
  std::string other_day = base + "&X-Amz-Expires=60";
  other_day.replace(other_day.find("X-Amz-Date=20130524"), 19, "X-Amz-Date=20130525");
  EXPECT_FALSE(ParsePresignedQuery(other_day));
  auto header = ParseAuthorizationHeader(
      "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=" +
      std::string(64, 'c'));
  ASSERT_TRUE(header);
  EXPECT_TRUE(CheckScopeDate(*header, "20130524T235959Z"));
  EXPECT_FALSE(CheckScopeDate(*header, "20130525T000000Z"));
}

TEST(SigV4, AmzDatesAreCalendarChecked) {
  EXPECT_EQ(*ParseAmzDate("19700101T000000Z"), 0);
  EXPECT_EQ(*ParseAmzDate("20130524T000000Z"), 1369353600);
  for (std::string_view bad : {"20130230T000000Z", "20130524T240000Z", "20130524T000060Z",
                               "20130524 000000Z", "2013-05-24T00:00", "20130524T000000"}) {
    EXPECT_FALSE(ParseAmzDate(bad)) << bad;
  }
}

TEST(SigV4, UnsignedHostOrMissingSignedHeaderIsRefused) {
  SigV4Auth auth;
  auth.scope = {"20130524", "us-east-1", "s3"};
  auth.signed_headers = {"x-amz-date"};
  SigV4Request r{"GET", "/", "", {{"host", "h"}, {"x-amz-date", "20130524T000000Z"}}};
  EXPECT_FALSE(CanonicalRequest(r, auth, kEmptySha256));  // host not signed
  auth.signed_headers = {"host", "range"};
  EXPECT_FALSE(CanonicalRequest(r, auth, kEmptySha256));  // range signed but absent
  r.raw_path = "/a%zz";
  auth.signed_headers = {"host"};
  EXPECT_FALSE(CanonicalRequest(r, auth, kEmptySha256));  // not percent-encoding
}

TEST(SigV4, SignaturesAreComparedWhole) {
  const std::string a(64, 'a');
  EXPECT_TRUE(SignaturesEqual(a, a));
  EXPECT_FALSE(SignaturesEqual(a, std::string(63, 'a')));
  EXPECT_FALSE(SignaturesEqual(a, std::string(63, 'a') + "b"));
}

}  // namespace
}  // namespace veil::cos
