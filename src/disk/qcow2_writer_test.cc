#include "disk/qcow2_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <thread>

#include "disk/internal/big_endian.h"
#include "disk/qcow2_reader.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using internal::LoadBe16;
using internal::LoadBe32;
using internal::LoadBe64;
using testutil::PatternDisk;
using testutil::ReadAll;
using testutil::TempDir;

// Writes `disk` with Qcow2Writer::WriteCluster, cluster by cluster.
void WriteQcow2(const std::string& path, std::span<const uint8_t> disk, uint32_t cluster_bits) {
  Qcow2WriterOptions options;
  options.virtual_size = disk.size();
  options.cluster_bits = cluster_bits;
  auto writer = Qcow2Writer::Create(path, options);
  ASSERT_TRUE(writer) << writer.error().ToString();
  const uint64_t cs = (*writer)->cluster_size();
  for (uint64_t c = 0; c < (*writer)->cluster_count(); ++c) {
    auto piece = disk.subspan(c * cs, std::min<uint64_t>(cs, disk.size() - c * cs));
    ASSERT_TRUE((*writer)->WriteCluster(c, piece));
  }
  auto finished = (*writer)->Finish();
  ASSERT_TRUE(finished) << finished.error().ToString();
}

std::unique_ptr<Qcow2Reader> OpenQcow2(const std::string& path) {
  auto file = PosixFile::Open(path);
  EXPECT_TRUE(file);
  if (!file) return nullptr;
  auto reader = Qcow2Reader::Open(std::move(*file));
  EXPECT_TRUE(reader) << reader.error().ToString();
  return reader ? std::move(*reader) : nullptr;
}

// Walks the refcount structures of a qcow2 file written by Qcow2Writer and checks what
// `qemu-img check` would: every cluster of the file has refcount exactly 1, none beyond it.
void ExpectEveryClusterReferencedOnce(const std::vector<uint8_t>& file) {
  ASSERT_GE(file.size(), 112u);
  const uint32_t cb = LoadBe32(&file[20]);
  const uint64_t cs = uint64_t{1} << cb;
  ASSERT_EQ(file.size() % cs, 0u);
  const uint64_t clusters = file.size() / cs;
  const uint64_t table = LoadBe64(&file[48]);
  const uint64_t table_clusters = LoadBe32(&file[56]);
  ASSERT_EQ(LoadBe32(&file[96]), 4u);  // 16-bit refcounts
  const uint64_t per_block = cs / 2;
  for (uint64_t i = 0; i < table_clusters * cs / 8; ++i) {
    const uint64_t block = LoadBe64(&file[table + i * 8]);
    if (block == 0) {
      ASSERT_GE(i * per_block, clusters) << "no refcount block for cluster " << i * per_block;
      continue;
    }
    ASSERT_LE(block + cs, file.size());
    for (uint64_t j = 0; j < per_block; ++j) {
      const uint64_t c = i * per_block + j;
      ASSERT_EQ(LoadBe16(&file[block + j * 2]), c < clusters ? 1 : 0) << "cluster " << c;
    }
  }
}

class Qcow2WriterRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(Qcow2WriterRoundTrip, ReaderSeesTheSameBytesAndHoles) {
  TempDir dir;
  const uint32_t cluster_bits = GetParam();
  // 8 MiB plus one sector: the last cluster is partial for every cluster size above 512.
  std::vector<uint8_t> disk = PatternDisk(8 << 20);
  disk.resize(disk.size() + 512, 0x5a);
  WriteQcow2(dir / "out.qcow2", disk, cluster_bits);
  ExpectEveryClusterReferencedOnce(testutil::ReadFile(dir / "out.qcow2"));

  auto reader = OpenQcow2(dir / "out.qcow2");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->virtual_size(), disk.size());
  EXPECT_EQ(reader->version(), 3u);
  EXPECT_EQ(reader->cluster_size(), 1u << cluster_bits);
  EXPECT_EQ(reader->encryption(), nullptr);
  EXPECT_EQ(ReadAll(*reader), disk);
  EXPECT_EQ(ReadAll(*reader, 12345), disk);  // unaligned chunks

  // Exactly the all-zero clusters are holes.
  auto extents = reader->FullAllocation();
  ASSERT_TRUE(extents);
  const uint64_t cs = uint64_t{1} << cluster_bits;
  uint64_t covered = 0;
  for (const Extent& e : *extents) {
    EXPECT_EQ(e.offset, covered);
    covered += e.length;
    for (uint64_t c = e.offset / cs; c * cs < e.offset + e.length; ++c) {
      uint64_t len = std::min<uint64_t>(cs, disk.size() - c * cs);
      bool zero = internal::IsAllZero(disk.data() + c * cs, len);
      EXPECT_EQ(e.data, !zero) << "cluster " << c;
    }
  }
  EXPECT_EQ(covered, disk.size());
}

INSTANTIATE_TEST_SUITE_P(ClusterSizes, Qcow2WriterRoundTrip, ::testing::Values(9u, 12u, 16u, 21u));

TEST(Qcow2WriterTest, EmptyDiskIsAllHole) {
  TempDir dir;
  std::vector<uint8_t> zeros(4 << 20, 0);
  WriteQcow2(dir / "z.qcow2", zeros, 16);
  auto reader = OpenQcow2(dir / "z.qcow2");
  ASSERT_TRUE(reader);
  auto extents = reader->FullAllocation();
  ASSERT_TRUE(extents);
  EXPECT_EQ(*extents, (std::vector<Extent>{{0, zeros.size(), false}}));
  EXPECT_EQ(ReadAll(*reader), zeros);
  // Header, L1, refcount table and block: nothing else.
  EXPECT_EQ(testutil::ReadFile(dir / "z.qcow2").size(), 4u * 65536);
}

TEST(Qcow2WriterTest, RefusesBadOptions) {
  TempDir dir;
  auto create = [&](uint64_t size, uint32_t bits) {
    Qcow2WriterOptions o;
    o.virtual_size = size;
    o.cluster_bits = bits;
    return Qcow2Writer::Create(dir / "x.qcow2", o);
  };
  EXPECT_EQ(create(0, 16).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(create(1000, 16).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(create((uint64_t{1} << 56) + 512, 16).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(create(1 << 20, 8).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(create(1 << 20, 22).error().code, ErrorCode::kInvalidArgument);
  // 512-byte clusters address at most 128 GiB within QEMU's L1 limit.
  EXPECT_EQ(create(uint64_t{1} << 40, 9).error().code, ErrorCode::kInvalidArgument);
  Qcow2WriterOptions o;
  o.virtual_size = 1 << 20;
  o.luks_header = std::vector<uint8_t>(4096, 0);  // no LUKS magic
  EXPECT_EQ(Qcow2Writer::Create(dir / "x.qcow2", o).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.qcow2"));
}

TEST(Qcow2WriterTest, RefusesExistingPathAndMisuse) {
  TempDir dir;
  testutil::WriteFile(dir / "exists", std::vector<uint8_t>{1});
  Qcow2WriterOptions o;
  o.virtual_size = 1 << 20;
  EXPECT_EQ(Qcow2Writer::Create(dir / "exists", o).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Qcow2Writer::Create(dir / "no/such/dir", o).error().code, ErrorCode::kNotFound);

  auto writer = Qcow2Writer::Create(dir / "w.qcow2", o);
  ASSERT_TRUE(writer);
  Qcow2Writer& w = **writer;
  ASSERT_TRUE(w.AllocateCluster(3));
  EXPECT_EQ(w.AllocateCluster(3).error().code, ErrorCode::kInvalidArgument);   // again
  EXPECT_EQ(w.AllocateCluster(2).error().code, ErrorCode::kInvalidArgument);   // backwards
  EXPECT_EQ(w.AllocateCluster(16).error().code, ErrorCode::kInvalidArgument);  // past the end
  std::vector<uint8_t> cluster(w.cluster_size(), 1);
  EXPECT_EQ(w.WriteAllocatedCluster(0, cluster).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.WriteAllocatedCluster(1 << 30, cluster).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.WriteCluster(4, std::vector<uint8_t>(100, 1)).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(w.Finish());
  EXPECT_EQ(w.Finish().error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(w.AllocateCluster(5).error().code, ErrorCode::kFailedPrecondition);
}

TEST(Qcow2WriterTest, UnfinishedWriterRemovesItsFile) {
  TempDir dir;
  {
    Qcow2WriterOptions o;
    o.virtual_size = 1 << 20;
    auto writer = Qcow2Writer::Create(dir / "tmp.qcow2", o);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->WriteCluster(0, std::vector<uint8_t>(65536, 7)));
    EXPECT_TRUE(std::filesystem::exists(dir / "tmp.qcow2"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "tmp.qcow2"));
}

TEST(Qcow2WriterTest, NewFileIsPrivate) {
  TempDir dir;
  Qcow2WriterOptions o;
  o.virtual_size = 1 << 20;
  auto writer = Qcow2Writer::Create(dir / "p.qcow2", o);
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Finish());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "p.qcow2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A stand-in cipher keyed by the IV offset: byte j of 512-byte sector s is XORed with
// (s * 131 + j) mod 256. Enough to prove that reader and writer agree on which offset is the IV.
void ToyCipher(std::span<uint8_t> data, uint64_t iv_offset) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t sector = (iv_offset + i) / 512;
    data[i] ^= static_cast<uint8_t>(sector * 131 + i % 512);
  }
}

std::vector<uint8_t> FakeLuksHeader() {
  std::vector<uint8_t> header(70000, 0);  // not a multiple of the cluster size on purpose
  const uint8_t magic[] = {'L', 'U', 'K', 'S', 0xba, 0xbe, 0, 1};
  std::memcpy(header.data(), magic, sizeof(magic));
  testutil::FillRandom(std::span(header).subspan(592), 7);
  return header;
}

TEST(Qcow2WriterTest, EncryptedClustersUseTheirHostOffsetAsIv) {
  TempDir dir;
  std::vector<uint8_t> disk = PatternDisk(8 << 20);
  Qcow2WriterOptions o;
  o.virtual_size = disk.size();
  o.luks_header = FakeLuksHeader();
  auto writer = Qcow2Writer::Create(dir / "e.qcow2", o);
  ASSERT_TRUE(writer);
  Qcow2Writer& w = **writer;
  const uint64_t cs = w.cluster_size();
  EXPECT_EQ(w.WriteCluster(0, std::span(disk).first(cs)).error().code,
            ErrorCode::kFailedPrecondition);
  std::map<uint64_t, uint64_t> host_of;  // guest cluster -> host offset
  // Encrypt and write from two threads, as the pipeline's workers would.
  std::vector<std::pair<uint64_t, uint64_t>> jobs;
  for (uint64_t c = 0; c < w.cluster_count(); ++c) {
    if (internal::IsAllZero(disk.data() + c * cs, cs)) continue;
    auto host = w.AllocateCluster(c);
    ASSERT_TRUE(host);
    EXPECT_NE(*host, c * cs);  // the host offset differs from the guest offset
    host_of[c] = *host;
    jobs.emplace_back(c, *host);
  }
  auto work = [&](size_t first) {
    for (size_t i = first; i < jobs.size(); i += 2) {
      auto [c, host] = jobs[i];
      std::vector<uint8_t> cluster(disk.begin() + c * cs, disk.begin() + (c + 1) * cs);
      ToyCipher(cluster, host);
      ASSERT_TRUE(w.WriteAllocatedCluster(host, cluster));
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  ASSERT_TRUE(w.Finish());
  ExpectEveryClusterReferencedOnce(testutil::ReadFile(dir / "e.qcow2"));

  auto reader = OpenQcow2(dir / "e.qcow2");
  ASSERT_TRUE(reader);
  ASSERT_NE(reader->encryption(), nullptr);
  EXPECT_EQ(reader->encryption()->method, "luks");
  EXPECT_EQ(reader->encryption()->header, *o.luks_header);
  EXPECT_EQ(reader->encryption()->header_offset % cs, 0u);
  std::vector<uint8_t> buf(4096);
  EXPECT_EQ(reader->ReadAt(0, buf).error().code, ErrorCode::kFailedPrecondition);

  // Raw runs name the host offsets AllocateCluster returned.
  std::vector<uint8_t> raw(disk.size());
  auto runs = reader->ReadRawAt(0, raw);
  ASSERT_TRUE(runs) << runs.error().ToString();
  for (const RawRun& run : *runs) {
    if (!run.data) continue;
    EXPECT_EQ(run.iv_offset, host_of.at(run.offset / cs) + run.offset % cs);
  }

  ASSERT_TRUE(reader->SetDecryptor(
      [](std::span<uint8_t> data, uint64_t iv_offset) -> Status {
        if (data.size() % 512 != 0 || iv_offset % 512 != 0) return Internal("unaligned");
        ToyCipher(data, iv_offset);
        return OkStatus();
      },
      512));
  EXPECT_EQ(ReadAll(*reader), disk);
  EXPECT_EQ(ReadAll(*reader, 777), disk);  // partial sectors go through bounce buffers
}

}  // namespace
}  // namespace veil::disk
