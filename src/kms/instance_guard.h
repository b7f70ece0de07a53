// KmsInstanceGuard: the KMS's say in the deletion of a "kms" resource instance
// (iam/instance_guard.h). Deleting an instance that still holds keys would orphan them (and every
// DEK wrapped under them) out of reach of dual authorization, KeyPurge, registrations and the
// KMS's audit events, so the guard refuses while the instance holds keys that are not purged or
// while any of its keys has registrations. Once every key is purged it removes what the KMS still
// keeps for the instance (key rings, instance policies, the import token).
//
// veild hands it to IamService::SetInstanceGuard("kms", ...). KmsService holds the instance in
// every transaction that inserts into it (KmsOptions::hold_instance), which closes the race with
// a concurrent key creation.
//
// Thread-safety: BeforeDelete may be called from any thread.
#pragma once

#include "iam/instance_guard.h"
#include "kms/kms_store.h"

namespace veil::kms {

class KmsInstanceGuard final : public iam::InstanceGuard {
 public:
  // `store` must outlive the guard.
  explicit KmsInstanceGuard(KmsStore& store) : store_(store) {}

  // kFailedPrecondition (409) when the instance's keys have registrations, or when it holds keys
  // that are not purged (in any state, Destroyed included); otherwise OK, with the instance's
  // key rings, policies and import token removed in `tx`.
  [[nodiscard]] Status BeforeDelete(store::Tx& tx, const iam::ResourceInstance& instance) override;

 private:
  KmsStore& store_;
};

}  // namespace veil::kms
