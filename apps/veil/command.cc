#include "command.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace veil::cli {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// The named, enabled subcommands of `app`, in definition order.
std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands(
           [](const CLI::App* s) { return !s->get_name().empty() && !s->get_disabled(); })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  // d[i][j]: the distance of a[0, i) and b[0, j).
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string NearestWord(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 0;
  for (const std::string& c : candidates) {
    size_t distance = EditDistance(word, c);
    const bool begins = word.size() >= 2 && word.size() < c.size() &&
                        EditDistance(word, std::string_view(c).substr(0, word.size())) == 0;
    if (begins) distance = std::min<size_t>(distance, 1);
    if (distance > 2 || distance >= word.size()) continue;
    if (best.empty() || distance < best_distance) {
      best = c;
      best_distance = distance;
    }
  }
  return best;
}

std::optional<std::string> UnknownCommandMessage(const CLI::App& root, const CLI::ParseError& error,
                                                 std::string_view program) {
  // "A subcommand is required" is a RequiredError; a word left over where a command was expected
  // can also end as an ExtrasError. Any other error (a bad option value, ...) is CLI11's to say.
  if (error.get_name() != "RequiredError" && error.get_name() != "ExtrasError") return std::nullopt;
  const CLI::App* at = &root;
  std::string path(program);
  for (std::vector<CLI::App*> parsed = at->get_subcommands(); !parsed.empty();
       parsed = at->get_subcommands()) {
    at = parsed.front();
    path += " " + at->get_name();
  }
  const std::vector<std::string> commands = CommandNames(*at);
  if (commands.empty()) return std::nullopt;  // a command, not a group: CLI11's message
  // What CLI11 could not place (global options may follow a command, so every level's leftovers
  // count), in command-line order.
  std::string word, option;
  for (const std::string& r : root.remaining(true)) {
    if (r.empty()) continue;
    if (r[0] != '-' && word.empty()) word = r;
    if (r[0] == '-' && option.empty() && word.empty()) option = r;
  }
  const std::string see = "Run '" + path + " --help' for what each does.";
  if (!word.empty()) {
    std::string text = "unknown command '" + word + "' for '" + path + "'";
    if (std::string near = NearestWord(word, commands); !near.empty()) {
      return text + "; did you mean '" + near + "'?\nRun '" + path +
             " --help' to see its commands.";
    }
    return text + "; its commands: " + Joined(commands) + ".\n" + see;
  }
  if (!option.empty()) {
    return "unknown option '" + option + "' for '" + path +
           "', which needs a command: " + Joined(commands) + ".\n" + see;
  }
  return "'" + path + "' needs a command: " + Joined(commands) + ".\n" + see;
}

std::string FullTreeFormatter::make_expanded(const CLI::App* sub) const {
  // CLI::Formatter::make_expanded, with the subcommands expanded too (AppFormatMode::All): each
  // calls this again through its help(), one indentation level deeper.
  std::stringstream out;
  out << sub->get_display_name(true) << "\n";
  out << make_description(sub);
  out << make_positionals(sub);
  out << make_groups(sub, CLI::AppFormatMode::Sub);
  out << make_subcommands(sub, CLI::AppFormatMode::All);
  std::string text = out.str();
  for (size_t at; (at = text.find("\n\n")) != std::string::npos;) text.erase(at, 1);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  std::string indented;
  for (char c : text) {
    indented += c;
    if (c == '\n') indented += "  ";
  }
  return indented + "\n";
}

}  // namespace veil::cli
