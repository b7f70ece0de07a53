// Test helpers for src/kms and src/kms/api: the IAM fixture (a SQLite database, the first account,
// a FakeClock) plus a real SoftHSM2 token in the same temporary directory, a Pkcs11KeyStore on it,
// a KmsService, and one "kms" resource instance. Header-only; included by *_itest.cc only.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "hsm/pkcs11_key_store.h"
#include "hsm/softhsm_token.h"
#include "iam/testing/iam_fixture.h"
#include "kms/errors.h"
#include "kms/kms_service.h"

namespace veil::kms::testing {

// A 32-byte key with a known pattern.
inline SecretBytes KnownKey(size_t size = 32, uint8_t seed = 0x5a) {
  SecretBytes key(size);
  for (size_t i = 0; i < size; ++i) {
    key.RevealMutable()[i] = static_cast<uint8_t>(seed ^ (i * 37 + 11));
  }
  return key;
}

class KmsFixture {
 public:
  KmsFixture() {
    VEIL_CHECK_MSG(::access(hsm::kSoftHsmModulePath, R_OK) == 0,
                   "SoftHSM2 is not installed: run make deps");
    auto hsm_options = hsm::PrepareSoftHsmToken(iam.dir / "hsm");
    VEIL_CHECK_MSG(hsm_options.has_value(), "SoftHSM2 token setup failed");
    auto store = hsm::Pkcs11KeyStore::Open(*hsm_options);
    VEIL_CHECK_MSG(store.has_value(), "Pkcs11KeyStore::Open failed");
    key_store = std::move(*store);
    StartService();
    auto inst = iam.service->CreateInstance({iam.account_id, "kp", "kms", ""}, "test");
    VEIL_CHECK(inst.has_value());
    instance = {inst->guid, inst->account_id, inst->crn};
  }

  // (Re)creates the service on the same database and HSM: what a restart of veild does.
  void StartService() {
    service.reset();
    iam::IamService* resource_controller = iam.service.get();
    options.hold_instance = [resource_controller](store::Tx& tx, std::string_view guid) {
      return resource_controller->HoldInstance(tx, guid);
    };
    auto s = KmsService::Create(*iam.db, *key_store, iam.clock, iam.random, options);
    VEIL_CHECK_MSG(s.has_value(), "KmsService::Create failed");
    service = std::move(*s);
  }

  Key CreateRoot(const std::string& name = "root-key") {
    CreateKeySpec spec;
    spec.name = name;
    auto key = service->CreateKey(instance, spec, user);
    if (!key) ADD_FAILURE() << key.error().ToString();
    return key.value_or(Key{});
  }

  Key Reload(const Key& key) { return Reload(key.id); }
  Key Reload(const std::string& id) {
    auto k = service->GetKey(instance, id);
    if (!k) ADD_FAILURE() << k.error().ToString();
    return k.value_or(Key{});
  }

  iam::testing::IamFixture iam;
  KmsOptions options;
  std::unique_ptr<hsm::Pkcs11KeyStore> key_store;
  std::unique_ptr<KmsService> service;
  InstanceRef instance;
  Actor user{"IBMid-user-1", false, ""};
  Actor other_user{"IBMid-user-2", false, ""};
  Actor block_storage{"crn-crn:v1:veil:public:server-protect:::::", true, "server-protect"};
};

// The KMS reason name of an error ("KEY_NOT_FOUND_ERR"), as the API would render it.
inline std::string ReasonCode(const Error& e) { return std::string(KmsReasonName(ReasonOf(e))); }

}  // namespace veil::kms::testing

// Expects `expr` (a Result or Status) to fail with the KMS reason named `reason`.
#define EXPECT_REASON(expr, reason)                                                           \
  do {                                                                                        \
    auto r_ = (expr);                                                                         \
    ASSERT_FALSE(r_.has_value()) << "expected " << reason;                                    \
    EXPECT_EQ(::veil::kms::testing::ReasonCode(r_.error()), reason) << r_.error().ToString(); \
  } while (0)
