#include "http/request.h"

#include <gtest/gtest.h>

#include "http/body.h"
#include "http/headers.h"

namespace veil::http {
namespace {

TEST(HeadersTest, LookupIsCaseInsensitiveAndKeepsOrder) {
  Headers h;
  h.Add("Content-Type", "application/json");
  h.Add("X-Amz-Meta-A", "1");
  h.Add("x-amz-meta-a", "2");
  EXPECT_EQ(h.Get("content-type"), "application/json");
  EXPECT_EQ(h.Get("X-AMZ-META-A"), "1");
  EXPECT_EQ(h.GetAll("x-amz-meta-a").size(), 2u);
  EXPECT_FALSE(h.Get("missing").has_value());
  h.Set("X-AMZ-META-A", "3");
  ASSERT_EQ(h.GetAll("x-amz-meta-a").size(), 1u);
  EXPECT_EQ(h.Get("x-amz-meta-a"), "3");
  EXPECT_EQ(h.begin()->first, "Content-Type");
  EXPECT_EQ(h.Remove("CONTENT-TYPE"), 1u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(ParseTargetTest, SplitsAndDecodesPathAndQuery) {
  auto t = ParseTarget("/b/a%20b%2Fc?prefix=x%2By&list-type=2&flag&q=a+b");
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->raw_path, "/b/a%20b%2Fc");
  EXPECT_EQ(t->path, "/b/a b/c");
  ASSERT_EQ(t->query.size(), 4u);
  EXPECT_EQ(t->query[0], (std::pair<std::string, std::string>("prefix", "x+y")));
  EXPECT_EQ(t->query[1].second, "2");
  EXPECT_EQ(t->query[2].first, "flag");
  EXPECT_EQ(t->query[2].second, "");
  EXPECT_EQ(t->query[3].second, "a b");

  Request req;
  req.query = t->query;
  EXPECT_EQ(req.Query("list-type"), "2");
  EXPECT_FALSE(req.Query("missing"));
}

TEST(ParseTargetTest, RejectsHostileTargets) {
  for (const char* bad :
       {"", "*", "http://evil/x", "relative", "/a%2", "/a%zz", "/a%00b", "/a?x=%00", "/a b"}) {
    EXPECT_FALSE(ParseTarget(bad)) << bad;
  }
  EXPECT_FALSE(PercentDecode("%"));
  EXPECT_EQ(*PercentDecode("%41%62c"), "Abc");
}

TEST(BodyReaderTest, ReadAllEnforcesTheLimitAndRecords413) {
  StringBodyReader ok(std::string(1000, 'a'));
  auto all = ok.ReadAll(1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1000u);
  EXPECT_EQ(ok.failure_status(), 0);

  StringBodyReader big(std::string(1001, 'a'));
  auto over = big.ReadAll(1000);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(big.failure_status(), 413);
}

TEST(BodyReaderTest, ReadAllKeepsEveryByteOfBodiesLargerThanItsSteps) {
  // Steps grow from 512 bytes to 64 KiB: a body spanning many of them, at and past the limit.
  std::string data(300 * 1024 + 7, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  StringBodyReader exact(data);
  auto all = exact.ReadAll(data.size());
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, data);

  StringBodyReader over(data);
  auto refused = over.ReadAll(data.size() - 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(over.failure_status(), 413);
}

TEST(BodyReaderTest, RequestWithoutBodyReadsEmptyAndStringSourceStreams) {
  Request req;
  char buf[8];
  auto n = req.body().Read(buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);

  auto src = StringSource("hello world");
  std::string out;
  for (;;) {
    char b[4];
    auto got = src(b);
    ASSERT_TRUE(got);
    if (*got == 0) break;
    out.append(b, *got);
  }
  EXPECT_EQ(out, "hello world");
}

}  // namespace
}  // namespace veil::http
