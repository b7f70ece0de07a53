// End-to-end: `veil cos credentials ...` against the built veild (its HMAC secrets sealed by the
// SoftHSM2 token veild makes on its first start): create, shown once as fields, as JSON and as an
// ~/.aws/credentials profile that aws-cli reads, list, delete; and the secret in no file of the
// data directory.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/process.h"
#include "e2e/veild_fixture.h"

namespace veil::testing {
namespace {

namespace fs = std::filesystem;

// The value of the "Label:  value" line of a table output.
std::string Field(const std::string& output, const std::string& label) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(label + ":", 0) == 0) {
      std::string value = line.substr(label.size() + 1);
      value.erase(0, value.find_first_not_of(' '));
      return Trim(value);
    }
  }
  return "";
}

std::string Json(const boost::json::value& v, std::initializer_list<std::string_view> path) {
  const boost::json::value* at = &v;
  for (std::string_view name : path) {
    if (!at->is_object() || !at->as_object().contains(name)) return "";
    at = &at->as_object().at(name);
  }
  return at->is_string() ? std::string(at->as_string()) : "";
}

class CosCliTest : public VeilCliTest {
 protected:
  // Logs the admin in and makes a cloud-object-storage instance called `name`: its GUID.
  std::string Instance(const std::string& name) {
    auto r = VeilJson(
        "admin", {"resource", "instance", "create", name, "--service", "cloud-object-storage"});
    return Json(r, {"guid"});
  }
};

TEST_F(CosCliTest, CredentialsAreCreatedShownOnceListedAndDeleted) {
  Start();
  LoginAdmin();
  const std::string guid = Instance("my-cos");
  const std::string other = Instance("other-cos");

  // As fields, the instance by name, the role in any case.
  ProcessResult table =
      Veil("admin", {"cos", "credentials", "create", "--instance", "my-cos", "--role", "writer"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  const std::string access_key_id = Field(table.output, "Access key ID");
  const std::string secret = Field(table.output, "Secret access key");
  EXPECT_EQ(access_key_id.size(), 32u) << table.output;
  EXPECT_EQ(secret.size(), 48u) << table.output;
  EXPECT_EQ(Field(table.output, "Name"), "hmac-writer");
  EXPECT_EQ(Field(table.output, "Role"), "Writer");
  EXPECT_EQ(Field(table.output, "Instance"), guid);
  EXPECT_TRUE(Contains(table.output, "shown only this once")) << table.output;

  // As the API's JSON, the instance by GUID.
  auto json = VeilJson("admin", {"cos", "credentials", "create", "--instance", guid, "--role",
                                 "Reader", "--name", "reader"});
  EXPECT_EQ(Json(json, {"name"}), "reader");
  EXPECT_EQ(Json(json, {"role"}), "crn:v1:veil:public:iam::::serviceRole:Reader");
  EXPECT_EQ(Json(json, {"credentials", "cos_hmac_keys", "secret_access_key"}).size(), 48u);
  EXPECT_EQ(Json(json, {"credentials", "apikey"}).size(), 66u);
  auto elsewhere = VeilJson("admin", {"cos", "credentials", "create", "--instance", other, "--role",
                                      "Manager", "--name", "elsewhere"});

  // Listing: every key, or one instance's; never a secret.
  auto all = VeilJson("admin", {"cos", "credentials", "list"});
  EXPECT_EQ(all.at("resources").as_array().size(), 3u) << all;
  auto mine = VeilJson("admin", {"cos", "credentials", "list", "--instance", "my-cos"});
  EXPECT_EQ(mine.at("resources").as_array().size(), 2u) << mine;
  ProcessResult list = Veil("admin", {"cos", "credentials", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_TRUE(Contains(list.output, access_key_id)) << list.output;
  EXPECT_TRUE(Contains(list.output, "elsewhere")) << list.output;
  EXPECT_FALSE(Contains(list.output, secret)) << list.output;

  // Deleting: gone from the list, a second delete is not found (5).
  const std::string id = Json(elsewhere, {"guid"});
  ProcessResult del = Veil("admin", {"cos", "credentials", "delete", id});
  ASSERT_EQ(del.exit_code, 0) << del.output;
  EXPECT_EQ(VeilJson("admin", {"cos", "credentials", "list"}).at("resources").as_array().size(),
            2u);
  EXPECT_EQ(Veil("admin", {"cos", "credentials", "delete", id}).exit_code, 5);
  // An instance with credentials cannot be deleted; one without can.
  EXPECT_NE(Veil("admin", {"resource", "instance", "delete", guid}).exit_code, 0);
  EXPECT_EQ(Veil("admin", {"resource", "instance", "delete", other}).exit_code, 0);

  // Usage errors and unknown instances.
  EXPECT_EQ(
      Veil("admin", {"cos", "credentials", "create", "--instance", "nope", "--role", "Writer"})
          .exit_code,
      5);
  EXPECT_EQ(Veil("admin", {"cos", "credentials", "create", "--instance", guid, "--role", "Viewer"})
                .exit_code,
            2);
  EXPECT_EQ(Veil("admin", {"cos", "credentials", "create", "--instance", guid, "--role", "Writer",
                           "--aws-profile", "bad name"})
                .exit_code,
            2);
  EXPECT_EQ(VeilJson("admin", {"cos", "credentials", "list"}).at("resources").as_array().size(),
            2u);  // nothing was made by the refused commands
}

// --aws-profile prints a profile aws-cli itself reads back (the hint goes to stderr, so the
// output can be appended to ~/.aws/credentials as it is).
TEST_F(CosCliTest, TheAwsProfileIsOneThatAwsCliReads) {
  Start();
  LoginAdmin();
  Instance("my-cos");
  const std::string file = dir_ + "/aws-credentials";
  ProcessResult r = RunProcess(
      {"/bin/sh", "-c",
       kBin + "/veil --endpoint " + endpoint() +
           " cos credentials create --instance my-cos --role Writer --aws-profile veil >> " + file},
      std::chrono::seconds(30), {"VEIL_HOME=" + home("admin")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Contains(r.output, "shown only this once")) << r.output;  // stderr
  const std::string profile = ReadFile(file);
  EXPECT_TRUE(profile.starts_with("[veil]\naws_access_key_id = ")) << profile;
  std::vector<std::string> env = {"AWS_SHARED_CREDENTIALS_FILE=" + file,
                                  "AWS_CONFIG_FILE=/dev/null", "HOME=" + dir_};
  ProcessResult id =
      RunProcess({"/usr/bin/aws", "configure", "get", "aws_access_key_id", "--profile", "veil"},
                 std::chrono::seconds(60), env);
  ASSERT_EQ(id.exit_code, 0) << id.output;
  ProcessResult secret =
      RunProcess({"/usr/bin/aws", "configure", "get", "aws_secret_access_key", "--profile", "veil"},
                 std::chrono::seconds(60), env);
  ASSERT_EQ(secret.exit_code, 0) << secret.output;
  EXPECT_EQ(Trim(id.output).size(), 32u) << id.output;
  EXPECT_EQ(Trim(secret.output).size(), 48u) << secret.output;
  EXPECT_TRUE(Contains(profile, "aws_secret_access_key = " + Trim(secret.output) + "\n"));
  auto listed = VeilJson("admin", {"cos", "credentials", "list"});
  EXPECT_EQ(Json(listed.at("resources").at(0), {"credentials", "cos_hmac_keys", "access_key_id"}),
            Trim(id.output));
}

// The secret access keys and API keys of credentials are in no file under the data directory
// (the database, its WAL, the HSM's token, the audit trail) nor in veild's log.
TEST_F(CosCliTest, TheSecretsAreInNoFileOfTheDataDirectoryNorTheLog) {
  Start();
  LoginAdmin();
  Instance("my-cos");
  std::vector<std::string> secrets;
  for (const char* role : {"Reader", "Writer", "Manager"}) {
    auto k = VeilJson("admin", {"cos", "credentials", "create", "--instance", "my-cos", "--role",
                                role, "--name", role});
    const std::string hex = Json(k, {"credentials", "cos_hmac_keys", "secret_access_key"});
    ASSERT_EQ(hex.size(), 48u);
    std::string raw;  // the 24 bytes the hex encodes
    for (size_t i = 0; i < hex.size(); i += 2) {
      raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    secrets.push_back(hex);
    secrets.push_back(raw);
    secrets.push_back(Json(k, {"credentials", "apikey"}));
    ASSERT_EQ(secrets.back().size(), 66u);
  }
  ASSERT_EQ(Veil("admin", {"cos", "credentials", "list"}).exit_code, 0);
  daemon_.reset();  // stopped: everything is in the files
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(data())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string bytes = ReadFile(entry.path().string());
    for (const std::string& s : secrets) EXPECT_FALSE(Contains(bytes, s)) << entry.path();
  }
  EXPECT_GE(files, 3u);
  const std::string log_text = ReadFile(log());
  for (const std::string& s : secrets) EXPECT_FALSE(Contains(log_text, s));
}

// A file of `size` bytes of a repeating, position-dependent pattern.
std::string CosPattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  return data;
}

std::string CosSlurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(CosCliTest, BucketsAndObjectsUnderARootKey) {
  Start();
  LoginAdmin();
  const std::string guid = Instance("my-cos");
  ASSERT_EQ(Veil("admin", {"resource", "instance", "create", "my-kms", "--service", "kms", "--use"})
                .exit_code,
            0);
  const std::string crn = Json(VeilJson("admin", {"kms", "key", "create", "cos-crk"}), {"crn"});
  ASSERT_FALSE(crn.empty());
  ASSERT_EQ(Veil("admin", {"iam", "authorization", "create", "--source", "cloud-object-storage",
                           "--target", "kms", "--role", "Reader"})
                .exit_code,
            0);

  // An SSE-KP bucket, the instance by default (the account's only one).
  ProcessResult created = Veil("admin", {"cos", "bucket", "create", "images", "--kms-key", crn});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  auto head = VeilJson("admin", {"cos", "bucket", "head", "images"});
  EXPECT_TRUE(head.at("sse_kp_enabled").as_bool()) << head;
  auto buckets = VeilJson("admin", {"cos", "bucket", "list", "--instance", guid});
  ASSERT_EQ(buckets.at("buckets").as_array().size(), 1u) << buckets;

  // A small object and one above the threshold, back identical.
  const std::string small = dir_ + "/small.txt";
  std::ofstream(small, std::ios::binary) << "hello, veil\n";
  const std::string big = dir_ + "/big.bin";
  std::ofstream(big, std::ios::binary) << CosPattern(12u << 20);
  auto put = VeilJson("admin", {"cos", "put", small, "s3://images/docs/small.txt"});
  EXPECT_EQ(put.at("size").as_int64(), 12) << put;
  ProcessResult put_big = Veil("admin", {"cos", "put", big, "s3://images/big.bin", "--kms-key", crn,
                                         "--multipart-threshold", "6MiB", "--part-size", "5MiB"});
  ASSERT_EQ(put_big.exit_code, 0) << put_big.output;
  EXPECT_TRUE(Contains(put_big.output, "-3)")) << put_big.output;  // a 3-part ETag
  ASSERT_EQ(
      Veil("admin", {"cos", "get", "s3://images/docs/small.txt", dir_ + "/small.out"}).exit_code,
      0);
  EXPECT_EQ(CosSlurp(dir_ + "/small.out"), CosSlurp(small));
  ASSERT_EQ(Veil("admin", {"cos", "get", "s3://images/big.bin", dir_ + "/big.out"}).exit_code, 0);
  EXPECT_TRUE(CosSlurp(dir_ + "/big.out") == CosSlurp(big));

  // ls with the delimiter, cp s3 -> s3, rm.
  auto ls = VeilJson("admin", {"cos", "ls", "s3://images"});
  EXPECT_EQ(ls.at("prefixes").as_array().size(), 1u) << ls;
  EXPECT_EQ(ls.at("objects").as_array().size(), 1u) << ls;
  ASSERT_EQ(
      Veil("admin", {"cos", "cp", "s3://images/docs/small.txt", "s3://images/copy.txt"}).exit_code,
      0);
  ASSERT_EQ(Veil("admin", {"cos", "get", "s3://images/copy.txt", dir_ + "/copy.out"}).exit_code, 0);
  EXPECT_EQ(CosSlurp(dir_ + "/copy.out"), CosSlurp(small));
  for (const char* key : {"docs/small.txt", "big.bin", "copy.txt"}) {
    EXPECT_EQ(Veil("admin", {"cos", "rm", std::string("s3://images/") + key}).exit_code, 0);
  }
  EXPECT_TRUE(VeilJson("admin", {"cos", "ls", "s3://images"}).at("objects").as_array().empty());

  // A missing key: S3's error code and message, exit 5; no file left behind.
  ProcessResult missing = Veil("admin", {"cos", "get", "s3://images/nope", dir_ + "/nope.out"});
  EXPECT_EQ(missing.exit_code, 5) << missing.output;
  EXPECT_TRUE(Contains(missing.output, "error: NoSuchKey: ")) << missing.output;
  EXPECT_FALSE(fs::exists(dir_ + "/nope.out"));
  EXPECT_FALSE(fs::exists(dir_ + "/nope.out.veil-part"));
  EXPECT_EQ(Veil("admin", {"cos", "bucket", "head", "nope-bucket"}).exit_code, 5);

  ASSERT_EQ(Veil("admin", {"cos", "bucket", "delete", "images"}).exit_code, 0);
  EXPECT_TRUE(VeilJson("admin", {"cos", "bucket", "list"}).at("buckets").as_array().empty());
}

TEST_F(CosCliTest, EveryCommandHasHelpWithAnExample) {
  const std::vector<std::vector<std::string>> commands = {
      {"cos"},
      {"cos", "credentials"},
      {"cos", "credentials", "create"},
      {"cos", "credentials", "list"},
      {"cos", "credentials", "delete"},
      {"cos", "bucket"},
      {"cos", "bucket", "create"},
      {"cos", "bucket", "list"},
      {"cos", "bucket", "head"},
      {"cos", "bucket", "delete"},
      {"cos", "put"},
      {"cos", "get"},
      {"cos", "ls"},
      {"cos", "rm"},
      {"cos", "cp"},
  };
  for (std::vector<std::string> c : commands) {
    c.push_back("--help");
    std::vector<std::string> argv = {kBin + "/veil"};
    argv.insert(argv.end(), c.begin(), c.end());
    ProcessResult r = RunProcess(argv, std::chrono::seconds(10), {"VEIL_HOME=" + dir_ + "/help"});
    EXPECT_EQ(r.exit_code, 0) << c.back() << " " << r.output;
    EXPECT_TRUE(Contains(r.output, "Example:\n  veil ")) << r.output;
  }
}

}  // namespace
}  // namespace veil::testing
