#include "kms/instance_guard.h"

#include "kms/kms_service.h"

namespace veil::kms {

Status KmsInstanceGuard::BeforeDelete(store::Tx& tx, const iam::ResourceInstance& instance) {
  const InstanceContents held = VEIL_TRY_VALUE(store_.CountInstanceContents(tx, instance.guid));
  if (held.registrations > 0) {
    return FailedPrecondition(
        "the KMS instance cannot be deleted: its keys protect " +
        std::to_string(held.registrations) +
        " registered resource(s); the services that registered them must remove them, and "
        "every key must be deleted and purged first");
  }
  if (held.keys > 0) {
    return FailedPrecondition("the KMS instance cannot be deleted: it holds " +
                              std::to_string(held.keys) +
                              " key(s) that are not purged; delete every key, then purge it "
                              "(KeyPurge role, 4 hours after its deletion)");
  }
  VEIL_TRY(store_.DeleteInstanceData(tx, instance.guid));
  // Every replica drops its cached policies of the instance.
  return tx.Notify(kInstancePolicyChannel, instance.guid);
}

}  // namespace veil::kms
