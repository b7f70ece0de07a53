// qcow2 with LUKS inside (encrypt.format=luks), against qemu-img, qemu-io and cryptsetup.
//
// These tests PROVE the IV convention of qcow2-LUKS: QEMU encrypts each 512-byte sector with the
// plain64 IV of its offset in the qcow2 FILE (the host offset / 512), not of its offset in the
// guest disk (block/qcow2.c sets crypt_physical_offset for every method but legacy AES;
// docs/interop/qcow2.txt: "with the physical disk sector as the input tweak"). Both directions:
//   - an image QEMU encrypted decrypts to QEMU's own plaintext with host-offset IVs, and not with
//     guest-offset IVs;
//   - an image Veil encrypted with host-offset IVs compares identical in QEMU, and one encrypted
//     with guest-offset IVs does not.
// The cipher here is OpenSSL's AES-256-XTS used directly (testutil::Xts512), the volume key comes
// from `cryptsetup luksDump --dump-volume-key` on the LUKS header Veil extracted.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "disk/disk_reader.h"
#include "disk/internal/big_endian.h"
#include "disk/qcow2_writer.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using testutil::ReadAll;
using testutil::RunCommand;
using testutil::Xts512;

constexpr char kSecret[] = "abc123";

class Qcow2LuksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"qemu-img", "qemu-io", "cryptsetup"}) {
      if (!testutil::HaveTool(tool)) {
        GTEST_FAIL() << tool << " missing (Debian packages qemu-utils, cryptsetup-bin: make deps)";
      }
    }
    testutil::WriteFile(Path("pass"), AsBytes(kSecret));
  }
  std::string Path(const std::string& name) const { return dir_ / name; }
  // The --object and --image-opts arguments that make QEMU open `path` as encrypted qcow2.
  std::string QemuEncrypted(const std::string& path) const {
    return std::string("--object secret,id=s,data=") + kSecret +
           " --image-opts driver=qcow2,encrypt.key-secret=s,file.filename=" + path;
  }

  testutil::TempDir dir_;
};

TEST_F(Qcow2LuksTest, QemuEncryptedImageDecryptsWithHostOffsetIvs) {
  const std::string img = Path("qemu.qcow2");
  auto r = testutil::RunCommandRetryingPbkdfBenchmark(
      std::string("qemu-img create -q --object secret,id=s,data=") + kSecret +
      " -f qcow2 -o encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10 " + img + " 16M");
  ASSERT_EQ(r.status, 0) << r.output;
  r = RunCommand("qemu-io " + QemuEncrypted(img) +
                 " -c 'write -P 0xab 0 1M' -c 'write -P 0x5c 4M 64k' -c 'write -P 0x17 9M 3k'");
  ASSERT_EQ(r.status, 0) << r.output;
  // QEMU's own plaintext view.
  r = RunCommand("qemu-img convert -O raw " + QemuEncrypted(img) + " " + Path("plain.raw"));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<uint8_t> plain = testutil::ReadFile(Path("plain.raw"));
  ASSERT_EQ(plain.size(), 16u << 20);

  auto opened = OpenDisk(img);
  ASSERT_TRUE(opened) << opened.error().ToString();
  DiskReader& reader = **opened;
  ASSERT_NE(reader.encryption(), nullptr);
  const EncryptionInfo& info = *reader.encryption();
  EXPECT_EQ(info.method, "luks");
  EXPECT_EQ(std::memcmp(info.header.data(), "LUKS\xba\xbe", 6), 0);

  // The extracted header is a complete LUKS1 header: cryptsetup opens a keyslot with the
  // passphrase and gives the volume key.
  testutil::WriteFile(Path("header.luks"), info.header);
  const std::vector<uint8_t> key = testutil::DumpVolumeKey(Path("header.luks"), Path("pass"));
  ASSERT_EQ(key.size(), 64u);  // aes-xts-plain64, 512-bit key: QEMU's default

  // Raw (still encrypted) runs and their host offsets.
  std::vector<uint8_t> raw(reader.virtual_size());
  auto runs = reader.ReadRawAt(0, raw);
  ASSERT_TRUE(runs) << runs.error().ToString();
  uint64_t data_bytes = 0;
  for (const RawRun& run : *runs) {
    if (!run.data) {
      EXPECT_TRUE(internal::IsAllZero(plain.data() + run.offset, run.length));
      continue;
    }
    data_bytes += run.length;
    ASSERT_EQ(run.offset % 512, 0u);
    ASSERT_EQ(run.length % 512, 0u);
    ASSERT_NE(run.iv_offset, run.offset);  // the two conventions give different IVs here
    std::span<const uint8_t> expected(plain.data() + run.offset, run.length);

    std::vector<uint8_t> host_iv(raw.begin() + run.offset, raw.begin() + run.offset + run.length);
    ASSERT_TRUE(Xts512(key, host_iv, run.iv_offset / 512, /*encrypt=*/false));
    EXPECT_TRUE(std::equal(host_iv.begin(), host_iv.end(), expected.begin()))
        << "host-offset IVs must decrypt guest range at " << run.offset;

    std::vector<uint8_t> guest_iv(raw.begin() + run.offset, raw.begin() + run.offset + run.length);
    ASSERT_TRUE(Xts512(key, guest_iv, run.offset / 512, /*encrypt=*/false));
    EXPECT_FALSE(std::equal(guest_iv.begin(), guest_iv.end(), expected.begin()))
        << "guest-offset IVs must NOT decrypt guest range at " << run.offset;
  }
  // 1 MiB + one 64 KiB cluster + one cluster for the 3 KiB write.
  EXPECT_EQ(data_bytes, (1u << 20) + 2 * 65536);

  // Through the Decryptor hook, ReadAt gives QEMU's plaintext, also for unaligned reads.
  ASSERT_TRUE(reader.SetDecryptor(
      [&key](std::span<uint8_t> data, uint64_t iv_offset) -> Status {
        if (!Xts512(key, data, iv_offset / 512, false)) return Internal("xts failed");
        return OkStatus();
      },
      512));
  EXPECT_EQ(ReadAll(reader), plain);
  EXPECT_EQ(ReadAll(reader, 1000), plain);
  // Allocation agrees with QEMU's map.
  auto ours = reader.FullAllocation();
  ASSERT_TRUE(ours);
  EXPECT_EQ(*ours, testutil::QemuMap(QemuEncrypted(img)));
}

// Builds an encrypted qcow2 with Qcow2Writer; `guest_iv` selects the wrong convention on purpose.
void WriteEncrypted(const std::string& path, std::span<const uint8_t> disk,
                    const std::vector<uint8_t>& header, const std::vector<uint8_t>& key,
                    bool guest_iv) {
  Qcow2WriterOptions options;
  options.virtual_size = disk.size();
  options.luks_header = header;
  auto writer = Qcow2Writer::Create(path, options);
  ASSERT_TRUE(writer) << writer.error().ToString();
  const uint64_t cs = (*writer)->cluster_size();
  for (uint64_t c = 0; c < (*writer)->cluster_count(); ++c) {
    std::vector<uint8_t> cluster(disk.begin() + c * cs, disk.begin() + (c + 1) * cs);
    if (internal::IsAllZero(cluster.data(), cluster.size())) continue;  // stays unallocated
    auto host = (*writer)->AllocateCluster(c);
    ASSERT_TRUE(host);
    ASSERT_TRUE(Xts512(key, cluster, (guest_iv ? c * cs : *host) / 512, /*encrypt=*/true));
    ASSERT_TRUE((*writer)->WriteAllocatedCluster(*host, cluster));
  }
  ASSERT_TRUE((*writer)->Finish());
}

TEST_F(Qcow2LuksTest, VeilEncryptedImageOpensInQemu) {
  // A LUKS1 header from QEMU's raw LUKS driver: its first payload_offset bytes. Keyslot offsets are
  // relative to the header's start in both containers.
  auto r = testutil::RunCommandRetryingPbkdfBenchmark(
      std::string("qemu-img create -q --object secret,id=s,data=") + kSecret +
      " -f luks -o key-secret=s,iter-time=10 " + Path("h.luks") + " 1M");
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<uint8_t> header = testutil::ReadFile(Path("h.luks"));
  const uint64_t payload = uint64_t{internal::LoadBe32(&header[104])} * 512;
  ASSERT_LT(payload, header.size());
  header.resize(payload);
  const std::vector<uint8_t> key = testutil::DumpVolumeKey(Path("h.luks"), Path("pass"));
  ASSERT_EQ(key.size(), 64u);

  const std::vector<uint8_t> disk = testutil::PatternDisk(16 << 20);
  testutil::WriteFile(Path("src.raw"), disk);
  WriteEncrypted(Path("veil.qcow2"), disk, header, key, /*guest_iv=*/false);

  auto info = RunCommand("qemu-img info " + QemuEncrypted(Path("veil.qcow2")));
  EXPECT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("encrypted: yes"), std::string::npos) << info.output;
  auto check = RunCommand("qemu-img check " + QemuEncrypted(Path("veil.qcow2")));
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("No errors were found"), std::string::npos) << check.output;
  auto compare = RunCommand("qemu-img compare " + QemuEncrypted(Path("veil.qcow2")) +
                            " driver=raw,file.filename=" + Path("src.raw"));
  EXPECT_EQ(compare.status, 0) << compare.output;
  EXPECT_NE(compare.output.find("Images are identical."), std::string::npos) << compare.output;
  // Zero clusters stayed unallocated.
  std::vector<Extent> expected;
  for (uint64_t c = 0; c < disk.size() / 65536; ++c) {
    AppendExtent(&expected, c * 65536, 65536, !internal::IsAllZero(disk.data() + c * 65536, 65536));
  }
  EXPECT_EQ(testutil::QemuMap(QemuEncrypted(Path("veil.qcow2"))), expected);

  // The same with guest-offset IVs: QEMU sees different data.
  WriteEncrypted(Path("wrong.qcow2"), disk, header, key, /*guest_iv=*/true);
  auto wrong = RunCommand("qemu-img compare " + QemuEncrypted(Path("wrong.qcow2")) +
                          " driver=raw,file.filename=" + Path("src.raw"));
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("Content mismatch"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace veil::disk
