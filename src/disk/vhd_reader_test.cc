// VhdReader on VHDs built here byte by byte (VHD specification 1.0), then damaged one field at a
// time.
#include "disk/vhd_reader.h"

#include <gtest/gtest.h>

#include "disk/internal/big_endian.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using internal::LoadBe32;
using internal::StoreBe16;
using internal::StoreBe32;
using internal::StoreBe64;

constexpr uint32_t kBlock = 64 << 10;

void SealChecksum(uint8_t* data, size_t size, size_t at) {
  StoreBe32(data + at, 0);
  uint32_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum += data[i];
  StoreBe32(data + at, ~sum);
}

struct FooterSpec {
  uint32_t type = 2;
  uint64_t current_size = 0;
  const char* app = "win ";
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;
  uint64_t data_offset = ~uint64_t{0};
};

std::vector<uint8_t> Footer(const FooterSpec& spec) {
  std::vector<uint8_t> f(512, 0);
  std::memcpy(&f[0], "conectix", 8);
  StoreBe32(&f[8], 2);
  StoreBe32(&f[12], 0x00010000);
  StoreBe64(&f[16], spec.data_offset);
  std::memcpy(&f[28], spec.app, 4);
  std::memcpy(&f[36], "Wi2k", 4);
  StoreBe64(&f[40], spec.current_size);
  StoreBe64(&f[48], spec.current_size);
  StoreBe16(&f[56], spec.cylinders);
  f[58] = spec.heads;
  f[59] = spec.sectors_per_track;
  StoreBe32(&f[60], spec.type);
  SealChecksum(f.data(), 512, 64);
  return f;
}

// A footer (by default a fixed disk's) appended to `disk`.
std::vector<uint8_t> FixedVhd(std::span<const uint8_t> disk, FooterSpec spec = {}) {
  if (spec.current_size == 0) spec.current_size = disk.size();
  std::vector<uint8_t> image(disk.begin(), disk.end());
  auto footer = Footer(spec);
  image.insert(image.end(), footer.begin(), footer.end());
  return image;
}

// Layout: footer copy 0, dynamic header 512, BAT 1536, blocks (bitmap + data) in order of index,
// footer. Blocks whose data are all zeros stay unallocated.
std::vector<uint8_t> DynamicVhd(std::span<const uint8_t> disk, uint32_t block = kBlock) {
  const uint64_t blocks = (disk.size() + block - 1) / block;
  FooterSpec spec;
  spec.type = 3;
  spec.current_size = disk.size();
  spec.data_offset = 512;
  auto footer = Footer(spec);
  std::vector<uint8_t> image(footer);
  std::vector<uint8_t> dyn(1024, 0);
  std::memcpy(&dyn[0], "cxsparse", 8);
  StoreBe64(&dyn[8], ~uint64_t{0});
  StoreBe64(&dyn[16], 1536);
  StoreBe32(&dyn[24], 0x00010000);
  StoreBe32(&dyn[28], static_cast<uint32_t>(blocks));
  StoreBe32(&dyn[32], block);
  SealChecksum(dyn.data(), 1024, 36);
  image.insert(image.end(), dyn.begin(), dyn.end());
  const uint64_t bat_bytes = (blocks * 4 + 511) & ~uint64_t{511};
  image.resize(1536 + bat_bytes, 0xff);
  const uint64_t bitmap = ((block / 512 + 7) / 8 + 511) & ~uint64_t{511};
  for (uint64_t b = 0; b < blocks; ++b) {
    std::vector<uint8_t> data(block, 0);
    const uint64_t len = std::min<uint64_t>(block, disk.size() - b * block);
    std::memcpy(data.data(), disk.data() + b * block, len);
    if (internal::IsAllZero(data.data(), data.size())) continue;
    StoreBe32(&image[1536 + b * 4], static_cast<uint32_t>(image.size() / 512));
    image.resize(image.size() + bitmap, 0xff);
    image.insert(image.end(), data.begin(), data.end());
  }
  image.insert(image.end(), footer.begin(), footer.end());
  return image;
}

std::vector<uint8_t> SmallDisk() {
  std::vector<uint8_t> disk(1 << 20, 0);
  testutil::FillRandom(std::span(disk).subspan(0, 100000), 21);
  testutil::FillRandom(std::span(disk).subspan(5 * kBlock + 7, 3), 22);
  testutil::FillRandom(std::span(disk).subspan(disk.size() - 512, 512), 23);
  return disk;
}

Result<std::unique_ptr<VhdReader>> OpenVhd(std::vector<uint8_t> image) {
  return VhdReader::Open(std::make_shared<MemoryFile>(std::move(image), "crafted.vhd"));
}

void ExpectVhdRefused(std::vector<uint8_t> image, ErrorCode code, const std::string& text) {
  auto reader = OpenVhd(std::move(image));
  ASSERT_FALSE(reader) << "opened, expected: " << text;
  EXPECT_EQ(reader.error().code, code) << reader.error().ToString();
  EXPECT_NE(reader.error().message.find(text), std::string::npos) << reader.error().ToString();
}

TEST(VhdReaderTest, ReadsFixed) {
  std::vector<uint8_t> disk = SmallDisk();
  auto reader = OpenVhd(FixedVhd(disk));
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->format_name(), "vhd-fixed");
  EXPECT_FALSE((*reader)->dynamic());
  EXPECT_EQ((*reader)->virtual_size(), disk.size());
  EXPECT_EQ(testutil::ReadAll(**reader, 9999), disk);
  EXPECT_EQ(*(*reader)->FullAllocation(), (std::vector<Extent>{{0, disk.size(), true}}));
}

TEST(VhdReaderTest, ReadsDynamic) {
  std::vector<uint8_t> disk = SmallDisk();
  auto reader = OpenVhd(DynamicVhd(disk));
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->format_name(), "vhd-dynamic");
  EXPECT_EQ((*reader)->block_size(), kBlock);
  EXPECT_EQ(testutil::ReadAll(**reader), disk);
  EXPECT_EQ(testutil::ReadAll(**reader, 4097), disk);
  EXPECT_EQ(*(*reader)->FullAllocation(), (std::vector<Extent>{{0, 2 * kBlock, true},
                                                               {2 * kBlock, 3 * kBlock, false},
                                                               {5 * kBlock, kBlock, true},
                                                               {6 * kBlock, 9 * kBlock, false},
                                                               {15 * kBlock, kBlock, true}}));
  // Block sizes other than the default, down to one sector.
  for (uint32_t block : {512u, 4096u, 2u << 20}) {
    auto r = OpenVhd(DynamicVhd(disk, block));
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(testutil::ReadAll(**r), disk) << block;
  }
}

TEST(VhdReaderTest, SizeFollowsQemuRule) {
  std::vector<uint8_t> disk(6800 * 512, 0);
  // Virtual PC and qemu-img without force_size: the CHS geometry wins over current_size.
  FooterSpec chs;
  chs.app = "vpc ";
  chs.cylinders = 100;
  chs.heads = 4;
  chs.sectors_per_track = 17;
  chs.current_size = disk.size() + 4096;  // larger than the geometry says
  auto reader = OpenVhd(FixedVhd(disk, chs));
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->virtual_size(), 6800u * 512);
  chs.app = "qemu";
  reader = OpenVhd(FixedVhd(disk, chs));
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->virtual_size(), 6800u * 512);
  // qemu-img force_size ("qem2") and Hyper-V ("win "): current_size wins.
  for (const char* app : {"qem2", "win ", "d2v ", "CTXS"}) {
    FooterSpec spec = chs;
    spec.app = app;
    spec.current_size = disk.size() - 512;
    reader = OpenVhd(FixedVhd(disk, spec));
    ASSERT_TRUE(reader) << app;
    EXPECT_EQ((*reader)->virtual_size(), disk.size() - 512) << app;
  }
  // The maximum geometry means "too big for CHS": current_size wins.
  FooterSpec max = chs;
  max.cylinders = 65535;
  max.heads = 16;
  max.sectors_per_track = 255;
  max.current_size = disk.size();
  reader = OpenVhd(FixedVhd(disk, max));
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->virtual_size(), disk.size());
}

TEST(VhdReaderTest, RefusesDamagedFooters) {
  std::vector<uint8_t> disk = SmallDisk();
  std::vector<uint8_t> img = FixedVhd(disk);
  img[img.size() - 512 + 40] ^= 1;  // original size: covered by the checksum
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "footer checksum");
  img = DynamicVhd(disk);
  img[40] ^= 1;
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "footer checksum");
  ExpectVhdRefused(std::vector<uint8_t>(100, 0), ErrorCode::kDataLoss, "truncated");
  ExpectVhdRefused(disk, ErrorCode::kInvalidArgument, "not a VHD");

  auto with_footer = [&](FooterSpec spec) { return FixedVhd(disk, spec); };
  FooterSpec spec;
  spec.type = 4;
  ExpectVhdRefused(with_footer(spec), ErrorCode::kInvalidArgument, "differencing VHD");
  spec.type = 7;
  ExpectVhdRefused(with_footer(spec), ErrorCode::kDataLoss, "disk type 7");
  spec = {};
  spec.current_size = uint64_t{3} << 40;
  ExpectVhdRefused(with_footer(spec), ErrorCode::kInvalidArgument, "2040 GiB");
  spec.current_size = disk.size() + 512;
  ExpectVhdRefused(with_footer(spec), ErrorCode::kDataLoss, "truncated");
  // A footer copy at offset 0 that claims a fixed disk.
  img = DynamicVhd(disk);
  FooterSpec fixed_head;
  fixed_head.current_size = disk.size();
  auto head = Footer(fixed_head);
  std::copy(head.begin(), head.end(), img.begin());
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "describes a fixed disk");
}

TEST(VhdReaderTest, RefusesDamagedDynamicHeadersAndBat) {
  std::vector<uint8_t> disk = SmallDisk();
  const std::vector<uint8_t> good = DynamicVhd(disk);
  auto reseal = [](std::vector<uint8_t>& img) { SealChecksum(&img[512], 1024, 36); };

  std::vector<uint8_t> img = good;
  img[512 + 100] ^= 1;
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "dynamic header checksum");
  img = good;
  img[512] = 'X';
  reseal(img);
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "bad cookie");
  for (uint32_t block : {0u, 256u, 3000u, 65537u}) {
    img = good;
    StoreBe32(&img[512 + 32], block);
    reseal(img);
    ExpectVhdRefused(img, ErrorCode::kDataLoss, "not a power of two");
  }
  img = good;
  StoreBe32(&img[512 + 28], 3);  // 3 BAT entries for 16 blocks
  reseal(img);
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "BAT has 3 entries");
  img = good;
  StoreBe64(&img[512 + 16], 1 << 30);
  reseal(img);
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "BAT at 1073741824 lies past the end");
  img = good;
  StoreBe32(&img[1536 + 4 * 15], 0x00ffffff);
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "BAT entry 15 points to a block");
  img = good;
  StoreBe32(&img[1536], static_cast<uint32_t>(img.size() / 512) - 1);  // block overruns the end
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "BAT entry 0");
  // Dynamic header pointer past the end of the file.
  img = good;
  StoreBe64(&img[16], 1 << 30);
  SealChecksum(img.data(), 512, 64);
  ExpectVhdRefused(img, ErrorCode::kDataLoss, "dynamic header at");
  // A BAT too large to hold: 2 TiB of 512-byte blocks. Refused before any allocation.
  img = good;
  FooterSpec big;
  big.type = 3;
  big.data_offset = 512;
  big.current_size = uint64_t{2000} << 30;
  auto footer = Footer(big);
  std::copy(footer.begin(), footer.end(), img.begin());
  StoreBe32(&img[512 + 32], 512);
  StoreBe32(&img[512 + 28], 0xffffffff);
  reseal(img);
  ExpectVhdRefused(img, ErrorCode::kInvalidArgument, "exceeds the limit");
}

TEST(VhdReaderTest, SurvivesRandomMetadataDamage) {
  const std::vector<uint8_t> good = DynamicVhd(SmallDisk());
  uint64_t state = 7;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int opened = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> img = good;
    uint64_t where = next() % 2048;  // footer copy, dynamic header, BAT
    img[where] = static_cast<uint8_t>(next());
    if (next() % 2) {  // keep the checksums right half of the time, to get past them
      SealChecksum(img.data(), 512, 64);
      SealChecksum(&img[512], 1024, 36);
    }
    auto reader = OpenVhd(std::move(img));
    if (!reader) continue;
    ++opened;
    std::vector<uint8_t> buf(64 << 10);
    for (uint64_t pos = 0; pos < std::min<uint64_t>((*reader)->virtual_size(), 4 << 20);
         pos += buf.size()) {
      if (!(*reader)->ReadAt(pos, buf)) break;
    }
    (void)(*reader)->Allocation(0, 64 << 20);
  }
  EXPECT_GT(opened, 100);
}

}  // namespace
}  // namespace veil::disk
