#include "luks/limits.h"

#include <gtest/gtest.h>

namespace veil::luks {
namespace {

KeyslotInfo Argon2(uint64_t time, uint64_t memory_kib, uint64_t parallel) {
  KeyslotInfo k;
  k.id = 3;
  k.kdf.type = "argon2id";
  k.kdf.time = time;
  k.kdf.memory_kib = memory_kib;
  k.kdf.parallel = parallel;
  return k;
}

TEST(Limits, CryptsetupDefaultsAreWithinTheDefaultLimits) {
  const OpenLimits limits;
  EXPECT_TRUE(CheckKeyslotCost(Argon2(4, 1048576, 4), limits));  // cryptsetup 2.6, 2 s
  EXPECT_TRUE(CheckKeyslotCost(Argon2(138, 1024, 4), limits));   // --pbkdf-memory 1024, 2 s
  KeyslotInfo p;
  p.kdf.type = "pbkdf2";
  p.kdf.iterations = 8'000'000;  // ~2 s of PBKDF2-SHA256 here
  EXPECT_TRUE(CheckKeyslotCost(p, limits));
}

TEST(Limits, AbsurdArgon2CostsAreResourceExhausted) {
  const OpenLimits limits;
  auto memory = CheckKeyslotCost(Argon2(4, uint64_t{64} << 20, 4), limits);  // 64 GiB
  ASSERT_FALSE(memory);
  EXPECT_EQ(memory.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(memory.error().message,
            "keyslot 3: Argon2 memory cost 67108864 KiB is over the limit of 1048576 KiB");
  EXPECT_EQ(CheckKeyslotCost(Argon2(4'000'000'000, 32, 1), limits).error().code,
            ErrorCode::kResourceExhausted);
  EXPECT_EQ(CheckKeyslotCost(Argon2(4, 1 << 20, 1 << 24), limits).error().code,
            ErrorCode::kResourceExhausted);
  // Each cost within its own cap, but together too much work.
  auto work = CheckKeyslotCost(Argon2(100, 1 << 20, 4), limits);
  ASSERT_FALSE(work);
  EXPECT_NE(work.error().message.find("work"), std::string::npos);
}

TEST(Limits, PbkdfIterationsAndDigests) {
  OpenLimits limits;
  limits.pbkdf2_max_iterations = 1000;
  KeyslotInfo k;
  k.kdf.type = "pbkdf2";
  k.kdf.iterations = 1001;
  EXPECT_EQ(CheckKeyslotCost(k, limits).error().code, ErrorCode::kResourceExhausted);
  DigestInfo d;
  d.type = "pbkdf2";
  d.iterations = 0xffffffff;
  EXPECT_EQ(CheckDigestCost(d, limits).error().code, ErrorCode::kResourceExhausted);
  d.type = "hmac";
  EXPECT_EQ(CheckDigestCost(d, limits).error().code, ErrorCode::kUnimplemented);
  k.kdf.type = "scrypt";
  EXPECT_EQ(CheckKeyslotCost(k, limits).error().code, ErrorCode::kUnimplemented);
}

TEST(Limits, ContainerSize) {
  HeaderInfo info;
  info.metadata_end_bytes = 16 << 20;
  info.layout.payload_offset_bytes = 16 << 20;
  EXPECT_TRUE(CheckContainerSize(info, 16 << 20));
  EXPECT_EQ(CheckContainerSize(info, (16 << 20) - 1).error().code, ErrorCode::kDataLoss);
  info.layout.payload_size_bytes = 4096;
  EXPECT_TRUE(CheckContainerSize(info, (16 << 20) + 4096));
  auto short_payload = CheckContainerSize(info, (16 << 20) + 4095);
  ASSERT_FALSE(short_payload);
  EXPECT_NE(short_payload.error().message.find("payload ends past the end"), std::string::npos);
}

}  // namespace
}  // namespace veil::luks
