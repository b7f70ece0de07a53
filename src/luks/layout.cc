#include "luks/layout.h"

namespace veil::luks {

std::string_view VersionName(Version version) {
  return version == Version::kLuks1 ? "luks1" : "luks2";
}

}  // namespace veil::luks
