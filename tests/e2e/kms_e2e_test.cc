// End-to-end: the built veild's KMS over HTTP with its SoftHSM2 token — kill -9 in the middle of
// key creation, import and rotation; no key material in any file of the data directory; IAM
// decisions and Key Protect's error bodies over the wire.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "common/encoding.h"
#include "e2e/process.h"
#include "e2e/veild_fixture.h"
#include "http/client.h"

namespace veil::testing {
namespace {

namespace json = boost::json;

std::string B64(const std::vector<uint8_t>& bytes) { return Base64Encode(bytes); }

std::vector<uint8_t> RandomBytes(size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

struct Reply {
  int status = -1;  // -1: no answer (connection refused or reset)
  std::string body;
  json::value json;
  http::Headers headers;
};

class KmsE2eTest : public VeildTest {
 protected:
  Reply Call(http::HttpClient& client, const std::string& method, int service,
             const std::string& path, const std::string& body = "", const std::string& token = "",
             const std::string& instance = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(base_ + service) + path;
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    if (!instance.empty()) req.headers.Set("bluemix-instance", instance);
    if (!body.empty()) {
      req.headers.Set("Content-Type",
                      body[0] == '{' ? "application/json" : "application/x-www-form-urlencoded");
    }
    req.body = body;
    Reply r;
    auto resp = client.Send(req);
    if (!resp) return r;
    r.status = resp->status;
    r.body = resp->body;
    r.headers = resp->headers;
    boost::system::error_code ec;
    if (!r.body.empty()) r.json = json::parse(r.body, ec);
    return r;
  }

  // A token for the API key `apikey` (the key itself, not a file).
  std::string TokenFor(const std::string& apikey) {
    Reply r = Call(client_, "POST", 1, "/identity/token",
                   "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + apikey);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.json.at("access_token").as_string()) : "";
  }

  static std::string KeyBody(const std::string& name, const std::string& extra = "",
                             bool extractable = false) {
    return R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},)"
           R"("resources":[{"type":"application/vnd.ibm.kms.key+json","name":")" +
           name + R"(","extractable":)" + (extractable ? "true" : "false") + extra + "}]}";
  }

  Reply CreateKey(http::HttpClient& c, const std::string& body) {
    return Call(c, "POST", 2, "/api/v2/keys", body, token_, instance_);
  }
  Reply Action(http::HttpClient& c, const std::string& key, const std::string& action,
               const std::string& body = "{}") {
    return Call(c, "POST", 2, "/api/v2/keys/" + key + "/actions/" + action, body, token_,
                instance_);
  }

  void Boot() {
    Start();
    token_ = Login(admin_key_file());
    instance_ = CreateInstance(token_);
    ASSERT_FALSE(instance_.empty());
  }

  http::HttpClient client_;
  std::string token_;
  std::string instance_;
};

std::string KeyId(const Reply& r) {
  return std::string(r.json.at("resources").at(0).at("id").as_string());
}

// kill -9 while keys are being created, imported and rotated; after the restart no half-made key
// is visible and every acknowledged key and version still unwraps what it wrapped.
TEST_F(KmsE2eTest, KillDuringCreateImportAndRotateLosesNothingAcknowledged) {
  Boot();
  Reply base = CreateKey(client_, KeyBody("rotated"));
  ASSERT_EQ(base.status, 201) << base.body;
  const std::string rotated = KeyId(base);

  struct Sealed {
    std::string key, ciphertext, dek;
  };
  std::mutex mu;
  std::vector<Sealed> sealed;
  std::set<std::string> acknowledged;
  std::atomic<int> rotations{0};
  std::atomic<bool> stop{false};
  auto wrap_and_record = [&](http::HttpClient& c, const std::string& key, std::mt19937_64& rng) {
    std::string dek = B64(RandomBytes(32, rng));
    Reply w = Action(c, key, "wrap", R"({"plaintext":")" + dek + R"("})");
    if (w.status != 200) return;
    std::lock_guard lock(mu);
    sealed.push_back({key, std::string(w.json.at("ciphertext").as_string()), dek});
  };
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // generated root keys
    http::HttpClient c;
    std::mt19937_64 rng(1);
    for (int i = 0; !stop; ++i) {
      Reply r = CreateKey(c, KeyBody("gen-" + std::to_string(i)));
      if (r.status != 201) continue;
      {
        std::lock_guard lock(mu);
        acknowledged.insert(KeyId(r));
      }
      wrap_and_record(c, KeyId(r), rng);
    }
  });
  threads.emplace_back([&] {  // imported root keys
    http::HttpClient c;
    std::mt19937_64 rng(2);
    for (int i = 0; !stop; ++i) {
      std::string material = B64(RandomBytes(32, rng));
      Reply r =
          CreateKey(c, KeyBody("imp-" + std::to_string(i), R"(,"payload":")" + material + R"(")"));
      if (r.status != 201) continue;
      {
        std::lock_guard lock(mu);
        acknowledged.insert(KeyId(r));
      }
      wrap_and_record(c, KeyId(r), rng);
    }
  });
  threads.emplace_back([&] {  // rotations of one key, each followed by a wrap
    http::HttpClient c;
    std::mt19937_64 rng(3);
    while (!stop) {
      if (Action(c, rotated, "rotate", "").status == 204) ++rotations;
      wrap_and_record(c, rotated, rng);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(daemon_->Stop(SIGKILL), -1);
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_GT(acknowledged.size(), 2u);
  ASSERT_GT(rotations.load(), 0);

  daemon_.reset();
  Start();
  token_ = Login(admin_key_file());
  Reply list = Call(client_, "GET", 2, "/api/v2/keys?limit=5000", "", token_, instance_);
  ASSERT_EQ(list.status, 200) << list.body;
  std::set<std::string> listed;
  for (const json::value& k : list.json.at("resources").as_array()) {
    std::string id(k.at("id").as_string());
    listed.insert(id);
    // Whole keys only: each has a version and wraps.
    EXPECT_FALSE(k.at("keyVersion").at("id").as_string().empty());
    Reply w = Action(client_, id, "wrap");
    EXPECT_EQ(w.status, 200) << id << ": " << w.body;
  }
  for (const std::string& id : acknowledged) EXPECT_TRUE(listed.contains(id)) << id;
  EXPECT_TRUE(listed.contains(rotated));
  Reply versions = Call(client_, "GET", 2, "/api/v2/keys/" + rotated + "/versions?limit=5000", "",
                        token_, instance_);
  ASSERT_EQ(versions.status, 200);
  EXPECT_GE(versions.json.at("resources").as_array().size(),
            static_cast<size_t>(1 + rotations.load()));
  ASSERT_FALSE(sealed.empty());
  for (const Sealed& s : sealed) {
    Reply u = Action(client_, s.key, "unwrap", R"({"ciphertext":")" + s.ciphertext + R"("})");
    ASSERT_EQ(u.status, 200) << u.body;
    EXPECT_EQ(u.json.at("plaintext").as_string(), s.dek);
  }
}

// Import a known key, wrap a known and a generated DEK, read a standard key: none of them, as
// bytes, hex or base64, is in any file of the data directory or veild's log.
TEST_F(KmsE2eTest, KeyMaterialAndDeksAppearInNoFile) {
  Boot();
  std::mt19937_64 rng(42);
  std::vector<std::vector<uint8_t>> secrets = {RandomBytes(32, rng), RandomBytes(32, rng),
                                               RandomBytes(48, rng)};
  Reply imported = CreateKey(client_, KeyBody("known", R"(,"payload":")" + B64(secrets[0]) + "\""));
  ASSERT_EQ(imported.status, 201) << imported.body;
  const std::string key = KeyId(imported);
  Reply given = Action(client_, key, "wrap", R"({"plaintext":")" + B64(secrets[1]) + R"("})");
  ASSERT_EQ(given.status, 200);
  Reply generated = Action(client_, key, "wrap");
  ASSERT_EQ(generated.status, 200);
  auto dek = Base64Decode(std::string(generated.json.at("plaintext").as_string()));
  ASSERT_TRUE(dek);
  secrets.push_back(*dek);
  Reply unwrapped =
      Action(client_, key, "unwrap",
             R"({"ciphertext":")" + std::string(given.json.at("ciphertext").as_string()) + R"("})");
  ASSERT_EQ(unwrapped.status, 200);
  Reply standard = CreateKey(
      client_, KeyBody("std", R"(,"payload":")" + B64(secrets[2]) + "\"", /*extractable=*/true));
  ASSERT_EQ(standard.status, 201) << standard.body;
  Reply read = Call(client_, "GET", 2, "/api/v2/keys/" + KeyId(standard), "", token_, instance_);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.json.at("resources").at(0).at("payload").as_string(), B64(secrets[2]));
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0);

  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::string content = ReadFile(entry.path().string());
    for (size_t i = 0; i < secrets.size(); ++i) {
      std::string raw(secrets[i].begin(), secrets[i].end());
      EXPECT_EQ(content.find(raw), std::string::npos) << entry.path() << " secret " << i;
      EXPECT_EQ(content.find(HexEncode(secrets[i])), std::string::npos) << entry.path();
      EXPECT_EQ(content.find(B64(secrets[i])), std::string::npos) << entry.path();
    }
  }
  EXPECT_GE(files, 6u);  // db, wal/shm, token files, pins, audit log, veild.log
  EXPECT_NE(ReadFile(data() + "/audit/events.jsonl").find("kms.secrets.wrap"), std::string::npos);
}

// IAM decides; errors come in Key Protect's body with its reason codes.
TEST_F(KmsE2eTest, IamDecidesAndErrorsAreKeyProtects) {
  Boot();
  Reply key = CreateKey(client_, KeyBody("crk"));
  ASSERT_EQ(key.status, 201);
  const std::string id = KeyId(key);

  // A service ID with Reader on this KMS instance.
  Reply sid = Call(client_, "POST", 1, "/v1/serviceids", R"({"name":"reader"})", token_);
  ASSERT_EQ(sid.status, 201) << sid.body;
  std::string iam_id(sid.json.at("iam_id").as_string());
  std::string account(sid.json.at("account_id").as_string());
  Reply apikey = Call(client_, "POST", 1, "/v1/apikeys",
                      R"({"name":"k","iam_id":")" + iam_id + R"("})", token_);
  ASSERT_EQ(apikey.status, 201) << apikey.body;
  std::string reader_token = TokenFor(std::string(apikey.json.at("apikey").as_string()));
  auto reason = [](const Reply& r) {
    return std::string(r.json.at("resources").at(0).at("reasons").at(0).at("code").as_string());
  };
  Reply denied = Call(client_, "POST", 2, "/api/v2/keys/" + id + "/actions/wrap", "{}",
                      reader_token, instance_);
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(reason(denied), "UNAUTHORIZED_ERR");
  EXPECT_EQ(denied.json.at("metadata").at("collectionType").as_string(),
            "application/vnd.ibm.kms.error+json");
  Reply policy =
      Call(client_, "POST", 1, "/v1/policies",
           R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":")" + iam_id +
               R"("}]}],"roles":[{"role_id":"crn:v1:veil:public:iam::::serviceRole:Reader"}],)"
               R"("resources":[{"attributes":[{"name":"accountId","value":")" +
               account +
               R"("},{"name":"serviceName","value":"kms"},{"name":"serviceInstance","value":")" +
               instance_ + R"("}]}]})",
           token_);
  ASSERT_EQ(policy.status, 201) << policy.body;
  Reply wrapped = Call(client_, "POST", 2, "/api/v2/keys/" + id + "/actions/wrap", "{}",
                       reader_token, instance_);
  EXPECT_EQ(wrapped.status, 200) << wrapped.body;
  // The older action form.
  Reply older = Call(client_, "POST", 2, "/api/v2/keys/" + id + "?action=wrap", "{}", reader_token,
                     instance_);
  EXPECT_EQ(older.status, 200) << older.body;
  // Reader does not create, disable or read another instance's keys.
  Reply create = Call(client_, "POST", 2, "/api/v2/keys", KeyBody("nope"), reader_token, instance_);
  EXPECT_EQ(create.status, 403);
  Reply disable = Call(client_, "POST", 2, "/api/v2/keys/" + id + "/actions/disable", "",
                       reader_token, instance_);
  EXPECT_EQ(disable.status, 403);
  std::string other = CreateInstance(token_);
  Reply elsewhere = Call(client_, "GET", 2, "/api/v2/keys", "", reader_token, other);
  EXPECT_EQ(elsewhere.status, 403);
  // A key absent from the instance: 404 for those allowed to look, 403 for the others.
  Reply missing = Call(client_, "GET", 2, "/api/v2/keys/" + id, "", token_, other);
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(reason(missing), "KEY_NOT_FOUND_ERR");

  Reply anonymous = Call(client_, "GET", 2, "/api/v2/keys", "", "", instance_);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(reason(anonymous), "UNAUTHORIZED_ERR");
  Reply no_instance = Call(client_, "GET", 2, "/api/v2/keys", "", token_, "");
  EXPECT_EQ(no_instance.status, 400);
  EXPECT_EQ(reason(no_instance), "MISSING_INSTANCE_HEADER_ERR");
  Reply unknown =
      Call(client_, "GET", 2, "/api/v2/keys", "", token_, "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(unknown.status, 404);
  Reply bad = Action(client_, id, "unwrap", R"({"ciphertext":"bm90IGEgd2RlawSS"})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(reason(bad), "UNPROCESSABLE_CIPHERTEXT_ERR");
  Reply total = Call(client_, "HEAD", 2, "/api/v2/keys", "", token_, instance_);
  EXPECT_EQ(total.status, 200);
  EXPECT_EQ(total.headers.Get("Key-Total").value_or(""), "1");
  Reply mismatch = CreateKey(
      client_,
      R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":2},)"
      R"("resources":[{"name":"x1"}]})");
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(reason(mismatch), "COLLECTION_TOTAL_MISMATCH_ERR");
  ASSERT_EQ(Action(client_, id, "disable", "").status, 204);
  Reply state = Action(client_, id, "wrap");
  EXPECT_EQ(state.status, 409);
  EXPECT_EQ(reason(state), "KEY_ACTION_INVALID_STATE_ERR");

  // Every call left one event with Key Protect's action names.
  daemon_->Stop(SIGTERM);
  std::string events = ReadFile(data() + "/audit/events.jsonl");
  for (std::string action : {"kms.secrets.create", "kms.secrets.wrap", "kms.secrets.disable",
                             "kms.secrets.list", "kms.secrets.head", "kms.secrets.unwrap"}) {
    EXPECT_NE(events.find("\"action\":\"" + action + "\""), std::string::npos) << action;
  }
}

// Production: the module, token label and PIN come from configuration and the environment; a
// token made by someone else (softhsm2-util here) holds the master key.
TEST_F(KmsE2eTest, ConfiguredPkcs11ModuleTokenAndPin) {
  const std::string hsm = dir_ + "/external-hsm";
  std::filesystem::create_directories(hsm + "/tokens");
  {
    std::ofstream conf(hsm + "/softhsm2.conf");
    conf << "directories.tokendir = " << hsm << "/tokens\nobjectstore.backend = file\n"
         << "log.level = ERROR\n";
  }
  const std::string env_conf = "SOFTHSM2_CONF=" + hsm + "/softhsm2.conf";
  auto init =
      RunProcess({"/usr/bin/env", env_conf, "/usr/bin/softhsm2-util", "--init-token", "--free",
                  "--label", "prod-token", "--so-pin", "87654321", "--pin", "12345678"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  const std::vector<std::string> module = {"--hsm-module", "/usr/lib/softhsm/libsofthsm2.so",
                                           "--hsm-token-label", "prod-token"};

  // A wrong PIN stops veild at start with a clear message.
  {
    Background wrong(
        {"/usr/bin/env", env_conf, "VEIL_HSM_PIN=00000000", kBin + "/veild", "--data-dir", data(),
         "--port-base", std::to_string(base_), module[0], module[1], module[2], module[3]},
        log());
    for (int i = 0; i < 200 && wrong.Alive(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_FALSE(wrong.Alive());
    EXPECT_NE(ReadFile(log()).find("CKR_PIN_INCORRECT"), std::string::npos) << ReadFile(log());
    EXPECT_EQ(ReadFile(log()).find("00000000"), std::string::npos);
  }

  Start(module, {"/usr/bin/env", env_conf, "VEIL_HSM_PIN=12345678"});
  token_ = Login(admin_key_file());
  instance_ = CreateInstance(token_);
  Reply key = CreateKey(client_, KeyBody("prod"));
  ASSERT_EQ(key.status, 201) << key.body;
  Reply wrapped = Action(client_, KeyId(key), "wrap");
  ASSERT_EQ(wrapped.status, 200) << wrapped.body;
  EXPECT_FALSE(std::filesystem::exists(data() + "/hsm"));  // no SoftHSM2 token of veild's own
  // The PIN can also come from a file; the key still unwraps after the restart.
  daemon_->Stop(SIGTERM);
  {
    std::ofstream pin(dir_ + "/pin");
    pin << "12345678\n";
  }
  std::vector<std::string> with_file = module;
  with_file.insert(with_file.end(), {"--hsm-pin-file", dir_ + "/pin"});
  Start(with_file, {"/usr/bin/env", env_conf});
  token_ = Login(admin_key_file());
  Reply unwrapped =
      Action(client_, KeyId(key), "unwrap",
             R"({"ciphertext":")" + std::string(wrapped.json.at("ciphertext").as_string()) + "\"}");
  ASSERT_EQ(unwrapped.status, 200) << unwrapped.body;
  EXPECT_EQ(unwrapped.json.at("plaintext"), wrapped.json.at("plaintext"));
}

// Deleting a resource instance that holds keys would orphan them, and every DEK wrapped under
// them, out of reach of dual authorization, KeyPurge, registrations and the KMS's audit events:
// the resource controller refuses, in IAM's error format. A deleted instance takes no new key,
// although the KMS cached it (for 5 s) a moment before.
TEST_F(KmsE2eTest, DeletingAKmsInstanceThatHoldsKeysIsRefused) {
  Boot();
  Reply key = CreateKey(client_, KeyBody("held"));
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string path = "/v2/resource_instances/" + instance_;
  Reply refused = Call(client_, "DELETE", 1, path, "", token_);
  ASSERT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.json.at("errorCode").as_string(), "BXNIM0409E");
  EXPECT_NE(std::string(refused.json.at("errorMessage").as_string()).find("not purged"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(Call(client_, "GET", 1, path, "", token_).status, 200);
  // A deleted key is not a purged one.
  ASSERT_EQ(Call(client_, "DELETE", 2, "/api/v2/keys/" + KeyId(key), "", token_, instance_).status,
            204);
  EXPECT_EQ(Call(client_, "DELETE", 1, path, "", token_).status, 409);
  EXPECT_EQ(Call(client_, "GET", 2, "/api/v2/keys?state=5", "", token_, instance_).status, 200);

  const std::string empty = CreateInstance(token_, "kms", "empty");
  ASSERT_FALSE(empty.empty());
  ASSERT_EQ(Call(client_, "GET", 2, "/api/v2/keys", "", token_, empty).status, 200);  // cached
  ASSERT_EQ(Call(client_, "DELETE", 1, "/v2/resource_instances/" + empty, "", token_).status, 204);
  Reply late = Call(client_, "POST", 2, "/api/v2/keys", KeyBody("late"), token_, empty);
  EXPECT_EQ(late.status, 404) << late.body;
  EXPECT_EQ(late.json.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "INSTANCE_NOT_FOUND_ERR");
}

}  // namespace
}  // namespace veil::testing
