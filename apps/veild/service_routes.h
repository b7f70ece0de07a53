// The router each listener of veild serves: GET /healthz on every service, and the service's own
// API where one exists (IAM's on iam, the KMS's on kms, S3 on cos). veild (daemon.cc) builds its
// listeners with it, and route_table_itest.cc checks the very same routers against the table of
// every route Veil serves (authentication, audit action, IAM action, body limit), so that a route
// added anywhere is caught unless the table learns it too.
//
// Thread-safety: builds a router; no state.
#pragma once

#include "common/result.h"
#include "common/services.h"
#include "cos/api/cos_api.h"
#include "http/router.h"
#include "iam/api/iam_api.h"
#include "kms/api/kms_api.h"

namespace veil::veild {

// The APIs to mount; not owned, and what they point to must outlive the routers.
struct ServiceApis {
  const iam::api::IamApiDeps* iam = nullptr;
  const kms::api::KmsApiDeps* kms = nullptr;
  const cos::api::CosApiDeps* cos = nullptr;
};

// The router of `service`: /healthz (anonymous, inline, not audited), plus IAM's routes for
// "iam", the KMS's for "kms" and object storage's for "cos". kInvalidArgument when that service's
// API is missing from `apis`.
[[nodiscard]] Result<http::Router> ServiceRouter(const ServiceInfo& service,
                                                 const ServiceApis& apis);

}  // namespace veil::veild
