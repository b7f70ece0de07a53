// `veil cos bucket ...` and the object commands (`veil cos put|get|ls|rm|cp`): the S3 API of
// veild's object storage (docs/cos.md "Command line") spoken with the logged-in IAM token
// (`Authorization: Bearer`) and `ibm-service-instance-id`, so no HMAC credentials are needed.
//
//   veil cos bucket create NAME [--instance GUID|NAME] [--kms-key ROOT_KEY_CRN] [--location L]
//   veil cos bucket list [--instance GUID|NAME]
//   veil cos bucket head NAME
//   veil cos bucket delete NAME
//   veil cos put FILE s3://BUCKET/KEY [--kms-key CRN]
//   veil cos get s3://BUCKET/KEY FILE|-
//   veil cos ls s3://BUCKET[/PREFIX]
//   veil cos rm s3://BUCKET/KEY
//   veil cos cp SRC DST            (local -> s3, s3 -> local, s3 -> s3)
//
// Without --instance, the bucket commands take the account's only cloud-object-storage instance.
// S3's XML errors are shown as "error: <Code>: <Message>"; exit codes are ApiExit's (5 for a
// missing bucket or key).
//
// Thread-safety: runs on the main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api_client.h"
#include "common/result.h"

namespace veil::cli {

// Adds `bucket`, `put`, `get`, `ls`, `rm` and `cp` to the `cos` group.
void RegisterCosS3Commands(CLI::App& cos, const GlobalOptions& g, int& exit_code);

// An s3://BUCKET[/KEY] URL split; nullopt for text that is not one (a local path).
struct S3Url {
  std::string bucket;
  std::string key;
};
std::optional<S3Url> ParseS3Url(std::string_view text);

// A key as a URL path: every byte but RFC 3986's unreserved ones and '/' as %XX.
std::string S3PathEncode(std::string_view key);

// The error of an S3 error response: its code follows the HTTP status; the message is
// "error: <Code>: <Message>" from the body's <Error> document (or the status alone).
Error S3ErrorOf(int status, std::string_view body);

}  // namespace veil::cli
