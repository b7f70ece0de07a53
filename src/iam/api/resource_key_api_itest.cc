// /v2/resource_keys over loopback (IamApiFixture, with the in-memory sealer): IBM's shapes, the
// shown-once secrets, errors in the IAM dialect, who may create, read and delete keys, and the
// attacks on them, each a named test.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "audit/event.h"
#include "common/log.h"
#include "iam/api/api_fixture.h"

namespace veil::iam::api {
namespace {

using iam::testing::ReadFile;
using testing::Reply;

class ResourceKeyApiTest : public testing::IamApiFixture {
 protected:
  std::string NewCos(const std::string& token, const std::string& name = "cos") {
    Reply r = Call("POST", "/v2/resource_instances", token,
                   R"({"name":")" + name + R"(","resource_id":"cloud-object-storage"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json.is_object() ? std::string(r.json.at("guid").as_string()) : "";
  }

  static std::string KeyBody(const std::string& source, const std::string& role, bool hmac,
                             const std::string& name = "creds") {
    return R"({"name":")" + name + R"(","source":")" + source + R"(","role":")" + role +
           R"(","parameters":{"HMAC":)" + (hmac ? "true" : "false") + "}}";
  }

  Reply CreateKey(const std::string& token, const std::string& source, const std::string& role,
                  bool hmac = true, const http::Headers& extra = {}) {
    return Call("POST", "/v2/resource_keys", token, KeyBody(source, role, hmac), extra);
  }

  static std::string Str(const boost::json::value& v, std::string_view name) {
    const boost::json::value* m = v.is_object() ? v.as_object().if_contains(name) : nullptr;
    return m != nullptr && m->is_string() ? std::string(m->as_string()) : "";
  }
};

TEST_F(ResourceKeyApiTest, CreateAnswersInIbmsShapeWithTheSecretsShownOnce) {
  const std::string guid = NewCos(admin_token_);
  Reply r = CreateKey(admin_token_, guid, "crn:v1:bluemix:public:iam::::serviceRole:Writer");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.Get("Cache-Control").value_or(""), "no-store");
  const boost::json::value& k = r.json;
  const std::string key_guid = Str(k, "guid");
  const std::string crn = "crn:v1:veil:private:cloud-object-storage:local:a/" + f_.account_id +
                          ":" + guid + ":resource-key:" + key_guid;
  EXPECT_EQ(Str(k, "id"), crn);
  EXPECT_EQ(Str(k, "crn"), crn);
  EXPECT_EQ(Str(k, "url"), "/v2/resource_keys/" + key_guid);
  EXPECT_EQ(Str(k, "name"), "creds");
  EXPECT_EQ(Str(k, "account_id"), f_.account_id);
  EXPECT_EQ(Str(k, "source_crn"), "crn:v1:veil:private:cloud-object-storage:local:a/" +
                                      f_.account_id + ":" + guid + "::");
  EXPECT_EQ(Str(k, "resource_instance_url"), "/v2/resource_instances/" + guid);
  EXPECT_EQ(Str(k, "role"), "crn:v1:veil:public:iam::::serviceRole:Writer");
  EXPECT_EQ(Str(k, "state"), "active");
  EXPECT_EQ(Str(k, "created_by"), f_.admin.iam_id);
  EXPECT_FALSE(Str(k, "created_at").empty());
  const boost::json::value& c = k.at("credentials");
  const std::string apikey = Str(c, "apikey");
  EXPECT_EQ(apikey.size(), 66u);
  EXPECT_TRUE(Str(c, "iam_apikey_id").starts_with("ApiKey-"));
  EXPECT_EQ(Str(c, "iam_role_crn"), "crn:v1:veil:public:iam::::serviceRole:Writer");
  EXPECT_TRUE(Str(c, "iam_serviceid_crn")
                  .starts_with("crn:v1:veil:private:iam-identity::a/" + f_.account_id +
                               "::serviceid:ServiceId-"));
  EXPECT_EQ(Str(c, "resource_instance_id"), Str(k, "source_crn"));
  const std::string access_key_id = Str(c.at("cos_hmac_keys"), "access_key_id");
  const std::string secret = Str(c.at("cos_hmac_keys"), "secret_access_key");
  EXPECT_EQ(access_key_id.size(), 32u);
  EXPECT_EQ(secret.size(), 48u);

  // The credential works: its API key logs in, its access key is found with its secret.
  EXPECT_EQ(TokenRequest(apikey).status, 200);
  auto found = f_.service->LookupHmacCredential(access_key_id);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->secret_access_key.Equals(AsBytes(secret)));

  // Shown once: reading and listing never show the API key or the secret again.
  for (const Reply& again : {Call("GET", "/v2/resource_keys/" + key_guid, admin_token_),
                             Call("GET", "/v2/resource_keys?name=creds", admin_token_)}) {
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.body.find(secret), std::string::npos);
    EXPECT_EQ(again.body.find(apikey), std::string::npos);
    EXPECT_EQ(again.body.find("secret_access_key"), std::string::npos);
    EXPECT_EQ(again.body.find("\"apikey\""), std::string::npos);
    EXPECT_NE(again.body.find(access_key_id), std::string::npos);
  }
  Reply list = Call("GET", "/v2/resource_keys", admin_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json.at("rows_count").as_int64(), 1);
  EXPECT_TRUE(list.json.at("next_url").is_null());
  EXPECT_EQ(Str(list.json.at("resources").at(0), "guid"), key_guid);

  // Without HMAC: the same, without cos_hmac_keys.
  Reply plain = CreateKey(admin_token_, guid, "Reader", false);
  ASSERT_EQ(plain.status, 201) << plain.body;
  EXPECT_FALSE(plain.json.at("credentials").as_object().contains("cos_hmac_keys"));
  EXPECT_EQ(Str(plain.json, "role"), "crn:v1:veil:public:iam::::serviceRole:Reader");
}

TEST_F(ResourceKeyApiTest, ErrorsAnswerInTheIamDialect) {
  const std::string guid = NewCos(admin_token_);
  auto kms = f_.service->CreateInstance({f_.account_id, "kp", "kms", ""}, "t");
  ASSERT_TRUE(kms);
  ExpectIamError(CreateKey(admin_token_, guid, "Viewer"), 400, "BXNIM0400E");
  ExpectIamError(CreateKey(admin_token_, guid, "Administrator"), 400, "BXNIM0400E");
  ExpectIamError(CreateKey(admin_token_, kms->guid, "Writer"), 400, "BXNIM0400E");
  ExpectIamError(CreateKey(admin_token_, "2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77", "Writer"), 404,
                 "BXNIM0404E");
  ExpectIamError(Call("POST", "/v2/resource_keys", admin_token_, R"({"name":"x","role":"Writer"})"),
                 400, "BXNIM0400E");
  ExpectIamError(Call("POST", "/v2/resource_keys", admin_token_,
                      R"({"name":"x","source":")" + guid +
                          R"(","role":"Writer","parameters":{"HMAC":"yes"}})"),
                 400, "BXNIM0400E");
  ExpectIamError(Call("POST", "/v2/resource_keys", admin_token_,
                      R"({"name":"x","source":")" + guid +
                          R"(","role":"Writer","parameters":{"serviceid_crn":"crn:x"}})"),
                 400, "BXNIM0400E");
  ExpectIamError(Call("GET", "/v2/resource_keys/nope", admin_token_), 404, "BXNIM0404E");
  ExpectIamError(Call("DELETE", "/v2/resource_keys/nope", admin_token_), 404, "BXNIM0404E");
  ExpectIamError(Call("GET", "/v2/resource_keys?pagesize=0", admin_token_), 400, "BXNIM0400E");

  // An instance with keys, and a key's own service ID, cannot be deleted: 409.
  Reply key = CreateKey(admin_token_, guid, "Writer");
  ASSERT_EQ(key.status, 201);
  ExpectIamError(Call("DELETE", "/v2/resource_instances/" + guid, admin_token_), 409, "BXNIM0409E");
  const std::string sid = Str(key.json.at("credentials"), "iam_serviceid_crn");
  const std::string service_id = sid.substr(sid.rfind(':') + 1);
  ExpectIamError(Call("DELETE", "/v1/serviceids/" + service_id, admin_token_), 409, "BXNIM0409E");
  ASSERT_EQ(Call("DELETE", "/v2/resource_keys/" + Str(key.json, "guid"), admin_token_).status, 204);
  EXPECT_EQ(Call("DELETE", "/v2/resource_instances/" + guid, admin_token_).status, 204);
  // HMAC without a sealer (the HSM): refused, not made half.
  f_.service->SetSecretSealer(nullptr);
  const std::string other = NewCos(admin_token_, "other");
  ExpectIamError(CreateKey(admin_token_, other, "Writer"), 409, "BXNIM0409E");
  EXPECT_EQ(Call("GET", "/v2/resource_keys", admin_token_).json.at("rows_count").as_int64(), 0);
}

TEST_F(ResourceKeyApiTest, DeletingAKeyStopsItsCredentialsAtOnce) {
  const std::string guid = NewCos(admin_token_);
  Reply key = CreateKey(admin_token_, guid, "Manager");
  ASSERT_EQ(key.status, 201);
  const boost::json::value& c = key.json.at("credentials");
  const std::string apikey = Str(c, "apikey");
  const std::string access_key_id = Str(c.at("cos_hmac_keys"), "access_key_id");
  const std::string token = Login(apikey);
  ASSERT_FALSE(token.empty());
  ASSERT_TRUE(f_.service->LookupHmacCredential(access_key_id));  // cached
  // The id may be the CRN too (percent-encoded, as IBM's SDKs send it).
  const std::string crn = Str(key.json, "crn");
  std::string encoded;
  for (char ch : crn) encoded += ch == '/' ? std::string("%2F") : std::string(1, ch);
  EXPECT_EQ(Call("GET", "/v2/resource_keys/" + encoded, admin_token_).status, 200);
  Reply gone = Call("DELETE", "/v2/resource_keys/" + Str(key.json, "guid"), admin_token_, "",
                    Correlation("key-delete"));
  ASSERT_EQ(gone.status, 204) << gone.body;
  EXPECT_EQ(f_.service->LookupHmacCredential(access_key_id).error().code, ErrorCode::kNotFound);
  ExpectIamError(TokenRequest(apikey), 400, "BXNIM0415E");
  EXPECT_EQ(Call("GET", "/identity/userinfo", token).status, 401);
  EXPECT_EQ(Call("GET", "/v2/resource_keys/" + Str(key.json, "guid"), admin_token_).status, 404);
  auto events = EventsOf("key-delete");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, "resource-controller.key.delete");
  EXPECT_EQ(events[0].severity, "warning");
  EXPECT_EQ(events[0].target.id, crn);
}

// Account A's keys are invisible to account B's administrator, who holds every role in B: reading
// or deleting one answers as an unknown id (404), listing A's is refused (403), and B cannot make
// a key of A's instance (404). Nothing B does names A's key in B's events.
TEST_F(ResourceKeyApiTest, ResourceKeyOfAnotherAccountIsInvisible) {
  const std::string guid = NewCos(admin_token_);
  Reply key = CreateKey(admin_token_, guid, "Writer");
  ASSERT_EQ(key.status, 201);
  const std::string key_guid = Str(key.json, "guid");
  auto other = f_.service->CreateAccount("tenant-b");
  ASSERT_TRUE(other);
  auto b_admin = f_.ServiceIdWith({"Administrator", "Manager"}, other->id);
  const std::string b = Login(b_admin.apikey);
  const std::string unknown = "2c0a6e2a-7c1e-4d2a-9a55-0c9f5d3b1e77";
  for (const std::string& id : {key_guid, unknown}) {
    Reply read = Call("GET", "/v2/resource_keys/" + id, b, "", Correlation("b-read-" + id));
    ExpectIamError(read, 404, "BXNIM0404E");
    ExpectIamError(Call("DELETE", "/v2/resource_keys/" + id, b), 404, "BXNIM0404E");
    ExpectIamError(CreateKey(b, id == key_guid ? guid : unknown, "Writer"), 404, "BXNIM0404E");
    for (const audit::Event& e : EventsOf("b-read-" + id)) {
      EXPECT_TRUE(e.target.id.empty()) << e.target.id;
    }
  }
  ExpectIamError(Call("GET", "/v2/resource_keys?account_id=" + f_.account_id, b), 403,
                 "BXNIM0403E");
  Reply mine = Call("GET", "/v2/resource_keys", b);
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(mine.json.at("rows_count").as_int64(), 0);
  // A's key is untouched.
  EXPECT_EQ(Call("GET", "/v2/resource_keys/" + key_guid, admin_token_).status, 200);
  // Someone in A without any role gets 403 for both, learning nothing either.
  auto nobody = f_.ServiceIdWith({});
  const std::string n = Login(nobody.apikey);
  ExpectIamError(Call("GET", "/v2/resource_keys/" + key_guid, n), 403, "BXNIM0403E");
  ExpectIamError(Call("GET", "/v2/resource_keys/" + unknown, n), 403, "BXNIM0403E");
}

// An Editor may create keys, but only with a role it holds on the instance itself: otherwise a
// platform Editor (who manages instances, not data) could mint itself a Manager credential.
TEST_F(ResourceKeyApiTest, AnEditorWithoutARoleCannotMintAKeyWithIt) {
  const std::string guid = NewCos(admin_token_);
  auto editor = f_.ServiceIdWith({"Editor"});
  f_.Grant(editor.identity.iam_id, {"Writer"}, f_.account_id,
           {{"accountId", f_.account_id},
            {"serviceName", "cloud-object-storage"},
            {"serviceInstance", guid}});
  const std::string token = Login(editor.apikey);
  EXPECT_EQ(CreateKey(token, guid, "Reader").status, 201);
  EXPECT_EQ(CreateKey(token, guid, "Writer").status, 201);
  ExpectIamError(CreateKey(token, guid, "Manager"), 403, "BXNIM0403E");
  // Writer on the instance without Editor: no key at all.
  auto writer = f_.ServiceIdWith({"Writer"});
  ExpectIamError(CreateKey(Login(writer.apikey), guid, "Reader"), 403, "BXNIM0403E");
  // Only the two keys of the Editor were made.
  EXPECT_EQ(Call("GET", "/v2/resource_keys", admin_token_).json.at("rows_count").as_int64(), 2);
}

// The audit event of a creation names the key, its access key id and its service ID; no event,
// log line (at debug level) or trail line ever holds the secret access key or the API key.
TEST_F(ResourceKeyApiTest, TheAuditEventsOfACreateCarryIdsButNeverTheSecrets) {
  const std::string log_path = f_.dir / "veild.log";
  ASSERT_TRUE(log::SetFile(log_path));
  log::SetLevel(log::Level::kDebug);
  const std::string guid = NewCos(admin_token_);
  Reply key = CreateKey(admin_token_, guid, "Writer", true, Correlation("key-create"));
  ASSERT_EQ(key.status, 201);
  const boost::json::value& c = key.json.at("credentials");
  const std::string apikey = Str(c, "apikey");
  const std::string access_key_id = Str(c.at("cos_hmac_keys"), "access_key_id");
  const std::string secret = Str(c.at("cos_hmac_keys"), "secret_access_key");
  ASSERT_TRUE(f_.service->LookupHmacCredential(access_key_id));
  Call("GET", "/v2/resource_keys/" + Str(key.json, "guid"), admin_token_);
  Call("GET", "/v2/resource_keys", admin_token_);
  Call("DELETE", "/v2/resource_keys/" + Str(key.json, "guid"), admin_token_);
  log::SetFile("");
  log::SetLevel(log::Level::kInfo);

  auto events = EventsOf("key-create");
  ASSERT_EQ(events.size(), 1u);
  const audit::Event& e = events[0];
  EXPECT_EQ(e.action, "resource-controller.key.create");
  EXPECT_EQ(e.outcome, "success");
  EXPECT_EQ(e.target.id, Str(key.json, "crn"));
  EXPECT_EQ(e.target.name, "creds");
  EXPECT_EQ(e.target.type_uri, "cloud-object-storage/resource-key");
  EXPECT_EQ(e.message, "Resource Controller: create resource key creds");
  EXPECT_EQ(Str(e.response_data, "access_key_id"), access_key_id);
  EXPECT_EQ(Str(e.response_data, "resource_key_id"), Str(key.json, "guid"));
  EXPECT_EQ(Str(e.response_data, "role"), "Writer");
  for (const audit::Event& any : sink_->memory().events()) {
    const std::string json = boost::json::serialize(audit::ToJson(any));
    EXPECT_EQ(json.find(secret), std::string::npos) << json;
    EXPECT_EQ(json.find(apikey), std::string::npos) << json;
  }
  for (const std::string& path : {f_.dir / "events.jsonl", log_path}) {
    const std::string bytes = ReadFile(path);
    EXPECT_EQ(bytes.find(secret), std::string::npos) << path;
    EXPECT_EQ(bytes.find(apikey), std::string::npos) << path;
  }
  EXPECT_NE(ReadFile(f_.dir / "events.jsonl").find(access_key_id), std::string::npos);
}

}  // namespace
}  // namespace veil::iam::api
