#include "cli.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace veil::cli {
namespace {

TEST(ParseBaseUrl, AcceptsHostAndPort) {
  auto url = ParseBaseUrl("http://127.0.0.1:9000/");
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 9000);
  EXPECT_EQ(ServiceUrl(*url, 2), "http://127.0.0.1:9002");
}

TEST(ParseBaseUrl, DefaultsThePortAndKeepsIpv6Brackets) {
  auto url = ParseBaseUrl("https://[::1]");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "[::1]");
  EXPECT_EQ(url->port, 8440);
  EXPECT_EQ(ServiceUrl(*url, 5), "https://[::1]:8445");
}

TEST(ParseBaseUrl, RejectsBadInput) {
  for (const char* bad : {"ftp://x", "http://", "http://h:0", "http://h:70000", "http://h:12x",
                          "http://h:1/path", "127.0.0.1:8440"}) {
    EXPECT_FALSE(ParseBaseUrl(bad)) << bad;
  }
}

TEST(ReadProfile, ReadsKeyValuesAndRejectsGarbage) {
  auto dir = std::filesystem::temp_directory_path() / "veil-cli-profile-test";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "config") << "# comment\nendpoint = http://10.0.0.1:8440\n\n"; }
  auto profile = ReadProfile(dir.string());
  ASSERT_TRUE(profile);
  EXPECT_EQ(profile->at("endpoint"), "http://10.0.0.1:8440");
  { std::ofstream(dir / "config") << "endpoint\n"; }
  auto bad = ReadProfile(dir.string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(":1:"), std::string::npos);
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(ReadProfile(dir.string()));  // missing file = empty profile
}

TEST(SetProfileValue, ReplacesOrAppendsAndKeepsTheRest) {
  auto dir = std::filesystem::temp_directory_path() / "veil-cli-set-profile-test";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(SetProfileValue(dir.string(), "kms_instance", "abc"));  // creates dir and file
  EXPECT_EQ(ReadProfile(dir.string())->at("kms_instance"), "abc");
  EXPECT_EQ(std::filesystem::status(dir).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  {
    std::ofstream(dir / "config", std::ios::trunc)
        << "# my profile\nendpoint = http://10.0.0.1:8440\n\nkms_instance=old\nkms_instance = "
           "dup\n";
  }
  ASSERT_TRUE(SetProfileValue(dir.string(), "kms_instance", "new"));
  std::ifstream in(dir / "config");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "# my profile\nendpoint = http://10.0.0.1:8440\n\nkms_instance = new\n");
  ASSERT_TRUE(SetProfileValue(dir.string(), "kms_instance", ""));  // removes it
  auto profile = ReadProfile(dir.string());
  ASSERT_TRUE(profile);
  EXPECT_EQ(profile->count("kms_instance"), 0u);
  EXPECT_EQ(profile->at("endpoint"), "http://10.0.0.1:8440");
  EXPECT_FALSE(SetProfileValue(dir.string(), "a=b", "x"));
  EXPECT_FALSE(SetProfileValue(dir.string(), "k", "two\nlines"));
  std::filesystem::remove_all(dir);
}

TEST(RenderTable, AlignsColumns) {
  std::string t = RenderTable({"a", "bb"}, {{"xxx", "y"}, {"z", "wwww"}});
  EXPECT_EQ(t, "A    BB\nxxx  y\nz    wwww\n");
}

TEST(JsonText, WritesFractionsAsPlainNumbers) {
  boost::json::value v = {{"latency_ms", 2.35},
                          {"seconds", 0.001},
                          {"whole", 3.0},
                          {"count", 7},
                          {"big", uint64_t{18446744073709551615u}},
                          {"none", nullptr},
                          {"nan", std::nan("")},
                          {"name", "a \"quoted\"\n line"},
                          {"list", {1.5, true, boost::json::array{}}}};
  EXPECT_EQ(JsonText(v), R"({"latency_ms":2.35,"seconds":0.001,"whole":3,"count":7,)"
                         R"("big":18446744073709551615,"none":null,"nan":null,)"
                         R"("name":"a \"quoted\"\n line","list":[1.5,true,[]]})");
  // What Boost writes instead, and that both read back the same.
  EXPECT_EQ(boost::json::serialize(boost::json::value(2.35)), "2.35E0");
  EXPECT_EQ(boost::json::parse(JsonText(2.349518)).as_double(), 2.349518);
}

TEST(BaseUrlText, IsWhatParseBaseUrlReadsBack) {
  auto url = ParseBaseUrl("http://127.0.0.1:18440/");
  ASSERT_TRUE(url);
  EXPECT_EQ(BaseUrlText(*url), "http://127.0.0.1:18440");
  EXPECT_EQ(BaseUrlText(*ParseBaseUrl("https://[::1]")), "https://[::1]:8440");
}

TEST(Join, PutsTheSeparatorBetweenParts) {
  EXPECT_EQ(Join({}, ","), "");
  EXPECT_EQ(Join({"a"}, ","), "a");
  EXPECT_EQ(Join({"a", "", "c"}, ", "), "a, , c");
}

}  // namespace
}  // namespace veil::cli
