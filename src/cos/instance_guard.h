// CosInstanceGuard: the resource controller does not delete a cloud-object-storage instance that
// still holds buckets (iam/instance_guard.h for the protocol: CreateBucket holds the instance's row
// in its transaction, the deletion reads the buckets in its own).
//
// Thread-safety: stateless over the store; safe from any thread.
#pragma once

#include "cos/cos_store.h"
#include "iam/instance_guard.h"

namespace veil::cos {

class CosInstanceGuard final : public iam::InstanceGuard {
 public:
  // `store` must outlive the guard.
  explicit CosInstanceGuard(CosStore& store) : store_(store) {}

  // kFailedPrecondition (409) naming how many buckets the instance holds; OK when none.
  [[nodiscard]] Status BeforeDelete(store::Tx& tx, const iam::ResourceInstance& instance) override;

 private:
  CosStore& store_;
};

}  // namespace veil::cos
