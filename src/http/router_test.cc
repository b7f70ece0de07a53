#include "http/router.h"

#include <gtest/gtest.h>

namespace veil::http {
namespace {

Handler Named(std::string name) {
  return [name](RequestContext&) -> Result<Response> { return Response::Text(200, name); };
}

std::string Invoke(const RouteMatch& m) {
  Request req;
  RequestContext ctx(std::move(req), "r", "c");
  return m.route->handler(ctx)->body;
}

TEST(RouterTest, MatchesLiteralsAndDecodesParameters) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/api/v2/keys", Named("list")));
  ASSERT_TRUE(r.Add("GET", "/api/v2/keys/{id}", Named("get")));
  ASSERT_TRUE(r.Add("POST", "/api/v2/keys/{id}/actions/{action}", Named("action")));
  EXPECT_EQ(r.size(), 3u);

  auto m = r.Match("GET", "/api/v2/keys");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Invoke(m), "list");
  EXPECT_TRUE(m.params.empty());

  m = r.Match("POST", "/api/v2/keys/k%2F1/actions/wrap");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Invoke(m), "action");
  // An encoded slash stays inside the parameter: parameters match on the raw path.
  EXPECT_EQ(m.params.at("id"), "k/1");
  EXPECT_EQ(m.params.at("action"), "wrap");
  EXPECT_EQ(m.route->path_template, "/api/v2/keys/{id}/actions/{action}");
}

TEST(RouterTest, GreedyTailTakesTheRestOfThePath) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/{bucket}", Named("bucket")));
  ASSERT_TRUE(r.Add("GET", "/{bucket}/{key+}", Named("object")));
  auto m = r.Match("GET", "/b1/dir/sub/file%20name.luks");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Invoke(m), "object");
  EXPECT_EQ(m.params.at("bucket"), "b1");
  EXPECT_EQ(m.params.at("key"), "dir/sub/file name.luks");

  m = r.Match("GET", "/b1");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Invoke(m), "bucket");
  // A greedy tail needs at least one character; "/b1/" has an empty one.
  EXPECT_EQ(r.Match("GET", "/b1/").kind, RouteMatch::Kind::kNotFound);
}

// S3 clients send bucket requests as "/bucket/" too (s3cmd): "{key*}" takes an empty tail.
TEST(RouterTest, PossiblyEmptyGreedyTailMatchesATrailingSlash) {
  Router r;
  ASSERT_TRUE(r.Add("PUT", "/{bucket}", Named("bucket")));
  ASSERT_TRUE(r.Add("PUT", "/{bucket}/{key*}", Named("object")));
  auto m = r.Match("PUT", "/b1/");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Invoke(m), "object");
  EXPECT_EQ(m.params.at("key"), "");
  m = r.Match("PUT", "/b1/a/b");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.params.at("key"), "a/b");
  EXPECT_EQ(Invoke(r.Match("PUT", "/b1")), "bucket");
  EXPECT_FALSE(r.Add("PUT", "/{a*}/x", Named("x")));  // still the last segment only
  EXPECT_EQ(r.Routes().size(), 2u);
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/v1/images/{id}", Named("get")));
  ASSERT_TRUE(r.Add("DELETE", "/v1/images/{id}", Named("delete")));
  ASSERT_TRUE(r.Add("PATCH", "/v1/images/{id}", Named("patch")));
  EXPECT_EQ(r.Match("GET", "/v1/volumes/x").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.Match("GET", "/v1/images").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.Match("GET", "/v1/images/x/extra").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.Match("GET", "relative").kind, RouteMatch::Kind::kNotFound);
  auto m = r.Match("POST", "/v1/images/x");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD, PATCH");
  // HEAD falls back to GET.
  m = r.Match("HEAD", "/v1/images/x");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->method, "GET");
}

TEST(RouterTest, LiteralBeatsParameterAndBacktracks) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/keys/{id}", Named("by-id")));
  ASSERT_TRUE(r.Add("GET", "/keys/export/{format}", Named("export")));
  ASSERT_TRUE(r.Add("POST", "/keys/special", Named("special")));
  EXPECT_EQ(Invoke(r.Match("GET", "/keys/export/pem")), "export");
  // "/keys/export" dead-ends in the literal branch, then matches the parameter.
  auto m = r.Match("GET", "/keys/export");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Invoke(m), "by-id");
  EXPECT_EQ(m.params.at("id"), "export");
  // The literal route has only POST: GET falls through to the parameter route.
  EXPECT_EQ(Invoke(r.Match("GET", "/keys/special")), "by-id");
  EXPECT_EQ(Invoke(r.Match("POST", "/keys/special")), "special");
}

TEST(RouterTest, RootAndTrailingSlashAreDistinct) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/", Named("root")));
  ASSERT_TRUE(r.Add("GET", "/healthz", Named("health")));
  EXPECT_EQ(Invoke(r.Match("GET", "/")), "root");
  EXPECT_EQ(Invoke(r.Match("GET", "/healthz")), "health");
  EXPECT_EQ(r.Match("GET", "/healthz/").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.Match("GET", "//").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterTest, RejectsMalformedTemplatesAndDuplicates) {
  Router r;
  EXPECT_EQ(r.Add("GET", "keys", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/keys/{id", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/keys/x{id}", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/{a+}/b", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/{a}/{a}", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/a//b", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("get", "/a", Named("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/a", nullptr).error().code, ErrorCode::kInvalidArgument);
  RouteOptions inline_authenticated;
  inline_authenticated.inline_handler = true;
  EXPECT_EQ(r.Add("GET", "/a", Named("x"), inline_authenticated).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(r.Add("GET", "/keys/{id}", Named("x")));
  // Same shape under another parameter name is the same route.
  EXPECT_EQ(r.Add("GET", "/keys/{key_id}", Named("y")).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(r.size(), 1u);
}

// Routes() lists every route once, with its options, whatever the shape of the trie (literals,
// parameters, greedy tails, several methods on one node), in template then method order.
TEST(RouterTest, RoutesListsEveryRouteWithItsOptions) {
  Router r;
  RouteOptions open;
  open.authenticated = false;
  open.action = "test.health.read";
  open.body_limit = 0;
  RouteOptions wrap;
  wrap.action = "kms.secrets.wrap";
  wrap.body_limit = 4096;
  ASSERT_TRUE(r.Add("GET", "/healthz", Named("h"), open));
  ASSERT_TRUE(r.Add("POST", "/keys/{id}/actions/{action}", Named("a"), wrap));
  ASSERT_TRUE(r.Add("GET", "/keys/{id}", Named("g")));
  ASSERT_TRUE(r.Add("DELETE", "/keys/{id}", Named("d")));
  ASSERT_TRUE(r.Add("GET", "/keys/registrations", Named("q")));
  ASSERT_TRUE(r.Add("PUT", "/{bucket}/{key+}", Named("p")));
  ASSERT_TRUE(r.Add("GET", "/", Named("root")));
  std::vector<std::string> seen;
  for (const Route* route : r.Routes()) seen.push_back(route->method + " " + route->path_template);
  // Byte order of the templates: '{' sorts after every letter.
  EXPECT_EQ(seen,
            (std::vector<std::string>{"GET /", "GET /healthz", "GET /keys/registrations",
                                      "DELETE /keys/{id}", "GET /keys/{id}",
                                      "POST /keys/{id}/actions/{action}", "PUT /{bucket}/{key+}"}));
  ASSERT_EQ(r.Routes().size(), r.size());
  const Route* health = r.Routes()[1];
  EXPECT_FALSE(health->options.authenticated);
  EXPECT_EQ(health->options.action, "test.health.read");
  const Route* action = r.Routes()[5];
  EXPECT_TRUE(action->options.authenticated);
  EXPECT_EQ(action->options.action, "kms.secrets.wrap");
  EXPECT_EQ(action->options.body_limit, std::optional<size_t>(4096));
  EXPECT_TRUE(Router().Routes().empty());
}

}  // namespace
}  // namespace veil::http
