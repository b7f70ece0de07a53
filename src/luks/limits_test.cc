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
  EXPECT_EQ(short_payload.error().code, ErrorCode::kOutOfRange);  // exit 8, not 5
  EXPECT_NE(short_payload.error().message.find("payload ends past the end"), std::string::npos);
}

// A header with `n` PBKDF2 keyslots of `iterations` each, all bound to digest 0 of the segment.
HeaderInfo Pbkdf2Slots(int n, uint64_t iterations, uint64_t digest_iterations) {
  HeaderInfo info;
  DigestInfo d;
  d.type = "pbkdf2";
  d.iterations = digest_iterations;
  d.segments = {0};
  info.digests.push_back(d);
  for (int i = 0; i < n; ++i) {
    KeyslotInfo k;
    k.id = static_cast<uint32_t>(i);
    k.state = KeyslotState::kActive;
    k.type = "luks2";
    k.kdf.type = "pbkdf2";
    k.kdf.iterations = iterations;
    k.digest = 0;
    info.keyslots.push_back(k);
  }
  return info;
}

TEST(Limits, ChooseKeyslotsKeepsCryptsetupOrderAndSkipsOthers) {
  HeaderInfo info = Pbkdf2Slots(4, 1000, 1000);
  info.keyslots[1].state = KeyslotState::kInactive;
  info.keyslots[2].priority = "high";
  info.keyslots[3].priority = "ignore";
  const KeyslotChoice choice = ChooseKeyslots(info, OpenLimits{});
  EXPECT_EQ(choice.slots, (std::vector<uint32_t>{2, 0}));
  EXPECT_FALSE(choice.refused);
  info.digests[0].segments.clear();  // no digest checks the data segment
  EXPECT_TRUE(ChooseKeyslots(info, OpenLimits{}).slots.empty());
}

TEST(Limits, ChooseKeyslotsBoundsTheTotalWorkOfOnePassphrase) {
  OpenLimits limits;
  limits.pbkdf2_max_iterations = 10'000;
  // 32 keyslots, each within the limit (0.6 + 0.1 of it with the digest): two and a half fit in
  // the default total of 2, so two are tried.
  const KeyslotChoice choice = ChooseKeyslots(Pbkdf2Slots(32, 6000, 1000), limits);
  EXPECT_EQ(choice.slots, (std::vector<uint32_t>{0, 1}));
  ASSERT_TRUE(choice.refused);
  EXPECT_EQ(choice.refused->code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(choice.refused->message,
            "keyslot 2: not tried, the keyslots before it take the key-derivation work allowed "
            "for one passphrase (2 keyslots at the limits)");
  // A cheaper keyslot further on still fits in what is left.
  HeaderInfo mixed = Pbkdf2Slots(4, 6000, 1000);
  mixed.keyslots[3].kdf.iterations = 1000;
  EXPECT_EQ(ChooseKeyslots(mixed, limits).slots, (std::vector<uint32_t>{0, 1, 3}));
  // Argon2 counts by time x memory against argon2_max_work_kib.
  HeaderInfo argon2 = Pbkdf2Slots(3, 0, 1000);
  for (auto& k : argon2.keyslots) {
    k.kdf = {};
    k.kdf.type = "argon2id";
    k.kdf.time = 4;
    k.kdf.memory_kib = 1 << 20;
    k.kdf.parallel = 4;
  }
  limits.argon2_max_work_kib = 5 << 20;  // each keyslot 0.8 + 0.1
  EXPECT_EQ(ChooseKeyslots(argon2, limits).slots, (std::vector<uint32_t>{0, 1}));
  // The total is a setting: 1 keeps one such keyslot.
  limits.total_work = 1;
  EXPECT_EQ(ChooseKeyslots(argon2, limits).slots, (std::vector<uint32_t>{0}));
}

}  // namespace
}  // namespace veil::luks
