#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace veil {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kFile = R"(# Veil configuration
data-dir = /var/lib/veil

[http]
read-timeout = 30s
max-body = 64KiB
  port = 8440   
banner = "  spaced # not a comment  "
password = abc#def

[log]
level = info
)";

TEST(ConfigTest, ParsesFileWithSectionsQuotesAndComments) {
  Config config;
  ASSERT_TRUE(config.LoadText(kFile, "veil.conf").has_value());
  EXPECT_EQ(config.GetString("data-dir").value(), "/var/lib/veil");
  EXPECT_EQ(config.GetDuration("http.read-timeout").value(), milliseconds(30'000));
  EXPECT_EQ(config.GetSize("http.max-body").value(), 65536u);
  EXPECT_EQ(config.GetInt("http.port", 1, 65535).value(), 8440);
  EXPECT_EQ(config.GetString("http.banner").value(), "  spaced # not a comment  ");
  EXPECT_EQ(config.GetString("http.password").value(), "abc#def");
  EXPECT_EQ(config.GetString("log.level").value(), "info");
  EXPECT_EQ(config.SourceOf("log.level"), Config::Source::kFile);
  EXPECT_EQ(config.GetString("missing").error().code, ErrorCode::kNotFound);
}

// The one precedence rule: flags > environment > file > defaults, whatever the load order.
TEST(ConfigTest, FlagsBeatEnvironmentBeatFileBeatDefaults) {
  Config config;
  ASSERT_TRUE(config.SetFlag("a", "flag").has_value());
  const char* env[] = {"VEIL_A=env", "VEIL_B=env", "PATH=/usr/bin", nullptr};
  config.LoadEnvironment(env);
  ASSERT_TRUE(config.LoadText("a = file\nb = file\nc = file\n", "f").has_value());
  for (const char* key : {"a", "b", "c", "d"}) config.SetDefault(key, "default");

  EXPECT_EQ(config.GetString("a").value(), "flag");
  EXPECT_EQ(config.GetString("b").value(), "env");
  EXPECT_EQ(config.GetString("c").value(), "file");
  EXPECT_EQ(config.GetString("d").value(), "default");
  EXPECT_EQ(config.SourceOf("a"), Config::Source::kFlag);
  EXPECT_EQ(config.SourceOf("b"), Config::Source::kEnvironment);
  EXPECT_EQ(config.SourceOf("d"), Config::Source::kDefault);
  EXPECT_FALSE(config.SourceOf("e").has_value());
}

TEST(ConfigTest, EnvironmentNameMapping) {
  EXPECT_EQ(Config::EnvironmentName("http.read-timeout"), "VEIL_HTTP_READ_TIMEOUT");
  EXPECT_EQ(Config::EnvironmentName("data-dir"), "VEIL_DATA_DIR");
  Config config;
  const char* env[] = {"VEIL_HTTP_READ_TIMEOUT=500ms", nullptr};
  config.LoadEnvironment(env);
  EXPECT_EQ(config.GetDuration("http.read-timeout").value(), milliseconds(500));
}

TEST(ConfigTest, RejectsMalformedFilesWithLineNumbers) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  } cases[] = {
      {"a = 1\nnot a pair\n", "f.conf:2: expected key = value"},
      {"[http\nport = 1\n", "f.conf:1: expected [section]"},
      {"a = 1\n\nA = 2\n", "f.conf:3: invalid key"},
      {"a = 1\na = 2\n", "f.conf:2: duplicate key a (first set on line 1)"},
      {"[s]\nk = 1\n[s]\nk = 2\n", "f.conf:4: duplicate key s.k"},
      {"a = \"unterminated\n", "f.conf:1: unterminated quoted value"},
      {"a = \"bad \\q escape\"\n", "f.conf:1: unknown escape"},
      {"= 1\n", "f.conf:1: invalid key"},
      {"[]\n", "f.conf:1: invalid section name"},
      {"a..b = 1\n", "f.conf:1: invalid key"},
  };
  for (const auto& c : cases) {
    Config config;
    auto status = config.LoadText(c.text, "f.conf");
    ASSERT_FALSE(status.has_value()) << c.text;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(status.error().message.rfind(c.expected, 0), 0u)
        << status.error().message << " vs " << c.expected;
  }
}

TEST(ConfigTest, TypedGettersValidate) {
  Config config;
  ASSERT_TRUE(
      config.LoadText("n = 70000\nb = maybe\nd = 30\ns = 1XB\nneg = -5\n", "f").has_value());
  auto n = config.GetInt("n", 1, 65535);
  ASSERT_FALSE(n.has_value());
  EXPECT_NE(n.error().message.find("outside [1, 65535]"), std::string::npos);
  EXPECT_NE(n.error().message.find("file f:1"), std::string::npos) << n.error().message;
  EXPECT_EQ(config.GetInt("neg", -10, 10).value(), -5);
  EXPECT_FALSE(config.GetBool("b").has_value());
  EXPECT_FALSE(config.GetDuration("d").has_value());  // a unit is required
  EXPECT_FALSE(config.GetSize("s").has_value());
}

TEST(ConfigTest, ParsesDurationsSizesAndBools) {
  EXPECT_EQ(Config::ParseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(Config::ParseDuration("2m").value(), milliseconds(120'000));
  EXPECT_EQ(Config::ParseDuration("1h").value(), milliseconds(3'600'000));
  EXPECT_EQ(Config::ParseDuration("0").value(), milliseconds(0));
  for (std::string_view bad : {"", "s", "-1s", "1.5s", "1 s", "10d", "99999999999999999999h"}) {
    EXPECT_FALSE(Config::ParseDuration(bad).has_value()) << bad;
  }
  EXPECT_EQ(Config::ParseSize("1048576").value(), 1048576u);
  EXPECT_EQ(Config::ParseSize("1MiB").value(), 1048576u);
  EXPECT_EQ(Config::ParseSize("64KiB").value(), 65536u);
  EXPECT_EQ(Config::ParseSize("2GiB").value(), uint64_t{2} << 30);
  EXPECT_EQ(Config::ParseSize("5MB").value(), 5'000'000u);
  for (std::string_view bad : {"", "MiB", "1mib", "1 MiB", "-1", "20000000TiB"}) {
    EXPECT_FALSE(Config::ParseSize(bad).has_value()) << bad;
  }
  EXPECT_TRUE(Config::ParseBool("YES").value());
  EXPECT_TRUE(Config::ParseBool("on").value());
  EXPECT_FALSE(Config::ParseBool("0").value());
  EXPECT_FALSE(Config::ParseBool("nope").has_value());
}

TEST(ConfigTest, ReportsUnknownKeysFromEveryLayer) {
  Config config;
  ASSERT_TRUE(config.LoadText("[http]\nread-timout = 5s\nport = 1\n", "f").has_value());
  const char* env[] = {"VEIL_HTTP_PORT=2", "VEIL_HTTP_PROT=3", nullptr};
  config.LoadEnvironment(env);
  ASSERT_TRUE(config.SetFlagAssignment("log.levle=debug").has_value());
  std::vector<std::string> unknown = config.UnknownKeys({"http.port", "http.read-timeout"});
  EXPECT_EQ(unknown, (std::vector<std::string>{"VEIL_HTTP_PROT", "http.read-timout", "log.levle"}));
}

TEST(ConfigTest, LoadFileReadsFromDiskAndReportsMissingFile) {
  const std::string path = testing::TempDir() + "/veil_config_test.conf";
  {
    std::ofstream out(path);
    out << "[kms]\r\nroot-key-cache = 128\r\n";  // CRLF line ends are accepted
  }
  Config config;
  ASSERT_TRUE(config.LoadFile(path).has_value());
  EXPECT_EQ(config.GetInt("kms.root-key-cache", 0, 1000).value(), 128);
  std::remove(path.c_str());
  EXPECT_EQ(config.LoadFile(path).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace veil
