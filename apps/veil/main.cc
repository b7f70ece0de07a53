// veil: the command-line client of every Veil service. Composition root: CLI11 wiring only.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "api_client.h"
#include "cli.h"
#include "command.h"
#include "common/services.h"
#include "cos_cmd.h"
#include "http/client.h"
#include "iam_cmd.h"
#include "image_cmd.h"
#include "kms_cmd.h"

namespace {

using veil::cli::GlobalOptions;

int Fail(const veil::Error& error) {
  std::cerr << "veil: " << error.message << "\n";
  return 2;
}

// Milliseconds rounded to the microsecond, as a plain JSON number (2.35, not 2.349518E0).
double RoundedMs(double ms) { return std::round(ms * 1000) / 1000; }

int RunStatus(const GlobalOptions& g) {
  auto base = veil::cli::ResolveBase(g);
  if (!base) return Fail(base.error());
  veil::http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(g.timeout_ms);
  options.request_timeout = std::chrono::milliseconds(g.timeout_ms);
  veil::http::HttpClient client(options);

  boost::json::array json_rows;
  std::vector<std::vector<std::string>> rows;
  bool all_healthy = true;
  for (const veil::ServiceInfo& service : veil::kServices) {
    std::string url = veil::cli::ServiceEndpoint(g, *base, service);
    veil::http::ClientRequest request;
    request.method = "GET";
    request.url = url + "/healthz";
    auto start = std::chrono::steady_clock::now();
    auto response = client.Send(request);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    std::string state, version, detail;
    if (!response) {
      state = "unreachable";
      detail = response.error().message;
    } else if (response->status != 200) {
      state = "unhealthy";
      detail = "HTTP " + std::to_string(response->status);
    } else {
      state = "healthy";
      boost::system::error_code ec;
      auto body = boost::json::parse(response->body, ec);
      if (!ec && body.is_object()) {
        if (auto* v = body.as_object().if_contains("version"); v && v->is_string()) {
          version = v->as_string().c_str();
        }
      }
    }
    all_healthy = all_healthy && state == "healthy";
    // A latency is the time of an answer: none when the service did not answer.
    const bool answered = response.has_value();
    char latency[32];
    std::snprintf(latency, sizeof latency, "%.1f ms", ms.count());
    rows.push_back({std::string(service.name), url, state, version.empty() ? "-" : version,
                    answered ? latency : "-", detail.empty() ? "-" : detail});
    boost::json::value latency_ms = nullptr;
    if (answered) latency_ms = RoundedMs(ms.count());
    json_rows.push_back({{"service", service.name},
                         {"url", url},
                         {"status", state},
                         {"version", version},
                         {"latency_ms", latency_ms},
                         {"detail", detail}});
  }
  if (g.output == "json") {
    std::cout << veil::cli::JsonText(
                     boost::json::object{{"services", json_rows}, {"healthy", all_healthy}})
              << "\n";
  } else {
    std::cout << veil::cli::RenderTable(
        {"service", "url", "status", "version", "latency", "detail"}, rows);
  }
  return all_healthy ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "veil: the command-line client of Veil, bring-your-own-key encrypted VM images.\n"
      "Every service is found from one base URL: service k listens on base port + k\n"
      "(iam +1, kms +2, cos +3, is +4, audit +5).",
      "veil"};
  app.footer(
      "Start with:\n"
      "  veil status\n"
      "  veil login --apikey-file DATA_DIR/admin-apikey   (written by veild on its first start)\n"
      "  veil iam whoami\n"
      "The profile directory ($VEIL_HOME, else ~/.veil) keeps the login (token.json, apikey) and\n"
      "the settings in 'config' (endpoint, kms_instance). `veil login` saves the endpoint it\n"
      "used there.\n"
      "Exit codes: 0 ok, 1 failed, 2 usage (unknown command, bad option or argument), 3 not\n"
      "logged in or credentials refused, 4 permission denied, 5 not found; `veil kms` adds 6-8\n"
      "and `veil image` has its own table (see their --help).");
  // Before any subcommand is added: they inherit it, and --help-all then shows every level.
  app.formatter(std::make_shared<veil::cli::FullTreeFormatter>());
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command
  app.set_help_all_flag("--help-all", "Show help for every command, at every level");
  app.set_version_flag("--version", "veil " + std::string(veil::kVersion),
                       "Print the version of this client and exit");
  GlobalOptions g;
  app.add_option("--endpoint", g.endpoint,
                 "Base URL of veild (default: $VEIL_ENDPOINT, then 'endpoint' in the profile's "
                 "config, $VEIL_HOME/config else ~/.veil/config, which `veil login` saves; then "
                 "http://127.0.0.1:8440)");
  for (const veil::ServiceInfo& s : veil::kServices) {
    app.add_option("--" + std::string(s.name) + "-endpoint",
                   g.service_endpoints[std::string(s.name)],
                   "URL of the " + std::string(s.name) + " service (overrides the base URL)");
  }
  app.add_option("-o,--output", g.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout-ms", g.timeout_ms,
                 "Longest wait for the server to make progress on a request, in milliseconds (an "
                 "import token takes an RSA-4096 key generation)")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();

  auto* version = app.add_subcommand("version", "Print the version of this client");
  auto* status = app.add_subcommand("status",
                                    "Show the health of every service (exit 1 if any is "
                                    "not healthy)");
  int rc = 0;
  version->callback([&] {
    if (g.output == "json") {
      std::cout << R"({"version":")" << veil::kVersion << "\"}\n";
    } else {
      std::cout << "veil " << veil::kVersion << "\n";
    }
  });
  status->callback([&] { rc = RunStatus(g); });
  veil::cli::RegisterImageCommands(app, g.output, rc);
  veil::cli::RegisterIamCommands(app, g, rc);
  veil::cli::RegisterKmsCommands(app, g, rc);
  veil::cli::RegisterCosCommands(app, g, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A word that names no command: say which, and the nearest command.
    if (auto message = veil::cli::UnknownCommandMessage(app, e, "veil")) {
      std::cerr << "veil: " << *message << "\n";
      return veil::cli::ExitCode(veil::cli::ApiExit::kUsage);
    }
    // --help and --version exit 0; every usage error exits 2 (docs/image-tool.md).
    return app.exit(e) == 0 ? 0 : veil::cli::ExitCode(veil::cli::ApiExit::kUsage);
  }
  return rc;
}
