// The authenticated API client of the veil CLI: finds each service from the global options, keeps
// the login session under the profile directory, sends requests with the bearer token (renewing
// it first when needed), turns HTTP error bodies of the IAM and Key Protect dialects into readable
// Errors, and renders results as a table or JSON.
//
// Session (docs/formats/cli-profile.md): `veil login` writes two files into ProfileDir(), each
// mode 0600 in a 0700 directory, replaced atomically (temporary file + rename):
//   apikey       the API key, as given (needed to renew: IAM answers refresh_token
//                "not_supported", so renewing is exchanging the API key again, as IBM's clients do)
//   token.json   {"version":1, "iam_endpoint", "access_token", "expiration", "iam_id",
//                 "account_id", "name", "sub_type"}
// A token is renewed before a request when it has expired or expires within kRenewBefore (the
// IBM's Go client treats it as valid until expires_in - 60 s: docs/api-compatibility.md), and
// once more when a service answers 401 to a token that was not just issued (veild restarted
// with new signing keys, say).
//
// Thread-safety: an ApiClient is used by one thread (the CLI's main thread).
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "common/services.h"

namespace veil::http {
class HttpClient;
struct ClientResponse;
}  // namespace veil::http

namespace veil::cli {

// The options every command shares (set by main.cc's global flags).
struct GlobalOptions {
  std::string endpoint;                                  // --endpoint
  std::string output = "table";                          // --output table|json
  std::map<std::string, std::string> service_endpoints;  // --iam-endpoint, --kms-endpoint, ...
  int timeout_ms = 60000;                                // --timeout-ms
};

// Exit codes of the API commands (login, iam, resource, kms; kms adds KmsExit's). ExitCode() turns
// one into the process's exit status where a command hands it back. A usage error found by the
// command-line parser (an unknown command or option) is kUsage too.
enum class ApiExit : int {
  kOk = 0,
  kFailed = 1,            // the request failed (network, server error, ...)
  kUsage = 2,             // bad arguments, found by veil or by the service (HTTP 400)
  kUnauthenticated = 3,   // not logged in, or the token/API key was refused
  kPermissionDenied = 4,  // authenticated, not allowed (HTTP 403)
  kNotFound = 5,          // nothing found: HTTP 404 (no such key, service ID, instance, ...), or
                          // nothing to show (no default KMS instance)
};
constexpr int ExitCode(ApiExit e) { return static_cast<int>(e); }
ApiExit ApiExitCode(const Error& error);

// The action of a CLI command: runs `command`, prints its error as "veil: <message>" on stderr
// and sets `exit_code` (ApiExitCode of the error, or kOk). `exit_code` must outlive the action.
std::function<void()> CommandRunner(int& exit_code, std::function<Status()> command);

// The base URL: --endpoint, else $VEIL_ENDPOINT, else "endpoint" in the profile's config (which
// `veil login` writes), else http://127.0.0.1:8440.
[[nodiscard]] Result<BaseUrl> ResolveBase(const GlobalOptions& g);

// Where ResolveBase found the base URL.
enum class EndpointOrigin { kFlag, kEnvironment, kProfile, kDefault };
struct ResolvedBase {
  BaseUrl url;
  EndpointOrigin origin = EndpointOrigin::kDefault;
};
[[nodiscard]] Result<ResolvedBase> ResolveBaseWithOrigin(const GlobalOptions& g);

// The base URL whose IAM service is `iam_url` ("http://h:8441" -> "http://h:8440"), or "" when
// `iam_url` is not a base URL's IAM port.
std::string BaseOfIamUrl(const std::string& iam_url);

// Why a session logged in at `session_iam` is not used by a command whose IAM URL is
// `command_iam`: where the command's endpoint came from (--iam-endpoint, $VEIL_IAM_ENDPOINT,
// --endpoint, $VEIL_ENDPOINT, the profile's config or the default) and the commands that fix it.
std::string EndpointMismatchMessage(const GlobalOptions& g, const std::string& session_iam,
                                    const std::string& command_iam);
// The URL of `service`: --<name>-endpoint, else $VEIL_<NAME>_ENDPOINT, else base + its offset.
std::string ServiceEndpoint(const GlobalOptions& g, const BaseUrl& base,
                            const ServiceInfo& service);
// Both in one: the URL of the service called `name` ("iam", "kms", ...).
[[nodiscard]] Result<std::string> ServiceUrlByName(const GlobalOptions& g, std::string_view name);

// Renew when now >= expiration - kRenewBefore.
inline constexpr std::chrono::seconds kRenewBefore{60};
bool NeedsRenewal(int64_t expiration_unix, int64_t now_unix);

// The login state under the profile directory.
struct Session {
  std::string iam_endpoint;  // the IAM URL the token came from
  std::string access_token;
  int64_t expiration = 0;  // unix seconds
  std::string iam_id;
  std::string account_id;
  std::string name;
  std::string sub_type;  // "user" | "ServiceId"
};

class SessionStore {
 public:
  explicit SessionStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string token_path() const { return dir_ + "/token.json"; }
  std::string apikey_path() const { return dir_ + "/apikey"; }

  // The stored session; nullopt when there is none. kDataLoss for a file that is not ours.
  [[nodiscard]] Result<std::optional<Session>> Load() const;
  // The stored API key; kNotFound when there is none.
  [[nodiscard]] Result<SecretBytes> LoadApiKey() const;
  // Creates the directory (0700) if needed and replaces the file(s) atomically, mode 0600.
  [[nodiscard]] Status Save(const Session& session) const;
  [[nodiscard]] Status SaveApiKey(const SecretBytes& apikey) const;
  // Removes both files; true when there was something to remove.
  [[nodiscard]] Result<bool> Remove() const;

 private:
  std::string dir_;
};

// The whole of a small file ("-": standard input) into SecretBytes. kNotFound when it does not
// exist, kInvalidArgument when it cannot be read or holds more than `limit` bytes.
[[nodiscard]] Result<SecretBytes> ReadSecretFile(const std::string& path, size_t limit);

// Reads an API key from `path` ("-": standard input), without surrounding white space.
// kInvalidArgument when the file is missing, empty or holds more than one line of text.
[[nodiscard]] Result<SecretBytes> ReadApiKeyFile(const std::string& path);

// Writes `data` to a new file `path` with mode 0600. kAlreadyExists when it exists (never
// overwritten: it may be another key).
[[nodiscard]] Status WriteNewSecretFile(const std::string& path, std::string_view data);

// Whether WriteNewSecretFile(path) can succeed: `path` does not exist (not even as a dangling
// link) and its directory exists and is writable. Checked before asking a service for a
// credential that only that file will hold, so that a failure leaves nothing behind on the
// server. kInvalidArgument (a usage error) with the reason otherwise.
[[nodiscard]] Status CheckNewFileCanBeCreated(const std::string& path);

// The Error for an HTTP error response: the code follows the status; the message is readable,
// e.g. "permission denied (HTTP 403, BXNIM0403E): <server message> [request id <id>]", from the
// IAM dialect {"errorCode","errorMessage","context":{"requestId"}}, the Key Protect dialect
// {"resources":[{"errorMsg","reasons":[{"code","message"}]}]}, or the bare status and a short
// excerpt of any other body.
Error ErrorFromResponse(const http::ClientResponse& response);

// The Key Protect reason code of an error body ({"resources":[{"reasons":[{"code"}]}]}), or "".
std::string KmsReasonCode(std::string_view body);

// application/x-www-form-urlencoded / query component encoding: RFC 3986's unreserved characters
// (A-Z a-z 0-9 - . _ ~) kept, every other byte as %XX in upper-case hex (a space too, not '+').
std::string FormEncode(std::string_view text);

// The claims of a JWT payload (not verified: the CLI trusts the IAM it talks to for its own
// token; services verify it). kInvalidArgument when it is not a JWT with a JSON payload.
[[nodiscard]] Result<boost::json::object> JwtClaims(std::string_view token);

struct ApiRequest {
  std::string service = "iam";  // a ServiceInfo name
  std::string method = "GET";
  std::string path;                        // with its query, already encoded
  std::optional<boost::json::value> body;  // sent as JSON when set
  // A JSON body that holds a secret (imported key material, a DEK to wrap), sent instead of
  // `body` straight from the SecretBytes (never copied into a std::string). Not owned.
  const SecretBytes* secret_body = nullptr;
  // The response carries a secret (a DEK, a standard key's payload): its raw text is wiped once
  // parsed. The caller wipes what it takes out of the returned JSON (WipeJsonString).
  bool secret_response = false;
  // Extra request headers (bluemix-instance, prefer, x-kms-key-ring, ...).
  std::vector<std::pair<std::string, std::string>> headers = {};
};

// What the last failed Call() got back when the service answered with an HTTP error status:
// the status and the reason code of a Key Protect error body ("" for other dialects). Status 0
// when the call failed before a response (or has not failed).
struct HttpFailure {
  int status = 0;
  std::string reason;
};

class ApiClient {
 public:
  explicit ApiClient(GlobalOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Exchanges `apikey` at POST /identity/token and stores the session and the key, and the base
  // URL it used as the profile's `endpoint` (later commands then find veild without --endpoint).
  // kUnauthenticated when IAM refuses the key; the errors of the exchange otherwise.
  [[nodiscard]] Result<Session> Login(const SecretBytes& apikey);

  // Sends `request` with the session's bearer token, renewing the token first when needed.
  // Returns the JSON body (null for an empty one). kUnauthenticated when not logged in (the
  // message says how to log in); ErrorFromResponse for an HTTP error status.
  [[nodiscard]] Result<boost::json::value> Call(const ApiRequest& request);

  // The current session (loaded, renewed if needed). kUnauthenticated when not logged in.
  [[nodiscard]] Result<Session> CurrentSession();

  const GlobalOptions& options() const { return options_; }
  SessionStore& store() { return store_; }
  // The HTTP error of the last Call() that failed with one (see HttpFailure).
  const HttpFailure& last_failure() const { return last_failure_; }

 private:
  [[nodiscard]] Result<Session> Exchange(const std::string& iam_url, const SecretBytes& apikey);
  [[nodiscard]] Result<Session> Renew(const Session& old);
  [[nodiscard]] Result<http::ClientResponse> Send(const std::string& url, const ApiRequest& request,
                                                  const std::string& token);

  GlobalOptions options_;
  SessionStore store_;
  std::unique_ptr<http::HttpClient> http_;
  std::optional<Session> session_;
  bool fresh_ = false;  // session_ was issued by this process
  HttpFailure last_failure_;
};

// Prints `json` (--output json) or the table (header + rows).
void PrintTable(const GlobalOptions& g, const boost::json::value& json,
                const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
// Prints `json` (--output json) or "Label:  value" lines, aligned.
void PrintFields(const GlobalOptions& g, const boost::json::value& json,
                 const std::vector<std::pair<std::string, std::string>>& fields);

// A string member of a JSON object, or "" (for rendering).
std::string Str(const boost::json::value& v, std::string_view name);

// Overwrites the string member `name` of a JSON object (a DEK, a payload) before it is freed.
void WipeJsonString(boost::json::value& v, std::string_view name);

}  // namespace veil::cli
