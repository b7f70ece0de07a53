#include "http/error_map.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "http/json_body.h"

namespace veil::http {
namespace {

TEST(ErrorMapTest, CanonicalStatusTable) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kOutOfRange), 416);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kDeadlineExceeded), 504);
  // The client's inverse agrees on the codes that map one to one.
  for (auto code : {ErrorCode::kInvalidArgument, ErrorCode::kUnauthenticated,
                    ErrorCode::kPermissionDenied, ErrorCode::kNotFound, ErrorCode::kUnimplemented,
                    ErrorCode::kUnavailable, ErrorCode::kDeadlineExceeded}) {
    EXPECT_EQ(ErrorCodeForHttpStatus(HttpStatusFor(code)), code);
  }
  EXPECT_EQ(ReasonPhrase(413), "Payload Too Large");
  EXPECT_EQ(ErrorSlug(404), "not_found");
}

TEST(ErrorMapTest, JsonErrorBodyHasIbmShape) {
  RequestContext ctx(Request{}, "req-1", "corr-1");
  Response r = ctx.ErrorResponse(Error(ErrorCode::kNotFound, "key \"k\" not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/json");
  auto v = boost::json::parse(r.body);
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("status_code").as_int64(), 404);
  EXPECT_EQ(o.at("trace").as_string(), "req-1");
  const auto& e = o.at("errors").as_array().at(0).as_object();
  EXPECT_EQ(e.at("code").as_string(), "not_found");
  EXPECT_EQ(e.at("message").as_string(), "key \"k\" not found");
  EXPECT_EQ(e.at("more_info").as_string(), "");
  // An explicit status wins over the table (413 for a body over the limit).
  EXPECT_EQ(ctx.ErrorResponse(BodyTooLarge(10), kStatusPayloadTooLarge).status, 413);
}

TEST(JsonBodyTest, ParsesValidAndRejectsInvalidJson) {
  StringBodyReader good(R"({"name":"k","n":[1,2]})");
  RequestContext ctx(Request{}, "r", "c");
  ctx.request().set_body(&good);
  auto v = ParseJsonBody(ctx, 1024);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->as_object().at("name").as_string(), "k");

  for (std::string bad :
       std::vector<std::string>{"", "{", "{\"a\":}", "[1,2", std::string(100, '[')}) {
    StringBodyReader r(bad);
    RequestContext c2(Request{}, "r", "c");
    c2.request().set_body(&r);
    auto res = ParseJsonBody(c2, 1024);
    ASSERT_FALSE(res) << bad;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  StringBodyReader big(std::string(2000, ' ') + "{}");
  RequestContext c3(Request{}, "r", "c");
  c3.request().set_body(&big);
  auto res = ParseJsonBody(c3, 1024);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace veil::http
