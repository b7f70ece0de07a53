#include "common/secret_bytes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "common/bytes.h"

namespace veil {
namespace {

// Records, for every buffer freed while installed, whether it was all zeros.
struct FreeRecord {
  int freed = 0;
  int dirty = 0;
};
FreeRecord g_record;

void RecordFree(std::span<const uint8_t> buffer) {
  ++g_record.freed;
  if (!std::all_of(buffer.begin(), buffer.end(), [](uint8_t b) { return b == 0; })) {
    ++g_record.dirty;
  }
}

class ObserveFrees {
 public:
  ObserveFrees() {
    g_record = {};
    SecretBytes::SetFreeObserverForTesting(&RecordFree);
  }
  ~ObserveFrees() { SecretBytes::SetFreeObserverForTesting(nullptr); }
};

constexpr uint8_t kPattern[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};

TEST(SecretBytesTest, SizeConstructorZeroes) {
  SecretBytes s(32);
  EXPECT_EQ(s.size(), 32u);
  EXPECT_FALSE(s.empty());
  for (uint8_t b : s.Reveal()) EXPECT_EQ(b, 0);
  EXPECT_TRUE(SecretBytes().empty());
  EXPECT_TRUE(SecretBytes(0).Reveal().empty());
}

TEST(SecretBytesTest, CopiesFromSpanAndRevealsIt) {
  SecretBytes s{std::span<const uint8_t>(kPattern)};
  ASSERT_EQ(s.size(), sizeof(kPattern));
  EXPECT_TRUE(std::equal(s.Reveal().begin(), s.Reveal().end(), std::begin(kPattern)));
  s.RevealMutable()[0] = 0x00;
  EXPECT_EQ(s.Reveal()[0], 0x00);
}

TEST(SecretBytesTest, PrintsRedacted) {
  SecretBytes s(AsBytes("hunter2"));
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[redacted]");
  EXPECT_EQ(s.ToString(), "[redacted]");
  EXPECT_EQ(os.str().find("hunter2"), std::string::npos);
}

TEST(SecretBytesTest, EqualsComparesContentAndSize) {
  SecretBytes a(AsBytes("secret-a"));
  SecretBytes b(AsBytes("secret-a"));
  SecretBytes c(AsBytes("secret-b"));
  SecretBytes d(AsBytes("secret"));
  EXPECT_TRUE(a.Equals(b));
  EXPECT_FALSE(a.Equals(c));
  EXPECT_FALSE(a.Equals(d));
  EXPECT_TRUE(a.Equals(AsBytes("secret-a")));
  EXPECT_TRUE(SecretBytes().Equals(SecretBytes(0)));
}

TEST(SecretBytesTest, MoveTransfersBufferAndEmptiesSource) {
  SecretBytes a(AsBytes("key-material"));
  const uint8_t* buffer = a.Reveal().data();
  SecretBytes b(std::move(a));
  EXPECT_EQ(b.Reveal().data(), buffer);  // no copy of the secret was made
  EXPECT_TRUE(a.empty());                // NOLINT(bugprone-use-after-move): the contract
  EXPECT_EQ(a.Reveal().data(), nullptr);
  SecretBytes c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(c.Equals(AsBytes("key-material")));
}

TEST(SecretBytesTest, CloneIsIndependentCopy) {
  SecretBytes a(AsBytes("abc"));
  SecretBytes b = a.Clone();
  EXPECT_NE(a.Reveal().data(), b.Reveal().data());
  b.RevealMutable()[0] = 'x';
  EXPECT_TRUE(a.Equals(AsBytes("abc")));
}

TEST(SecretBytesTest, WipeZeroesInPlaceAndKeepsSize) {
  SecretBytes s{std::span<const uint8_t>(kPattern)};
  s.Wipe();
  EXPECT_EQ(s.size(), sizeof(kPattern));
  for (uint8_t b : s.Reveal()) EXPECT_EQ(b, 0);
}

// The security invariant: no buffer that held a secret goes back to the allocator un-wiped,
// whichever way the SecretBytes ends (destruction, move-assignment over it, Clear()).
TEST(SecretBytesTest, MemoryIsWipedBeforeItIsFreed) {
  ObserveFrees observe;
  { SecretBytes destroyed{std::span<const uint8_t>(kPattern)}; }
  EXPECT_EQ(g_record.freed, 1);

  SecretBytes target{std::span<const uint8_t>(kPattern)};
  target = SecretBytes{std::span<const uint8_t>(kPattern)};  // the old buffer is freed
  EXPECT_EQ(g_record.freed, 2);

  target.Clear();
  EXPECT_TRUE(target.empty());
  EXPECT_EQ(g_record.freed, 3);

  {
    SecretBytes source{std::span<const uint8_t>(kPattern)};
    SecretBytes moved(std::move(source));
  }  // one buffer: the moved-from object owns none
  EXPECT_EQ(g_record.freed, 4);
  EXPECT_EQ(g_record.dirty, 0);
}

// One-page buffers are reused within a thread (no mlock per secret): a reused buffer starts
// zeroed, was wiped (the observer saw it) before reuse, and larger secrets still work.
TEST(SecretBytesTest, ReusedPagesStartZeroedAndWereWiped) {
  ObserveFrees observe;
  const uint8_t* first_data = nullptr;
  {
    SecretBytes first{std::span<const uint8_t>(kPattern)};
    first_data = first.Reveal().data();
  }
  EXPECT_EQ(g_record.freed, 1);
  SecretBytes second(100);
  EXPECT_EQ(second.Reveal().data(), first_data);  // the same page, from this thread's cache
  for (uint8_t b : second.Reveal()) EXPECT_EQ(b, 0);
  EXPECT_EQ(g_record.dirty, 0);
  // Many at once: more than the cache holds, all distinct, all zeroed.
  std::vector<SecretBytes> many;
  for (int i = 0; i < 40; ++i) many.emplace_back(32);
  std::set<const uint8_t*> distinct;
  for (const SecretBytes& s : many) {
    distinct.insert(s.Reveal().data());
    for (uint8_t b : s.Reveal()) EXPECT_EQ(b, 0);
  }
  EXPECT_EQ(distinct.size(), many.size());
  many.clear();
  SecretBytes big(3 * 4096 + 1);
  for (uint8_t b : big.Reveal()) EXPECT_EQ(b, 0);
  EXPECT_EQ(g_record.dirty, 0);
  // A buffer freed on another thread goes to that thread's cache, wiped.
  std::thread([] { SecretBytes other{std::span<const uint8_t>(kPattern)}; }).join();
  EXPECT_EQ(g_record.dirty, 0);
}

}  // namespace
}  // namespace veil
