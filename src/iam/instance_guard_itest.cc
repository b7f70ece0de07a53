// The resource controller's deletion guard (instance_guard.h) on SQLite, with a guard that keeps
// its own table, as a service that holds resources in its instances would (the KMS's guard is
// tested with the KMS in src/kms/instance_guard_itest.cc).
#include <gtest/gtest.h>

#include "iam/instance_guard.h"
#include "iam/testing/iam_fixture.h"

namespace veil::iam {
namespace {

// A service that keeps "things" in its instances, in its own table.
class ThingGuard final : public InstanceGuard {
 public:
  explicit ThingGuard(store::Database& db) : db_(db) {
    EXPECT_TRUE(db_.Exec("CREATE TABLE things (instance_id TEXT NOT NULL, name TEXT NOT NULL)"));
    EXPECT_TRUE(db_.Exec("CREATE TABLE settings (instance_id TEXT NOT NULL)"));
  }

  Status BeforeDelete(store::Tx& tx, const ResourceInstance& instance) override {
    ++calls;
    auto row = VEIL_TRY_VALUE(
        tx.QueryRow("SELECT COUNT(*) FROM things WHERE instance_id = ?", {instance.guid}));
    if (VEIL_TRY_VALUE(row.GetInt64(0)) > 0) return FailedPrecondition("the instance holds things");
    VEIL_TRY(tx.Exec("DELETE FROM settings WHERE instance_id = ?", {instance.guid}));
    return OkStatus();
  }

  // A thing created the way a service must: holding the instance in the same transaction.
  Status CreateThing(IamService& rc, const std::string& instance, const std::string& name) {
    return db_.WithTransaction([&](store::Tx& tx) -> Status {
      VEIL_TRY(rc.HoldInstance(tx, instance));
      VEIL_TRY(tx.Exec("INSERT INTO things VALUES (?, ?)", {instance, name}));
      return tx.Exec("INSERT INTO settings VALUES (?)", {instance}).map([](int64_t) {});
    });
  }

  int64_t Count(const std::string& table, const std::string& instance) {
    auto row = db_.QueryRow("SELECT COUNT(*) FROM " + table + " WHERE instance_id = ?", {instance});
    return row ? row->GetInt64(0).value_or(-1) : -1;
  }

  int calls = 0;

 private:
  store::Database& db_;
};

class InstanceGuardTest : public ::testing::Test {
 protected:
  void SetUp() override { f_.service->SetInstanceGuard("cloud-object-storage", &guard_); }

  std::string NewInstance(const std::string& service = "cloud-object-storage") {
    auto i = f_.service->CreateInstance({f_.account_id, "store", service, ""}, "test");
    EXPECT_TRUE(i) << i.error().ToString();
    return i ? i->guid : "";
  }

  testing::IamFixture f_;
  ThingGuard guard_{*f_.db};
};

TEST_F(InstanceGuardTest, GuardRefusesTheDeletionOfAnInstanceThatHoldsResources) {
  const std::string instance = NewInstance();
  ASSERT_TRUE(guard_.CreateThing(*f_.service, instance, "bucket-1"));
  auto refused = f_.service->DeleteInstance(instance);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(guard_.calls, 1);
  // The whole deletion rolled back: the instance stays, and so do the guard's rows.
  EXPECT_TRUE(f_.service->GetInstance(instance));
  EXPECT_EQ(guard_.Count("settings", instance), 1);
}

TEST_F(InstanceGuardTest, GuardClearsItsRowsWhenTheDeletionGoesAhead) {
  const std::string instance = NewInstance();
  ASSERT_TRUE(guard_.CreateThing(*f_.service, instance, "bucket-1"));
  ASSERT_TRUE(f_.db->Exec("DELETE FROM things"));
  ASSERT_TRUE(f_.service->DeleteInstance(instance));
  EXPECT_FALSE(f_.service->GetInstance(instance));
  EXPECT_EQ(guard_.Count("settings", instance), 0);
  // Another service's instance is not this guard's business.
  const std::string kms = NewInstance("kms");
  EXPECT_TRUE(f_.service->DeleteInstance(kms));
  EXPECT_EQ(guard_.calls, 1);
}

TEST_F(InstanceGuardTest, HoldOfADeletedInstanceFailsSoNothingLandsInIt) {
  const std::string instance = NewInstance();
  ASSERT_TRUE(f_.service->DeleteInstance(instance));
  auto held = guard_.CreateThing(*f_.service, instance, "late");
  ASSERT_FALSE(held);
  EXPECT_EQ(held.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(guard_.Count("things", instance), 0);
}

}  // namespace
}  // namespace veil::iam
