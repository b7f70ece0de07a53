// End-to-end: the built veild's IAM — first start, the admin key, tokens on every service, a
// restart — checked with curl.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <thread>

#include "e2e/process.h"

namespace veil::testing {
namespace {

const std::string kBin = VEIL_BIN_DIR;

class IamE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    base_ = FreePortBase();
  }
  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string data() const { return dir_ + "/data"; }
  std::string log() const { return dir_ + "/veild.log"; }
  std::string url(int offset, const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(base_ + offset) + path;
  }

  void Start() {
    daemon_ =
        std::make_unique<Background>(std::vector<std::string>{kBin + "/veild", "--data-dir", data(),
                                                              "--port-base", std::to_string(base_)},
                                     log());
    for (int i = 0; i < 200; ++i) {
      if (Curl({url(1, "/healthz")}).first == 200) return;
      ASSERT_TRUE(daemon_->Alive()) << ReadFile(log());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "veild did not become healthy: " << ReadFile(log());
  }

  std::pair<int, std::string> Curl(std::vector<std::string> args) {
    std::string body_file = dir_ + "/curl-body";
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o", body_file, "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunProcess(argv);
    int status = r.exit_code == 0 ? std::atoi(r.output.c_str()) : -1;
    return {status, ReadFile(body_file)};
  }

  std::string Login(const std::string& key_file) {
    auto [status, body] = Curl({"-X", "POST", url(1, "/identity/token"), "--data-urlencode",
                                "grant_type=urn:ibm:params:oauth:grant-type:apikey",
                                "--data-urlencode", "apikey@" + key_file});
    EXPECT_EQ(status, 200) << body;
    if (status != 200) return "";
    return std::string(boost::json::parse(body).at("access_token").as_string());
  }

  std::string dir_;
  int base_ = 0;
  std::unique_ptr<Background> daemon_;
};

TEST_F(IamE2eTest, FirstStartWritesTheAdminKeyOnceAndItLogsIn) {
  Start();
  const std::string key_file = data() + "/admin-apikey";
  struct stat st {};
  ASSERT_EQ(stat(key_file.c_str(), &st), 0) << ReadFile(log());
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string key = ReadFile(key_file);
  ASSERT_EQ(key.size(), 67u);
  key.pop_back();
  const std::string log_text = ReadFile(log());
  EXPECT_NE(log_text.find("admin API key written to " + key_file), std::string::npos) << log_text;
  EXPECT_EQ(log_text.find(key), std::string::npos);

  const std::string token = Login(key_file);
  ASSERT_FALSE(token.empty());
  auto [ids_status, ids] = Curl({"-H", "Authorization: Bearer " + token, url(1, "/v1/serviceids")});
  EXPECT_EQ(ids_status, 200) << ids;
  // Every service authenticates: a bad token is 401 on the kms port too, /healthz stays open.
  EXPECT_EQ(Curl({"-H", "Authorization: Bearer nonsense", url(2, "/anything")}).first, 401);
  EXPECT_EQ(Curl({url(2, "/healthz")}).first, 200);
  EXPECT_EQ(Curl({url(1, "/v1/serviceids")}).first, 401);

  // A restart neither rewrites the key file nor invalidates the token.
  EXPECT_EQ(daemon_->Stop(SIGTERM), 0);
  ASSERT_EQ(std::filesystem::remove(key_file), true);
  Start();
  EXPECT_FALSE(std::filesystem::exists(key_file));
  auto [after, body] = Curl({"-H", "Authorization: Bearer " + token, url(1, "/identity/userinfo")});
  EXPECT_EQ(after, 200) << body;
  auto [jwks_status, jwks] = Curl({url(1, "/identity/keys")});
  ASSERT_EQ(jwks_status, 200);
  EXPECT_EQ(boost::json::parse(jwks).at("keys").as_array().size(), 2u) << "both processes' keys";
  // Nothing in the data directory holds a private key.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data())) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = ReadFile(entry.path().string());
    EXPECT_EQ(bytes.find("PRIVATE KEY"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(token), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(key), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace veil::testing
