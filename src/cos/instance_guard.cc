#include "cos/instance_guard.h"

namespace veil::cos {

Status CosInstanceGuard::BeforeDelete(store::Tx& tx, const iam::ResourceInstance& instance) {
  const int64_t buckets = VEIL_TRY_VALUE(store_.CountBuckets(tx, instance.guid));
  if (buckets > 0) {
    return FailedPrecondition("the instance cannot be deleted: it holds " +
                              std::to_string(buckets) + " bucket(s); delete them first");
  }
  return OkStatus();
}

}  // namespace veil::cos
