// `veil image ...` end to end: the built binary on temporary files, with the real cryptsetup and
// sfdisk where they help: every exit code of docs/image-tool.md, pipes in and out, key files on
// stdin, both passphrase conventions, and Ctrl-C leaving nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "e2e/process.h"

namespace veil::testing {
namespace {

const std::string kBin = VEIL_BIN_DIR;
const std::string kVeil = kBin + "/veil";
// Fixed, low PBKDF cost: every case stays fast.
const std::vector<std::string> kFast = {"--pbkdf-force-iterations", "1000"};

bool HaveTool(const std::string& tool) {
  return RunProcess({"/bin/sh", "-c", "command -v " + tool + " >/dev/null"}).exit_code == 0;
}

ProcessResult Sh(const std::string& command) {
  return RunProcess({"/bin/sh", "-c", command}, std::chrono::seconds(120));
}

ProcessResult Veil(std::vector<std::string> args) {
  args.insert(args.begin(), kVeil);
  return RunProcess(args, std::chrono::seconds(120));
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class ImageCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    // The seed's key file: the base64 text of a 32-byte DEK, no newline.
    ASSERT_EQ(
        Sh("echo -n \"$(head -c32 /dev/urandom | base64)\" > " + Path("secret.dek")).exit_code, 0);
    // An 8 MiB disk with an MBR (crafted: sfdisk is not needed for most cases) and data.
    std::string disk(8 << 20, '\0');
    disk[510] = '\x55';
    disk[511] = '\xaa';
    const unsigned char entry[16] = {0x80, 0,    0, 0, 0x83, 0,    0, 0,
                                     0x00, 0x08, 0, 0, 0x00, 0x38, 0, 0};
    std::memcpy(&disk[446], entry, 16);  // one Linux partition: sectors 2048 + 14336
    const std::string random = RandomBytes(1 << 20, 1);
    disk.replace(2 << 20, random.size(), random);
    WriteBytes(Path("disk.raw"), disk);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  ProcessResult Encrypt(const std::string& src, const std::string& dst,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"image", "encrypt",    src,
                                     dst,     "--key-file", Path("secret.dek")};
    args.insert(args.end(), kFast.begin(), kFast.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return Veil(args);
  }

  std::string dir_;
};

TEST_F(ImageCli, HelpOnEveryCommandWithExamples) {
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"image", "--help"},
                                              {"image", "encrypt", "--help"},
                                              {"image", "decrypt", "--help"},
                                              {"image", "inspect", "--help"},
                                              {"image", "verify", "--help"}}) {
    auto r = Veil(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[1];
    EXPECT_NE(r.output.find("Examples:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("Exit codes"), std::string::npos) << r.output;
  }
  auto usage = Veil({"image", "encrypt", Path("disk.raw")});
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  auto format = Veil({"image", "encrypt", Path("disk.raw"), Path("x"), "--key-file",
                      Path("secret.dek"), "--format", "zip"});
  EXPECT_EQ(format.exit_code, 2) << format.output;
}

TEST_F(ImageCli, EncryptInspectVerifyDecrypt) {
  auto e = Encrypt(Path("disk.raw"), Path("disk.luks"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("luks1, aes-xts-plain64 512-bit"), std::string::npos) << e.output;
  struct stat st {};
  ASSERT_EQ(::stat(Path("disk.luks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto table = Veil({"image", "inspect", Path("disk.luks")});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("aes-xts-plain64, 512-bit key"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("Payload offset: 2097152"), std::string::npos) << table.output;
  auto json = Veil({"image", "inspect", Path("disk.luks"), "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto v = boost::json::parse(json.output);
  EXPECT_EQ(v.at("luks").at("version").as_string(), "luks1");
  EXPECT_EQ(v.at("virtual_size").as_int64(), 8 << 20);
  auto global = Veil({"--output", "json", "image", "inspect", Path("disk.raw")});
  ASSERT_EQ(global.exit_code, 0) << global.output;
  EXPECT_FALSE(boost::json::parse(global.output).at("encrypted").as_bool());

  auto verify = Veil({"image", "verify", Path("disk.luks"), "--key-file", Path("secret.dek")});
  ASSERT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find("Partition table: MBR"), std::string::npos) << verify.output;
  EXPECT_NE(verify.output.find("looks like a disk"), std::string::npos) << verify.output;

  auto d = Veil(
      {"image", "decrypt", Path("disk.luks"), Path("back.raw"), "--key-file", Path("secret.dek")});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_EQ(ReadFile(Path("back.raw")), ReadFile(Path("disk.raw")));
  // The passphrase never shows.
  const std::string pass = ReadFile(Path("secret.dek"));
  for (const auto* out : {&e.output, &table.output, &json.output, &verify.output, &d.output}) {
    EXPECT_EQ(out->find(pass), std::string::npos);
  }
  if (HaveTool("cryptsetup")) {
    auto dump = Sh("cryptsetup luksDump " + Path("disk.luks"));
    EXPECT_EQ(dump.exit_code, 0) << dump.output;
    auto open = Sh("cryptsetup open --test-passphrase --key-file " + Path("secret.dek") + " " +
                   Path("disk.luks"));
    EXPECT_EQ(open.exit_code, 0) << open.output;
  }
}

TEST_F(ImageCli, EveryExitCode) {
  ASSERT_EQ(Encrypt(Path("disk.raw"), Path("disk.luks")).exit_code, 0);
  WriteBytes(Path("wrong.dek"), "not the passphrase");
  const std::string luks = ReadFile(Path("disk.luks"));

  // 2: the destination exists (and is left alone).
  WriteBytes(Path("exists"), "keep");
  EXPECT_EQ(Encrypt(Path("disk.raw"), Path("exists")).exit_code, 2);
  EXPECT_EQ(ReadFile(Path("exists")), "keep");
  // 3: wrong passphrase.
  auto wrong = Veil({"image", "verify", Path("disk.luks"), "--key-file", Path("wrong.dek")});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_NE(wrong.output.find("passphrase"), std::string::npos) << wrong.output;
  // 4: not a LUKS image; already one.
  EXPECT_EQ(
      Veil({"image", "decrypt", Path("disk.raw"), Path("x"), "--key-file", Path("secret.dek")})
          .exit_code,
      4);
  auto again = Encrypt(Path("disk.luks"), Path("x"));
  EXPECT_EQ(again.exit_code, 4) << again.output;
  EXPECT_NE(again.output.find("already a LUKS container"), std::string::npos) << again.output;
  // 5: a truncated header (the keyslot areas are cut off).
  WriteBytes(Path("truncated.luks"), luks.substr(0, 200000));
  EXPECT_EQ(Veil({"image", "inspect", Path("truncated.luks")}).exit_code, 5);
  // 6: a cipher Veil does not implement.
  std::string twofish = luks;
  twofish.replace(8, 8, std::string("twofish\0", 8));
  WriteBytes(Path("twofish.luks"), twofish);
  EXPECT_EQ(
      Veil({"image", "verify", Path("twofish.luks"), "--key-file", Path("secret.dek")}).exit_code,
      6);
  // 7: PBKDF cost over the limit.
  auto limit = Veil({"image", "decrypt", Path("disk.luks"), Path("x"), "--key-file",
                     Path("secret.dek"), "--max-pbkdf-iterations", "500"});
  EXPECT_EQ(limit.exit_code, 7) << limit.output;
  // 8: input smaller than it claims: a pipe shorter than --size.
  auto shorter =
      Sh("head -c 1048576 " + Path("disk.raw") + " | " + kVeil + " image encrypt - " + Path("x") +
         " --size 8388608 --key-file " + Path("secret.dek") + " --pbkdf-force-iterations 1000");
  EXPECT_EQ(shorter.exit_code, 8) << shorter.output;
  // 9: no such input.
  EXPECT_EQ(Encrypt(Path("nope.raw"), Path("x")).exit_code, 9);
  // 10: verify finds no partition table in a random payload.
  WriteBytes(Path("random.raw"), RandomBytes(4 << 20, 2));
  ASSERT_EQ(Encrypt(Path("random.raw"), Path("random.luks")).exit_code, 0);
  auto random = Veil({"image", "verify", Path("random.luks"), "--key-file", Path("secret.dek")});
  EXPECT_EQ(random.exit_code, 10) << random.output;
  EXPECT_NE(random.output.find("does NOT look like a disk"), std::string::npos) << random.output;
  // Nothing was left under "x" by any failure.
  EXPECT_FALSE(std::filesystem::exists(Path("x")));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("veil-tmp"), std::string::npos);
  }
}

TEST_F(ImageCli, PipeInStdoutOutAndKeyOnStdin) {
  auto in = Sh("cat " + Path("disk.raw") + " | " + kVeil + " image encrypt - - --key-file " +
               Path("secret.dek") + " --format luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000" +
               " > " + Path("piped.luks2"));
  ASSERT_EQ(in.exit_code, 0) << in.output;
  auto out = Sh(kVeil + " image decrypt " + Path("piped.luks2") + " - --key-file - < " +
                Path("secret.dek") + " | cmp - " + Path("disk.raw"));
  EXPECT_EQ(out.exit_code, 0) << out.output;
  auto both = Sh("cat " + Path("disk.raw") + " | " + kVeil +
                 " image encrypt - x --key-file - --pbkdf-force-iterations 1000");
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

TEST_F(ImageCli, BothPassphraseConventions) {
  // Classic (the seed's secret.dek): the base64 text is the passphrase; EncryptInspectVerify...
  // covers it. VPC / vhd-util: the key file holds the decoded bytes, here with a NUL and a
  // trailing newline, which is part of the passphrase (no stripping, as cryptsetup).
  ASSERT_EQ(Sh("base64 -d < " + Path("secret.dek") + " > " + Path("dek.bin")).exit_code, 0);
  std::string bytes = ReadFile(Path("dek.bin"));
  ASSERT_EQ(bytes.size(), 32u);
  bytes[3] = '\0';
  bytes.back() = '\n';
  WriteBytes(Path("dek.bin"), bytes);
  std::vector<std::string> args = {
      "image", "encrypt", Path("disk.raw"), Path("bytes.luks"), "--key-file", Path("dek.bin")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  auto e = Veil(args);
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_EQ(Veil({"image", "verify", Path("bytes.luks"), "--key-file", Path("dek.bin")}).exit_code,
            0);
  // The base64 text is another passphrase, and so are the same bytes without the newline.
  EXPECT_EQ(
      Veil({"image", "verify", Path("bytes.luks"), "--key-file", Path("secret.dek")}).exit_code, 3);
  WriteBytes(Path("dek-stripped.bin"), bytes.substr(0, bytes.size() - 1));
  EXPECT_EQ(Veil({"image", "verify", Path("bytes.luks"), "--key-file", Path("dek-stripped.bin")})
                .exit_code,
            3);
  if (HaveTool("cryptsetup")) {
    auto open = Sh("cryptsetup open --test-passphrase --key-file " + Path("dek.bin") + " " +
                   Path("bytes.luks"));
    EXPECT_EQ(open.exit_code, 0) << open.output;
  }
  // The VPC documentation's own example: the user's passphrase "abc123" is wrapped as its base64
  // text YWJjMTIz; the qcow2's secret is the decoded bytes. QEMU takes it (QEMU requires a
  // secret to be valid UTF-8, so raw random DEK bytes cannot be a QEMU passphrase).
  ASSERT_EQ(Sh("echo -n YWJjMTIz | base64 -d > " + Path("vpc.key")).exit_code, 0);
  EXPECT_EQ(ReadFile(Path("vpc.key")), "abc123");
  args = {"image",    "encrypt", Path("disk.raw"), Path("vpc.qcow2"),
          "--format", "qcow2",   "--key-file",     Path("vpc.key")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  ASSERT_EQ(Veil(args).exit_code, 0);
  if (HaveTool("qemu-img")) {
    auto compare =
        Sh("qemu-img compare --object secret,id=s,file=" + Path("vpc.key") +
           " --image-opts driver=qcow2,encrypt.key-secret=s,file.filename=" + Path("vpc.qcow2") +
           " driver=raw,file.filename=" + Path("disk.raw"));
    EXPECT_EQ(compare.exit_code, 0) << compare.output;
    auto binary = Sh("qemu-img compare --object secret,id=s,file=" + Path("dek.bin") +
                     " --image-opts driver=luks,key-secret=s,file.filename=" + Path("bytes.luks") +
                     " driver=raw,file.filename=" + Path("disk.raw"));
    EXPECT_NE(binary.exit_code, 0);
    EXPECT_NE(binary.output.find("not valid UTF-8"), std::string::npos) << binary.output;
  }
}

TEST_F(ImageCli, CtrlCDuringEncryptLeavesNoDestination) {
  // A large sparse input: the copy runs long enough to be interrupted.
  ASSERT_EQ(Sh("truncate -s 64G " + Path("huge.raw")).exit_code, 0);
  std::vector<std::string> args = {
      kVeil,        "image",           "encrypt", Path("huge.raw"), Path("huge.luks"),
      "--key-file", Path("secret.dek")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  Background veil(args, Path("veil.log"));
  // Wait until the temporary output holds some ciphertext.
  std::string temp;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && veil.Alive()) {
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().find(".huge.luks.veil-tmp-") == 0) {
        std::error_code ec;
        if (std::filesystem::file_size(entry.path(), ec) > (32u << 20)) temp = entry.path();
      }
    }
    if (!temp.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(temp.empty()) << ReadFile(Path("veil.log"));
  EXPECT_EQ(veil.Stop(SIGINT, std::chrono::seconds(30)), 130) << ReadFile(Path("veil.log"));
  EXPECT_FALSE(std::filesystem::exists(Path("huge.luks")));
  EXPECT_FALSE(std::filesystem::exists(temp)) << "the temporary file was removed";
  EXPECT_NE(ReadFile(Path("veil.log")).find("interrupted"), std::string::npos);
}

TEST_F(ImageCli, SfdiskGptDiskVerifiesAndCryptsetupAcceptsLuks2) {
  if (!HaveTool("sfdisk"))
    GTEST_FAIL() << "sfdisk (Debian package fdisk) is not installed (make deps)";
  ASSERT_EQ(Sh("truncate -s 16M " + Path("gpt.raw") +
               " && printf 'label: gpt\\nsize=4M, type=L, name=root\\ntype=S\\n' | sfdisk -q " +
               Path("gpt.raw"))
                .exit_code,
            0);
  auto e = Encrypt(Path("gpt.raw"), Path("gpt.luks2"),
                   {"--format", "luks2", "--sector-size", "4096", "--pbkdf", "pbkdf2"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto verify = Veil(
      {"image", "verify", Path("gpt.luks2"), "--key-file", Path("secret.dek"), "--output", "json"});
  ASSERT_EQ(verify.exit_code, 0) << verify.output;
  const auto v = boost::json::parse(verify.output);
  EXPECT_EQ(v.at("partition_table").at("kind").as_string(), "gpt");
  EXPECT_EQ(v.at("partition_table").at("partitions").as_array().size(), 2u);
  EXPECT_EQ(v.at("partition_table").at("partitions").at(0).at("name").as_string(), "root");
  if (HaveTool("cryptsetup")) {
    auto open = Sh("cryptsetup open --test-passphrase --key-file " + Path("secret.dek") + " " +
                   Path("gpt.luks2"));
    EXPECT_EQ(open.exit_code, 0) << open.output;
  }
}

}  // namespace
}  // namespace veil::testing
