// Test helpers for src/cos: the KMS fixture (SQLite, SoftHSM2, a KMS instance, the first account)
// plus a CosService on it in the same temporary directory, acting as cloud-object-storage through
// a kms::LocalClient and listening to key events, and one cloud-object-storage instance.
// Header-only; included by *_itest.cc only.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>

#include "cos/cos_service.h"
#include "cos/errors.h"
#include "cos/instance_guard.h"
#include "kms/client.h"
#include "kms/testing/kms_fixture.h"

namespace veil::cos::testing {

// An upload body from a string, handed out in pieces of `piece` bytes.
class StringUpload final : public UploadBody {
 public:
  explicit StringUpload(std::string data, size_t piece = 7777)
      : data_(std::move(data)), piece_(piece) {}
  Result<size_t> Read(std::span<uint8_t> out) override {
    const size_t n = std::min({out.size(), piece_, data_.size() - pos_});
    std::memcpy(out.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  Status Verify() override { return verify_; }
  Status verify_ = OkStatus();

 private:
  std::string data_;
  size_t piece_;
  size_t pos_ = 0;
};

// Bytes that look random and are the same in every run.
inline std::string PatternBytes(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

class CosFixture {
 public:
  CosFixture() {
    client = std::make_unique<kms::LocalClient>(*kms.service, *kms.iam.authorizer,
                                                "cloud-object-storage");
    StartService();
    auto inst = kms.iam.service->CreateInstance(
        {kms.iam.account_id, "objects", "cloud-object-storage", ""}, "test");
    VEIL_CHECK(inst.has_value());
    instance_guid = inst->guid;
  }

  // (Re)creates the service on the same database, HSM and directory: a restart of veild.
  void StartService() {
    service.reset();
    CosOptions options;
    options.data_dir = kms.iam.dir / "cos";
    iam::IamService* resource_controller = kms.iam.service.get();
    options.hold_instance = [resource_controller](store::Tx& tx, std::string_view guid) {
      return resource_controller->HoldInstance(tx, guid);
    };
    auto s = CosService::Create(*kms.iam.db, *client, *kms.key_store, kms.iam.clock, kms.iam.random,
                                options);
    VEIL_CHECK_MSG(s.has_value(), "CosService::Create failed");
    service = std::move(*s);
    kms.service->AddListener(iam::ServiceIamId("cloud-object-storage"), service.get());
    guard = std::make_unique<CosInstanceGuard>(service->store());
    kms.iam.service->SetInstanceGuard("cloud-object-storage", guard.get());
  }

  // cloud-object-storage -> kms Reader in the fixture's account.
  void Authorize() {
    iam::PolicySpec s2s;
    s2s.type = iam::PolicyType::kAuthorization;
    s2s.roles = {*iam::Role::FromName("Reader", "")};
    s2s.subject = {{"serviceName", "cloud-object-storage"}};
    s2s.resource = {{"accountId", kms.iam.account_id}, {"serviceName", "kms"}};
    auto p = kms.iam.service->CreatePolicy(kms.iam.account_id, s2s, "test");
    VEIL_CHECK_MSG(p.has_value(), "authorization policy");
  }

  Bucket MakeBucket(const std::string& name, const std::string& root_key_crn = "") {
    CreateBucketSpec spec{name, kms.iam.account_id, instance_guid, "", root_key_crn};
    auto b = service->CreateBucket(spec);
    if (!b) ADD_FAILURE() << b.error().ToString();
    return b.value_or(Bucket{});
  }

  Result<Object> Put(const Bucket& bucket, const std::string& key, std::string data) {
    PutObjectSpec spec;
    spec.key = key;
    StringUpload body(std::move(data));
    return service->PutObject(bucket, spec, body);
  }

  // The whole plaintext of an object, or the error that stopped reading it.
  Result<std::string> Read(const Bucket& bucket, const std::string& key) {
    Object o = VEIL_TRY_VALUE(service->HeadObject(bucket, key));
    auto reader = VEIL_TRY_VALUE(service->OpenObject(bucket, o));
    std::string out(reader->size(), '\0');
    size_t n = VEIL_TRY_VALUE(
        reader->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size())));
    out.resize(n);
    return out;
  }

  kms::testing::KmsFixture kms;
  std::unique_ptr<kms::LocalClient> client;
  std::unique_ptr<CosService> service;
  std::unique_ptr<CosInstanceGuard> guard;
  std::string instance_guid;
};

}  // namespace veil::cos::testing

// Expects `expr` (a Result or Status) to fail with the S3 reason `reason`.
#define EXPECT_S3(expr, reason)                                                       \
  do {                                                                                \
    auto r_ = (expr);                                                                 \
    ASSERT_FALSE(r_.has_value()) << "expected " << ::veil::cos::S3ReasonName(reason); \
    EXPECT_EQ(::veil::cos::S3ReasonName(::veil::cos::S3ReasonOf(r_.error())),         \
              ::veil::cos::S3ReasonName(reason))                                      \
        << r_.error().ToString();                                                     \
  } while (0)
