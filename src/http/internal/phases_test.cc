// The request phases without sockets: the wording clients get for 5xx and 401, the status of a
// failed body read, the audit event's fields, response validation.
#include "http/internal/phases.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "audit/in_memory_sink.h"
#include "common/log.h"
#include "http/error_map.h"

namespace veil::http::internal {
namespace {

class PhasesTest : public ::testing::Test {
 protected:
  PhasesTest() {
    options_.service_name = "test";
    hooks_.audit = &sink_;
    route_.method = "POST";
    route_.path_template = "/things/{id}";
    route_.options.action = "test.thing.create";
    routing_.match.kind = RouteMatch::Kind::kFound;
    routing_.match.route = &route_;
    routing_.body_limit = 1024;
  }

  RequestContext Context() {
    Request req;
    req.method = "POST";
    req.path = "/things/1";
    req.raw_path = "/things/1";
    req.remote_address = "127.0.0.9";
    RequestContext ctx(std::move(req), "req-1", "corr-1");
    ctx.set_route(route_.path_template);
    return ctx;
  }

  static std::string Message(const Response& r) {
    auto v = boost::json::parse(r.body);
    return std::string(v.at("errors").at(0).at("message").as_string());
  }

  ServerOptions options_;
  ServerHooks hooks_;
  audit::InMemorySink sink_;
  Route route_;
  Routing routing_;
};

TEST_F(PhasesTest, InternalErrorRevealsNoCauseToTheClientOrTheEvent) {
  RequestPhases phases(options_, hooks_);
  RequestContext ctx = Context();
  const std::string cause = "sqlite: SELECT secret_column FROM kms_keys WHERE id = ?: disk I/O";
  Response r = phases.Finalize(ctx, routing_, Outcome{Internal(cause)});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos);
  EXPECT_EQ(Message(r), "internal error");
  EXPECT_EQ(ctx.event().reason_code, 500);
  EXPECT_EQ(ctx.event().reason_for_failure, "internal error");
  // Every 5xx, whatever its code.
  for (auto code : {ErrorCode::kUnavailable, ErrorCode::kDataLoss, ErrorCode::kDeadlineExceeded,
                    ErrorCode::kUnimplemented}) {
    RequestContext c2 = Context();
    Response r2 = phases.Finalize(c2, routing_, Outcome{tl::unexpected(Error(code, cause))});
    EXPECT_GE(r2.status, 500);
    EXPECT_EQ(r2.body.find("SELECT"), std::string::npos) << r2.body;
  }
}

TEST_F(PhasesTest, EveryUnauthenticatedAnswerIsTheSameAndTheEventKeepsTheCause) {
  RequestPhases phases(options_, hooks_);
  std::string first;
  for (const char* cause : {"token expired", "the token's API key was deleted",
                            "token signature does not verify", "token signed by an unknown key"}) {
    RequestContext ctx = Context();
    Response r = phases.Finalize(
        ctx, routing_, Outcome::Rejected({Error(ErrorCode::kUnauthenticated, cause), 401}));
    EXPECT_EQ(r.status, 401);
    if (first.empty()) first = Message(r);
    EXPECT_EQ(Message(r), first);
    EXPECT_EQ(r.body.find(cause), std::string::npos);
    EXPECT_EQ(ctx.event().reason_for_failure, cause);
  }
}

TEST_F(PhasesTest, ClientErrorsBelow500KeepTheirMessage) {
  RequestPhases phases(options_, hooks_);
  RequestContext ctx = Context();
  Response r = phases.Finalize(ctx, routing_, Outcome{NotFound("key k does not exist")});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Message(r), "key k does not exist");
}

TEST_F(PhasesTest, AFailedBodyReadOverridesASuccessfulAnswer) {
  RequestPhases phases(options_, hooks_);
  RequestContext ctx = Context();
  class FailedBody final : public BodyReader {
   public:
    FailedBody() { SetFailure(BodyTooLarge(10), kStatusPayloadTooLarge); }
    Result<size_t> Read(std::span<char>) override { return size_t{0}; }
  } body;
  Response r = phases.Finalize(ctx, routing_, Outcome{Response::Text(200, "ok"), &body});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ctx.event().outcome, "failure");
}

TEST_F(PhasesTest, EventCarriesTransportFieldsAndTheRouteAction) {
  RequestPhases phases(options_, hooks_);
  RequestContext ctx = Context();
  ctx.principal = Principal{"iam-ServiceId-1", "importer", "serviceid", "acct", "token", {}};
  Response r = phases.Finalize(ctx, routing_, Outcome{Response::Text(201, "made")});
  EXPECT_EQ(r.status, 201);
  const audit::Event& ev = ctx.event();
  EXPECT_EQ(ev.action, "test.thing.create");
  EXPECT_EQ(ev.initiator.id, "iam-ServiceId-1");
  EXPECT_EQ(ev.initiator.type_uri, "service/security/account/serviceid");
  EXPECT_EQ(ev.initiator.host_address, "127.0.0.9");
  EXPECT_EQ(ev.outcome, "success");
  EXPECT_EQ(ev.correlation_id, "corr-1");
  phases.EmitAudit(ctx, &route_);
  EXPECT_EQ(sink_.size(), 1u);
}

TEST_F(PhasesTest, AnInvalidResponseBecomesA500) {
  RequestPhases phases(options_, hooks_);
  RequestContext ctx = Context();
  Response bad = Response::Text(200, "x");
  bad.headers.Set("X-Split", "a\r\nSet-Cookie: evil=1");
  Response r = phases.Finalize(ctx, routing_, Outcome{std::move(bad)});
  EXPECT_EQ(r.status, 500);
  EXPECT_FALSE(r.headers.Get("Set-Cookie"));
  EXPECT_FALSE(ValidateResponse(Response::Text(99, "")));
}

TEST_F(PhasesTest, DecideAuthenticatesBeforeRevealingWhichPathsExist) {
  hooks_.authenticator = [](const Request&) -> Result<std::optional<Principal>> {
    return Unauthenticated("bad token");
  };
  RequestPhases phases(options_, hooks_);
  Routing none;  // no route matched
  RequestContext ctx = Context();
  auto rejection = phases.Decide(ctx, none);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->status, 401);
}

}  // namespace
}  // namespace veil::http::internal
