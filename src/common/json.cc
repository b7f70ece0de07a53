#include "common/json.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cmath>
#include <vector>

namespace veil {

bool AllNumbersFinite(const boost::json::value& v) {
  std::vector<const boost::json::value*> pending{&v};
  while (!pending.empty()) {
    const boost::json::value* x = pending.back();
    pending.pop_back();
    if (x->is_double()) {
      if (!std::isfinite(x->get_double())) return false;
    } else if (x->is_array()) {
      for (const boost::json::value& item : x->get_array()) pending.push_back(&item);
    } else if (x->is_object()) {
      for (const auto& kv : x->get_object()) pending.push_back(&kv.value());
    }
  }
  return true;
}

}  // namespace veil
