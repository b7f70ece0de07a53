#include "api_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/encoding.h"
#include "http/client.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/veil-api-client-test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

http::ClientResponse Response(int status, std::string body) {
  http::ClientResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(NeedsRenewal, RenewsWhenExpiredOrWithinSixtySeconds) {
  EXPECT_TRUE(NeedsRenewal(1000, 1000));
  EXPECT_TRUE(NeedsRenewal(1000, 2000));
  EXPECT_TRUE(NeedsRenewal(1000, 940));
  EXPECT_FALSE(NeedsRenewal(1000, 939));
  EXPECT_FALSE(NeedsRenewal(4600, 1000));
}

TEST(ErrorFromResponse, RendersTheIamDialect) {
  Error e = ErrorFromResponse(Response(403, R"({"errorCode":"BXNIM0403E","errorMessage":)"
                                            R"("iam-identity.serviceid.create is not allowed",)"
                                            R"("context":{"requestId":"req-1","url":"/x"}})"));
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(e.message,
            "permission denied (HTTP 403, BXNIM0403E): iam-identity.serviceid.create is not "
            "allowed [request id req-1]");
  EXPECT_EQ(ApiExitCode(e), ApiExit::kPermissionDenied);
}

TEST(ErrorFromResponse, RendersTheKeyProtectDialect) {
  Error e = ErrorFromResponse(Response(
      404, R"({"metadata":{"collectionType":"application/vnd.ibm.kms.error+json",)"
           R"("collectionTotal":1},"resources":[{"errorMsg":"Not Found: Key does not exist",)"
           R"("reasons":[{"code":"KEY_NOT_FOUND_ERR","message":"Key does not exist",)"
           R"("status":404}]}]})"));
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  EXPECT_EQ(e.message, "not found (HTTP 404, KEY_NOT_FOUND_ERR): Key does not exist");
}

TEST(ErrorFromResponse, FallsBackToTheStatusAndAnExcerpt) {
  Error e = ErrorFromResponse(Response(502, "<html>bad\ngateway</html>"));
  EXPECT_EQ(e.code, ErrorCode::kInternal);
  EXPECT_EQ(e.message, "server error (HTTP 502): <html>bad gateway</html>");
  http::ClientResponse limited = Response(429, "");
  limited.headers.Set("Retry-After", "6");
  Error slow = ErrorFromResponse(limited);
  EXPECT_EQ(slow.code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(slow.message, "too many requests (HTTP 429); retry after 6 s");
  EXPECT_EQ(ApiExitCode(ErrorFromResponse(Response(401, ""))), ApiExit::kUnauthenticated);
  EXPECT_EQ(ApiExitCode(ErrorFromResponse(Response(400, ""))), ApiExit::kUsage);
  // Not found is one exit code for every command (5, as the KMS commands always had).
  EXPECT_EQ(ApiExitCode(ErrorFromResponse(Response(404, ""))), ApiExit::kNotFound);
  EXPECT_EQ(ExitCode(ApiExit::kNotFound), 5);
}

TEST(SessionStore, RoundTripsWithOwnerOnlyFilesAndRemoves) {
  TempDir tmp;
  SessionStore store(tmp.path() + "/profile");
  auto none = store.Load();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  Session s;
  s.iam_endpoint = "http://127.0.0.1:8441";
  s.access_token = "eyJ.eyJ.sig";
  s.expiration = 1893456000;
  s.iam_id = "iam-ServiceId-1";
  s.account_id = "acct";
  s.name = "svc";
  s.sub_type = "ServiceId";
  ASSERT_TRUE(store.Save(s));
  const std::string key = "AQxyz";
  ASSERT_TRUE(store.SaveApiKey(SecretBytes(AsBytes(key))));
  EXPECT_EQ(Mode(store.dir()), 0700u);
  EXPECT_EQ(Mode(store.token_path()), 0600u);
  EXPECT_EQ(Mode(store.apikey_path()), 0600u);
  auto loaded = store.Load();
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_EQ((*loaded)->access_token, s.access_token);
  EXPECT_EQ((*loaded)->expiration, s.expiration);
  EXPECT_EQ((*loaded)->iam_id, s.iam_id);
  EXPECT_EQ((*loaded)->account_id, s.account_id);
  auto apikey = store.LoadApiKey();
  ASSERT_TRUE(apikey);
  EXPECT_EQ(AsStringView(apikey->Reveal()), key);
  EXPECT_FALSE(fs::exists(store.token_path() + ".tmp"));
  EXPECT_EQ(store.Remove().value_or(false), true);
  EXPECT_EQ(store.Remove().value_or(true), false);
  EXPECT_FALSE(fs::exists(store.token_path()));
  EXPECT_FALSE(fs::exists(store.apikey_path()));
}

TEST(SessionStore, RefusesAFileThatIsNotASession) {
  TempDir tmp;
  SessionStore store(tmp.path());
  { std::ofstream(store.token_path()) << R"({"version":7})"; }
  auto loaded = store.Load();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(loaded.error().message.find("veil login"), std::string::npos);
}

TEST(ReadApiKeyFile, TrimsWhiteSpaceAndRejectsAnythingElse) {
  TempDir tmp;
  const std::string path = tmp.path() + "/key";
  { std::ofstream(path) << "  AQabc-_9\n"; }
  auto key = ReadApiKeyFile(path);
  ASSERT_TRUE(key);
  EXPECT_EQ(AsStringView(key->Reveal()), "AQabc-_9");
  { std::ofstream(path) << "\n \n"; }
  EXPECT_FALSE(ReadApiKeyFile(path));
  { std::ofstream(path) << "AQabc\nAQdef\n"; }
  EXPECT_FALSE(ReadApiKeyFile(path));
  auto missing = ReadApiKeyFile(tmp.path() + "/none");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
}

TEST(WriteNewSecretFile, WritesOwnerOnlyAndNeverOverwrites) {
  TempDir tmp;
  const std::string path = tmp.path() + "/out.apikey";
  ASSERT_TRUE(WriteNewSecretFile(path, "AQvalue"));
  EXPECT_EQ(Mode(path), 0600u);
  auto again = WriteNewSecretFile(path, "AQother");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "AQvalue");
}

TEST(CheckNewFileCanBeCreated, RefusesAnExistingFileAndAnUnwritableDirectory) {
  TempDir tmp;
  EXPECT_TRUE(CheckNewFileCanBeCreated(tmp.path() + "/new.apikey"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/new.apikey"));  // a check, nothing created
  { std::ofstream(tmp.path() + "/exists") << "keep"; }
  auto exists = CheckNewFileCanBeCreated(tmp.path() + "/exists");
  ASSERT_FALSE(exists);
  EXPECT_EQ(exists.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(exists.error().message.find("exists; it is not overwritten"), std::string::npos);
  fs::create_symlink(tmp.path() + "/nowhere", tmp.path() + "/dangling");
  EXPECT_FALSE(CheckNewFileCanBeCreated(tmp.path() + "/dangling"));
  auto no_dir = CheckNewFileCanBeCreated(tmp.path() + "/missing/k.apikey");
  ASSERT_FALSE(no_dir);
  EXPECT_NE(no_dir.error().message.find("directory " + tmp.path() + "/missing"), std::string::npos)
      << no_dir.error().message;
  EXPECT_FALSE(CheckNewFileCanBeCreated(tmp.path() + "/exists/k.apikey"));  // not a directory
  if (::geteuid() != 0) {                                                   // root writes anywhere
    fs::create_directory(tmp.path() + "/ro");
    fs::permissions(tmp.path() + "/ro", fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_FALSE(CheckNewFileCanBeCreated(tmp.path() + "/ro/k.apikey"));
    fs::permissions(tmp.path() + "/ro", fs::perms::owner_all);
  }
}

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ResolveBaseWithOrigin, SaysWhereTheEndpointCameFrom) {
  TempDir tmp;
  ScopedEnv home("VEIL_HOME", tmp.path().c_str());
  ScopedEnv env("VEIL_ENDPOINT", nullptr);
  GlobalOptions g;
  auto resolved = ResolveBaseWithOrigin(g);
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->origin, EndpointOrigin::kDefault);
  EXPECT_EQ(BaseUrlText(resolved->url), "http://127.0.0.1:8440");
  ASSERT_TRUE(SetProfileValue(tmp.path(), "endpoint", "http://127.0.0.1:18440"));
  resolved = ResolveBaseWithOrigin(g);
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->origin, EndpointOrigin::kProfile);
  EXPECT_EQ(BaseUrlText(resolved->url), "http://127.0.0.1:18440");
  {
    ScopedEnv set("VEIL_ENDPOINT", "http://10.0.0.1:9000/");
    resolved = ResolveBaseWithOrigin(g);
    ASSERT_TRUE(resolved);
    EXPECT_EQ(resolved->origin, EndpointOrigin::kEnvironment);
    EXPECT_EQ(BaseUrlText(resolved->url), "http://10.0.0.1:9000");
    g.endpoint = "http://10.0.0.2:7000";
    resolved = ResolveBaseWithOrigin(g);
    ASSERT_TRUE(resolved);
    EXPECT_EQ(resolved->origin, EndpointOrigin::kFlag);
  }
  EXPECT_EQ(BaseOfIamUrl("http://127.0.0.1:18441"), "http://127.0.0.1:18440");
  EXPECT_EQ(BaseOfIamUrl("http://[::1]:8441"), "http://[::1]:8440");
  EXPECT_EQ(BaseOfIamUrl("not a url"), "");
}

TEST(EndpointMismatchMessage, NamesTheOriginAndTheCommandThatFixesIt) {
  TempDir tmp;
  ScopedEnv home("VEIL_HOME", tmp.path().c_str());
  ScopedEnv env("VEIL_ENDPOINT", nullptr);
  ScopedEnv iam_env("VEIL_IAM_ENDPOINT", nullptr);
  const std::string session = "http://127.0.0.1:18441";
  GlobalOptions g;
  g.endpoint = "http://127.0.0.1:9000";
  std::string m = EndpointMismatchMessage(g, session, "http://127.0.0.1:9001");
  EXPECT_NE(m.find("logged in at http://127.0.0.1:18441"), std::string::npos) << m;
  EXPECT_NE(m.find("--endpoint http://127.0.0.1:9000 makes this command use "
                   "http://127.0.0.1:9001"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("`veil login --endpoint http://127.0.0.1:9000 --apikey-file FILE`"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("drop --endpoint"), std::string::npos) << m;

  g.endpoint.clear();
  {
    ScopedEnv set("VEIL_ENDPOINT", "http://127.0.0.1:9000");
    m = EndpointMismatchMessage(g, session, "http://127.0.0.1:9001");
    EXPECT_NE(m.find("VEIL_ENDPOINT=http://127.0.0.1:9000 makes this command use"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("unset VEIL_ENDPOINT"), std::string::npos) << m;
  }
  m = EndpointMismatchMessage(g, session, "http://127.0.0.1:8441");  // the default
  EXPECT_NE(m.find("the default endpoint http://127.0.0.1:8440"), std::string::npos) << m;
  EXPECT_NE(m.find("`veil login --endpoint http://127.0.0.1:18440 --apikey-file FILE`"),
            std::string::npos)
      << m;
  g.service_endpoints["iam"] = "http://127.0.0.1:7001";
  m = EndpointMismatchMessage(g, session, "http://127.0.0.1:7001");
  EXPECT_NE(m.find("--iam-endpoint makes this command use http://127.0.0.1:7001"),
            std::string::npos)
      << m;
}

TEST(FormEncode, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(FormEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(FormEncode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(FormEncode(std::string_view("+%\0\x7f\xff", 5)), "%2B%25%00%7F%FF");
}

TEST(JwtClaims, ReadsThePayloadAndRejectsOtherText) {
  const std::string payload = R"({"iam_id":"IBMid-1","account":{"bss":"acct"}})";
  const std::string token = "eyJhbGciOiJSUzI1NiJ9." + Base64UrlEncode(AsBytes(payload)) + ".sig";
  auto claims = JwtClaims(token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->at("iam_id").as_string(), "IBMid-1");
  EXPECT_FALSE(JwtClaims("not-a-jwt"));
  EXPECT_FALSE(JwtClaims("a.!!!.c"));
  EXPECT_FALSE(JwtClaims("a." + Base64UrlEncode(AsBytes("[1]")) + ".c"));
}

TEST(ServiceUrlByName, UsesTheBaseAndPerServiceOverrides) {
  GlobalOptions g;
  g.endpoint = "http://127.0.0.1:9000";
  EXPECT_EQ(ServiceUrlByName(g, "iam").value_or(""), "http://127.0.0.1:9001");
  g.service_endpoints["iam"] = "http://10.0.0.5:7000/";
  EXPECT_EQ(ServiceUrlByName(g, "iam").value_or(""), "http://10.0.0.5:7000");
  EXPECT_EQ(ServiceUrlByName(g, "kms").value_or(""), "http://127.0.0.1:9002");
  EXPECT_FALSE(ServiceUrlByName(g, "nope"));
}

}  // namespace
}  // namespace veil::cli
