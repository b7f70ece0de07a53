// The fixture of the end-to-end suites: a temporary directory, free ports, the built veild started
// on them with that directory's data/, and curl to talk to it. Header-only; e2e tests only.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "e2e/process.h"

namespace veil::testing {

// `s` without trailing white space (a command's output line).
inline std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

class VeildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    base_ = FreePortBase();
  }
  void TearDown() override {
    daemon_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string bin() const { return VEIL_BIN_DIR; }
  std::string data() const { return dir_ + "/data"; }
  std::string log() const { return dir_ + "/veild.log"; }
  std::string admin_key_file() const { return data() + "/admin-apikey"; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(base_); }
  std::string url(int offset, const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(base_ + offset) + path;
  }

  // Starts `prefix...` veild --data-dir data() --port-base base_ `extra...` and waits until every
  // service answers /healthz (fails the test with veild's log when it dies or stays silent).
  void Start(std::vector<std::string> extra = {}, std::vector<std::string> prefix = {}) {
    std::vector<std::string> argv = std::move(prefix);
    for (std::string a : {bin() + "/veild", std::string("--data-dir"), data(),
                          std::string("--port-base"), std::to_string(base_)}) {
      argv.push_back(std::move(a));
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    // Another test may take one of the free ports between FreePortBase() and veild's bind: then
    // start again on new ports (the data directory is kept, as a restart would).
    for (int attempt = 0; attempt < 3; ++attempt) {
      daemon_ = std::make_unique<Background>(argv, log());
      for (int i = 0; i < 400; ++i) {
        if (AllHealthy()) return;
        if (!daemon_->Alive()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      const std::string text = ReadFile(log());
      ASSERT_FALSE(daemon_->Alive()) << "veild did not become healthy: " << text;
      ASSERT_NE(text.find("Address already in use"), std::string::npos) << text;
      base_ = FreePortBase();
      for (size_t k = 0; k + 1 < argv.size(); ++k) {
        if (argv[k] == "--port-base") argv[k + 1] = std::to_string(base_);
      }
    }
    FAIL() << "veild found no free ports in 3 attempts: " << ReadFile(log());
  }

  // curl -s -o <body> -w '%{http_code}' args...: the status (-1 when curl failed) and body.
  std::pair<int, std::string> Curl(std::vector<std::string> args) {
    std::string body_file = dir_ + "/curl-body";
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o", body_file, "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunProcess(argv);
    int status = r.exit_code == 0 ? std::atoi(r.output.c_str()) : -1;
    return {status, ReadFile(body_file)};
  }

  // An access token for the API key in `key_file` (POST /identity/token).
  std::string Login(const std::string& key_file) {
    auto [status, body] = Curl({"-X", "POST", url(1, "/identity/token"), "--data-urlencode",
                                "grant_type=urn:ibm:params:oauth:grant-type:apikey",
                                "--data-urlencode", "apikey@" + key_file});
    EXPECT_EQ(status, 200) << body;
    if (status != 200) return "";
    return std::string(boost::json::parse(body).at("access_token").as_string());
  }

  // A resource instance of `service` ("kms", "cloud-object-storage"): its GUID.
  std::string CreateInstance(const std::string& token, const std::string& service = "kms",
                             const std::string& name = "e2e") {
    auto [status, body] =
        Curl({"-X", "POST", url(1, "/v2/resource_instances"), "-H",
              "Authorization: Bearer " + token, "-H", "Content-Type: application/json", "--data",
              R"({"name":")" + name + R"(","resource_id":")" + service + R"(","target":"local"})"});
    EXPECT_EQ(status, 201) << body;
    if (status != 201) return "";
    return std::string(boost::json::parse(body).at("guid").as_string());
  }

  std::string dir_;
  int base_ = 0;
  std::unique_ptr<Background> daemon_;

 private:
  bool AllHealthy() {
    for (int offset = 1; offset <= 5; ++offset) {
      if (Curl({url(offset, "/healthz")}).first != 200) return false;
    }
    return true;
  }
};

// The built `veil` against the fixture's veild, each CLI user with its own VEIL_HOME (so logins
// do not mix); every output is kept for the suites that check no secret leaked into one.
class VeilCliTest : public VeildTest {
 protected:
  std::string home(const std::string& who) const { return dir_ + "/home-" + who; }

  ProcessResult Veil(const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> argv = {kBin + "/veil", "--endpoint", endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv, std::chrono::seconds(30), {"VEIL_HOME=" + home(who)});
    outputs_.push_back(r.output);
    return r;
  }

  // `veil --output json args...` as `who`: its output parsed (a failure fails the test).
  boost::json::value VeilJson(const std::string& who, std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "json"});
    ProcessResult r = Veil(who, args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.output, ec);
    EXPECT_FALSE(ec) << r.output;
    return v;
  }

  void LoginAdmin() {
    ProcessResult r = Veil("admin", {"login", "--apikey-file", admin_key_file()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::vector<std::string> outputs_;
};

}  // namespace veil::testing
