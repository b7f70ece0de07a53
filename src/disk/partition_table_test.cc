// FindPartitionTable on crafted MBR and GPT disks: what a sane table is, every refusal, and random
// damage (never a crash, never an out-of-range read).
#include "disk/partition_table.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

namespace veil::disk {
namespace {

constexpr uint64_t kDisk = 64ull << 20;  // 64 MiB, 131072 sectors

void Put16(std::vector<uint8_t>& d, size_t at, uint16_t v) {
  d[at] = v & 0xff;
  d[at + 1] = v >> 8;
}
void Put32(std::vector<uint8_t>& d, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) d[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(std::vector<uint8_t>& d, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) d[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Crc(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(crc32(crc32(0, Z_NULL, 0), p, static_cast<uInt>(n)));
}

void MbrEntry(std::vector<uint8_t>& d, int slot, uint8_t status, uint8_t type, uint32_t first,
              uint32_t count) {
  const size_t e = 446 + 16 * slot;
  d[e] = status;
  d[e + 4] = type;
  Put32(d, e + 8, first);
  Put32(d, e + 12, count);
}

std::vector<uint8_t> MbrDisk() {
  std::vector<uint8_t> d(kDisk / 64, 0);  // only the head matters; size passed separately
  d[510] = 0x55;
  d[511] = 0xaa;
  MbrEntry(d, 0, 0x80, 0x83, 2048, 32768);
  MbrEntry(d, 1, 0x00, 0x82, 34816, 8192);
  return d;
}

// A GPT with `block`-byte blocks, 128 entries of 128 bytes at LBA 2, two Linux partitions.
std::vector<uint8_t> GptDisk(uint32_t block, uint64_t disk = kDisk) {
  std::vector<uint8_t> d(block * 64, 0);
  const uint64_t blocks = disk / block;
  // Protective MBR.
  d[510] = 0x55;
  d[511] = 0xaa;
  MbrEntry(d, 0, 0, 0xee, 1, static_cast<uint32_t>(std::min<uint64_t>(blocks - 1, 0xffffffff)));
  const uint64_t entries_lba = 2;
  const uint64_t first_usable = entries_lba + (128 * 128 + block - 1) / block;
  // Entries.
  const uint8_t linux_fs[16] = {0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
                                0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4};
  auto entry = [&](int i, uint64_t first, uint64_t last, const char* name) {
    const size_t e = entries_lba * block + 128 * i;
    std::memcpy(&d[e], linux_fs, 16);
    for (int k = 0; k < 16; ++k) d[e + 16 + k] = static_cast<uint8_t>(i * 16 + k + 1);
    Put64(d, e + 32, first);
    Put64(d, e + 40, last);
    for (size_t k = 0; name[k]; ++k) Put16(d, e + 56 + 2 * k, static_cast<uint8_t>(name[k]));
  };
  entry(0, first_usable + 100, first_usable + 199, "root");
  entry(1, first_usable + 200, blocks - 40, "data");
  const uint32_t entries_crc = Crc(&d[entries_lba * block], 128 * 128);
  // Header at LBA 1.
  const size_t h = block;
  std::memcpy(&d[h], "EFI PART", 8);
  Put32(d, h + 8, 0x00010000);
  Put32(d, h + 12, 92);
  Put64(d, h + 24, 1);
  Put64(d, h + 32, blocks - 1);
  Put64(d, h + 40, first_usable);
  Put64(d, h + 48, blocks - 34);
  for (int k = 0; k < 16; ++k) d[h + 56 + k] = static_cast<uint8_t>(0xa0 + k);
  Put64(d, h + 72, entries_lba);
  Put32(d, h + 80, 128);
  Put32(d, h + 84, 128);
  Put32(d, h + 88, entries_crc);
  Put32(d, h + 16, Crc(&d[h], 92));
  return d;
}

void ResignGptHeader(std::vector<uint8_t>& d, uint32_t block) {
  Put32(d, block + 16, 0);
  Put32(d, block + 16, Crc(&d[block], 92));
}
void ResignGptEntries(std::vector<uint8_t>& d, uint32_t block) {
  Put32(d, block + 88, Crc(&d[2 * block], 128 * 128));
  ResignGptHeader(d, block);
}

// Reads from `head`, zeros past it, up to `size`.
Result<PartitionTable> Find(const std::vector<uint8_t>& head, uint64_t size = kDisk) {
  auto read = [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
    for (size_t i = 0; i < n; ++i) {
      out[i] = offset + i < head.size() ? head[static_cast<size_t>(offset + i)] : 0;
    }
    return n;
  };
  return FindPartitionTable(read, size);
}

std::string Problems(const PartitionTable& t) {
  std::string s;
  for (const auto& p : t.problems) s += p + "; ";
  return s;
}

TEST(PartitionTable, SaneMbr) {
  auto t = Find(MbrDisk());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, TableKind::kMbr);
  ASSERT_EQ(t->partitions.size(), 2u);
  EXPECT_EQ(t->partitions[0].number, 1u);
  EXPECT_EQ(t->partitions[0].first_byte, 2048u * 512);
  EXPECT_EQ(t->partitions[0].size_bytes, 32768u * 512);
  EXPECT_EQ(t->partitions[0].type, "0x83");
  EXPECT_EQ(t->partitions[0].type_name, "Linux");
  EXPECT_TRUE(t->partitions[0].bootable);
  EXPECT_EQ(t->partitions[1].type_name, "Linux swap");
  EXPECT_FALSE(t->partitions[1].bootable);
}

TEST(PartitionTable, InsaneMbrsAreRefusedWithAReason) {
  struct Case {
    const char* what;
    void (*edit)(std::vector<uint8_t>&);
    const char* reason;
  };
  const Case cases[] = {
      {"no signature", [](std::vector<uint8_t>& d) { d[511] = 0; }, "0x55AA"},
      {"bad status", [](std::vector<uint8_t>& d) { d[446] = 0x7f; }, "status"},
      {"past the end", [](std::vector<uint8_t>& d) { MbrEntry(d, 2, 0, 0x83, 130000, 2000); },
       "outside"},
      {"zero length", [](std::vector<uint8_t>& d) { MbrEntry(d, 2, 0, 0x83, 50000, 0); },
       "outside"},
      {"starts at 0", [](std::vector<uint8_t>& d) { MbrEntry(d, 2, 0, 0x83, 0, 10); }, "outside"},
      {"overlap", [](std::vector<uint8_t>& d) { MbrEntry(d, 2, 0, 0x83, 30000, 10000); },
       "overlap"},
      {"type 0 with a range", [](std::vector<uint8_t>& d) { MbrEntry(d, 3, 0, 0, 60000, 10); },
       "unused"},
      {"no partitions", [](std::vector<uint8_t>& d) { std::memset(&d[446], 0, 64); },
       "no partitions"},
      {"protective without GPT",
       [](std::vector<uint8_t>& d) { MbrEntry(d, 2, 0, 0xee, 60000, 10); }, "protective"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> d = MbrDisk();
    c.edit(d);
    auto t = Find(d);
    ASSERT_TRUE(t) << c.what;
    EXPECT_EQ(t->kind, TableKind::kNone) << c.what;
    EXPECT_NE(Problems(*t).find(c.reason), std::string::npos) << c.what << ": " << Problems(*t);
  }
}

TEST(PartitionTable, SaneGptWith512And4096ByteBlocks) {
  for (uint32_t block : {512u, 4096u}) {
    auto t = Find(GptDisk(block));
    ASSERT_TRUE(t);
    ASSERT_EQ(t->kind, TableKind::kGpt) << block << ": " << Problems(*t);
    EXPECT_EQ(t->block_size, block);
    EXPECT_EQ(t->disk_guid, "a3a2a1a0-a5a4-a7a6-a8a9-aaabacadaeaf");
    ASSERT_EQ(t->partitions.size(), 2u);
    EXPECT_EQ(t->partitions[0].name, "root");
    EXPECT_EQ(t->partitions[1].name, "data");
    EXPECT_EQ(t->partitions[0].type, "0fc63daf-8483-4772-8e79-3d69d8477de4");
    EXPECT_EQ(t->partitions[0].type_name, "Linux filesystem");
    EXPECT_EQ(t->partitions[0].size_bytes, 100u * block);
    EXPECT_TRUE(t->warnings.empty()) << t->warnings.front();
  }
}

TEST(PartitionTable, InsaneGptsAreRefusedWithAReason) {
  struct Case {
    const char* what;
    void (*edit)(std::vector<uint8_t>&);
    const char* reason;
  };
  const Case cases[] = {
      {"header CRC", [](std::vector<uint8_t>& d) { d[512 + 60] ^= 1; }, "header CRC32"},
      {"entries CRC", [](std::vector<uint8_t>& d) { d[1024 + 40] ^= 1; }, "entries CRC32"},
      {"header size",
       [](std::vector<uint8_t>& d) {
         Put32(d, 512 + 12, 60);
         ResignGptHeader(d, 512);
       },
       "header size"},
      {"my_lba",
       [](std::vector<uint8_t>& d) {
         Put64(d, 512 + 24, 5);
         ResignGptHeader(d, 512);
       },
       "LBA 5"},
      {"usable past the end",
       [](std::vector<uint8_t>& d) {
         Put64(d, 512 + 48, kDisk / 512);
         ResignGptHeader(d, 512);
       },
       "usable"},
      {"entry size",
       [](std::vector<uint8_t>& d) {
         Put32(d, 512 + 84, 100);
         ResignGptHeader(d, 512);
       },
       "entry size"},
      {"huge entry array",
       [](std::vector<uint8_t>& d) {
         Put32(d, 512 + 80, 1 << 20);
         ResignGptHeader(d, 512);
       },
       "4 MiB"},
      {"partition outside the usable range",
       [](std::vector<uint8_t>& d) {
         Put64(d, 1024 + 128 + 40, kDisk / 512 - 1);
         ResignGptEntries(d, 512);
       },
       "outside the usable"},
      {"overlap",
       [](std::vector<uint8_t>& d) {
         Put64(d, 1024 + 128 + 32, 150);
         ResignGptEntries(d, 512);
       },
       "overlap"},
      {"no partitions",
       [](std::vector<uint8_t>& d) {
         std::memset(&d[1024], 0, 256);
         ResignGptEntries(d, 512);
       },
       "no partitions"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> d = GptDisk(512);
    c.edit(d);
    auto t = Find(d);
    ASSERT_TRUE(t) << c.what;
    // The protective MBR alone is not a disk either.
    EXPECT_EQ(t->kind, TableKind::kNone) << c.what;
    EXPECT_NE(Problems(*t).find(c.reason), std::string::npos) << c.what << ": " << Problems(*t);
  }
}

TEST(PartitionTable, GptWithoutProtectiveMbrOrMovedBackupIsSaneWithWarnings) {
  std::vector<uint8_t> d = GptDisk(512);
  std::memset(&d[446], 0, 66);
  auto t = Find(d, kDisk * 2);  // the disk grew: the backup header is not at the end
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, TableKind::kGpt) << Problems(*t);
  ASSERT_EQ(t->warnings.size(), 2u);
}

TEST(PartitionTable, RandomBytesTinyDisksAndZerosAreNotDisks) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> d(64 * 1024);
    for (auto& b : d) b = static_cast<uint8_t>(rng());
    auto t = Find(d);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->kind, TableKind::kNone);
    EXPECT_FALSE(t->problems.empty());
  }
  EXPECT_EQ(Find(std::vector<uint8_t>(4096, 0))->kind, TableKind::kNone);
  EXPECT_EQ(Find(MbrDisk(), 100)->kind, TableKind::kNone);  // smaller than a sector
  EXPECT_EQ(FindPartitionTableInMemory(MbrDisk()).kind, TableKind::kNone)
      << "partitions beyond a 1 MiB disk";
}

TEST(PartitionTable, RandomDamageNeverCrashes) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> d = (i % 2) ? GptDisk(512) : MbrDisk();
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng() % 2048;  // the MBR, the GPT header and the first entries
      d[at] = static_cast<uint8_t>(rng());
    }
    if (i % 3 == 0) ResignGptEntries(d, 512);  // get past the CRCs too
    const uint64_t size = (i % 5 == 0) ? rng() % kDisk : kDisk;
    auto t = Find(d, size);
    ASSERT_TRUE(t);
    for (const Partition& p : t->partitions) {
      EXPECT_LE(p.first_byte + p.size_bytes, size);
    }
  }
}

}  // namespace
}  // namespace veil::disk
