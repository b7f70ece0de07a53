// Attacks on the deletion of a KMS resource instance (issue 11, item 2): the resource controller
// (IamService) with the KMS's guard wired as veild wires it, on SQLite and a real SoftHSM2 token.
// Deleting an instance that holds keys would orphan them out of reach of dual authorization,
// KeyPurge, registrations and the KMS's audit trail.
#include <gtest/gtest.h>

#include <thread>

#include "kms/errors.h"
#include "kms/instance_guard.h"
#include "kms/testing/kms_fixture.h"

namespace veil::kms {
namespace {

using namespace std::chrono_literals;
using testing::KnownKey;

using testing::ReasonCode;

class InstanceGuardTest : public ::testing::Test {
 protected:
  void SetUp() override { f_.iam.service->SetInstanceGuard("kms", &guard_); }

  iam::IamService& rc() { return *f_.iam.service; }
  KmsService& kms() { return *f_.service; }

  InstanceRef NewInstance(const std::string& name) {
    auto i = rc().CreateInstance({f_.iam.account_id, name, "kms", ""}, "test");
    EXPECT_TRUE(i) << i.error().ToString();
    return i ? InstanceRef{i->guid, i->account_id, i->crn} : InstanceRef{};
  }

  bool InstanceExists(const InstanceRef& instance) {
    return rc().GetInstance(instance.guid).has_value();
  }

  // Rows any KMS table still holds for the instance.
  int64_t KmsRows(const InstanceRef& instance) {
    int64_t n = 0;
    for (std::string table : {"kms_keys", "kms_key_rings", "kms_instance_policies",
                              "kms_import_tokens", "kms_import_token_uses", "kms_registrations"}) {
      auto row = f_.iam.db->QueryRow("SELECT COUNT(*) FROM " + table + " WHERE instance_id = ?",
                                     {instance.guid});
      EXPECT_TRUE(row) << table;
      if (row) n += row->GetInt64(0).value_or(0);
    }
    return n;
  }

  testing::KmsFixture f_;
  KmsInstanceGuard guard_{f_.service->store()};
};

TEST_F(InstanceGuardTest, DeletingAnInstanceThatHoldsKeysIsRefused) {
  Key key = f_.CreateRoot();
  auto wrapped = kms().Wrap(key, KnownKey(), {});
  ASSERT_TRUE(wrapped);
  auto refused = rc().DeleteInstance(f_.instance.guid);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("not purged"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(InstanceExists(f_.instance));
  // A deleted (Destroyed) key is not purged: still refused.
  ASSERT_TRUE(kms().Delete(key, false, f_.user));
  EXPECT_FALSE(rc().DeleteInstance(f_.instance.guid));
  EXPECT_TRUE(InstanceExists(f_.instance));
  f_.iam.clock.Advance(1min);
  ASSERT_TRUE(kms().Restore(f_.Reload(key), std::nullopt));
  EXPECT_TRUE(kms().Unwrap(f_.Reload(key), wrapped->ciphertext, {}));
}

TEST_F(InstanceGuardTest, DeletingAnInstanceWhoseKeysHaveRegistrationsIsRefused) {
  Key key = f_.CreateRoot();
  const std::string crn =
      "crn:v1:veil:private:server-protect:local:a/" + f_.iam.account_id + "::volume:vol-1";
  ASSERT_TRUE(kms().CreateRegistration(key, crn, "boot volume", false, "", f_.block_storage));
  auto refused = rc().DeleteInstance(f_.instance.guid);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("registered"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(InstanceExists(f_.instance));
  ASSERT_TRUE(kms().ListRegistrations(key));
  EXPECT_EQ(kms().ListRegistrations(key)->size(), 1u);
}

TEST_F(InstanceGuardTest, DeletingAnInstanceIsAllowedOnceEveryKeyIsPurged) {
  Key key = f_.CreateRoot();
  ASSERT_TRUE(kms().CreateKeyRing(f_.instance, "ring-1", f_.user));
  ASSERT_TRUE(
      kms().PutInstancePolicy(f_.instance, "dualAuthDelete", R"({"enabled":false})", f_.user));
  ASSERT_TRUE(kms().CreateImportToken(f_.instance, 600, 1));
  ASSERT_TRUE(kms().Delete(key, false, f_.user));
  EXPECT_FALSE(rc().DeleteInstance(f_.instance.guid));
  f_.iam.clock.Advance(4h + 1s);
  ASSERT_TRUE(kms().Purge(f_.Reload(key)));
  auto deleted = rc().DeleteInstance(f_.instance.guid);
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_FALSE(InstanceExists(f_.instance));
  // What the KMS kept for the instance went with it.
  EXPECT_EQ(KmsRows(f_.instance), 0);
  // An instance of another service is not the KMS's to guard.
  auto cos =
      rc().CreateInstance({f_.iam.account_id, "bucket-store", "cloud-object-storage", ""}, "test");
  ASSERT_TRUE(cos);
  EXPECT_TRUE(rc().DeleteInstance(cos->guid));
}

// The KMS resolves `bluemix-instance` through a 5-second cache: a request may still name an
// instance that was just deleted. Every insert into an instance holds it in its transaction, so
// nothing lands in a deleted instance (the stale InstanceRef below is what the cache hands out).
TEST_F(InstanceGuardTest, KeyCreatedThroughAStaleInstanceAfterItsDeletionIsRefused) {
  const InstanceRef stale = NewInstance("short-lived");
  ASSERT_TRUE(rc().DeleteInstance(stale.guid));
  CreateKeySpec spec;
  spec.name = "orphan";
  auto key = kms().CreateKey(stale, spec, f_.user);
  ASSERT_FALSE(key);
  EXPECT_EQ(ReasonCode(key.error()), "INSTANCE_NOT_FOUND_ERR");
  auto ring = kms().CreateKeyRing(stale, "ring-1", f_.user);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ReasonCode(ring.error()), "INSTANCE_NOT_FOUND_ERR");
  auto policy = kms().PutInstancePolicy(stale, "dualAuthDelete", R"({"enabled":true})", f_.user);
  ASSERT_FALSE(policy);
  EXPECT_EQ(ReasonCode(policy.error()), "INSTANCE_NOT_FOUND_ERR");
  auto token = kms().CreateImportToken(stale, 600, 1);
  ASSERT_FALSE(token);
  EXPECT_EQ(ReasonCode(token.error()), "INSTANCE_NOT_FOUND_ERR");
  EXPECT_EQ(KmsRows(stale), 0);
}

// A key creation and the instance's deletion at the same time, many times over: whichever
// commits first, no key is left in a deleted instance.
TEST_F(InstanceGuardTest, ConcurrentKeyCreationAndInstanceDeletionLeaveNoOrphanKey) {
  int deleted = 0;
  for (int round = 0; round < 12; ++round) {
    const InstanceRef instance = NewInstance("race-" + std::to_string(round));
    Result<Key> key = tl::unexpected(Error(ErrorCode::kInternal, "not run"));
    Status removed;
    std::thread create([&] {
      CreateKeySpec spec;
      spec.name = "racing";
      key = kms().CreateKey(instance, spec, f_.user);
    });
    std::thread remove([&] { removed = rc().DeleteInstance(instance.guid); });
    create.join();
    remove.join();
    SCOPED_TRACE("round " + std::to_string(round));
    // Exactly one side wins.
    EXPECT_NE(key.has_value(), removed.has_value());
    EXPECT_EQ(InstanceExists(instance), key.has_value());
    if (removed) {
      ++deleted;
      EXPECT_EQ(KmsRows(instance), 0);
    }
  }
  RecordProperty("deletions_won", deleted);
}

}  // namespace
}  // namespace veil::kms
