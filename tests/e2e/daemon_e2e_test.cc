// End-to-end: the built veild and veil binaries, over HTTP on loopback, checked with curl.
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

class DaemonTest : public VeildTest {
 protected:
  ProcessResult Veil(std::vector<std::string> args) {
    std::vector<std::string> argv = {kBin + "/veil", "--endpoint", endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }
};

TEST_F(DaemonTest, EveryServiceAnswersHealthzOnItsOwnPort) {
  Start();
  const char* names[] = {"iam", "kms", "cos", "is", "audit"};
  for (int k = 1; k <= 5; ++k) {
    auto [status, body] = Curl({url(k, "/healthz")});
    EXPECT_EQ(status, 200) << names[k - 1];
    auto json = boost::json::parse(body);
    EXPECT_EQ(json.at("status").as_string(), "ok");
    EXPECT_EQ(json.at("service").as_string(), names[k - 1]);
  }
}

TEST_F(DaemonTest, StatusShowsEveryServiceHealthyInTableAndJson) {
  Start();
  auto table = Veil({"status"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("SERVICE"), std::string::npos);
  for (const char* name : {"iam", "kms", "cos", "is", "audit"}) {
    EXPECT_NE(table.output.find(name), std::string::npos) << name;
  }
  auto json_run = Veil({"--output", "json", "status"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.output;
  auto json = boost::json::parse(json_run.output);
  EXPECT_TRUE(json.at("healthy").as_bool());
  auto& services = json.at("services").as_array();
  ASSERT_EQ(services.size(), 5u);
  for (auto& s : services) EXPECT_EQ(s.at("status").as_string(), "healthy");
}

TEST_F(DaemonTest, StatusFailsWhenTheDaemonIsDown) {
  auto r = Veil({"status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unreachable"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, CreatesTheDataDirectoryOwnerOnly) {
  Start();
  struct stat st {};
  ASSERT_EQ(stat(data().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(std::filesystem::exists(data() + "/veil.db"));
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Two veilds on one data directory would each cache API keys, root keys and policies, so that a
// revocation made through one would not reach the other: the second is refused before it touches
// anything, names the directory and the holder's pid, and says so once.
TEST_F(DaemonTest, SecondVeildOnTheSameDataDirectoryIsRefusedWithTheHoldersPid) {
  Start();
  auto [status, keys_before] = Curl({url(1, "/identity/keys")});
  ASSERT_EQ(status, 200);
  const int other_base = FreePortBase();
  for (int base : {other_base, base_}) {  // other ports, then the very same ones
    auto second =
        RunProcess({kBin + "/veild", "--data-dir", data(), "--port-base", std::to_string(base)});
    EXPECT_EQ(second.exit_code, 1) << second.output;
    const std::string expected = "data directory " + data() + " is in use by another veild (pid " +
                                 std::to_string(daemon_->pid()) + ",";
    EXPECT_EQ(Count(second.output, expected), 1u) << second.output;
  }
  // With the log off, the reason still reaches stderr, once.
  auto quiet = RunProcess({kBin + "/veild", "--data-dir", data(), "--port-base",
                           std::to_string(other_base), "--log-level", "off"});
  EXPECT_EQ(quiet.exit_code, 1);
  EXPECT_EQ(Count(quiet.output, "is in use by another veild"), 1u) << quiet.output;
  EXPECT_EQ(Curl({"http://127.0.0.1:" + std::to_string(other_base + 1) + "/healthz"}).first, -1);
  // Nothing was published by the refused starts: the same signing keys as before.
  EXPECT_EQ(Curl({url(1, "/identity/keys")}).second, keys_before);
  EXPECT_EQ(Curl({url(1, "/healthz")}).first, 200);  // the first one still serves
}

// A veild that dies (no clean shutdown) releases its data directory.
TEST_F(DaemonTest, DataDirectoryLockIsReleasedWhenVeildDies) {
  Start();
  daemon_->Stop(SIGKILL);
  Start();
  EXPECT_EQ(Curl({url(2, "/healthz")}).first, 200);
}

// A start that cannot bind its ports stops before it stores anything: no HSM token, no database,
// no first account, no signing key.
TEST_F(DaemonTest, StartThatCannotBindItsPortsChangesNoStoredState) {
  Start();
  const std::string other = dir_ + "/other";
  auto second =
      RunProcess({kBin + "/veild", "--data-dir", other, "--port-base", std::to_string(base_)});
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_TRUE(Contains(second.output, "Address already in use; another program uses the port"))
      << second.output;
  EXPECT_FALSE(std::filesystem::exists(other + "/veil.db"));
  EXPECT_FALSE(std::filesystem::exists(other + "/hsm"));
  EXPECT_FALSE(std::filesystem::exists(other + "/admin-apikey"));
}

// --help: every flag described, typed values, and the default data directory, which is not the
// CLI's profile (~/.veil).
TEST_F(DaemonTest, HelpDescribesEveryFlagAndADataDirectoryApartFromTheCliProfile) {
  auto help = RunProcess({kBin + "/veild", "--help"}, std::chrono::seconds(30),
                         {"HOME=/var/lib/newcomer", "XDG_DATA_HOME="});
  ASSERT_EQ(help.exit_code, 0) << help.output;
  EXPECT_TRUE(Contains(help.output, "--insecure-bind") &&
              Contains(help.output, "Allow a non-loopback --bind without TLS"))
      << help.output;
  EXPECT_TRUE(Contains(help.output, "--port-base INT")) << help.output;
  EXPECT_TRUE(Contains(help.output, "--http-read-timeout DURATION")) << help.output;
  EXPECT_TRUE(Contains(help.output, "--http-max-body-size SIZE")) << help.output;
  EXPECT_TRUE(Contains(help.output, "[default: /var/lib/newcomer/.local/share/veil]"))
      << help.output;
}

TEST_F(DaemonTest, SigtermStopsGracefullyWithExitZero) {
  Start();
  EXPECT_EQ(daemon_->Stop(SIGTERM), 0);
  EXPECT_NE(ReadFile(dir_ + "/veild.log").find("stopped"), std::string::npos);
}

TEST_F(DaemonTest, SigintStopsGracefullyWithExitZero) {
  Start();
  EXPECT_EQ(daemon_->Stop(SIGINT), 0);
}

TEST_F(DaemonTest, CoreDumpsAreTurnedOff) {
  Start();
  std::string limits = ReadFile("/proc/" + std::to_string(daemon_->pid()) + "/limits");
  auto line_start = limits.find("Max core file size");
  ASSERT_NE(line_start, std::string::npos);
  std::string line = limits.substr(line_start, limits.find('\n', line_start) - line_start);
  EXPECT_NE(line.find(" 0 "), std::string::npos) << line;
}

TEST_F(DaemonTest, RefusesANonLoopbackAddressWithoutTls) {
  auto r = RunProcess({kBin + "/veild", "--data-dir", data(), "--port-base", std::to_string(base_),
                       "--bind", "0.0.0.0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("TLS"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, RefusesABadPortBase) {
  auto r = RunProcess({kBin + "/veild", "--data-dir", data(), "--port-base", "65533"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("port"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, UnknownRouteAndWrongMethodGetJsonErrors) {
  Start();
  // The image service (port +4) has no dialect of its own yet: IBM's platform JSON.
  auto [status, body] = Curl({url(4, "/no/such/route")});
  EXPECT_EQ(status, 404);
  auto json = boost::json::parse(body);
  EXPECT_TRUE(json.as_object().contains("errors")) << body;
  auto [status2, body2] = Curl({"-X", "DELETE", url(4, "/healthz")});
  EXPECT_EQ(status2, 405);
  EXPECT_TRUE(boost::json::parse(body2).as_object().contains("errors")) << body2;
  // Object storage (port +3) answers in S3's XML, with x-amz-request-id, even before a login.
  auto [status4, body4] = Curl({"-X", "PATCH", url(3, "/some-bucket")});
  EXPECT_EQ(status4, 405);
  EXPECT_NE(body4.find("<Code>MethodNotAllowed</Code>"), std::string::npos) << body4;
  auto [status5, body5] = Curl({url(3, "/some-bucket/key")});
  EXPECT_EQ(status5, 401);
  EXPECT_NE(body5.find("<Code>AccessDenied</Code>"), std::string::npos) << body5;
  // The kms (port +2) answers even transport errors in Key Protect's body.
  auto [status3, body3] = Curl({"-X", "DELETE", url(2, "/healthz")});
  EXPECT_EQ(status3, 405);
  auto kp = boost::json::parse(body3);
  EXPECT_EQ(kp.at("metadata").at("collectionType").as_string(),
            "application/vnd.ibm.kms.error+json")
      << body3;
  EXPECT_EQ(kp.at("resources").at(0).at("reasons").at(0).at("code").as_string(),
            "METHOD_NOT_ALLOWED_ERR");
}

TEST_F(DaemonTest, ARejectedRequestLeavesOneAuditEvent) {
  Start();
  auto [status, body] = Curl({"-H", "correlation-id: e2e-audit-1", url(2, "/no/such/route")});
  ASSERT_EQ(status, 404);
  // The sink writes each event whole before the response is complete.
  std::string events = ReadFile(data() + "/audit/events.jsonl");
  int found = 0;
  size_t pos = 0;
  while ((pos = events.find("e2e-audit-1", pos)) != std::string::npos) {
    ++found;
    ++pos;
  }
  EXPECT_EQ(found, 1) << events;
}

TEST_F(DaemonTest, ServesTlsWhenGivenACertificate) {
  std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem";
  auto gen = RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                         "1", "-subj", "/CN=127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  std::vector<std::string> argv = {kBin + "/veild",
                                   "--data-dir",
                                   data(),
                                   "--port-base",
                                   std::to_string(base_),
                                   "--tls-cert",
                                   cert,
                                   "--tls-key",
                                   key};
  daemon_ = std::make_unique<Background>(argv, dir_ + "/veild.log");
  std::string https = "https://127.0.0.1:" + std::to_string(base_ + 1) + "/healthz";
  int status = -1;
  for (int i = 0; i < 200 && status != 200; ++i) {
    status = Curl({"--cacert", cert, https}).first;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200) << ReadFile(dir_ + "/veild.log");
  // Plain HTTP on a TLS port does not get an answer that looks like success.
  EXPECT_NE(Curl({url(1, "/healthz")}).first, 200);
}

TEST(CliTest, VersionAndHelpWork) {
  auto v = RunProcess({kBin + "/veil", "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.output.find("veil 0."), std::string::npos) << v.output;
  auto help = RunProcess({kBin + "/veil", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("status"), std::string::npos);
  auto sub = RunProcess({kBin + "/veil", "status", "--help"});
  EXPECT_EQ(sub.exit_code, 0);
  auto daemon_help = RunProcess({kBin + "/veild", "--help"});
  EXPECT_EQ(daemon_help.exit_code, 0);
  EXPECT_NE(daemon_help.output.find("--data-dir"), std::string::npos);
}

TEST(CliTest, BadEndpointAndBadOutputAreRefusedClearly) {
  auto r = RunProcess({kBin + "/veil", "--endpoint", "ftp://x", "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("http://"), std::string::npos) << r.output;
  auto o = RunProcess({kBin + "/veil", "--output", "yaml", "status"});
  EXPECT_NE(o.exit_code, 0);
}

}  // namespace
}  // namespace veil::testing
