#include "service_routes.h"

#include <string>

namespace veil::veild {
namespace {

Status AddHealth(http::Router& router, const ServiceInfo& service) {
  std::string body = std::string(R"({"status":"ok","service":")") + std::string(service.name) +
                     R"(","version":")" + std::string(kVersion) + R"("})";
  http::RouteOptions options;
  options.inline_handler = true;
  options.audit = false;
  options.authenticated = false;
  return router.Add(
      "GET", "/healthz",
      [body](http::RequestContext&) {
        http::Response response;
        response.status = 200;
        response.headers.Set("Content-Type", "application/json");
        response.body = body;
        return response;
      },
      options);
}

}  // namespace

Result<http::Router> ServiceRouter(const ServiceInfo& service, const ServiceApis& apis) {
  http::Router router;
  VEIL_TRY(AddHealth(router, service));
  if (service.name == "iam") {
    if (apis.iam == nullptr) return InvalidArgument("the iam listener needs IAM's API");
    VEIL_TRY(iam::api::AddIamRoutes(router, *apis.iam));
  }
  if (service.name == "kms") {
    if (apis.kms == nullptr) return InvalidArgument("the kms listener needs the KMS's API");
    VEIL_TRY(kms::api::AddKmsRoutes(router, *apis.kms));
  }
  if (service.name == "cos") {
    if (apis.cos == nullptr) return InvalidArgument("the cos listener needs object storage's API");
    VEIL_TRY(cos::api::AddCosRoutes(router, *apis.cos));
  }
  return router;
}

}  // namespace veil::veild
