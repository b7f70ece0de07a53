// Qcow2Reader on crafted images: a valid image from Qcow2Writer, then one damaged field at a time.
// Every hostile image must be refused with the right code and a clear message, never crash, and
// never make the reader allocate memory in proportion to a size the image claims.
#include "disk/qcow2_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "disk/internal/big_endian.h"
#include "disk/qcow2_format.h"
#include "disk/qcow2_writer.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using internal::LoadBe32;
using internal::LoadBe64;
using internal::StoreBe32;
using internal::StoreBe64;

constexpr uint64_t kCs = 65536;
constexpr uint64_t kSize = 4 << 20;  // 64 clusters, one L2 table

// Guest clusters 0, 1 and 40 hold data, the rest is unallocated. Layout (Qcow2Writer):
// header 0, L1 0x10000, data 0x20000 (guest 0), 0x30000 (guest 1), 0x40000 (guest 40),
// L2 0x50000, refcount table 0x60000, refcount block 0x70000.
struct Base {
  std::vector<uint8_t> disk;
  std::vector<uint8_t> image;
  std::optional<std::vector<uint8_t>> luks;
};

Base MakeBase(bool encrypted = false) {
  Base base;
  base.disk.assign(kSize, 0);
  testutil::FillRandom(std::span(base.disk).subspan(0, 2 * kCs), 11);
  testutil::FillRandom(std::span(base.disk).subspan(40 * kCs, kCs), 12);
  testutil::TempDir dir;
  Qcow2WriterOptions options;
  options.virtual_size = kSize;
  if (encrypted) {
    std::vector<uint8_t> luks(1000, 0);
    std::memcpy(luks.data(), "LUKS\xba\xbe", 6);
    options.luks_header = luks;
    base.luks = luks;
  }
  auto writer = Qcow2Writer::Create(dir / "base.qcow2", options);
  EXPECT_TRUE(writer);
  for (uint64_t c : {0, 1, 40}) {
    auto host = (*writer)->AllocateCluster(c);
    EXPECT_TRUE(host);
    EXPECT_TRUE(
        (*writer)->WriteAllocatedCluster(*host, std::span(base.disk).subspan(c * kCs, kCs)));
  }
  EXPECT_TRUE((*writer)->Finish());
  base.image = testutil::ReadFile(dir / "base.qcow2");
  return base;
}

Result<std::unique_ptr<Qcow2Reader>> Open(std::vector<uint8_t> image) {
  return Qcow2Reader::Open(std::make_shared<MemoryFile>(std::move(image), "crafted.qcow2"));
}

uint64_t L1Offset(const std::vector<uint8_t>& image) { return LoadBe64(&image[40]); }
uint64_t L2Offset(const std::vector<uint8_t>& image) {
  return LoadBe64(&image[L1Offset(image)]) & qcow2::kOffsetMask;
}

// Expects Open to fail with `code` and a message containing `text`.
void ExpectRefused(std::vector<uint8_t> image, ErrorCode code, const std::string& text) {
  auto reader = Open(std::move(image));
  ASSERT_FALSE(reader) << "opened, expected: " << text;
  EXPECT_EQ(reader.error().code, code) << reader.error().ToString();
  EXPECT_NE(reader.error().message.find(text), std::string::npos) << reader.error().ToString();
}

TEST(Qcow2ReaderTest, BaseImageReads) {
  Base base = MakeBase();
  auto reader = Open(base.image);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->virtual_size(), kSize);
  EXPECT_EQ(testutil::ReadAll(**reader), base.disk);
  auto extents = (*reader)->FullAllocation();
  ASSERT_TRUE(extents);
  EXPECT_EQ(*extents, (std::vector<Extent>{{0, 2 * kCs, true},
                                           {2 * kCs, 38 * kCs, false},
                                           {40 * kCs, kCs, true},
                                           {41 * kCs, 23 * kCs, false}}));
  auto part = (*reader)->Allocation(kCs + 5, 2 * kCs);
  ASSERT_TRUE(part);
  EXPECT_EQ(*part, (std::vector<Extent>{{kCs + 5, kCs - 5, true}, {2 * kCs, kCs + 5, false}}));
  // Reads past the end are clipped; starting past it is an error.
  std::vector<uint8_t> buf(1000);
  EXPECT_EQ(*(*reader)->ReadAt(kSize - 10, buf), 10u);
  EXPECT_EQ(*(*reader)->ReadAt(kSize, buf), 0u);
  EXPECT_EQ((*reader)->ReadAt(kSize + 1, buf).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ((*reader)->SetDecryptor([](auto, auto) { return OkStatus(); }, 512).error().code,
            ErrorCode::kFailedPrecondition);
}

TEST(Qcow2ReaderTest, RefusesBadIdentity) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  img[3] = 0xfc;
  ExpectRefused(img, ErrorCode::kInvalidArgument, "bad magic");
  for (uint32_t version : {0u, 1u, 4u, 0xffffffffu}) {
    img = base.image;
    StoreBe32(&img[4], version);
    ExpectRefused(img, ErrorCode::kInvalidArgument, "version");
  }
  ExpectRefused(std::vector<uint8_t>(base.image.begin(), base.image.begin() + 50),
                ErrorCode::kDataLoss, "truncated");
  ExpectRefused(std::vector<uint8_t>(base.image.begin(), base.image.begin() + 90),
                ErrorCode::kDataLoss, "truncated");
}

TEST(Qcow2ReaderTest, RefusesClusterBitsOutOfRange) {
  Base base = MakeBase();
  for (uint32_t bits : {0u, 8u, 22u, 31u, 64u, 0xffffffffu}) {
    std::vector<uint8_t> img = base.image;
    StoreBe32(&img[20], bits);
    ExpectRefused(img, ErrorCode::kInvalidArgument, "cluster_bits");
  }
}

TEST(Qcow2ReaderTest, RefusesBackingFile) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  StoreBe64(&img[8], 0x200);
  StoreBe32(&img[16], 8);
  std::memcpy(&img[0x200], "base.img", 8);
  ExpectRefused(img, ErrorCode::kInvalidArgument, "qcow2 with a backing file is not supported");
}

TEST(Qcow2ReaderTest, RefusesAbsurdSizes) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  StoreBe64(&img[24], (uint64_t{1} << 56) + 1);
  ExpectRefused(img, ErrorCode::kInvalidArgument, "exceeds 2^56");
  img = base.image;
  StoreBe64(&img[24], uint64_t{1} << 40);  // 1 TiB with a one-entry L1 table
  ExpectRefused(img, ErrorCode::kDataLoss, "L1 table has 1 entries");
  img = base.image;
  StoreBe64(&img[24], uint64_t{1} << 50);
  StoreBe32(&img[36], 1u << 25);  // a 256 MiB L1 table: over QEMU's limit, never allocated
  ExpectRefused(img, ErrorCode::kInvalidArgument, "32 MiB");
  img = base.image;
  StoreBe64(&img[24], uint64_t{1} << 45);
  StoreBe32(&img[36], 1u << 16);  // 512 KiB L1 table claimed in a 512 KiB file
  ExpectRefused(img, ErrorCode::kDataLoss, "past the end of the file");
}

TEST(Qcow2ReaderTest, RefusesTablesPastTheEndOrUnaligned) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  StoreBe64(&img[40], 0x100000);
  ExpectRefused(img, ErrorCode::kDataLoss, "L1 table at 0x100000 lies past the end");
  img = base.image;
  StoreBe64(&img[40], 0x10008);
  ExpectRefused(img, ErrorCode::kDataLoss, "L1 table offset");
  img = base.image;
  StoreBe64(&img[L1Offset(img)], qcow2::kFlagCopied | 0x7770000);
  ExpectRefused(img, ErrorCode::kDataLoss, "L2 table at 0x7770000");
  img = base.image;
  StoreBe64(&img[L1Offset(img)], 0x50200);
  ExpectRefused(img, ErrorCode::kDataLoss, "unaligned");
  img = base.image;
  StoreBe64(&img[48], 0x7770000);
  ExpectRefused(img, ErrorCode::kDataLoss, "refcount table at 0x7770000");
  img = base.image;
  StoreBe32(&img[56], 0);
  ExpectRefused(img, ErrorCode::kDataLoss, "no refcount table");
  img = base.image;
  StoreBe32(&img[56], 1000);
  ExpectRefused(img, ErrorCode::kInvalidArgument, "8 MiB");
  img = base.image;
  StoreBe32(&img[56], 3);
  ExpectRefused(img, ErrorCode::kDataLoss, "past the end");
  // A truncated file: the last refcount block is gone.
  ExpectRefused(std::vector<uint8_t>(base.image.begin(), base.image.end() - kCs - 1),
                ErrorCode::kDataLoss, "refcount table");
}

TEST(Qcow2ReaderTest, DataClusterPastTheEndFailsTheRead) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  const uint64_t l2 = L2Offset(img);
  StoreBe64(&img[l2 + 40 * 8], qcow2::kFlagCopied | 0x990000);
  auto reader = Open(img);
  ASSERT_TRUE(reader);  // L2 entries are checked when used
  std::vector<uint8_t> buf(kCs);
  EXPECT_TRUE((*reader)->ReadAt(0, buf));
  auto bad = (*reader)->ReadAt(40 * kCs, buf);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(bad.error().message.find("host offset 0x990000"), std::string::npos);
  EXPECT_EQ((*reader)->FullAllocation().error().code, ErrorCode::kDataLoss);

  StoreBe64(&img[l2 + 40 * 8], qcow2::kFlagCopied | 0x20200);  // unaligned
  reader = Open(img);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->ReadAt(40 * kCs, buf).error().code, ErrorCode::kDataLoss);
}

TEST(Qcow2ReaderTest, ZeroFlagIsHonouredInV3Only) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  const uint64_t l2 = L2Offset(img);
  StoreBe64(&img[l2 + 1 * 8], LoadBe64(&img[l2 + 8]) | qcow2::kFlagZero);
  auto reader = Open(img);
  ASSERT_TRUE(reader);
  std::vector<uint8_t> expected = base.disk;
  std::fill(expected.begin() + kCs, expected.begin() + 2 * kCs, 0);
  EXPECT_EQ(testutil::ReadAll(**reader), expected);
  EXPECT_EQ((*(*reader)->FullAllocation())[0], (Extent{0, kCs, true}));
  // Zero-flag-only entry (no host cluster) also reads zeros.
  StoreBe64(&img[l2 + 1 * 8], qcow2::kFlagZero);
  reader = Open(img);
  ASSERT_TRUE(reader);
  EXPECT_EQ(testutil::ReadAll(**reader), expected);

  // Version 2 has no zero flag: bit 0 is ignored (the header's v3 fields read as extensions'
  // end marker, since they are zero).
  img = base.image;
  StoreBe32(&img[4], 2);
  StoreBe64(&img[l2 + 1 * 8], LoadBe64(&img[l2 + 8]) | qcow2::kFlagZero);
  reader = Open(img);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->version(), 2u);
  EXPECT_EQ(testutil::ReadAll(**reader), base.disk);
}

// Replaces guest cluster 1 with a compressed descriptor pointing at `compressed`, appended to the
// image at an unaligned offset.
std::vector<uint8_t> WithCompressedCluster(const Base& base, std::span<const uint8_t> compressed,
                                           uint64_t* host_out = nullptr) {
  std::vector<uint8_t> img = base.image;
  const uint64_t host = img.size() + 100;
  img.resize(host, 0);
  img.insert(img.end(), compressed.begin(), compressed.end());
  const uint64_t sectors = (host % 512 + compressed.size() + 511) / 512;
  const uint32_t shift = 62 - (16 - 8);
  StoreBe64(&img[L2Offset(img) + 8], qcow2::kFlagCompressed | ((sectors - 1) << shift) | host);
  if (host_out) *host_out = host;
  return img;
}

std::vector<uint8_t> Deflate(std::span<const uint8_t> data, int window_bits) {
  z_stream strm{};
  deflateInit2(&strm, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> out(deflateBound(&strm, data.size()));
  strm.next_in = const_cast<Bytef*>(data.data());
  strm.avail_in = static_cast<uInt>(data.size());
  strm.next_out = out.data();
  strm.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&strm, Z_FINISH), Z_STREAM_END);
  out.resize(strm.total_out);
  deflateEnd(&strm);
  return out;
}

TEST(Qcow2ReaderTest, ReadsCompressedClusters) {
  Base base = MakeBase();
  // Compressible content for guest cluster 1.
  for (uint64_t i = kCs; i < 2 * kCs; ++i) base.disk[i] = static_cast<uint8_t>((i / 100) % 7);
  for (int window : {-12, -15}) {  // QEMU's 4 KiB window, and the largest
    auto img = WithCompressedCluster(base, Deflate(std::span(base.disk).subspan(kCs, kCs), window));
    auto reader = Open(img);
    ASSERT_TRUE(reader);
    EXPECT_EQ(testutil::ReadAll(**reader), base.disk);
    EXPECT_EQ(testutil::ReadAll(**reader, 3000), base.disk);
    EXPECT_EQ((*(*reader)->FullAllocation())[0], (Extent{0, 2 * kCs, true}));
    std::vector<uint8_t> raw(kCs);
    EXPECT_EQ((*reader)->ReadRawAt(kCs, raw).error().code, ErrorCode::kFailedPrecondition);
  }
}

TEST(Qcow2ReaderTest, RefusesBadCompressedClusters) {
  Base base = MakeBase();
  std::vector<uint8_t> buf(kCs);
  // Garbage instead of deflate data.
  std::vector<uint8_t> junk(3000);
  testutil::FillRandom(junk, 5);
  auto reader = Open(WithCompressedCluster(base, junk));
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->ReadAt(kCs, buf).error().code, ErrorCode::kDataLoss);
  // Valid deflate data of too few bytes: the cluster is not filled.
  reader = Open(WithCompressedCluster(base, Deflate(std::span(base.disk).subspan(0, 100), -15)));
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->ReadAt(kCs, buf).error().code, ErrorCode::kDataLoss);
  // Descriptor pointing past the end of the file.
  std::vector<uint8_t> img = base.image;
  StoreBe64(&img[L2Offset(img) + 8], qcow2::kFlagCompressed | (uint64_t{3} << 54) | 0x3000000);
  reader = Open(img);
  ASSERT_TRUE(reader);
  auto bad = (*reader)->ReadAt(kCs, buf);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(bad.error().message.find("compressed cluster"), std::string::npos);
  // The largest sector count the descriptor can hold, at the end of the file: bounded buffers.
  img = base.image;
  StoreBe64(&img[L2Offset(img) + 8],
            qcow2::kFlagCompressed | (uint64_t{255} << 54) | (img.size() - 10));
  reader = Open(img);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->ReadAt(kCs, buf).error().code, ErrorCode::kDataLoss);
}

TEST(Qcow2ReaderTest, RefusesUnsupportedFeatures) {
  Base base = MakeBase();
  auto with_incompatible = [&](uint64_t bits) {
    std::vector<uint8_t> img = base.image;
    StoreBe64(&img[72], bits);
    return img;
  };
  ExpectRefused(with_incompatible(qcow2::kIncompatCorrupt), ErrorCode::kDataLoss, "corrupt");
  ExpectRefused(with_incompatible(qcow2::kIncompatDataFile), ErrorCode::kInvalidArgument,
                "external data file");
  ExpectRefused(with_incompatible(qcow2::kIncompatExtendedL2), ErrorCode::kInvalidArgument,
                "extended L2");
  ExpectRefused(with_incompatible(1u << 5), ErrorCode::kInvalidArgument, "unknown incompatible");
  std::vector<uint8_t> zstd = with_incompatible(qcow2::kIncompatCompression);
  zstd[104] = 1;
  ExpectRefused(zstd, ErrorCode::kInvalidArgument, "zstd");
  // Dirty only means stale refcounts: reading is fine. Compression bit with type 0 (zlib) too.
  EXPECT_TRUE(Open(with_incompatible(qcow2::kIncompatDirty)));
  EXPECT_TRUE(Open(with_incompatible(qcow2::kIncompatCompression)));

  std::vector<uint8_t> img = base.image;
  StoreBe32(&img[32], 1);
  ExpectRefused(img, ErrorCode::kInvalidArgument, "legacy AES");
  StoreBe32(&img[32], 3);
  ExpectRefused(img, ErrorCode::kInvalidArgument, "crypt_method 3");
  img = base.image;
  StoreBe32(&img[96], 7);
  ExpectRefused(img, ErrorCode::kDataLoss, "refcount_order");
  for (uint32_t length : {100u, 108u, 113u, 0x20000u}) {
    img = base.image;
    StoreBe32(&img[100], length);
    ExpectRefused(img, ErrorCode::kDataLoss, "header_length");
  }
}

TEST(Qcow2ReaderTest, IgnoresSnapshotsAndUnknownExtensions) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  StoreBe32(&img[60], 3);            // nb_snapshots
  StoreBe64(&img[64], 0x7fff0000);   // snapshots_offset, never read
  StoreBe32(&img[112], 0x12345678);  // an unknown extension...
  StoreBe32(&img[116], 5);
  std::memcpy(&img[120], "hello", 5);  // ...padded to 8, then the end marker
  auto reader = Open(img);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ(testutil::ReadAll(**reader), base.disk);
}

TEST(Qcow2ReaderTest, RefusesBadHeaderExtensions) {
  Base base = MakeBase();
  std::vector<uint8_t> img = base.image;
  StoreBe32(&img[112], 0x12345678);
  StoreBe32(&img[116], 0xffffffff);
  ExpectRefused(img, ErrorCode::kDataLoss, "overruns the first cluster");
  img = base.image;
  StoreBe32(&img[112], qcow2::kExtFullDiskEncryption);
  StoreBe32(&img[116], 16);
  ExpectRefused(img, ErrorCode::kDataLoss, "crypt_method 0");
}

TEST(Qcow2ReaderTest, EncryptedImageExposesItsLuksHeader) {
  Base base = MakeBase(/*encrypted=*/true);
  auto reader = Open(base.image);
  ASSERT_TRUE(reader) << reader.error().ToString();
  ASSERT_NE((*reader)->encryption(), nullptr);
  EXPECT_EQ((*reader)->encryption()->header, *base.luks);
  EXPECT_EQ((*reader)->encryption()->header_offset, kCs);
  std::vector<uint8_t> buf(kCs);
  EXPECT_EQ((*reader)->ReadAt(0, buf).error().code, ErrorCode::kFailedPrecondition);
  // Allocation needs no key.
  EXPECT_TRUE((*reader)->FullAllocation());
  auto noop = [](std::span<uint8_t>, uint64_t) { return OkStatus(); };
  EXPECT_EQ((*reader)->SetDecryptor(noop, 256).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*reader)->SetDecryptor(noop, 1000).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*reader)->SetDecryptor(nullptr, 512).error().code, ErrorCode::kInvalidArgument);
  // A failing decryptor fails the read.
  ASSERT_TRUE((*reader)->SetDecryptor(
      [](std::span<uint8_t>, uint64_t) -> Status { return Internal("no key"); }, 512));
  EXPECT_EQ((*reader)->ReadAt(0, buf).error().code, ErrorCode::kInternal);
}

TEST(Qcow2ReaderTest, RefusesBadEncryptionHeaders) {
  Base base = MakeBase(/*encrypted=*/true);
  // The extension sits right after the 112-byte header: type, length, offset, length.
  ASSERT_EQ(LoadBe32(&base.image[112]), qcow2::kExtFullDiskEncryption);
  std::vector<uint8_t> img = base.image;
  StoreBe32(&img[112], 0x12345678);
  ExpectRefused(img, ErrorCode::kDataLoss, "lacks its encryption header extension");
  img = base.image;
  StoreBe32(&img[116], 8);
  ExpectRefused(img, ErrorCode::kDataLoss, "expected 16");
  img = base.image;
  StoreBe64(&img[120], 0x7770000);
  ExpectRefused(img, ErrorCode::kDataLoss, "past the end of the file");
  img = base.image;
  StoreBe64(&img[120], kCs + 512);
  ExpectRefused(img, ErrorCode::kDataLoss, "cluster boundary");
  img = base.image;
  StoreBe64(&img[128], 0);
  ExpectRefused(img, ErrorCode::kDataLoss, "length 0");
  img = base.image;
  StoreBe64(&img[128], uint64_t{1} << 40);
  ExpectRefused(img, ErrorCode::kDataLoss, "LUKS header length");
  img = base.image;
  img[kCs] = 'X';
  ExpectRefused(img, ErrorCode::kDataLoss, "not a LUKS header");
  img = base.image;
  std::vector<uint8_t> twice = img;
  std::memcpy(&twice[136], &img[112], 24);  // a second copy of the extension
  ExpectRefused(twice, ErrorCode::kDataLoss, "two encryption header extensions");
}

// A small in-process fuzz pass over the metadata of the base image: random bytes in the header,
// L1 and L2 tables must give an Error or a successful read, never a crash or a hang.
TEST(Qcow2ReaderTest, SurvivesRandomMetadataDamage) {
  for (bool encrypted : {false, true}) {
    Base base = MakeBase(encrypted);
    const uint64_t l1 = L1Offset(base.image);
    const uint64_t l2 = L2Offset(base.image);
    uint64_t state = 42;
    auto next = [&] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    for (int round = 0; round < 1500; ++round) {
      std::vector<uint8_t> img = base.image;
      int flips = 1 + next() % 4;
      for (int i = 0; i < flips; ++i) {
        uint64_t where;
        switch (next() % 3) {
          case 0:
            where = next() % 144;
            break;
          case 1:
            where = l1 + next() % 16;
            break;
          default:
            where = l2 + next() % (64 * 8);
        }
        img[where] = static_cast<uint8_t>(next());
      }
      auto reader = Open(std::move(img));
      if (!reader) continue;
      if ((*reader)->encryption()) {
        ASSERT_TRUE(
            (*reader)->SetDecryptor([](std::span<uint8_t>, uint64_t) { return OkStatus(); }, 512));
      }
      std::vector<uint8_t> buf(256 << 10);
      for (uint64_t pos = 0; pos < std::min<uint64_t>((*reader)->virtual_size(), 8 << 20);
           pos += buf.size()) {
        if (!(*reader)->ReadAt(pos, buf)) break;
      }
      (void)(*reader)->Allocation(0, 64 << 20);
    }
  }
}

}  // namespace
}  // namespace veil::disk
