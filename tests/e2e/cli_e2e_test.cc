// End-to-end: the newcomer's path through the built `veil` (issue #13): `veil login` remembers a
// non-default endpoint, a session at another endpoint is refused with where that endpoint came
// from and the command that fixes it, unknown commands are named with the nearest one, `--version`
// and `--help-all` (every level), and `veil status` with plain JSON numbers and a DETAIL column.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/process.h"
#include "e2e/veild_fixture.h"

namespace veil::testing {
namespace {

// A run of veil with its standard output and standard error apart.
struct SplitResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs veil (no --endpoint unless `args` has one) with `env`, standard error to `err_file`.
SplitResult RunVeilSplit(const std::vector<std::string>& args, const std::vector<std::string>& env,
                         const std::string& err_file) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" 2>\"$VEIL_TEST_ERR\"", "sh",
                                   kBin + "/veil"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> full_env = env;
  full_env.push_back("VEIL_TEST_ERR=" + err_file);
  ProcessResult r = RunProcess(argv, std::chrono::seconds(30), full_env);
  return {r.exit_code, r.output, ReadFile(err_file)};
}

class NewcomerCliTest : public VeildTest {
 protected:
  std::string home() const { return dir_ + "/home"; }

  // VEIL_ENDPOINT is emptied (an empty value counts as unset): only --endpoint and the profile
  // can name veild.
  std::vector<std::string> Env(const std::string& veil_endpoint = "") const {
    return {"VEIL_HOME=" + home(), "VEIL_ENDPOINT=" + veil_endpoint};
  }

  SplitResult Veil(const std::vector<std::string>& args, const std::string& veil_endpoint = "") {
    return RunVeilSplit(args, Env(veil_endpoint), dir_ + "/stderr");
  }
};

TEST_F(NewcomerCliTest, LoginRemembersANonDefaultEndpoint) {
  Start();
  ASSERT_NE(endpoint(), "http://127.0.0.1:8440");  // the fixture's ports are not the default
  SplitResult login = Veil({"--endpoint", endpoint(), "login", "--apikey-file", admin_key_file()});
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  EXPECT_TRUE(Contains(login.out, "Later commands use " + endpoint())) << login.out;
  EXPECT_TRUE(Contains(ReadFile(home() + "/config"), "endpoint = " + endpoint()));

  // No --endpoint: the profile names veild.
  SplitResult whoami = Veil({"iam", "whoami"});
  ASSERT_EQ(whoami.exit_code, 0) << whoami.out << whoami.err;
  EXPECT_TRUE(Contains(whoami.out, "IAM endpoint:") && Contains(whoami.out, url(1))) << whoami.out;
  auto json = Veil({"--output", "json", "iam", "whoami"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(boost::json::parse(json.out).at("iam_endpoint").as_string(), url(1));
}

TEST_F(NewcomerCliTest, AnotherEndpointIsNamedWithTheCommandThatFixesIt) {
  Start();
  ASSERT_EQ(Veil({"--endpoint", endpoint(), "login", "--apikey-file", admin_key_file()}).exit_code,
            0);
  // Nothing needs to listen there: the session is refused before any request.
  const int other_base = FreePortBase();
  const std::string other = "http://127.0.0.1:" + std::to_string(other_base);
  const std::string other_iam = "http://127.0.0.1:" + std::to_string(other_base + 1);

  SplitResult flag = Veil({"--endpoint", other, "iam", "whoami"});
  EXPECT_EQ(flag.exit_code, 3) << flag.err;
  EXPECT_TRUE(flag.out.empty()) << flag.out;
  EXPECT_TRUE(Contains(flag.err, "logged in at " + url(1))) << flag.err;
  EXPECT_TRUE(Contains(flag.err, "--endpoint " + other + " makes this command use " + other_iam))
      << flag.err;
  EXPECT_TRUE(Contains(flag.err, "`veil login --endpoint " + other + " --apikey-file FILE`"))
      << flag.err;
  EXPECT_TRUE(Contains(flag.err, "drop --endpoint")) << flag.err;

  SplitResult env = Veil({"iam", "whoami"}, other);
  EXPECT_EQ(env.exit_code, 3) << env.err;
  EXPECT_TRUE(Contains(env.err, "VEIL_ENDPOINT=" + other + " makes this command use " + other_iam))
      << env.err;
  EXPECT_TRUE(Contains(env.err, "unset VEIL_ENDPOINT")) << env.err;

  // The command the message gives, with the global option after the command, works as given.
  SplitResult again = Veil({"login", "--endpoint", endpoint(), "--apikey-file", admin_key_file()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Veil({"iam", "whoami"}).exit_code, 0);
}

TEST_F(NewcomerCliTest, StatusPrintsPlainJsonNumbersAndTheErrorInItsOwnColumn) {
  Start();
  SplitResult json = Veil({"--endpoint", endpoint(), "--output", "json", "status"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  // Every latency is a plain number ("2.35"), not Boost's "2.35E0".
  size_t seen = 0;
  for (size_t at = json.out.find("\"latency_ms\":"); at != std::string::npos;
       at = json.out.find("\"latency_ms\":", at + 1)) {
    ++seen;
    const size_t start = at + std::string("\"latency_ms\":").size();
    const size_t end = json.out.find_first_of(",}", start);
    const std::string number = json.out.substr(start, end - start);
    EXPECT_FALSE(number.empty());
    for (char c : number) {
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(c)) || c == '.') << number;
    }
  }
  EXPECT_EQ(seen, 5u) << json.out;
  const boost::json::value healthy = boost::json::parse(json.out);
  for (const auto& s : healthy.at("services").as_array()) {
    EXPECT_TRUE(s.at("latency_ms").is_number()) << s;
  }
  SplitResult table = Veil({"--endpoint", endpoint(), "status"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "LATENCY  DETAIL")) << table.out;

  // Down: no latency, and the error under DETAIL.
  daemon_->Stop(SIGTERM);
  SplitResult down = Veil({"--endpoint", endpoint(), "status"});
  EXPECT_EQ(down.exit_code, 1);
  bool iam_row = false;
  std::istringstream lines(down.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> cells;
    for (std::string w; words >> w;) cells.push_back(w);
    if (cells.empty() || cells[0] != "iam") continue;
    iam_row = true;
    ASSERT_GE(cells.size(), 6u) << line;
    EXPECT_EQ(cells[2], "unreachable") << line;
    EXPECT_EQ(cells[3], "-") << line;  // VERSION
    EXPECT_EQ(cells[4], "-") << line;  // LATENCY
    EXPECT_TRUE(Contains(line, url(1))) << line;
  }
  EXPECT_TRUE(iam_row) << down.out;
  SplitResult down_json = Veil({"--endpoint", endpoint(), "--output", "json", "status"});
  EXPECT_EQ(down_json.exit_code, 1);
  const boost::json::value down_services = boost::json::parse(down_json.out);
  for (const auto& s : down_services.at("services").as_array()) {
    EXPECT_TRUE(s.at("latency_ms").is_null()) << s;
    EXPECT_FALSE(s.at("detail").as_string().empty()) << s;
  }
}

// ---- without veild ----

class NewcomerCliOfflineTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SplitResult Veil(const std::vector<std::string>& args) {
    return RunVeilSplit(args, {"VEIL_HOME=" + dir_ + "/home"}, dir_ + "/stderr");
  }

  std::string dir_;
};

TEST_F(NewcomerCliOfflineTest, UnknownCommandsAreNamedWithTheNearestOne) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : {
           // Far from every command ("foo" is two edits from "cos").
           Case{{"frobnicate"}, "veil: unknown command 'frobnicate' for 'veil'; its commands: "},
           Case{{"cos", "credentails"},
                "veil: unknown command 'credentails' for 'veil cos'; did you mean 'credentials'?"},
           Case{{"kms", "foo"}, "veil: unknown command 'foo' for 'veil kms'; its commands: key,"},
           Case{{"kms", "key", "lst"},
                "veil: unknown command 'lst' for 'veil kms key'; did you mean 'list'?"},
           Case{{"iam", "api-key", "crate"},
                "veil: unknown command 'crate' for 'veil iam api-key'; did you mean 'create'?"},
           Case{{"kms", "key"}, "veil: 'veil kms key' needs a command: create, import, list,"},
       }) {
    SplitResult r = Veil(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args.back() << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.rfind(c.message, 0), 0u) << r.err;
    EXPECT_FALSE(Contains(r.err, "A subcommand is required")) << r.err;
  }
  SplitResult near = Veil({"kms", "key", "lst"});
  EXPECT_TRUE(Contains(near.err, "Run 'veil kms key --help'")) << near.err;
}

TEST_F(NewcomerCliOfflineTest, VersionFlagAndHelpAllOfEveryLevel) {
  SplitResult flag = Veil({"--version"});
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  SplitResult command = Veil({"version"});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  EXPECT_EQ(flag.out, command.out);
  EXPECT_EQ(flag.out.rfind("veil 0.", 0), 0u) << flag.out;

  SplitResult all = Veil({"--help-all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  // Third and fourth levels, and their options.
  for (const char* expected :
       {"\n    set-for-deletion\n", "--rotation-months", "\n    lock\n", "--output-file",
        "\n    create\n", "--max-retrievals", "--apikey-file", "--key-file", "\n  verify\n",
        "--plaintext-file", "--service TEXT"}) {
    EXPECT_TRUE(Contains(all.out, expected)) << expected;
  }

  SplitResult help = Veil({"--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_TRUE(Contains(help.out, "$VEIL_HOME")) << help.out;
  EXPECT_TRUE(Contains(help.out, "5 not found")) << help.out;
}

}  // namespace
}  // namespace veil::testing
