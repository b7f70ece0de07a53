#include "audit/event.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <random>
#include <string>

#include "common/time.h"

namespace veil::audit {
namespace {

Event FullEvent() {
  Event e;
  e.id = "3f1c6a2e-8d4b-4c1e-9a57-0b6f2d9e1c44";
  e.action = "kms.secrets.wrap";
  e.event_time = "2026-11-28T20:30:00.12+0000";
  e.initiator.id = "iam-ServiceId-5e0c";
  e.initiator.name = "image-service";
  e.initiator.type_uri = "service/security/account/serviceid";
  e.initiator.credential_type = "apikey";
  e.initiator.host_address = "127.0.0.1";
  e.initiator.host_address_type = "IPv4";
  e.initiator.host_agent = "veil-cli/0.1.0";
  e.target.id = "crn:v1:veil:private:kms:local:a/acc1:kms1:key:k1";
  e.target.name = "root-1";
  e.target.type_uri = "kms/secrets";
  e.target.host_address = "127.0.0.1:8442";
  e.outcome = "failure";
  e.reason_code = 409;
  e.reason_type = "Conflict";
  e.reason_for_failure = "key is disabled";
  e.severity = "warning";
  e.message = "Key Protect: wrap root-1 -failure";
  e.request_path = "/api/v2/keys/k1/actions/wrap";
  e.method = "POST";
  e.correlation_id = "c0ffee00-0000-4000-8000-000000000001";
  e.data_event = true;
  e.save_service_copy = false;
  e.log_source_crn = "crn:v1:veil:private:kms:local:a/acc1:kms1::";
  e.request_data = {{"keyType", "root"}};
  e.response_data = {{"keyVersionId", "v2"}};
  return e;
}

TEST(EventTest, ToJsonUsesTheSpecFieldNamesAndNesting) {
  boost::json::object j = ToJson(FullEvent());
  EXPECT_EQ(j.at("eventVersion").as_int64(), 1);
  EXPECT_EQ(j.at("typeURI").as_string(), "http://schemas.dmtf.org/cloud/audit/1.0/event");
  EXPECT_EQ(j.at("eventTime").as_string(), "2026-11-28T20:30:00.12+0000");
  EXPECT_EQ(j.at("action").as_string(), "kms.secrets.wrap");
  EXPECT_EQ(j.at("outcome").as_string(), "failure");
  EXPECT_EQ(j.at("severity").as_string(), "warning");
  EXPECT_EQ(j.at("message").as_string(), "Key Protect: wrap root-1 -failure");
  const auto& ini = j.at("initiator").as_object();
  EXPECT_EQ(ini.at("id").as_string(), "iam-ServiceId-5e0c");
  EXPECT_EQ(ini.at("name").as_string(), "image-service");
  EXPECT_EQ(ini.at("typeURI").as_string(), "service/security/account/serviceid");
  EXPECT_EQ(ini.at("credential").at("type").as_string(), "apikey");
  EXPECT_EQ(ini.at("host").at("address").as_string(), "127.0.0.1");
  EXPECT_EQ(ini.at("host").at("addressType").as_string(), "IPv4");
  EXPECT_EQ(ini.at("host").at("agent").as_string(), "veil-cli/0.1.0");
  const auto& tgt = j.at("target").as_object();
  EXPECT_EQ(tgt.at("id").as_string(), "crn:v1:veil:private:kms:local:a/acc1:kms1:key:k1");
  EXPECT_EQ(tgt.at("name").as_string(), "root-1");
  EXPECT_EQ(tgt.at("typeURI").as_string(), "kms/secrets");
  EXPECT_EQ(tgt.at("host").at("address").as_string(), "127.0.0.1:8442");
  EXPECT_EQ(j.at("observer").at("name").as_string(), "ActivityTracker");
  EXPECT_EQ(j.at("observer").at("typeURI").as_string(), "security/edge/activity-tracker");
  EXPECT_EQ(j.at("reason").at("reasonCode").as_int64(), 409);
  EXPECT_EQ(j.at("reason").at("reasonType").as_string(), "Conflict");
  EXPECT_EQ(j.at("reason").at("reasonForFailure").as_string(), "key is disabled");
  EXPECT_EQ(j.at("requestPath").as_string(), "/api/v2/keys/k1/actions/wrap");
  EXPECT_EQ(j.at("method").as_string(), "POST");
  EXPECT_EQ(j.at("requestData").at("keyType").as_string(), "root");
  EXPECT_EQ(j.at("responseData").at("keyVersionId").as_string(), "v2");
  EXPECT_EQ(j.at("correlationId").as_string(), "c0ffee00-0000-4000-8000-000000000001");
  EXPECT_TRUE(j.at("dataEvent").as_bool());
  EXPECT_FALSE(j.at("saveServiceCopy").as_bool());
  EXPECT_EQ(j.at("logSourceCRN").as_string(), "crn:v1:veil:private:kms:local:a/acc1:kms1::");
  EXPECT_EQ(j.at("id").as_string(), "3f1c6a2e-8d4b-4c1e-9a57-0b6f2d9e1c44");
  EXPECT_EQ(j.size(), 20u);  // nothing else
}

// The exact bytes of docs/formats/audit-event.md's full example: field order is part of the
// format.
TEST(EventTest, FullEventSerializesByteExactlyAsDocumented) {
  EXPECT_EQ(
      boost::json::serialize(ToJson(FullEvent())),
      R"({"eventVersion":1,"id":"3f1c6a2e-8d4b-4c1e-9a57-0b6f2d9e1c44",)"
      R"("typeURI":"http://schemas.dmtf.org/cloud/audit/1.0/event",)"
      R"("eventTime":"2026-11-28T20:30:00.12+0000","action":"kms.secrets.wrap",)"
      R"("outcome":"failure","message":"Key Protect: wrap root-1 -failure","severity":"warning",)"
      R"("initiator":{"id":"iam-ServiceId-5e0c","name":"image-service",)"
      R"("typeURI":"service/security/account/serviceid","credential":{"type":"apikey"},)"
      R"("host":{"address":"127.0.0.1","addressType":"IPv4","agent":"veil-cli/0.1.0"}},)"
      R"("target":{"id":"crn:v1:veil:private:kms:local:a/acc1:kms1:key:k1","name":"root-1",)"
      R"("typeURI":"kms/secrets","host":{"address":"127.0.0.1:8442"}},)"
      R"("observer":{"name":"ActivityTracker","typeURI":"security/edge/activity-tracker"},)"
      R"("reason":{"reasonCode":409,"reasonType":"Conflict","reasonForFailure":"key is disabled"},)"
      R"("requestPath":"/api/v2/keys/k1/actions/wrap","method":"POST",)"
      R"("requestData":{"keyType":"root"},"responseData":{"keyVersionId":"v2"},)"
      R"("correlationId":"c0ffee00-0000-4000-8000-000000000001","dataEvent":true,)"
      R"("saveServiceCopy":false,"logSourceCRN":"crn:v1:veil:private:kms:local:a/acc1:kms1::"})");
}

TEST(EventTest, EmptyOptionalFieldsAreOmittedButTheCadfCoreStays) {
  Event e;
  e.action = "iam.identity.authenticate";
  e.event_time = "2026-11-28T20:30:00.00+0000";
  e.outcome = "failure";
  EXPECT_EQ(boost::json::serialize(ToJson(e)),
            R"({"eventVersion":1,"typeURI":"http://schemas.dmtf.org/cloud/audit/1.0/event",)"
            R"("eventTime":"2026-11-28T20:30:00.00+0000","action":"iam.identity.authenticate",)"
            R"("outcome":"failure","severity":"normal","initiator":{},"target":{},)"
            R"("observer":{"name":"ActivityTracker","typeURI":"security/edge/activity-tracker"},)"
            R"("dataEvent":false,"saveServiceCopy":true})");

  // A half-filled nested object keeps only what is set.
  e.initiator.host_agent = "curl/7.88.1";
  e.reason_code = 401;
  boost::json::object j = ToJson(e);
  EXPECT_EQ(boost::json::serialize(j.at("initiator")), R"({"host":{"agent":"curl/7.88.1"}})");
  EXPECT_EQ(boost::json::serialize(j.at("reason")), R"({"reasonCode":401})");
}

TEST(EventTest, InvalidUtf8FromClientsIsReplacedSoTheLineStaysValidJson) {
  Event e = FullEvent();
  e.initiator.host_agent = std::string("evil\xff\xfe agent\xc0\xaf");  // bad bytes, overlong
  e.request_path = "/caf\xc3\xa9/\xed\xa0\x80";                        // valid é, a surrogate
  e.request_data = {{"name\xff", "v\x80"}, {"list", {"ok", "\xf5"}}};
  e.message = "tab\tquote\" newline\n ctrl\x01";
  std::string line = boost::json::serialize(ToJson(e));
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(line, ec);  // strict: rejects invalid UTF-8
  ASSERT_FALSE(ec) << ec.message() << " in " << line;
  EXPECT_EQ(parsed.at("initiator").at("host").at("agent").as_string(),
            "evil\xef\xbf\xbd\xef\xbf\xbd agent\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(parsed.at("requestPath").as_string(),
            "/caf\xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(parsed.at("requestData").at("name\xef\xbf\xbd").as_string(), "v\xef\xbf\xbd");
  EXPECT_EQ(parsed.at("requestData").at("list").at(1).as_string(), "\xef\xbf\xbd");
  EXPECT_EQ(parsed.at("message").as_string(), "tab\tquote\" newline\n ctrl\x01");
  EXPECT_EQ(line.find('\n'), std::string::npos);  // control characters are escaped
}

// AppendJson is the sink's fast path: it must write exactly what ToJson serializes to.
std::string Fast(const Event& e) {
  std::string out = "prefix:";
  AppendJson(e, &out);
  EXPECT_EQ(out.rfind("prefix:", 0), 0u);  // appends, never replaces
  return out.substr(7);
}

TEST(EventTest, AppendJsonWritesTheBytesOfToJson) {
  EXPECT_EQ(Fast(FullEvent()), boost::json::serialize(ToJson(FullEvent())));
  Event empty;
  EXPECT_EQ(Fast(empty), boost::json::serialize(ToJson(empty)));
  Event half;
  half.initiator.host_agent = "curl/7.88.1";
  half.reason_type = "Unauthorized";
  half.request_data = {{"n", 1},
                       {"d", 2.5},
                       {"b", true},
                       {"z", nullptr},
                       {"u", 18446744073709551615u},
                       {"nested", {{"a", {1, "x", {{"k", "v"}}}}}},
                       {"empty", boost::json::object()}};
  EXPECT_EQ(Fast(half), boost::json::serialize(ToJson(half)));
}

TEST(EventTest, AppendJsonEscapesAndSanitizesEveryByteAsToJsonDoes) {
  for (int b = 0; b < 256; ++b) {
    const std::string odd = "a" + std::string(1, static_cast<char>(b)) + "z";
    Event e = FullEvent();
    e.message = odd;
    e.initiator.host_agent = odd;
    e.target.name = odd;
    e.request_data = {{odd, odd}, {"list", {odd, 7}}};
    e.response_data = {{"k", {{odd, odd}}}};
    ASSERT_EQ(Fast(e), boost::json::serialize(ToJson(e))) << "byte " << b;
  }
  // Keys that collide once sanitized ("k\xff" and "k\xfe" both become "k\uFFFD").
  Event e = FullEvent();
  e.request_data = {{"k\xff", "first"}, {"k\xfe", "second"}, {"ok", "v"}};
  EXPECT_EQ(Fast(e), boost::json::serialize(ToJson(e)));
}

TEST(EventTest, AppendJsonMatchesToJsonOnRandomText) {
  std::mt19937 rng(20261128);  // fixed: a failure reproduces
  // Biased towards the interesting bytes: controls, quotes, backslashes, UTF-8 lead and
  // continuation bytes, and the invalid ones.
  const std::string alphabet =
      std::string("\x00\x01\x1f\x7f\"\\/ aZ\xc2\xa9\xe2\x82\xac\xed\xa0\x80", 18) +
      "\xf0\x9f\x98\x80\xf4\x90\x80\x80\xc0\xaf\xff\xfe\x80\xbf";
  auto text = [&] {
    std::string s;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    Event e;
    e.id = text();
    e.action = text();
    e.event_time = text();
    e.message = text();
    e.initiator.id = text();
    e.initiator.credential_type = text();
    e.initiator.host_address = text();
    e.target.id = text();
    e.target.host_address = text();
    e.reason_code = static_cast<int>(rng() % 3) * 200;
    e.reason_for_failure = text();
    e.request_path = text();
    e.correlation_id = text();
    e.log_source_crn = text();
    e.data_event = rng() % 2 == 0;
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) {
      e.request_data[text()] = text();
      e.response_data[text()] = boost::json::array{text(), static_cast<int64_t>(rng() % 100)};
    }
    ASSERT_EQ(Fast(e), boost::json::serialize(ToJson(e))) << "round " << round;
  }
}

TEST(EventTest, EventTimeHasTheActivityTrackerShape) {
  using std::chrono::milliseconds;
  TimePoint t = std::chrono::system_clock::time_point(milliseconds(1'795'897'800'129));
  EXPECT_EQ(FormatAuditTime(t), "2026-11-28T20:30:00.12+0000");  // truncated, never rounded up
}

}  // namespace
}  // namespace veil::audit
