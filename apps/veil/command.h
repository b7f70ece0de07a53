// CLI11 helpers shared by the command files (iam_cmd.cc, kms_cmd.cc, main.cc): a command with an
// example in its help, a group that needs one of its subcommands, what to say when the command
// line names no known command, and the help formatter of `veil --help-all`.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::cli {

// `parent name`, described, with "Example:\n  <example>" at the end of its help.
inline CLI::App* Command(CLI::App& parent, const std::string& name, const std::string& description,
                         const std::string& example) {
  CLI::App* c = parent.add_subcommand(name, description);
  c->footer("Example:\n  " + example);
  return c;
}

// A group of commands (`veil iam`, `veil kms key`, ...): needs one of its subcommands.
inline CLI::App* Group(CLI::App& parent, const std::string& name, const std::string& description,
                       const std::string& example) {
  CLI::App* g = Command(parent, name, description, example);
  g->require_subcommand(1);
  return g;
}

// The edit distance of `a` and `b` (optimal string alignment: insertions, deletions,
// substitutions and transpositions of neighbours each cost 1), ignoring ASCII case.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate `word` was most likely meant to be: the nearest by EditDistance when it is at
// most 2 and less than the word's length ("lst" -> "list"), or the one that `word` (2 characters
// or more) begins ("res" -> "resource"); the first in `candidates` order on a tie. "" when none
// is near.
std::string NearestWord(std::string_view word, const std::vector<std::string>& candidates);

// After `root.parse()` threw `error`: when the command line stops at a group of commands (`veil`,
// `veil kms`, `veil kms key`, ...) without naming one of its commands, the message that says so:
// "unknown command 'lst' for 'veil kms key'; did you mean 'list'?", naming the word CLI11 could
// not place (or the unknown option, or that a command is missing), followed by where to find the
// commands. nullopt for every other parse error (CLI11's own message says it). `program` is the
// name the messages give the root ("veil").
std::optional<std::string> UnknownCommandMessage(const CLI::App& root, const CLI::ParseError& error,
                                                 std::string_view program);

// The help of `--help-all`: every command at every level with its options (CLI11's own stops at
// the second level). Set on the root before the subcommands are added (they inherit it).
class FullTreeFormatter : public CLI::Formatter {
 public:
  std::string make_expanded(const CLI::App* sub) const override;
};

}  // namespace veil::cli
