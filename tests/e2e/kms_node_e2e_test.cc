// Integration: the official Key Protect Node.js client (@ibm-cloud/ibm-key-protect, pinned in
// tests/node/package-lock.json) against a real veild. The client is installed from the npm
// registry into <build>/node once (`npm ci`, again only when the lockfile changes); then
// tests/node/kms_client_test.js drives create, list, get, wrap, unwrap, rewrap, rotate, disable,
// enable and delete through it. Without node, npm or the registry the test fails: a missing
// client is a failure of the compatibility claim, not a skip (docs/kms-compat.md).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "e2e/process.h"
#include "e2e/veild_fixture.h"

namespace veil::testing {
namespace {

const std::string kSource = VEIL_SOURCE_DIR;
const std::string kNodeDir = std::string(VEIL_BUILD_DIR) + "/node";

// Holds an exclusive flock on a file while alive: ctest may run several tests of this binary at
// once, and only one may install.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(open(path.c_str(), O_RDWR | O_CREAT, 0644)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Installs the pinned client into kNodeDir unless the installed one came from the current
// lockfile. Returns an empty string on success, else why it failed.
std::string InstallClient() {
  std::error_code ec;
  std::filesystem::create_directories(kNodeDir, ec);
  if (ec) return "cannot create " + kNodeDir + ": " + ec.message();
  FileLock lock(kNodeDir + "/.install.lock");
  if (!lock.ok()) return "cannot lock " + kNodeDir + "/.install.lock";
  const std::string lockfile = ReadFile(kSource + "/tests/node/package-lock.json");
  if (lockfile.empty()) return "tests/node/package-lock.json is missing";
  const std::string stamp = kNodeDir + "/.installed-lock.json";
  if (ReadFile(stamp) == lockfile &&
      std::filesystem::exists(kNodeDir + "/node_modules/@ibm-cloud/ibm-key-protect/package.json")) {
    return "";
  }
  std::filesystem::remove(stamp, ec);
  for (const char* name : {"package.json", "package-lock.json"}) {
    std::filesystem::copy_file(kSource + "/tests/node/" + name, kNodeDir + "/" + name,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return std::string("cannot copy tests/node/") + name + ": " + ec.message();
  }
  ProcessResult npm =
      RunProcess({"/usr/bin/env", "npm", "ci", "--prefix", kNodeDir, "--no-audit", "--no-fund",
                  "--ignore-scripts", "--fetch-retries=2", "--fetch-timeout=60000"},
                 std::chrono::minutes(5));
  if (npm.exit_code != 0) {
    return "npm ci --prefix " + kNodeDir + " failed (exit " + std::to_string(npm.exit_code) +
           "): the Key Protect client could not be installed. Is npm installed (make deps) and "
           "the npm registry reachable?\n" +
           npm.output;
  }
  std::ofstream(stamp, std::ios::binary | std::ios::trunc) << lockfile;
  return "";
}

class KmsNodeClientTest : public VeildTest {
 protected:
  std::string CreateKmsInstance(const std::string& token) {
    return CreateInstance(token, "kms", "node-client");
  }
};

TEST_F(KmsNodeClientTest, TheOfficialKeyProtectClientDrivesTheKeyLifecycle) {
  if (const std::string error = InstallClient(); !error.empty()) {
    FAIL() << "the Key Protect Node.js client is required for this test: " << error;
  }

  Start();
  const std::string key_file = data() + "/admin-apikey";
  const std::string token = Login(key_file);
  ASSERT_FALSE(token.empty());
  const std::string instance = CreateKmsInstance(token);
  ASSERT_FALSE(instance.empty());
  std::string apikey = ReadFile(key_file);
  while (!apikey.empty() && (apikey.back() == '\n' || apikey.back() == '\r')) apikey.pop_back();

  ProcessResult run = RunProcess(
      {"/usr/bin/env", "node", kSource + "/tests/node/kms_client_test.js"}, std::chrono::minutes(2),
      {"VEIL_NODE_DIR=" + kNodeDir, "VEIL_KMS_URL=" + url(2), "VEIL_KMS_INSTANCE=" + instance,
       "VEIL_TOKEN=" + token, "VEIL_IAM_URL=" + url(1), "VEIL_APIKEY=" + apikey});
  std::cout << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output << "\nveild log:\n" << ReadFile(log());
  EXPECT_NE(run.output.find("steps passed"), std::string::npos) << run.output;
  // The client's calls log no secret: neither the token nor the API key reaches veild's log.
  const std::string log_text = ReadFile(log());
  EXPECT_EQ(log_text.find(token), std::string::npos);
  EXPECT_EQ(log_text.find(apikey), std::string::npos);
}

}  // namespace
}  // namespace veil::testing
