// `veil cos ...`: the object storage's commands, registered by main.cc; docs/cos.md is the
// user's page.
//
//   veil cos credentials create --instance GUID|NAME --role Reader|Writer|Manager [--name N]
//                               [--aws-profile NAME]
//   veil cos credentials list [--instance GUID|NAME]
//   veil cos credentials delete ID
//
// Credentials are IAM's resource keys with HMAC (POST /v2/resource_keys, docs/iam.md "Resource
// keys"): an S3 access key id and secret access key for aws-cli, boto3, s3cmd, rclone. The secret
// is shown once, by `create` (as fields, as the API's JSON with --output json, or as an
// ~/.aws/credentials profile with --aws-profile), and its JSON copy is wiped after printing.
//
// The `cos` group is built by RegisterCosCommands from one Register* function per subgroup;
// bucket and object commands are in cos_s3_cmd.h, registered from RegisterCosCommands.
//
// Exit codes: those of ApiExit (0 ok, 1 failed, 2 bad arguments or HTTP 400, 3 not logged in or
// refused credentials, 4 permission denied, 5 not found).
//
// Thread-safety: runs on the main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "api_client.h"
#include "common/result.h"

namespace veil::cli {

// Adds `cos` and its subcommands to `app`. `g` holds the global options (read when a command
// runs); `exit_code` receives the command's exit code.
void RegisterCosCommands(CLI::App& app, const GlobalOptions& g, int& exit_code);

// The GUID of the cloud-object-storage instance `guid_or_name` names: a GUID is taken as it is;
// a name is looked up (GET /v2/resource_instances?resource_id=cloud-object-storage&name=...).
// kNotFound when no instance has that name, kInvalidArgument when several do (give the GUID).
[[nodiscard]] Result<std::string> ResolveCosInstance(ApiClient& client,
                                                     const std::string& guid_or_name);

// "Reader", "Writer" or "Manager" for any case of those names; other text (a role_id CRN, a
// wrong name) as it is, for the service to accept or refuse.
std::string CosRoleText(std::string_view text);

// Writes the ~/.aws/credentials profile of a key pair:
//   [<profile>]
//   aws_access_key_id = <access key id>
//   aws_secret_access_key = <secret>
// kInvalidArgument (nothing written) for a profile name that is empty or holds '[', ']', '=',
// white space or a control character, or a key that is not one line of printable text.
[[nodiscard]] Status WriteAwsProfile(std::ostream& out, std::string_view profile,
                                     std::string_view access_key_id, std::string_view secret);

// The GUID of the instance a resource key (the API's JSON) belongs to, from its
// resource_instance_url; "" when absent.
std::string InstanceOfKey(const boost::json::value& key);

}  // namespace veil::cli
