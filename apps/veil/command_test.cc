#include "command.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace veil::cli {
namespace {

TEST(EditDistance, CountsEditsAndNeighbourSwapsIgnoringCase) {
  EXPECT_EQ(EditDistance("list", "list"), 0u);
  EXPECT_EQ(EditDistance("lst", "list"), 1u);
  EXPECT_EQ(EditDistance("lsit", "list"), 1u);  // a swap of neighbours
  EXPECT_EQ(EditDistance("LIST", "list"), 0u);
  EXPECT_EQ(EditDistance("", "kms"), 3u);
  EXPECT_EQ(EditDistance("foo", "iam"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(NearestWord, SuggestsOnlyWhatIsNear) {
  const std::vector<std::string> keys = {"create", "import", "list", "show", "delete", "restore"};
  EXPECT_EQ(NearestWord("lst", keys), "list");
  EXPECT_EQ(NearestWord("shw", keys), "show");
  EXPECT_EQ(NearestWord("delet", keys), "delete");
  EXPECT_EQ(NearestWord("imp", keys), "import");  // the beginning of one
  EXPECT_EQ(NearestWord("foo", keys), "");
  EXPECT_EQ(NearestWord("x", keys), "");
  EXPECT_EQ(NearestWord("res", {"version", "status", "resource", "kms"}), "resource");
}

// The shape of veil's command tree: groups that need a command, commands with options.
class UnknownCommandTest : public ::testing::Test {
 protected:
  UnknownCommandTest() : app_("test", "veil") {
    app_.require_subcommand(1);
    app_.fallthrough();
    app_.add_option("--endpoint", endpoint_);
    CLI::App* kms = Group(app_, "kms", "keys", "veil kms key list");
    CLI::App* key = Group(*kms, "key", "keys", "veil kms key list");
    Command(*key, "list", "list", "veil kms key list");
    Command(*key, "show", "show", "veil kms key show K")->add_option("KEY", key_)->required();
    Command(*kms, "wrap", "wrap", "veil kms wrap K");
    Command(app_, "status", "status", "veil status");
  }

  // The message for `args` (nullopt when the parse succeeds or CLI11's message stands).
  std::optional<std::string> MessageFor(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    try {
      app_.parse(args);
    } catch (const CLI::ParseError& e) {
      return UnknownCommandMessage(app_, e, "veil");
    }
    return std::nullopt;
  }

  CLI::App app_;
  std::string endpoint_, key_;
};

TEST_F(UnknownCommandTest, NamesTheWordAndTheNearestCommand) {
  auto m = MessageFor({"kms", "key", "lst"});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m,
            "unknown command 'lst' for 'veil kms key'; did you mean 'list'?\n"
            "Run 'veil kms key --help' to see its commands.");
}

TEST_F(UnknownCommandTest, ListsTheCommandsWhenNoneIsNear) {
  auto m = MessageFor({"kms", "foo"});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m,
            "unknown command 'foo' for 'veil kms'; its commands: key, wrap.\n"
            "Run 'veil kms --help' for what each does.");
}

TEST_F(UnknownCommandTest, AtTheTopWithAGlobalOptionAfterTheWord) {
  auto m = MessageFor({"foo", "--endpoint", "http://h:1"});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->substr(0, m->find(';')), "unknown command 'foo' for 'veil'");
}

TEST_F(UnknownCommandTest, AGroupWithoutACommandOrWithAnUnknownOption) {
  auto none = MessageFor({"kms", "key"});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->substr(0, none->find('\n')), "'veil kms key' needs a command: list, show.");
  auto option = MessageFor({"kms", "key", "--bogus"});
  ASSERT_TRUE(option);
  EXPECT_EQ(option->substr(0, option->find(',')), "unknown option '--bogus' for 'veil kms key'");
}

TEST_F(UnknownCommandTest, LeavesOtherErrorsToCli11) {
  EXPECT_FALSE(MessageFor({"kms", "key", "show"}));           // KEY is required
  EXPECT_FALSE(MessageFor({"kms", "key", "list", "extra"}));  // an extra argument of a command
  EXPECT_FALSE(MessageFor({"kms", "key", "list"}));           // no error at all
}

TEST(FullTreeFormatter, HelpAllShowsEveryLevelAndOption) {
  CLI::App app("test", "veil");
  app.formatter(std::make_shared<FullTreeFormatter>());
  std::string instance;
  CLI::App* kms = Group(app, "kms", "Key management", "veil kms key list");
  CLI::App* key = Group(*kms, "key", "Root and standard keys", "veil kms key list");
  Command(*key, "list", "List the keys", "veil kms key list")
      ->add_option("--instance", instance, "GUID of the KMS instance");
  const std::string help = app.help("", CLI::AppFormatMode::All);
  for (const char* expected :
       {"kms\n", "  key\n", "    Root and standard keys", "    list\n", "      List the keys",
        "--instance TEXT", "GUID of the KMS instance"}) {
    EXPECT_NE(help.find(expected), std::string::npos) << expected << " in:\n" << help;
  }
}

}  // namespace
}  // namespace veil::cli
