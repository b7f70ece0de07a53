// InstanceGuard: how a service that keeps resources in its resource instances (the KMS's keys,
// later object storage's buckets) stops the resource controller from deleting an instance that
// still holds them, without IAM knowing that service (iam includes no service; veild wires the
// guards: IamService::SetInstanceGuard).
//
// The check and a concurrent creation must not race: the KMS resolves `bluemix-instance` through
// a cache, so a key may be created in an instance for a few seconds after its deletion. The
// protocol below closes that race on SQLite (which serializes write transactions) and on
// PostgreSQL at READ COMMITTED (where two transactions that only read each other's tables could
// both commit), because both sides write the same row:
//   - IamService::DeleteInstance, in one transaction, first deletes the instance's row (which
//     takes its row lock), then calls the guard of the instance's service, which reads its own
//     tables in that transaction and either refuses (the transaction rolls back) or removes what
//     the service keeps for the instance;
//   - a service that creates anything in an instance calls IamService::HoldInstance in the
//     transaction of its insert, before the insert: that writes the instance's row (the same
//     lock) and fails with kNotFound once the instance is gone.
// Whichever transaction takes the row first wins: a creation that held the instance commits
// before the deletion's check reads, so the check sees the new resource; a deletion that went
// first makes the creation's hold fail.
//
// Thread-safety: implementations are called from any thread, concurrently.
#pragma once

#include "common/result.h"
#include "iam/model.h"
#include "store/database.h"

namespace veil::iam {

class InstanceGuard {
 public:
  virtual ~InstanceGuard() = default;

  // Called inside the deleting transaction `tx`, after the row of `instance` was deleted in it.
  // kFailedPrecondition (409), with a message naming what the instance still holds, refuses the
  // deletion; OK lets it go on, once the guard removed in `tx` what its service keeps for the
  // instance (settings, empty containers). Any other error aborts the deletion too.
  [[nodiscard]] virtual Status BeforeDelete(store::Tx& tx, const ResourceInstance& instance) = 0;
};

}  // namespace veil::iam
