#include "disk/internal/big_endian.h"

#include <cstring>

namespace veil::disk::internal {

bool IsAllZero(const uint8_t* data, size_t size) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    if (word != 0) return false;
  }
  for (; i < size; ++i) {
    if (data[i] != 0) return false;
  }
  return true;
}

}  // namespace veil::disk::internal
