// CosService over real SQLite, SoftHSM2 and the KMS: objects round-trip under the service's key
// and under a customer's root key; the root key's lifecycle reaches the objects; tampered data is
// an error; a crash leaves no orphan; nothing stored is plaintext.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/encoding.h"
#include "cos/object_file.h"
#include "cos/testing/cos_fixture.h"
#include "crypto/hash.h"

namespace veil::cos {
namespace {

namespace fs = std::filesystem;
using testing::CosFixture;
using testing::PatternBytes;
using testing::StringUpload;

std::string Md5Etag(const std::string& data) {
  return "\"" +
         HexEncode(
             crypto::Md5(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()))) +
         "\"";
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<fs::path> DataFiles(const CosFixture& f) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(f.service->options().data_dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

TEST(CosServiceTest, ObjectsRoundTripUnderTheServiceKeyWithS3Etags) {
  CosFixture f;
  Bucket b = f.MakeBucket("plain-bucket");
  for (size_t size : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{300001}}) {
    const std::string data = PatternBytes(size, static_cast<uint32_t>(size));
    auto put = f.Put(b, "obj-" + std::to_string(size), data);
    ASSERT_TRUE(put) << put.error().ToString();
    EXPECT_EQ(put->size, size);
    EXPECT_EQ(put->etag, Md5Etag(data));
    EXPECT_EQ(put->root_key_crn, "");
    EXPECT_EQ(f.Read(b, "obj-" + std::to_string(size)).value(), data);
  }
  // Ranges across chunk boundaries.
  const std::string data = PatternBytes(300001, 300001);
  Object o = f.service->HeadObject(b, "obj-300001").value();
  auto reader = f.service->OpenObject(b, o).value();
  const std::vector<std::pair<uint64_t, size_t>> ranges = {
      {65530, 20}, {0, 1}, {300000, 5}, {131072, 65536}};
  for (auto [at, n] : ranges) {
    std::string out(n, '\0');
    size_t got = reader->ReadAt(at, std::span(reinterpret_cast<uint8_t*>(out.data()), n)).value();
    EXPECT_EQ(out.substr(0, got), data.substr(at, n)) << at;
  }
}

TEST(CosServiceTest, ReplacingAnObjectRemovesTheOldDataFile) {
  CosFixture f;
  Bucket b = f.MakeBucket("replace-bucket");
  ASSERT_TRUE(f.Put(b, "k", PatternBytes(1000)));
  const size_t before = DataFiles(f).size();
  ASSERT_TRUE(f.Put(b, "k", PatternBytes(2000, 2)));
  EXPECT_EQ(DataFiles(f).size(), before);
  EXPECT_EQ(f.Read(b, "k").value(), PatternBytes(2000, 2));
  EXPECT_TRUE(f.service->DeleteObject(b, "k").value());
  EXPECT_FALSE(f.service->DeleteObject(b, "k").value());
  EXPECT_EQ(DataFiles(f).size(), before - 1);
  EXPECT_S3(f.service->HeadObject(b, "k"), S3Reason::kNoSuchKey);
}

TEST(CosServiceTest, BucketNamesAreSharedAcrossAccountsAndRulesHold) {
  CosFixture f;
  Bucket b = f.MakeBucket("taken");
  EXPECT_S3(f.service->CreateBucket({"taken", f.kms.iam.account_id, f.instance_guid, "", ""}),
            S3Reason::kBucketAlreadyOwnedByYou);
  EXPECT_S3(f.service->CreateBucket({"taken", "another-account", "inst", "", ""}),
            S3Reason::kBucketAlreadyExists);
  for (std::string bad : std::vector<std::string>{"ab", "UPPER", "-dash", "a..b", "192.168.1.1",
                                                  std::string(64, 'a')}) {
    EXPECT_S3(f.service->CreateBucket({bad, f.kms.iam.account_id, f.instance_guid, "", ""}),
              S3Reason::kInvalidBucketName);
  }
  EXPECT_S3(f.service->CreateBucket(
                {"elsewhere", f.kms.iam.account_id, f.instance_guid, "us-south-standard", ""}),
            S3Reason::kInvalidLocationConstraint);
  ASSERT_TRUE(f.Put(b, "x", "y"));
  EXPECT_S3(f.service->DeleteBucket(b), S3Reason::kBucketNotEmpty);
  ASSERT_TRUE(f.service->DeleteObject(b, "x"));
  EXPECT_TRUE(f.service->DeleteBucket(b));
  EXPECT_S3(f.service->GetBucket("taken"), S3Reason::kNoSuchBucket);
}

TEST(CosServiceTest, ContentMd5AndIfNoneMatchAreEnforcedAndStoreNothing) {
  CosFixture f;
  Bucket b = f.MakeBucket("checks");
  const size_t before = DataFiles(f).size();
  PutObjectSpec spec;
  spec.key = "k";
  spec.content_md5 = std::array<uint8_t, 16>{};
  StringUpload body("hello");
  EXPECT_S3(f.service->PutObject(b, spec, body), S3Reason::kBadDigest);
  StringUpload failing("hello");
  failing.verify_ = S3Fail(S3Reason::kContentSha256Mismatch, "x");
  spec.content_md5.reset();
  EXPECT_S3(f.service->PutObject(b, spec, failing), S3Reason::kContentSha256Mismatch);
  EXPECT_EQ(DataFiles(f).size(), before);
  EXPECT_S3(f.service->HeadObject(b, "k"), S3Reason::kNoSuchKey);
  spec.if_none_match_any = true;
  StringUpload first("one");
  ASSERT_TRUE(f.service->PutObject(b, spec, first));
  StringUpload second("two");
  EXPECT_S3(f.service->PutObject(b, spec, second), S3Reason::kPreconditionFailed);
  EXPECT_EQ(f.Read(b, "k").value(), "one");
}

TEST(CosServiceTest, ListingFollowsS3WithDelimitersAndPages) {
  CosFixture f;
  Bucket b = f.MakeBucket("listing");
  for (std::string key : {"a.txt", "dir/one", "dir/two", "dir/sub/three", "e.txt", "z/z"}) {
    ASSERT_TRUE(f.Put(b, key, key));
  }
  ListSpec spec;
  spec.delimiter = "/";
  ListResult all = f.service->ListObjects(b, spec).value();
  ASSERT_EQ(all.objects.size(), 2u);
  EXPECT_EQ(all.objects[0].key, "a.txt");
  EXPECT_EQ(all.objects[1].key, "e.txt");
  EXPECT_EQ(all.common_prefixes, (std::vector<std::string>{"dir/", "z/"}));
  EXPECT_FALSE(all.truncated);

  spec.prefix = "dir/";
  ListResult dir = f.service->ListObjects(b, spec).value();
  ASSERT_EQ(dir.objects.size(), 2u);
  EXPECT_EQ(dir.objects[0].key, "dir/one");
  EXPECT_EQ(dir.common_prefixes, (std::vector<std::string>{"dir/sub/"}));

  // Pages of two, without a delimiter: every key once, in order.
  ListSpec page;
  page.max_keys = 2;
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    ListResult r = f.service->ListObjects(b, page).value();
    for (const Object& o : r.objects) seen.push_back(o.key);
    if (!r.truncated) break;
    page.after = r.next_marker;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a.txt", "dir/one", "dir/sub/three", "dir/two", "e.txt",
                                            "z/z"}));
  // A page that ends exactly at the last key is not truncated.
  ListSpec exact;
  exact.max_keys = 6;
  EXPECT_FALSE(f.service->ListObjects(b, exact).value().truncated);
  exact.max_keys = 5;
  EXPECT_TRUE(f.service->ListObjects(b, exact).value().truncated);
}

TEST(CosServiceTest, SseKpNeedsTheCustomersAuthorizationAndRegistersTheBucket) {
  CosFixture f;
  kms::Key key = f.kms.CreateRoot();
  const std::string crn = key.crn("local");
  EXPECT_S3(f.service->CreateBucket({"sse", f.kms.iam.account_id, f.instance_guid, "", crn}),
            S3Reason::kKmsAccessDenied);
  f.Authorize();
  Bucket b = f.MakeBucket("sse", crn);
  EXPECT_EQ(b.sse_kp_root_key_crn, crn);
  auto registrations = f.kms.service->ListRegistrations(key).value();
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].resource_crn, b.crn);
  auto put = f.Put(b, "secret", "under the customer's key");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->root_key_crn, crn);
  EXPECT_EQ(f.Read(b, "secret").value(), "under the customer's key");
  // A key that does not exist is refused as the KMS's NotFound.
  const std::string missing =
      crn.substr(0, crn.rfind(':') + 1) + "00000000-0000-4000-8000-000000000000";
  EXPECT_S3(f.service->CreateBucket({"sse2", f.kms.iam.account_id, f.instance_guid, "", missing}),
            S3Reason::kKmsNotFound);
  ASSERT_TRUE(f.service->DeleteObject(b, "secret"));
  ASSERT_TRUE(f.service->DeleteBucket(b));
  EXPECT_TRUE(f.kms.service->ListRegistrations(key).value().empty());
}

TEST(CosServiceTest, RootKeyLifecycleReachesTheObjectsAtOnce) {
  CosFixture f;
  f.Authorize();
  kms::Key key = f.kms.CreateRoot();
  Bucket b = f.MakeBucket("lifecycle", key.crn("local"));
  ASSERT_TRUE(f.Put(b, "o", "protected bytes"));
  ASSERT_EQ(f.Read(b, "o").value(), "protected bytes");
  EXPECT_GT(f.service->cached_bucket_keys(), 0u);

  ASSERT_TRUE(f.kms.service->Disable(f.kms.Reload(key)));
  EXPECT_EQ(f.service->cached_bucket_keys(), 0u);
  EXPECT_S3(f.Read(b, "o"), S3Reason::kKmsDisabled);
  EXPECT_S3(f.Put(b, "o2", "x"), S3Reason::kKmsDisabled);

  ASSERT_TRUE(f.kms.service->Enable(f.kms.Reload(key)));
  EXPECT_EQ(f.Read(b, "o").value(), "protected bytes");

  ASSERT_TRUE(f.kms.service->Delete(f.kms.Reload(key), true, f.kms.user));
  EXPECT_S3(f.Read(b, "o"), S3Reason::kKmsInvalidState);

  f.kms.iam.clock.Advance(std::chrono::seconds(31));  // Key Protect: 30 s before a restore
  ASSERT_TRUE(f.kms.service->Restore(f.kms.Reload(key), std::nullopt));
  EXPECT_EQ(f.Read(b, "o").value(), "protected bytes");
}

TEST(CosServiceTest, RotationRewrapsTheBucketKeys) {
  CosFixture f;
  f.Authorize();
  kms::Key key = f.kms.CreateRoot();
  Bucket b = f.MakeBucket("rotating", key.crn("local"));
  ASSERT_TRUE(f.Put(b, "o", "before rotation"));
  auto keys = f.service->store().BucketKeysOfBucket(*f.kms.iam.db, b.id).value();
  ASSERT_EQ(keys.size(), 1u);
  ASSERT_TRUE(f.kms.service->Rotate(f.kms.Reload(key), std::nullopt));
  auto after = f.service->store().BucketKeysOfBucket(*f.kms.iam.db, b.id).value();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].key_version, keys[0].key_version);
  EXPECT_EQ(after[0].key_version, f.kms.Reload(key).current.id);
  EXPECT_NE(after[0].wrapped, keys[0].wrapped);
  EXPECT_EQ(f.Read(b, "o").value(), "before rotation");
}

// An attacker (or a bad disk) changes stored bytes: the read fails, it never returns other bytes.
TEST(CosServiceTest, TamperedChunkOnDiskIsAnErrorNotBytes) {
  CosFixture f;
  Bucket b = f.MakeBucket("tamper");
  Object o = f.Put(b, "o", PatternBytes(200000)).value();
  const fs::path file = DataFiles(f).front();
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(100000);
    char c = 0;
    io.read(&c, 1);
    io.seekp(100000);
    c ^= 1;
    io.write(&c, 1);
  }
  auto reader = f.service->OpenObject(b, o).value();
  std::string out(200000, '\0');
  auto read = reader->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kDataLoss);
  // The chunks before the damaged one still read.
  std::string first(1000, '\0');
  EXPECT_TRUE(reader->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(first.data()), 1000)));
}

TEST(CosServiceTest, RecoveryRemovesTemporaryAndUnreferencedFilesOnly) {
  CosFixture f;
  Bucket b = f.MakeBucket("recover");
  ASSERT_TRUE(f.Put(b, "kept", "kept bytes"));
  const fs::path dir = fs::path(f.service->options().data_dir) / "objects" / "zz";
  fs::create_directories(dir);
  std::ofstream(dir / "zzzz-orphan") << "orphan";
  std::ofstream(dir / "zzzz-upload.tmp") << "half written";
  f.StartService();  // recovery runs at start
  EXPECT_FALSE(fs::exists(dir / "zzzz-orphan"));
  EXPECT_FALSE(fs::exists(dir / "zzzz-upload.tmp"));
  EXPECT_EQ(f.Read(b, "kept").value(), "kept bytes");
}

// Nothing Veil writes (database, HSM token, data files) holds an object's plaintext, raw or hex.
TEST(CosServiceTest, NoPlaintextAnywhereInTheDataDirectory) {
  CosFixture f;
  f.Authorize();
  kms::Key key = f.kms.CreateRoot();
  Bucket plain = f.MakeBucket("no-plaintext-a");
  Bucket sse = f.MakeBucket("no-plaintext-b", key.crn("local"));
  const std::string secret = "VEIL-KNOWN-PLAINTEXT-" + PatternBytes(64, 99);
  const std::string hex =
      HexEncode(std::span(reinterpret_cast<const uint8_t*>(secret.data()), secret.size()));
  ASSERT_TRUE(f.Put(plain, "s", secret + secret));
  ASSERT_TRUE(f.Put(sse, "s", secret + secret));
  size_t scanned = 0;
  for (const auto& e : fs::recursive_directory_iterator(f.kms.iam.dir.path())) {
    if (!e.is_regular_file()) continue;
    const std::string bytes = Slurp(e.path());
    EXPECT_EQ(bytes.find("VEIL-KNOWN-PLAINTEXT-"), std::string::npos) << e.path();
    EXPECT_EQ(bytes.find(hex.substr(0, 40)), std::string::npos) << e.path();
    ++scanned;
  }
  EXPECT_GT(scanned, 3u);
}

// The resource controller does not delete an instance that holds buckets, and a bucket is not
// created in an instance that is gone.
TEST(CosServiceTest, AnInstanceWithBucketsIsNotDeleted) {
  CosFixture f;
  Bucket b = f.MakeBucket("held");
  auto refused = f.kms.iam.service->DeleteInstance(f.instance_guid);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("1 bucket"), std::string::npos);
  ASSERT_TRUE(f.service->DeleteBucket(b));
  ASSERT_TRUE(f.kms.iam.service->DeleteInstance(f.instance_guid));
  EXPECT_S3(f.service->CreateBucket({"late", f.kms.iam.account_id, f.instance_guid, "", ""}),
            S3Reason::kAccessDenied);
}

TEST(CosServiceTest, ObjectUrlsResolveForTheBucketsAccountOnly) {
  CosFixture f;
  Bucket b = f.MakeBucket("images");
  ASSERT_TRUE(f.Put(b, "disk/one.luks", "image bytes"));
  auto reader = OpenObjectUrl(*f.service, "cos://local/images/disk/one.luks", f.kms.iam.account_id);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->size(), 11u);
  auto other = OpenObjectUrl(*f.service, "cos://local/images/disk/one.luks", "someone-else");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kPermissionDenied);
  EXPECT_FALSE(
      OpenObjectUrl(*f.service, "cos://elsewhere/images/disk/one.luks", f.kms.iam.account_id));
  EXPECT_S3(OpenObjectUrl(*f.service, "cos://local/images/missing", f.kms.iam.account_id),
            S3Reason::kNoSuchKey);
}

std::string Md5Hex(const std::string& data) {
  return HexEncode(
      crypto::Md5(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size())));
}

TEST(CosServiceTest, MultipartStitchesPartsWithoutRewritingThem) {
  CosFixture f;
  Bucket b = f.MakeBucket("multipart");
  Upload u =
      f.service->CreateUpload(b, {"big/object", "", {{"content-type", "x/y"}}, "me"}).value();
  const std::string p1 = PatternBytes(5 << 20, 11), p2 = PatternBytes(123457, 12);
  StringUpload wrong(PatternBytes(5 << 20, 99), 1 << 20);
  ASSERT_TRUE(f.service->UploadPart(b, u, 1, std::nullopt, wrong));
  StringUpload one(p1, 1 << 20), two(p2);
  Part part1 = f.service->UploadPart(b, u, 1, std::nullopt, one).value();  // replaces
  Part part2 = f.service->UploadPart(b, u, 2, std::nullopt, two).value();
  EXPECT_EQ(f.service->ListParts(u, 0, 100).value().size(), 2u);
  const size_t files_before = DataFiles(f).size();
  Object o = f.service->CompleteUpload(b, u, {{1, part1.etag}, {2, part2.etag}}).value();
  EXPECT_EQ(DataFiles(f).size(), files_before);  // stitched, not rewritten
  std::vector<uint8_t> both = HexDecode(Md5Hex(p1) + Md5Hex(p2)).value();
  EXPECT_EQ(o.etag, "\"" + HexEncode(crypto::Md5(both)) + "-2\"");
  EXPECT_EQ(o.size, p1.size() + p2.size());
  EXPECT_EQ(f.Read(b, "big/object").value(), p1 + p2);
  EXPECT_EQ(f.service->HeadObject(b, "big/object").value().headers.at("content-type"), "x/y");
  EXPECT_S3(f.service->GetUpload(b, "big/object", u.id), S3Reason::kNoSuchUpload);
  // A range across the boundary of the two parts.
  auto reader = f.service->OpenObject(b, o).value();
  std::string out(10, '\0');
  ASSERT_EQ(
      reader->ReadAt(p1.size() - 5, std::span(reinterpret_cast<uint8_t*>(out.data()), 10)).value(),
      10u);
  EXPECT_EQ(out, (p1 + p2).substr(p1.size() - 5, 10));
}

TEST(CosServiceTest, CompleteRefusesBadPartListsAndAbortRemovesParts) {
  CosFixture f;
  Bucket b = f.MakeBucket("multipart-rules");
  Upload u = f.service->CreateUpload(b, {"k", "", {}, "me"}).value();
  StringUpload small1("first part, too small"), small2("second");
  Part a = f.service->UploadPart(b, u, 1, std::nullopt, small1).value();
  Part c = f.service->UploadPart(b, u, 3, std::nullopt, small2).value();
  StringUpload zero("x");
  EXPECT_S3(f.service->UploadPart(b, u, 0, std::nullopt, zero), S3Reason::kInvalidArgument);
  EXPECT_S3(f.service->UploadPart(b, u, 10001, std::nullopt, zero), S3Reason::kInvalidArgument);
  EXPECT_S3(f.service->CompleteUpload(b, u, {{3, c.etag}, {1, a.etag}}),
            S3Reason::kInvalidPartOrder);
  EXPECT_S3(f.service->CompleteUpload(b, u, {{1, "\"0000\""}}), S3Reason::kInvalidPart);
  EXPECT_S3(f.service->CompleteUpload(b, u, {{1, a.etag}, {2, c.etag}}), S3Reason::kInvalidPart);
  EXPECT_S3(f.service->CompleteUpload(b, u, {{1, a.etag}, {3, c.etag}}), S3Reason::kEntityTooSmall);
  EXPECT_S3(f.service->DeleteBucket(b), S3Reason::kBucketNotEmpty);  // an upload is in progress
  const size_t files = DataFiles(f).size();
  ASSERT_TRUE(f.service->AbortUpload(b, u));
  EXPECT_EQ(DataFiles(f).size(), files - 2);
  EXPECT_S3(f.service->GetUpload(b, "k", u.id), S3Reason::kNoSuchUpload);
  StringUpload late("late");
  EXPECT_S3(f.service->UploadPart(b, u, 2, std::nullopt, late), S3Reason::kNoSuchUpload);
  EXPECT_EQ(DataFiles(f).size(), files - 2);  // the late part's file is gone too
  EXPECT_TRUE(f.service->DeleteBucket(b));
}

TEST(CosServiceTest, CopyReencryptsUnderTheDestinationsKey) {
  CosFixture f;
  f.Authorize();
  kms::Key key = f.kms.CreateRoot();
  Bucket plain = f.MakeBucket("copy-from");
  Bucket sse = f.MakeBucket("copy-to", key.crn("local"));
  const std::string data = PatternBytes(150000, 5);
  Object src = f.Put(plain, "src", data).value();
  auto reader = f.service->OpenObject(plain, src).value();
  PutObjectSpec spec;
  spec.key = "dst";
  auto body = ObjectRangeBody(std::move(reader), 0, src.size);
  Object dst = f.service->PutObject(sse, spec, *body).value();
  EXPECT_EQ(dst.etag, src.etag);
  EXPECT_EQ(dst.root_key_crn, key.crn("local"));
  EXPECT_NE(dst.bucket_key_id, src.bucket_key_id);
  EXPECT_EQ(f.Read(sse, "dst").value(), data);
}

}  // namespace
}  // namespace veil::cos

namespace veil::cos {
namespace {

// Many readers of one object at once, each pulling its own range in 128 KiB pieces (as
// concurrent ranged GETs do): every byte is the object's own.
TEST(CosServiceTest, ConcurrentRangedReadersEachGetTheirOwnBytes) {
  CosFixture f;
  Bucket b = f.MakeBucket("concurrent");
  const std::string data = PatternBytes(16 << 20, 77);
  Object o = f.Put(b, "o", data).value();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 4; ++round) {
        const uint64_t start = static_cast<uint64_t>((t + round * 8) % 16) << 20;
        auto reader = f.service->OpenObject(b, o);
        if (!reader) {
          ++bad;
          return;
        }
        std::string out(128 << 10, '\0');
        for (uint64_t pos = start; pos < start + (1 << 20); pos += out.size()) {
          auto n =
              (*reader)->ReadAt(pos, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
          if (!n || out != data.substr(pos, out.size())) ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace veil::cos
