// The JSON of `veil image inspect | verify --output json`: the keys callers read, and the security
// invariant that no salt, digest or passphrase ever reaches it.
#include "image_json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "luks/inspect.h"
#include "luks/test_support.h"

namespace veil::cli {
namespace {

using luks::testing::Fixture;
using luks::testing::GetLuks2Json;
using luks::testing::TempDir;
using luks::testing::WriteFile;
namespace json = boost::json;

constexpr std::string_view kPass = "correct horse battery staple";

// Security invariant: what Inspect reports carries no salt and no digest.
TEST(ImageJson, HeaderReportHoldsNoSaltOrDigest) {
  auto b = Fixture("luks2-argon2id-4096.bin");
  auto info = luks::Inspect(b);
  ASSERT_TRUE(info);
  const std::string report = HeaderInfoToJson(*info);
  json::value v = json::parse(GetLuks2Json(b));
  const auto& digest = v.at("digests").at("0");
  for (const char* secretish :
       {digest.at("salt").as_string().c_str(), digest.at("digest").as_string().c_str(),
        v.at("keyslots").at("0").at("kdf").at("salt").as_string().c_str()}) {
    EXPECT_EQ(report.find(secretish), std::string::npos) << secretish;
  }
  EXPECT_NE(report.find("\"sector_size\":4096"), std::string::npos) << report;
}

// A 4 MiB disk with an MBR and one partition.
std::vector<uint8_t> Disk() {
  std::vector<uint8_t> d(4 << 20, 0);
  d[510] = 0x55;
  d[511] = 0xaa;
  uint8_t* e = &d[446];
  e[4] = 0x83;
  const uint32_t first = 2048, count = 4096;
  std::memcpy(e + 8, &first, 4);
  std::memcpy(e + 12, &count, 4);
  return d;
}

TEST(ImageJson, InspectAndVerifyReportsHoldNoPassphrase) {
  TempDir dir;
  WriteFile(dir / "disk.raw", Disk());
  image::EncryptOptions o;
  o.source = dir / "disk.raw";
  o.destination = dir / "d.luks";
  o.passphrase = SecretBytes(AsBytes(kPass));
  o.pbkdf.type = "pbkdf2";
  o.pbkdf.iterations = 1000;
  ASSERT_TRUE(image::EncryptImage(o));

  auto info = image::InspectImage(dir / "d.luks");
  ASSERT_TRUE(info) << info.error().ToString();
  const std::string text = ImageInfoToJson(*info);
  auto v = json::parse(text);
  EXPECT_EQ(v.at("luks").at("version").as_string(), "luks1");
  EXPECT_EQ(v.at("container").as_string(), "luks");
  EXPECT_EQ(text.find(std::string(kPass)), std::string::npos);

  auto report = image::VerifyImage(dir / "d.luks", AsBytes(kPass));
  ASSERT_TRUE(report) << report.error().ToString();
  const std::string verify = VerifyReportToJson(*report);
  auto r = json::parse(verify);
  EXPECT_TRUE(r.at("looks_like_disk").as_bool());
  EXPECT_EQ(r.at("partition_table").at("kind").as_string(), "mbr");
  EXPECT_EQ(verify.find(std::string(kPass)), std::string::npos);
}

}  // namespace
}  // namespace veil::cli
