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
#include "e2e/veild_fixture.h"

namespace veil::testing {
namespace {

class IamE2eTest : public VeildTest {};

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
