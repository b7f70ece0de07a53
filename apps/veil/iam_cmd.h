// `veil login | logout`, `veil iam ...` and `veil resource instance ...`: the CLI11 wiring of the
// IAM API (docs/iam.md) over ApiClient, registered by main.cc.
//
//   veil login --apikey-file F          exchange an API key for a token, keep both (api_client.h)
//   veil logout                         forget them
//   veil iam whoami | token
//   veil iam service-id create|list|delete
//   veil iam api-key create|list|lock|unlock|delete
//   veil iam policy create|list|delete
//   veil iam authorization create|list|delete
//   veil iam account create|list      the operator's accounts API (tenants)
//   veil resource instance create|list|delete
//
// Exit codes (ApiExit): 0 ok, 1 the request failed, 2 bad arguments (or HTTP 400), 3 not logged
// in or the credentials were refused, 4 permission denied (HTTP 403).
//
// Thread-safety: runs on the main thread.
#pragma once

#include <CLI/CLI.hpp>

#include "api_client.h"

namespace veil::cli {

// Adds `login`, `logout`, `iam` and `resource` to `app`. `g` holds the global options (read when
// a command runs); `exit_code` receives the command's exit code.
void RegisterIamCommands(CLI::App& app, const GlobalOptions& g, int& exit_code);

}  // namespace veil::cli
