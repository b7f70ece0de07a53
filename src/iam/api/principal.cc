#include "iam/api/principal.h"

#include "http/bearer_auth.h"

namespace veil::iam::api {

http::Principal ServicePrincipal(std::string_view service_name, std::string_view account) {
  http::Principal p;
  p.id = ServiceIamId(service_name);
  p.name = std::string(service_name);
  p.type = "service";
  p.account = std::string(account);
  p.claims["service_name"] = std::string(service_name);
  return p;
}

http::Principal PrincipalFromToken(const VerifiedToken& token) {
  http::Principal p;
  p.id = token.iam_id;
  p.name = token.name;
  p.type = token.sub_type == "ServiceId" ? "serviceid" : "user";
  p.account = token.account_id;
  p.credential_type = "token";
  return p;
}

Result<Subject> SubjectOf(const http::Principal& principal) {
  Subject s;
  s.iam_id = principal.id;
  s.account_id = principal.account;
  if (principal.type == "user") {
    s.type = Subject::Type::kUser;
  } else if (principal.type == "serviceid") {
    s.type = Subject::Type::kServiceId;
  } else if (principal.type == "service") {
    auto it = principal.claims.find("service_name");
    std::string name = it != principal.claims.end() ? it->second : principal.name;
    return ServiceSubject(name, principal.account);
  } else {
    return Unauthenticated("unknown kind of principal");
  }
  return s;
}

http::Authenticator MakeIamAuthenticator(TokenVerifier& verifier) {
  return http::MakeBearerAuthenticator(
      [&verifier](std::string_view token) -> Result<http::Principal> {
        auto verified = VEIL_TRY_VALUE(verifier.Verify(token));
        return PrincipalFromToken(*verified);
      });
}

}  // namespace veil::iam::api

namespace veil::iam::api {

http::Authenticator MakeIamServiceAuthenticator(TokenVerifier& verifier) {
  return [bearer = MakeIamAuthenticator(verifier)](
             const http::Request& request) -> Result<std::optional<http::Principal>> {
    if (request.path == "/identity/token") {
      return std::optional<http::Principal>();
    }
    return bearer(request);
  };
}

}  // namespace veil::iam::api
