#include "api_client.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/strings.h"
#include "http/client.h"
#include "http/error_map.h"
#include "iam/jwt.h"

namespace veil::cli {
namespace {

constexpr int kSessionVersion = 1;
constexpr size_t kMaxApiKeyFileBytes = 4096;
constexpr std::string_view kLoginHint = "run `veil login --apikey-file FILE`";

// Overwrites a string that held a token or an API key before it is freed (best effort).
void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void WipeMember(boost::json::value& v, std::string_view name) { WipeJsonString(v, name); }

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

const ServiceInfo& IamService() {
  static_assert(kServices[0].name == "iam");
  return kServices[0];
}

Status EnsureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return OkStatus();
  if (errno != EEXIST) return Internal(Errno("cannot create " + dir));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailedPrecondition(dir + " is not a directory");
  }
  return OkStatus();
}

std::string Excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  }
  return out;
}

std::string_view StatusWords(int status) {
  switch (status) {
    case 400:
      return "invalid request";
    case 401:
      return "not authenticated";
    case 403:
      return "permission denied";
    case 404:
      return "not found";
    case 409:
      return "conflict";
    case 410:
      return "gone";
    case 412:
      return "precondition failed";
    case 413:
      return "request too large";
    case 422:
      return "unprocessable";
    case 429:
      return "too many requests";
    case 503:
      return "service unavailable";
    default:
      return status >= 500 ? "server error" : "request refused";
  }
}

// The form body of the API key grant, in a SecretBytes (it holds the key): the key is
// percent-encoded straight into it, as FormEncode encodes.
SecretBytes TokenForm(const SecretBytes& apikey) {
  static constexpr std::string_view kPrefix =
      "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=";
  const std::string_view key = AsStringView(apikey.Reveal());
  const size_t encoded = boost::urls::encoded_size(key, boost::urls::unreserved_chars);
  SecretBytes form(kPrefix.size() + encoded);
  auto out = form.RevealMutable();
  std::memcpy(out.data(), kPrefix.data(), kPrefix.size());
  boost::urls::encode(reinterpret_cast<char*>(out.data() + kPrefix.size()), encoded, key,
                      boost::urls::unreserved_chars);
  return form;
}

const boost::json::value* Member(const boost::json::value& v, std::string_view name) {
  return v.is_object() ? v.as_object().if_contains(name) : nullptr;
}

int64_t Int(const boost::json::value& v, std::string_view name) {
  const boost::json::value* m = Member(v, name);
  if (m == nullptr) return 0;
  if (m->is_int64()) return m->as_int64();
  if (m->is_uint64()) return static_cast<int64_t>(m->as_uint64());
  if (m->is_double()) return static_cast<int64_t>(m->as_double());
  return 0;
}

Result<boost::json::value> ParseJson(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return DataLoss(std::string(what) + " is not JSON");
  return v;
}

Result<Session> SessionFromJson(const boost::json::value& v) {
  if (!v.is_object() || Int(v, "version") != kSessionVersion) {
    return DataLoss("not a version 1 session");
  }
  Session s;
  s.iam_endpoint = Str(v, "iam_endpoint");
  s.access_token = Str(v, "access_token");
  s.expiration = Int(v, "expiration");
  s.iam_id = Str(v, "iam_id");
  s.account_id = Str(v, "account_id");
  s.name = Str(v, "name");
  s.sub_type = Str(v, "sub_type");
  if (s.access_token.empty() || s.iam_endpoint.empty()) return DataLoss("incomplete session");
  return s;
}

}  // namespace

std::function<void()> CommandRunner(int& exit_code, std::function<Status()> command) {
  return [&exit_code, command = std::move(command)] {
    Status status = command();
    if (!status) {
      std::cerr << "veil: " << status.error().message << "\n";
      exit_code = ExitCode(ApiExitCode(status.error()));
    } else {
      exit_code = ExitCode(ApiExit::kOk);
    }
  };
}

ApiExit ApiExitCode(const Error& error) {
  switch (error.code) {
    case ErrorCode::kUnauthenticated:
      return ApiExit::kUnauthenticated;
    case ErrorCode::kPermissionDenied:
      return ApiExit::kPermissionDenied;
    case ErrorCode::kInvalidArgument:  // a bad argument, found here or by the service (400)
      return ApiExit::kUsage;
    case ErrorCode::kNotFound:  // 404, or nothing to show
      return ApiExit::kNotFound;
    default:
      return ApiExit::kFailed;
  }
}

// Precedence: --endpoint flag > VEIL_ENDPOINT > ~/.veil/config "endpoint" > built-in default.
Result<ResolvedBase> ResolveBaseWithOrigin(const GlobalOptions& g) {
  std::string text = g.endpoint;
  EndpointOrigin origin = EndpointOrigin::kFlag;
  if (text.empty()) {
    if (const char* env = std::getenv("VEIL_ENDPOINT"); env && *env) {
      text = env;
      origin = EndpointOrigin::kEnvironment;
    }
  }
  if (text.empty()) {
    auto profile = ReadProfile(ProfileDir());
    if (!profile) return tl::unexpected(profile.error());
    if (auto it = profile->find("endpoint"); it != profile->end() && !it->second.empty()) {
      text = it->second;
      origin = EndpointOrigin::kProfile;
    }
  }
  if (text.empty()) {
    text = "http://127.0.0.1:" + std::to_string(kDefaultPortBase);
    origin = EndpointOrigin::kDefault;
  }
  BaseUrl url = VEIL_TRY_VALUE(ParseBaseUrl(text));
  return ResolvedBase{std::move(url), origin};
}

Result<BaseUrl> ResolveBase(const GlobalOptions& g) {
  ResolvedBase resolved = VEIL_TRY_VALUE(ResolveBaseWithOrigin(g));
  return std::move(resolved.url);
}

std::string BaseOfIamUrl(const std::string& iam_url) {
  auto url = ParseBaseUrl(iam_url);
  const uint16_t offset = IamService().port_offset;
  if (!url || url->port <= offset) return "";
  url->port = static_cast<uint16_t>(url->port - offset);
  return BaseUrlText(*url);
}

std::string EndpointMismatchMessage(const GlobalOptions& g, const std::string& session_iam,
                                    const std::string& command_iam) {
  const std::string head = "logged in at " + session_iam + ", but ";
  const std::string session_base = BaseOfIamUrl(session_iam);
  // How to use the session that exists instead.
  const std::string or_session =
      session_base.empty() ? "" : ", or give --endpoint " + session_base + " to use the session";
  if (auto it = g.service_endpoints.find("iam");
      it != g.service_endpoints.end() && !it->second.empty()) {
    return head + "--iam-endpoint makes this command use " + command_iam +
           ": log in there with `veil login --iam-endpoint " + command_iam +
           " --apikey-file FILE`, or drop --iam-endpoint to use the session";
  }
  if (const char* env = std::getenv("VEIL_IAM_ENDPOINT"); env && *env) {
    return head + "VEIL_IAM_ENDPOINT=" + env + " makes this command use " + command_iam +
           ": log in there with `veil login --apikey-file FILE` (VEIL_IAM_ENDPOINT set), or unset "
           "VEIL_IAM_ENDPOINT to use the session";
  }
  auto resolved = ResolveBaseWithOrigin(g);
  const std::string base = resolved ? BaseUrlText(resolved->url) : "";
  const EndpointOrigin origin = resolved ? resolved->origin : EndpointOrigin::kDefault;
  switch (origin) {
    case EndpointOrigin::kFlag:
      return head + "--endpoint " + g.endpoint + " makes this command use " + command_iam +
             ": log in there with `veil login --endpoint " + base +
             " --apikey-file FILE`, or drop --endpoint to use the session";
    case EndpointOrigin::kEnvironment:
      return head + "VEIL_ENDPOINT=" + std::getenv("VEIL_ENDPOINT") + " makes this command use " +
             command_iam +
             ": log in there with `veil login --apikey-file FILE` (VEIL_ENDPOINT set)" +
             ", or unset VEIL_ENDPOINT to use the session";
    case EndpointOrigin::kProfile:
      return head + "the profile's endpoint (" + base + ", in " + ProfileDir() +
             "/config) makes this command use " + command_iam +
             ": log in there with `veil login --apikey-file FILE`" + or_session;
    case EndpointOrigin::kDefault:
      break;
  }
  return head + "this command uses the default endpoint " + base + " (no --endpoint, " +
         "VEIL_ENDPOINT or profile endpoint is set)" +
         (session_base.empty() ? ": log in there with `veil login --apikey-file FILE`"
                               : ": log in again with `veil login --endpoint " + session_base +
                                     " --apikey-file FILE` (login remembers the endpoint)" +
                                     ", or give --endpoint " + session_base);
}

std::string ServiceEndpoint(const GlobalOptions& g, const BaseUrl& base, const ServiceInfo& s) {
  if (auto it = g.service_endpoints.find(std::string(s.name));
      it != g.service_endpoints.end() && !it->second.empty()) {
    std::string url = it->second;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  std::string env = "VEIL_" + std::string(s.name) + "_ENDPOINT";
  env = AsciiUpper(env);
  if (const char* value = std::getenv(env.c_str()); value && *value) {
    std::string url = value;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  return ServiceUrl(base, s.port_offset);
}

Result<std::string> ServiceUrlByName(const GlobalOptions& g, std::string_view name) {
  BaseUrl base = VEIL_TRY_VALUE(ResolveBase(g));
  for (const ServiceInfo& s : kServices) {
    if (s.name == name) return ServiceEndpoint(g, base, s);
  }
  return InvalidArgument("unknown service " + std::string(name));
}

bool NeedsRenewal(int64_t expiration_unix, int64_t now_unix) {
  return now_unix >= expiration_unix - kRenewBefore.count();
}

Result<std::optional<Session>> SessionStore::Load() const {
  auto bytes = ReadSecretFile(token_path(), 64 * 1024);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) return std::optional<Session>();
    return tl::unexpected(bytes.error());
  }
  auto json = ParseJson(AsStringView(bytes->Reveal()), token_path());
  if (!json) return tl::unexpected(json.error());
  auto session = SessionFromJson(*json);
  if (!session) {
    return DataLoss(token_path() + ": " + session.error().message + "; " + std::string(kLoginHint));
  }
  return std::optional<Session>(std::move(*session));
}

Result<SecretBytes> SessionStore::LoadApiKey() const {
  auto key = ReadSecretFile(apikey_path(), kMaxApiKeyFileBytes);
  if (!key) return tl::unexpected(key.error());
  return key;
}

Status SessionStore::Save(const Session& s) const {
  VEIL_TRY(EnsureDir(dir_));
  boost::json::object o;
  o["version"] = kSessionVersion;
  o["iam_endpoint"] = s.iam_endpoint;
  o["access_token"] = s.access_token;
  o["expiration"] = s.expiration;
  o["iam_id"] = s.iam_id;
  o["account_id"] = s.account_id;
  o["name"] = s.name;
  o["sub_type"] = s.sub_type;
  std::string text = boost::json::serialize(o) + "\n";
  Status st = WriteFileAtomically(token_path(), AsBytes(text), 0600);
  Wipe(text);
  boost::json::value wipe(std::move(o));
  WipeMember(wipe, "access_token");
  return st;
}

Status SessionStore::SaveApiKey(const SecretBytes& apikey) const {
  VEIL_TRY(EnsureDir(dir_));
  return WriteFileAtomically(apikey_path(), apikey.Reveal(), 0600);
}

Result<bool> SessionStore::Remove() const {
  bool removed = false;
  for (const std::string& path : {token_path(), apikey_path()}) {
    if (::unlink(path.c_str()) == 0) {
      removed = true;
    } else if (errno != ENOENT) {
      return Internal(Errno("cannot remove " + path));
    }
  }
  return removed;
}

Result<SecretBytes> ReadSecretFile(const std::string& path, size_t limit) {
  int fd = path == "-" ? ::dup(0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + " does not exist");
    return InvalidArgument(Errno("cannot read " + path));
  }
  SecretBytes buffer(limit + 1);
  size_t size = 0;
  while (size < buffer.size()) {
    ssize_t n = ::read(fd, buffer.RevealMutable().data() + size, buffer.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return InvalidArgument(Errno("cannot read " + path));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  if (size > limit) return InvalidArgument(path + " is too large");
  return SecretBytes(buffer.Reveal().subspan(0, size));
}

Result<SecretBytes> ReadApiKeyFile(const std::string& path) {
  auto raw = ReadSecretFile(path, kMaxApiKeyFileBytes);
  if (!raw) {
    if (raw.error().code == ErrorCode::kNotFound) {
      return InvalidArgument("API key file " + path + " does not exist");
    }
    return tl::unexpected(raw.error());
  }
  std::span<const uint8_t> text = AsBytes(TrimAsciiSpace(AsStringView(raw->Reveal())));
  if (text.empty()) return InvalidArgument("API key file " + path + " is empty");
  for (uint8_t c : text) {
    if (!std::isgraph(c)) {
      return InvalidArgument("API key file " + path + " must hold one API key and nothing else");
    }
  }
  return SecretBytes(text);
}

Status WriteNewSecretFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists(path + " exists; it is not overwritten");
    return Internal(Errno("cannot create " + path));
  }
  ::fchmod(fd, 0600);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == data.size() && ::fsync(fd) == 0;
  if (::close(fd) != 0 || !ok) {
    ::unlink(path.c_str());
    return Internal(Errno("cannot write " + path));
  }
  return OkStatus();
}

Status CheckNewFileCanBeCreated(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return InvalidArgument(path + " exists; it is not overwritten");
  }
  if (errno != ENOENT) return InvalidArgument(Errno("cannot create " + path));
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  if (::stat(dir.c_str(), &st) != 0) {
    return InvalidArgument(Errno("cannot create " + path + ": directory " + dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument("cannot create " + path + ": " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return InvalidArgument(Errno("cannot create " + path + " in " + dir));
  }
  return OkStatus();
}

Error ErrorFromResponse(const http::ClientResponse& response) {
  const int status = response.status;
  std::string code, message, request_id;
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    // IAM: {"errorCode","errorMessage","context":{"requestId"}}.
    code = Str(body, "errorCode");
    message = Str(body, "errorMessage");
    if (const boost::json::value* ctx = Member(body, "context")) {
      request_id = Str(*ctx, "requestId");
    }
    // Key Protect: {"metadata":..., "resources":[{"errorMsg","reasons":[{"code","message"}]}]}.
    if (const boost::json::value* res = Member(body, "resources");
        message.empty() && res != nullptr && res->is_array() && !res->as_array().empty()) {
      const boost::json::value& first = res->as_array().front();
      message = Str(first, "errorMsg");
      if (const boost::json::value* reasons = Member(first, "reasons");
          reasons != nullptr && reasons->is_array() && !reasons->as_array().empty()) {
        const boost::json::value& reason = reasons->as_array().front();
        code = Str(reason, "code");
        // errorMsg is "<status phrase>: <reason message>. Please see `reasons` ...": the reason's
        // message alone says it once.
        if (std::string detail = Str(reason, "message"); !detail.empty()) {
          if (message.empty() || message.find(detail) != std::string::npos) {
            message = detail;
          } else {
            message += ": " + detail;
          }
        }
      }
    }
    // Anything else with a "message" or "error" string.
    if (message.empty()) message = Str(body, "message");
    if (message.empty()) message = Str(body, "error");
  }
  if (message.empty() && !response.body.empty()) message = Excerpt(response.body);
  if (request_id.empty()) {
    request_id = std::string(response.headers.Get("X-Request-Id").value_or(""));
  }
  std::string text = std::string(StatusWords(status)) + " (HTTP " + std::to_string(status);
  if (!code.empty()) text += ", " + code;
  text += ")";
  if (!message.empty()) text += ": " + message;
  if (!request_id.empty()) text += " [request id " + request_id + "]";
  if (status == 429) {
    if (auto retry = response.headers.Get("Retry-After")) {
      text += "; retry after " + std::string(*retry) + " s";
    }
  }
  return Error(http::ErrorCodeForHttpStatus(status), text);
}

std::string KmsReasonCode(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(text, ec);
  if (ec) return "";
  const boost::json::value* res = Member(body, "resources");
  if (res == nullptr || !res->is_array() || res->as_array().empty()) return "";
  const boost::json::value* reasons = Member(res->as_array().front(), "reasons");
  if (reasons == nullptr || !reasons->is_array() || reasons->as_array().empty()) return "";
  return Str(reasons->as_array().front(), "code");
}

std::string FormEncode(std::string_view text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

Result<boost::json::object> JwtClaims(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return InvalidArgument("the access token is not a JWT");
  auto claims = iam::DecodePayloadUnverified(token.substr(first + 1, second - first - 1));
  if (!claims) return InvalidArgument("the access token's payload is not a base64url JSON object");
  return std::move(*claims);
}

ApiClient::ApiClient(GlobalOptions options) : options_(std::move(options)), store_(ProfileDir()) {
  http::ClientOptions http_options;
  http_options.connect_timeout = std::chrono::milliseconds(options_.timeout_ms);
  http_options.request_timeout = std::chrono::milliseconds(options_.timeout_ms);
  http_ = std::make_unique<http::HttpClient>(http_options);
}

ApiClient::~ApiClient() {
  if (session_) Wipe(session_->access_token);
}

Result<Session> ApiClient::Exchange(const std::string& iam_url, const SecretBytes& apikey) {
  SecretBytes form = TokenForm(apikey);
  size_t offset = 0;
  http::ClientRequest request;
  request.method = "POST";
  request.url = iam_url + "/identity/token";
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  request.headers.Set("Accept", "application/json");
  request.body_length = form.size();
  request.body_source = [&form, &offset](std::span<char> out) -> Result<size_t> {
    const size_t n = std::min(out.size(), form.size() - offset);
    std::memcpy(out.data(), form.Reveal().data() + offset, n);
    offset += n;
    return n;
  };
  auto response = http_->Send(request);
  if (!response) return tl::unexpected(response.error().Wrap("POST " + request.url));
  struct WipeBody {  // the body holds the access token
    std::string& body;
    ~WipeBody() { Wipe(body); }
  } wipe{response->body};
  if (response->status != 200) {
    Error error = ErrorFromResponse(*response);
    if (response->status == 400 && error.message.find("BXNIM0415E") != std::string::npos) {
      // IAM answers one 400 for every refused key (unknown, wrong, locked, deleted).
      return Unauthenticated("the API key was refused: " + error.message);
    }
    return tl::unexpected(error);
  }
  auto json = ParseJson(response->body, "the token response");
  if (!json) return tl::unexpected(json.error());
  Session s;
  s.iam_endpoint = iam_url;
  s.access_token = Str(*json, "access_token");
  s.expiration = Int(*json, "expiration");
  if (Str(*json, "token_type") != "Bearer" || s.access_token.empty() || s.expiration <= 0) {
    WipeMember(*json, "access_token");
    return DataLoss("the token response has no bearer access_token and expiration");
  }
  boost::json::object claims = VEIL_TRY_VALUE(JwtClaims(s.access_token));
  s.iam_id = Str(claims, "iam_id");
  s.name = Str(claims, "name");
  s.sub_type = Str(claims, "sub_type");
  if (const boost::json::value* account = claims.if_contains("account")) {
    s.account_id = Str(*account, "bss");
  }
  WipeMember(*json, "access_token");
  return s;
}

Result<Session> ApiClient::Login(const SecretBytes& apikey) {
  const BaseUrl base = VEIL_TRY_VALUE(ResolveBase(options_));
  const std::string iam_url = ServiceEndpoint(options_, base, IamService());
  Session s = VEIL_TRY_VALUE(Exchange(iam_url, apikey));
  VEIL_TRY(store_.SaveApiKey(apikey));
  VEIL_TRY(store_.Save(s));
  // Later commands find veild without --endpoint (a flag or VEIL_ENDPOINT still wins).
  VEIL_TRY(SetProfileValue(store_.dir(), "endpoint", BaseUrlText(base)));
  session_ = s;
  fresh_ = true;
  return s;
}

Result<Session> ApiClient::Renew(const Session& old) {
  auto apikey = store_.LoadApiKey();
  if (!apikey) {
    return Unauthenticated("the session has expired and no API key is stored in " + store_.dir() +
                           ": " + std::string(kLoginHint));
  }
  auto renewed = Exchange(old.iam_endpoint, *apikey);
  if (!renewed) {
    if (renewed.error().code == ErrorCode::kUnauthenticated) {
      return Unauthenticated("the stored API key no longer gets a token (locked or deleted?): " +
                             std::string(kLoginHint));
    }
    return tl::unexpected(renewed.error().Wrap("renewing the access token"));
  }
  VEIL_TRY(store_.Save(*renewed));
  session_ = *renewed;
  fresh_ = true;
  return renewed;
}

Result<Session> ApiClient::CurrentSession() {
  if (!session_) {
    auto loaded = store_.Load();
    if (!loaded) return tl::unexpected(loaded.error());
    if (!*loaded) {
      return Unauthenticated("not logged in: " + std::string(kLoginHint) +
                             " (veild writes the first admin key to DATA_DIR/admin-apikey)");
    }
    const std::string iam_url = VEIL_TRY_VALUE(ServiceUrlByName(options_, "iam"));
    if ((*loaded)->iam_endpoint != iam_url) {
      return Unauthenticated(EndpointMismatchMessage(options_, (*loaded)->iam_endpoint, iam_url));
    }
    session_ = std::move(**loaded);
    fresh_ = false;
  }
  if (NeedsRenewal(session_->expiration, NowUnix())) return Renew(*session_);
  return *session_;
}

Result<http::ClientResponse> ApiClient::Send(const std::string& url, const ApiRequest& request,
                                             const std::string& token) {
  http::ClientRequest r;
  r.method = request.method;
  r.url = url + request.path;
  r.headers.Set("Accept", "application/json");
  r.headers.Set("Authorization", "Bearer " + token);
  for (const auto& [name, value] : request.headers) r.headers.Set(name, value);
  size_t offset = 0;
  if (request.secret_body != nullptr) {
    const SecretBytes& body = *request.secret_body;
    r.headers.Set("Content-Type", "application/json");
    r.body_length = body.size();
    r.body_source = [&body, &offset](std::span<char> out) -> Result<size_t> {
      const size_t n = std::min(out.size(), body.size() - offset);
      std::memcpy(out.data(), body.Reveal().data() + offset, n);
      offset += n;
      return n;
    };
  } else if (request.body) {
    r.headers.Set("Content-Type", "application/json");
    r.body = boost::json::serialize(*request.body);
  }
  auto response = http_->Send(r);
  if (!response) return tl::unexpected(response.error().Wrap(r.method + " " + r.url));
  return response;
}

Result<boost::json::value> ApiClient::Call(const ApiRequest& request) {
  const std::string url = VEIL_TRY_VALUE(ServiceUrlByName(options_, request.service));
  Session s = VEIL_TRY_VALUE(CurrentSession());
  last_failure_ = {};
  auto response = VEIL_TRY_VALUE(Send(url, request, s.access_token));
  if (response.status == 401 && !fresh_) {
    // The token was refused although it had not expired (veild restarted with new signing keys,
    // or its identity changed): exchange the API key once more and retry.
    s = VEIL_TRY_VALUE(Renew(s));
    response = VEIL_TRY_VALUE(Send(url, request, s.access_token));
  }
  if (response.status < 200 || response.status > 299) {
    last_failure_ = {response.status, KmsReasonCode(response.body)};
    Error error = ErrorFromResponse(response);
    if (response.status == 401) error.message += "; " + std::string(kLoginHint);
    return tl::unexpected(error);
  }
  if (response.body.empty()) return boost::json::value(nullptr);
  auto parsed = ParseJson(response.body, "the response");
  if (request.secret_response) Wipe(response.body);
  return parsed;
}

void PrintTable(const GlobalOptions& g, const boost::json::value& json,
                const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  if (g.output == "json") {
    std::cout << JsonText(json) << "\n";
  } else {
    std::cout << RenderTable(header, rows);
  }
}

void PrintFields(const GlobalOptions& g, const boost::json::value& json,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  if (g.output == "json") {
    std::cout << JsonText(json) << "\n";
    return;
  }
  size_t width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, label.size());
  for (const auto& [label, value] : fields) {
    std::cout << label << ":" << std::string(width - label.size() + 2, ' ') << value << "\n";
  }
}

void WipeJsonString(boost::json::value& v, std::string_view name) {
  if (!v.is_object()) return;
  boost::json::value* m = v.as_object().if_contains(name);
  if (m != nullptr && m->is_string() && !m->as_string().empty()) {
    OPENSSL_cleanse(m->as_string().data(), m->as_string().size());
  }
}

std::string Str(const boost::json::value& v, std::string_view name) {
  const boost::json::value* m = Member(v, name);
  if (m == nullptr) return "";
  if (m->is_string()) return std::string(m->as_string());
  if (m->is_bool()) return m->as_bool() ? "true" : "false";
  if (m->is_int64()) return std::to_string(m->as_int64());
  if (m->is_uint64()) return std::to_string(m->as_uint64());
  return "";
}

}  // namespace veil::cli
