// CLI11 helpers shared by the command files (iam_cmd.cc, kms_cmd.cc): a command with an example in
// its help, and a group that needs one of its subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

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

}  // namespace veil::cli
