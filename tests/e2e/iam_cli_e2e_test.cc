// End-to-end: `veil login`, `veil iam ...` and `veil resource instance ...` against the built
// veild, each CLI user with its own VEIL_HOME; and a Veil access token verified independently by
// PyJWT (Debian's python3-jwt) with the JWKS of GET /identity/keys.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/process.h"
#include "e2e/veild_fixture.h"

namespace veil::testing {
namespace {

namespace fs = std::filesystem;
const std::string kPython = "/usr/bin/python3";
const std::string kIssuer = "https://iam.veil.local/identity";

unsigned Mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

class IamCliTest : public VeilCliTest {
 protected:
  std::string iam_url(const std::string& path) const { return url(1, path); }

  // Creates a service ID and an API key for it in `key_file`; returns the service ID's iam_id.
  std::string ServiceIdWithKey(const std::string& name, const std::string& key_file) {
    auto sid = VeilJson("admin", {"iam", "service-id", "create", name});
    std::string iam_id(sid.at("iam_id").as_string());
    ProcessResult key = Veil("admin", {"iam", "api-key", "create", name + "-key", "--service-id",
                                       iam_id, "--output-file", key_file});
    EXPECT_EQ(key.exit_code, 0) << key.output;
    return iam_id;
  }
};

TEST_F(IamCliTest, AdminLogsInWithTheFirstStartKeyAndSeesWhoItIs) {
  Start();
  ProcessResult login = Veil("admin", {"login", "--apikey-file", admin_key_file()});
  ASSERT_EQ(login.exit_code, 0) << login.output;
  EXPECT_TRUE(Contains(login.output, "Logged in to " + iam_url(""))) << login.output;

  ProcessResult table = Veil("admin", {"iam", "whoami"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, "admin")) << table.output;
  EXPECT_TRUE(Contains(table.output, "IBMid-")) << table.output;
  EXPECT_TRUE(Contains(table.output, "Token expires")) << table.output;

  auto me = VeilJson("admin", {"iam", "whoami"});
  EXPECT_EQ(me.at("name").as_string(), "admin");
  EXPECT_EQ(me.at("type").as_string(), "user");
  EXPECT_TRUE(me.at("iam_id").as_string().starts_with("IBMid-"));
  EXPECT_EQ(me.at("account_id").as_string().size(), 32u);
  EXPECT_GT(me.at("token_expiration").as_int64(), 0);
}

TEST_F(IamCliTest, TokenFilesAreOwnerOnlyAndLogoutRemovesThem) {
  Start();
  LoginAdmin();
  EXPECT_EQ(Mode(home("admin")), 0700u);
  EXPECT_EQ(Mode(home("admin") + "/token.json"), 0600u);
  EXPECT_EQ(Mode(home("admin") + "/apikey"), 0600u);
  auto token = boost::json::parse(ReadFile(home("admin") + "/token.json"));
  EXPECT_EQ(token.at("version").as_int64(), 1);
  EXPECT_EQ(token.at("iam_endpoint").as_string(), iam_url(""));

  ProcessResult out = Veil("admin", {"logout"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_FALSE(fs::exists(home("admin") + "/token.json"));
  EXPECT_FALSE(fs::exists(home("admin") + "/apikey"));
  ProcessResult whoami = Veil("admin", {"iam", "whoami"});
  EXPECT_EQ(whoami.exit_code, 3) << whoami.output;
  EXPECT_TRUE(Contains(whoami.output, "veil login --apikey-file")) << whoami.output;
}

TEST_F(IamCliTest, NotLoggedInSaysHowToLogIn) {
  Start();
  for (std::vector<std::string> args : {std::vector<std::string>{"iam", "service-id", "list"},
                                        std::vector<std::string>{"resource", "instance", "list"}}) {
    ProcessResult r = Veil("nobody", args);
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_TRUE(Contains(r.output, "not logged in: run `veil login --apikey-file")) << r.output;
  }
}

TEST_F(IamCliTest, AWrongApiKeyIsRefusedWithoutStoringAnything) {
  Start();
  const std::string bad = dir_ + "/bad.apikey";
  std::ofstream(bad) << "AQ" << std::string(64, 'x') << "\n";
  ProcessResult r = Veil("mallory", {"login", "--apikey-file", bad});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(Contains(r.output, "BXNIM0415E")) << r.output;
  EXPECT_FALSE(fs::exists(home("mallory") + "/apikey"));
  ProcessResult missing = Veil("mallory", {"login", "--apikey-file", dir_ + "/none"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

TEST_F(IamCliTest, ServiceIdIsForbiddenUntilGrantedAPolicy) {
  Start();
  LoginAdmin();
  const std::string key_file = dir_ + "/importer.apikey";
  const std::string iam_id = ServiceIdWithKey("importer", key_file);
  EXPECT_EQ(Mode(key_file), 0600u);

  ProcessResult login = Veil("importer", {"login", "--apikey-file", key_file});
  ASSERT_EQ(login.exit_code, 0) << login.output;
  auto me = VeilJson("importer", {"iam", "whoami"});
  EXPECT_EQ(me.at("iam_id").as_string(), iam_id);
  EXPECT_EQ(me.at("type").as_string(), "serviceid");

  ProcessResult denied =
      Veil("importer", {"resource", "instance", "create", "k", "--service", "kms"});
  EXPECT_EQ(denied.exit_code, 4) << denied.output;
  EXPECT_TRUE(Contains(denied.output, "permission denied (HTTP 403")) << denied.output;

  ProcessResult grant = Veil("admin", {"iam", "policy", "create", "--subject", iam_id, "--roles",
                                       "Editor", "--service", "kms"});
  ASSERT_EQ(grant.exit_code, 0) << grant.output;
  ProcessResult allowed =
      Veil("importer", {"resource", "instance", "create", "k", "--service", "kms"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
  // The policy is on kms only: object storage stays forbidden.
  ProcessResult other = Veil(
      "importer", {"resource", "instance", "create", "c", "--service", "cloud-object-storage"});
  EXPECT_EQ(other.exit_code, 4) << other.output;
}

TEST_F(IamCliTest, ServiceIdsAreCreatedListedAndDeleted) {
  Start();
  LoginAdmin();
  auto sid = VeilJson("admin", {"iam", "service-id", "create", "builder", "--description", "ci"});
  const std::string id(sid.at("id").as_string());
  EXPECT_TRUE(id.starts_with("ServiceId-"));
  EXPECT_EQ(sid.at("description").as_string(), "ci");
  ProcessResult table = Veil("admin", {"iam", "service-id", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, "builder")) << table.output;
  EXPECT_TRUE(Contains(table.output, id)) << table.output;
  ProcessResult del = Veil("admin", {"iam", "service-id", "delete", id});
  ASSERT_EQ(del.exit_code, 0) << del.output;
  auto list = VeilJson("admin", {"iam", "service-id", "list"});
  EXPECT_TRUE(list.at("serviceids").as_array().empty()) << list;
  ProcessResult again = Veil("admin", {"iam", "service-id", "delete", id});
  EXPECT_EQ(again.exit_code, 5) << again.output;  // not found: 5, as for every command
  EXPECT_TRUE(Contains(again.output, "not found (HTTP 404")) << again.output;
}

TEST_F(IamCliTest, PoliciesAreCreatedListedAndDeleted) {
  Start();
  LoginAdmin();
  auto sid = VeilJson("admin", {"iam", "service-id", "create", "reader"});
  const std::string iam_id(sid.at("iam_id").as_string());
  auto kms = VeilJson("admin", {"resource", "instance", "create", "keys", "--service", "kms"});
  const std::string guid(kms.at("guid").as_string());
  auto policy = VeilJson("admin", {"iam", "policy", "create", "--subject", iam_id, "--roles",
                                   "Reader,ReaderPlus", "--service", "kms", "--instance", guid});
  const std::string id(policy.at("id").as_string());
  EXPECT_EQ(policy.at("type").as_string(), "access");
  EXPECT_EQ(policy.at("roles").as_array().size(), 2u);

  ProcessResult table = Veil("admin", {"iam", "policy", "list", "--subject", iam_id});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, id)) << table.output;
  EXPECT_TRUE(Contains(table.output, "Reader,ReaderPlus")) << table.output;
  EXPECT_TRUE(Contains(table.output, "serviceInstance=" + guid)) << table.output;

  ProcessResult bad_role = Veil("admin", {"iam", "policy", "create", "--subject", iam_id, "--roles",
                                          "Boss", "--service", "kms"});
  EXPECT_EQ(bad_role.exit_code, 2) << bad_role.output;
  EXPECT_TRUE(Contains(bad_role.output, "unknown role Boss")) << bad_role.output;

  ASSERT_EQ(Veil("admin", {"iam", "policy", "delete", id}).exit_code, 0);
  auto list = VeilJson("admin", {"iam", "policy", "list", "--subject", iam_id});
  EXPECT_TRUE(list.at("policies").as_array().empty()) << list;
}

TEST_F(IamCliTest, AuthorizationsAreCreatedListedAndDeleted) {
  Start();
  LoginAdmin();
  auto auth = VeilJson("admin", {"iam", "authorization", "create", "--source", "server-protect",
                                 "--target", "kms", "--role", "Reader"});
  const std::string id(auth.at("id").as_string());
  EXPECT_EQ(auth.at("type").as_string(), "authorization");
  EXPECT_TRUE(Contains(boost::json::serialize(auth.at("roles")), "serviceRole:Reader"));

  ProcessResult table = Veil("admin", {"iam", "authorization", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, id)) << table.output;
  EXPECT_TRUE(Contains(table.output, "serviceName=server-protect")) << table.output;
  EXPECT_TRUE(Contains(table.output, "serviceName=kms")) << table.output;
  auto access_only = VeilJson("admin", {"iam", "policy", "list", "--type", "access"});
  EXPECT_FALSE(Contains(boost::json::serialize(access_only), id));

  ProcessResult platform = Veil("admin", {"iam", "authorization", "create", "--source", "is",
                                          "--target", "kms", "--role", "Administrator"});
  EXPECT_EQ(platform.exit_code, 2) << platform.output;

  ASSERT_EQ(Veil("admin", {"iam", "authorization", "delete", id}).exit_code, 0);
  auto list = VeilJson("admin", {"iam", "authorization", "list"});
  EXPECT_TRUE(list.at("policies").as_array().empty()) << list;
}

TEST_F(IamCliTest, ResourceInstancesAreCreatedListedAndDeleted) {
  Start();
  LoginAdmin();
  auto kms = VeilJson("admin", {"resource", "instance", "create", "my-kms", "--service", "kms"});
  const std::string guid(kms.at("guid").as_string());
  EXPECT_EQ(kms.at("state").as_string(), "active");
  EXPECT_EQ(kms.at("resource_id").as_string(), "kms");
  auto cos = VeilJson(
      "admin", {"resource", "instance", "create", "my-cos", "--service", "cloud-object-storage"});
  ProcessResult table = Veil("admin", {"resource", "instance", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, "my-kms")) << table.output;
  EXPECT_TRUE(Contains(table.output, "my-cos")) << table.output;
  auto only_kms = VeilJson("admin", {"resource", "instance", "list", "--service", "kms"});
  ASSERT_EQ(only_kms.at("resources").as_array().size(), 1u);
  EXPECT_EQ(only_kms.at("resources").as_array()[0].at("guid").as_string(), guid);

  ProcessResult bad = Veil("admin", {"resource", "instance", "create", "x", "--service", "db"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;

  ASSERT_EQ(Veil("admin", {"resource", "instance", "delete", guid}).exit_code, 0);
  auto left = VeilJson("admin", {"resource", "instance", "list"});
  ASSERT_EQ(left.at("resources").as_array().size(), 1u);
  EXPECT_EQ(left.at("resources").as_array()[0].at("name").as_string(), "my-cos");
}

TEST_F(IamCliTest, LockedAndDeletedApiKeysGetNoToken) {
  Start();
  LoginAdmin();
  const std::string key_file = dir_ + "/svc.apikey";
  const std::string iam_id = ServiceIdWithKey("svc", key_file);
  auto keys = VeilJson("admin", {"iam", "api-key", "list", "--service-id", iam_id});
  ASSERT_EQ(keys.at("apikeys").as_array().size(), 1u);
  const std::string key_id(keys.at("apikeys").as_array()[0].at("id").as_string());

  ASSERT_EQ(Veil("admin", {"iam", "api-key", "lock", key_id}).exit_code, 0);
  ProcessResult locked = Veil("svc", {"login", "--apikey-file", key_file});
  EXPECT_EQ(locked.exit_code, 3) << locked.output;
  ASSERT_EQ(Veil("admin", {"iam", "api-key", "unlock", key_id}).exit_code, 0);
  ProcessResult unlocked = Veil("svc", {"login", "--apikey-file", key_file});
  EXPECT_EQ(unlocked.exit_code, 0) << unlocked.output;

  ASSERT_EQ(Veil("admin", {"iam", "api-key", "delete", key_id}).exit_code, 0);
  // The stored token names a deleted key: refused, and renewing with the key fails too.
  ProcessResult after = Veil("svc", {"iam", "whoami"});
  EXPECT_EQ(after.exit_code, 3) << after.output;
  EXPECT_TRUE(Contains(after.output, "veil login --apikey-file")) << after.output;
}

TEST_F(IamCliTest, ApiKeyValueAppearsOnlyAtCreation) {
  Start();
  const std::string admin_key = Trim(ReadFile(admin_key_file()));
  ASSERT_EQ(admin_key.size(), 66u);
  LoginAdmin();
  auto sid = VeilJson("admin", {"iam", "service-id", "create", "leaky"});
  const std::string iam_id(sid.at("iam_id").as_string());

  // The one output allowed to hold the value: the creation (table output).
  ProcessResult created = Veil("admin", {"iam", "api-key", "create", "k1", "--service-id", iam_id});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  outputs_.pop_back();
  std::string value;
  for (size_t at = created.output.find("API key:"); at != std::string::npos;) {
    std::string line = created.output.substr(at, created.output.find('\n', at) - at);
    value = Trim(line.substr(line.find_last_of(' ') + 1));
    break;
  }
  ASSERT_EQ(value.size(), 66u) << created.output;
  EXPECT_TRUE(Contains(created.output, "cannot show it again")) << created.output;
  const std::string key_file = dir_ + "/k1.apikey";
  std::ofstream(key_file) << value << "\n";

  // Everything else a user would run with it.
  ASSERT_EQ(Veil("leaky", {"login", "--apikey-file", key_file}).exit_code, 0);
  Veil("leaky", {"iam", "whoami"});
  Veil("leaky", {"--output", "json", "iam", "whoami"});
  Veil("leaky", {"--output", "json", "login", "--apikey-file", key_file});
  Veil("admin", {"iam", "api-key", "list", "--service-id", iam_id});
  Veil("admin", {"--output", "json", "iam", "api-key", "list", "--service-id", iam_id});
  Veil("admin", {"--output", "json", "iam", "api-key", "list"});
  Veil("leaky", {"resource", "instance", "create", "x", "--service", "kms"});  // 403
  Veil("leaky", {"logout"});
  ASSERT_EQ(Veil("admin", {"iam", "api-key", "lock", "no-such-key"}).exit_code, 5);  // 404
  std::ofstream(dir_ + "/wrong.apikey") << value.substr(0, 60) << "AAAAAA\n";
  Veil("leaky", {"login", "--apikey-file", dir_ + "/wrong.apikey"});
  daemon_->Stop(SIGTERM);

  const std::string log = ReadFile(dir_ + "/veild.log");
  const std::string audit = ReadFile(data() + "/audit/events.jsonl");
  ASSERT_FALSE(audit.empty());
  ASSERT_TRUE(Contains(audit, "iam-identity.serviceid-apikey.login"));  // the logins are there
  for (const std::string& secret : {value, admin_key}) {
    // The secret part of the key (its last 43 characters) as well as the whole value.
    for (const std::string& needle : {secret, secret.substr(secret.size() - 43)}) {
      for (const std::string& out : outputs_) EXPECT_FALSE(Contains(out, needle)) << out;
      EXPECT_FALSE(Contains(log, needle)) << "veild log holds an API key";
      EXPECT_FALSE(Contains(audit, needle)) << "the audit trail holds an API key";
    }
  }
}

TEST_F(IamCliTest, TokenIsRenewedWithinSixtySecondsOfExpiry) {
  // With 1-minute tokens every token is within 60 s of its expiry: each command renews it.
  Start({"--iam-token-lifetime", "1m"});
  LoginAdmin();
  auto first = boost::json::parse(ReadFile(home("admin") + "/token.json"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later iat
  ProcessResult whoami = Veil("admin", {"iam", "whoami"});
  ASSERT_EQ(whoami.exit_code, 0) << whoami.output;
  auto second = boost::json::parse(ReadFile(home("admin") + "/token.json"));
  EXPECT_NE(first.at("access_token"), second.at("access_token"));
  EXPECT_GT(second.at("expiration").as_int64(), first.at("expiration").as_int64());
  EXPECT_EQ(Mode(home("admin") + "/token.json"), 0600u);
}

TEST_F(IamCliTest, ARefusedTokenIsRenewedOnceWithTheStoredKey) {
  Start();
  LoginAdmin();
  // Replace the stored token with one that no longer verifies (a broken signature) but has not
  // expired: the service answers 401, and veil renews the token once with the stored API key.
  auto token = boost::json::parse(ReadFile(home("admin") + "/token.json")).as_object();
  std::string jwt(token.at("access_token").as_string());
  char& c = jwt[jwt.rfind('.') + 20];  // inside the signature
  c = c == 'A' ? 'B' : 'A';
  token["access_token"] = jwt;
  std::ofstream(home("admin") + "/token.json", std::ios::trunc) << boost::json::serialize(token);
  ProcessResult whoami = Veil("admin", {"iam", "whoami"});
  ASSERT_EQ(whoami.exit_code, 0) << whoami.output;
  auto renewed = boost::json::parse(ReadFile(home("admin") + "/token.json"));
  EXPECT_NE(renewed.at("access_token").as_string(), jwt);
}

TEST_F(IamCliTest, ApiKeyOutputFileIsNeverOverwritten) {
  Start();
  LoginAdmin();
  const std::string file = dir_ + "/exists.apikey";
  std::ofstream(file) << "keep me\n";
  ProcessResult r = Veil("admin", {"iam", "api-key", "create", "k", "--output-file", file});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Contains(r.output, "not overwritten")) << r.output;
  EXPECT_EQ(ReadFile(file), "keep me\n");
}

TEST_F(IamCliTest, AnOutputFileThatCannotBeWrittenLeavesNoCredentialBehind) {
  Start();
  LoginAdmin();
  auto Count = [this](const std::vector<std::string>& list, const std::string& member) {
    return VeilJson("admin", list).at(member).as_array().size();
  };
  const std::vector<std::string> list_keys = {"iam", "api-key", "list"};
  const std::vector<std::string> list_accounts = {"iam", "account", "list"};
  const size_t keys = Count(list_keys, "apikeys");
  const size_t accounts = Count(list_accounts, "resources");
  const std::string exists = dir_ + "/exists.apikey";
  std::ofstream(exists) << "keep me\n";
  const std::string no_dir = dir_ + "/no-such-dir/k.apikey";
  for (const std::string& file : {exists, no_dir}) {
    ProcessResult key = Veil("admin", {"iam", "api-key", "create", "k", "--output-file", file});
    EXPECT_EQ(key.exit_code, 2) << key.output;
    EXPECT_TRUE(Contains(key.output, "--output-file: ")) << key.output;
    EXPECT_TRUE(Contains(key.output, "(no API key was created)")) << key.output;
    ProcessResult account =
        Veil("admin", {"iam", "account", "create", "tenant", "--output-file", file});
    EXPECT_EQ(account.exit_code, 2) << account.output;
    EXPECT_TRUE(Contains(account.output, "(no account was created)")) << account.output;
  }
  EXPECT_EQ(Count(list_keys, "apikeys"), keys);
  EXPECT_EQ(Count(list_accounts, "resources"), accounts);
  EXPECT_EQ(ReadFile(exists), "keep me\n");

  // A file that can be written: the key is created and lands there.
  ProcessResult ok =
      Veil("admin", {"iam", "api-key", "create", "k", "--output-file", dir_ + "/k.apikey"});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(Count(list_keys, "apikeys"), keys + 1);
  EXPECT_EQ(Mode(dir_ + "/k.apikey"), 0600u);
}

TEST_F(IamCliTest, EveryCommandHasHelpWithAnExample) {
  const std::vector<std::vector<std::string>> commands = {
      {"login"},
      {"logout"},
      {"iam", "whoami"},
      {"iam", "token"},
      {"iam", "service-id", "create"},
      {"iam", "service-id", "list"},
      {"iam", "service-id", "delete"},
      {"iam", "api-key", "create"},
      {"iam", "api-key", "list"},
      {"iam", "api-key", "lock"},
      {"iam", "api-key", "unlock"},
      {"iam", "api-key", "delete"},
      {"iam", "policy", "create"},
      {"iam", "policy", "list"},
      {"iam", "policy", "delete"},
      {"iam", "authorization", "create"},
      {"iam", "authorization", "list"},
      {"iam", "authorization", "delete"},
      {"iam", "account", "create"},
      {"iam", "account", "list"},
      {"resource", "instance", "create"},
      {"resource", "instance", "list"},
      {"resource", "instance", "delete"},
  };
  for (std::vector<std::string> c : commands) {
    c.push_back("--help");
    ProcessResult r = RunProcess(
        [&] {
          std::vector<std::string> argv = {kBin + "/veil"};
          argv.insert(argv.end(), c.begin(), c.end());
          return argv;
        }(),
        std::chrono::seconds(10), {"VEIL_HOME=" + home("help")});
    EXPECT_EQ(r.exit_code, 0) << c[0] << " " << r.output;
    EXPECT_TRUE(Contains(r.output, "Example:\n  veil ") || Contains(r.output, "Example:\n  curl"))
        << r.output;
  }
}

// ---- PyJWT ----

constexpr const char* kVerifyScript = R"PY(
import json, sys
import jwt
from jwt.algorithms import RSAAlgorithm
token = open(sys.argv[1]).read().strip()
jwks = json.load(open(sys.argv[2]))
kid = jwt.get_unverified_header(token)["kid"]
jwk = [k for k in jwks["keys"] if k["kid"] == kid][0]
try:
    claims = jwt.decode(token, key=RSAAlgorithm.from_jwk(json.dumps(jwk)), algorithms=["RS256"],
                        issuer=sys.argv[3])
except jwt.PyJWTError as e:
    print("REFUSED", type(e).__name__, e)
    sys.exit(1)
print("VERIFIED", claims["iam_id"], claims["account"]["bss"], claims["sub_type"])
)PY";

class IamPyJwtTest : public IamCliTest {
 protected:
  void SetUp() override {
    IamCliTest::SetUp();
    ProcessResult probe = RunProcess({kPython, "-c", "import jwt, cryptography"});
    // Not a skip: make deps installs them, and a skipped check must not count as passed.
    ASSERT_EQ(probe.exit_code, 0) << "python3-jwt (PyJWT) with python3-cryptography is not "
                                     "installed (make deps installs it): "
                                  << probe.output;
    Start();
    LoginAdmin();
    ProcessResult token = Veil("admin", {"iam", "token"});
    ASSERT_EQ(token.exit_code, 0) << token.output;
    token_ = Trim(token.output);
    std::ofstream(dir_ + "/verify.py") << kVerifyScript;
    ProcessResult jwks =
        RunProcess({"/usr/bin/curl", "-sf", "-o", dir_ + "/jwks.json", iam_url("/identity/keys")});
    ASSERT_EQ(jwks.exit_code, 0) << jwks.output;
  }

  ProcessResult Verify(const std::string& token, const std::string& issuer = kIssuer) {
    std::ofstream(dir_ + "/token.txt", std::ios::trunc) << token;
    return RunProcess(
        {kPython, dir_ + "/verify.py", dir_ + "/token.txt", dir_ + "/jwks.json", issuer});
  }

  std::string token_;
};

TEST_F(IamPyJwtTest, PyJwtVerifiesAVeilTokenWithThePublishedJwks) {
  auto me = VeilJson("admin", {"iam", "whoami"});
  ProcessResult r = Verify(token_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Contains(r.output, "VERIFIED " + std::string(me.at("iam_id").as_string()) + " " +
                                     std::string(me.at("account_id").as_string()) + " user"))
      << r.output;
}

TEST_F(IamPyJwtTest, PyJwtRefusesATamperedToken) {
  const size_t first = token_.find('.');
  const size_t second = token_.find('.', first + 1);
  ASSERT_NE(second, std::string::npos);
  // A claim changed (the payload re-encoded with another account) under the old signature.
  ProcessResult payload_b64 =
      RunProcess({kPython, "-c",
                  "import base64,json,sys\n"
                  "p=sys.argv[1]; c=json.loads(base64.urlsafe_b64decode(p+'='*(-len(p)%4)))\n"
                  "c['account']['bss']='0'*32\n"
                  "print(base64.urlsafe_b64encode(json.dumps(c).encode()).decode().rstrip('='))",
                  token_.substr(first + 1, second - first - 1)});
  ASSERT_EQ(payload_b64.exit_code, 0) << payload_b64.output;
  const std::string forged =
      token_.substr(0, first + 1) + Trim(payload_b64.output) + token_.substr(second);
  ProcessResult claims = Verify(forged);
  EXPECT_EQ(claims.exit_code, 1) << claims.output;
  EXPECT_TRUE(Contains(claims.output, "REFUSED InvalidSignatureError")) << claims.output;

  // One signature character changed.
  std::string flipped = token_;
  char& c = flipped[second + 10];
  c = c == 'A' ? 'B' : 'A';
  ProcessResult signature = Verify(flipped);
  EXPECT_EQ(signature.exit_code, 1) << signature.output;
  EXPECT_TRUE(Contains(signature.output, "REFUSED InvalidSignatureError")) << signature.output;

  // The right token, another issuer expected.
  ProcessResult issuer = Verify(token_, "https://iam.example.com/identity");
  EXPECT_EQ(issuer.exit_code, 1) << issuer.output;
  EXPECT_TRUE(Contains(issuer.output, "REFUSED InvalidIssuerError")) << issuer.output;

  // And Veil itself refuses the forged token.
  ProcessResult veil =
      RunProcess({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                  "Authorization: Bearer " + forged, iam_url("/identity/userinfo")});
  EXPECT_EQ(Trim(veil.output), "401");
}

}  // namespace
}  // namespace veil::testing
