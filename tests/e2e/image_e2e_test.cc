// `veil image ...` end to end: the built binary on temporary files, checked by the real tools
// (cryptsetup, qemu-img, qemu-io, sfdisk, util-linux `script`; `make deps` installs them and a
// missing one fails the test): every exit code of docs/image-tool.md, pipes in and out, key files
// on stdin, both passphrase conventions, cost options reaching the keyslot, the progress bar on a
// terminal only, and Ctrl-C leaving nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "e2e/process.h"

namespace veil::testing {
namespace {

const std::string kVeil = kBin + "/veil";
// Fixed, low PBKDF cost: every case stays fast.
const std::vector<std::string> kFast = {"--pbkdf-force-iterations", "1000"};

bool HaveTool(const std::string& tool) {
  return RunProcess({"/bin/sh", "-c", "command -v " + tool + " >/dev/null"}).exit_code == 0;
}

// As the integration tests of src/luks: a tool this suite checks against is required, never
// skipped (a missing check must not pass).
#define VEIL_REQUIRE_TOOL(tool)                                            \
  do {                                                                     \
    if (!HaveTool(tool)) {                                                 \
      GTEST_FAIL() << tool << " is not installed (make deps installs it)"; \
    }                                                                      \
  } while (0)

ProcessResult Sh(const std::string& command) {
  return RunProcess({"/bin/sh", "-c", command}, std::chrono::seconds(120));
}

// qemu-img benchmarks its PBKDF with getrusage when it creates a LUKS header and now and then fails
// on a busy machine ("Unable to get accurate CPU usage"): retries that one failure, after removing
// `output`, as src/luks/itest_support.h does.
ProcessResult QemuImgCreate(const std::string& args, const std::string& output) {
  ProcessResult r;
  for (int attempt = 0; attempt < 12; ++attempt) {
    std::filesystem::remove(output);
    r = Sh("qemu-img create " + args);
    if (r.exit_code == 0 || r.output.find("accurate CPU usage") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  }
  return r;
}

// The value of the first "LABEL: value" line of a `cryptsetup luksDump` (labels are indented and
// values tab-aligned), trimmed; "" when there is none.
std::string DumpField(const std::string& dump, const std::string& label) {
  std::istringstream lines(dump);
  for (std::string line; std::getline(lines, line);) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.compare(start, label.size() + 1, label + ":") != 0) {
      continue;
    }
    const size_t value = line.find_first_not_of(" \t", start + label.size() + 1);
    if (value == std::string::npos) return "";
    const size_t end = line.find_last_not_of(" \t\r");
    return line.substr(value, end + 1 - value);
  }
  return "";
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
    // IBM's classic key file: the base64 text of a 32-byte DEK, no newline.
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
    extra.insert(extra.begin(), kFast.begin(), kFast.end());
    return EncryptWithCost(src, dst, extra);
  }

  // No forced PBKDF cost: Veil's or libcryptsetup's benchmark runs (keep --iter-time low).
  ProcessResult EncryptWithCost(const std::string& src, const std::string& dst,
                                const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"image", "encrypt",    src,
                                     dst,     "--key-file", Path("secret.dek")};
    args.insert(args.end(), extra.begin(), extra.end());
    return Veil(args);
  }

  ProcessResult Decrypt(const std::string& src, const std::string& dst) {
    return Veil({"image", "decrypt", src, dst, "--key-file", Path("secret.dek")});
  }

  // `qemu-img ... --image-opts` arguments opening a raw LUKS file with secret.dek.
  std::string QemuLuks(const std::string& image) const {
    return "--object secret,id=s,file=" + Path("secret.dek") +
           " --image-opts driver=luks,key-secret=s,file.filename=" + image;
  }

  ProcessResult CryptsetupTestPassphrase(const std::string& image) {
    return Sh("cryptsetup open --test-passphrase --key-file " + Path("secret.dek") + " " + image);
  }

  // Once the temporary file of `destination` (a name in the test directory) holds more than
  // 32 MiB of written data (allocated blocks, not its length: a file may be sized up front),
  // interrupts `veil` as Ctrl-C does, and checks that it exits 130 leaving neither the
  // destination nor any temporary file.
  void InterruptWhileWritingAndExpectNothingLeft(Background& veil, const std::string& destination) {
    const std::string prefix = "." + destination + ".veil-tmp-";
    std::string temp;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (temp.empty() && std::chrono::steady_clock::now() < deadline && veil.Alive()) {
      for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        struct stat st {};
        if (entry.path().filename().string().rfind(prefix, 0) == 0 &&
            ::stat(entry.path().c_str(), &st) == 0 &&
            static_cast<uint64_t>(st.st_blocks) * 512 > (32u << 20)) {
          temp = entry.path();
        }
      }
      if (temp.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_FALSE(temp.empty()) << ReadFile(Path("veil.log"));
    EXPECT_EQ(veil.Stop(SIGINT, std::chrono::seconds(30)), 130) << ReadFile(Path("veil.log"));
    EXPECT_FALSE(std::filesystem::exists(Path(destination)));
    EXPECT_FALSE(std::filesystem::exists(temp)) << "the temporary file was removed";
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      EXPECT_EQ(entry.path().filename().string().find("veil-tmp"), std::string::npos)
          << entry.path();
    }
    EXPECT_NE(ReadFile(Path("veil.log")).find("interrupted"), std::string::npos);
  }

  // cryptsetup and `veil image verify` both open `image` with secret.dek.
  void ExpectCryptsetupAndVerifyOpen(const std::string& image) {
    auto open = CryptsetupTestPassphrase(image);
    EXPECT_EQ(open.exit_code, 0) << open.output;
    auto verify = Veil({"image", "verify", image, "--key-file", Path("secret.dek")});
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
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
  VEIL_REQUIRE_TOOL("cryptsetup");
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
  // An MBR entry has a type byte and no name: no empty name columns, the type with its name.
  EXPECT_NE(verify.output.find("  #  START    SIZE     TYPE        BOOT\n"), std::string::npos)
      << verify.output;
  EXPECT_NE(verify.output.find("0x83 Linux  yes"), std::string::npos) << verify.output;

  auto d = Veil(
      {"image", "decrypt", Path("disk.luks"), Path("back.raw"), "--key-file", Path("secret.dek")});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_EQ(ReadFile(Path("back.raw")), ReadFile(Path("disk.raw")));
  // The passphrase never shows.
  const std::string pass = ReadFile(Path("secret.dek"));
  for (const auto* out : {&e.output, &table.output, &json.output, &verify.output, &d.output}) {
    EXPECT_EQ(out->find(pass), std::string::npos);
  }
  auto dump = Sh("cryptsetup luksDump " + Path("disk.luks"));
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  auto open = Sh("cryptsetup open --test-passphrase --key-file " + Path("secret.dek") + " " +
                 Path("disk.luks"));
  EXPECT_EQ(open.exit_code, 0) << open.output;
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

TEST_F(ImageCli, AKeyFileEndingInANewlineGetsAHintWhenItDoesNotOpen) {
  ASSERT_EQ(Encrypt(Path("disk.raw"), Path("disk.luks")).exit_code, 0);
  // What `echo "$PASSPHRASE" > file` writes: the passphrase and a newline.
  WriteBytes(Path("echoed.dek"), ReadFile(Path("secret.dek")) + "\n");
  for (const std::string command : {"verify", "decrypt"}) {
    std::vector<std::string> args = {"image", command, Path("disk.luks")};
    if (command == "decrypt") args.push_back(Path("out.raw"));
    args.insert(args.end(), {"--key-file", Path("echoed.dek")});
    auto r = Veil(args);
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_NE(r.output.find("the key file ends in a newline, which is part of the passphrase"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("printf"), std::string::npos) << r.output;
  }
  // A wrong passphrase without a newline: no such hint.
  WriteBytes(Path("wrong.dek"), "not the passphrase");
  auto wrong = Veil({"image", "verify", Path("disk.luks"), "--key-file", Path("wrong.dek")});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_EQ(wrong.output.find("newline"), std::string::npos) << wrong.output;
}

TEST_F(ImageCli, TheSummaryReportsTheCopyAndTheKeyDerivationApart) {
  auto e = Encrypt(Path("disk.raw"), Path("disk.luks"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("  Copy: 8.0 MiB in "), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("MB/s, "), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("  Key derivation: "), std::string::npos) << e.output;
  EXPECT_NE(e.output.find(" s (alongside the copy); "), std::string::npos) << e.output;
  auto q = Encrypt(Path("disk.raw"), Path("disk.qcow2"), {"--format", "qcow2"});
  ASSERT_EQ(q.exit_code, 0) << q.output;
  EXPECT_NE(q.output.find(" s (before the copy); "), std::string::npos) << q.output;

  auto json = Encrypt(Path("disk.raw"), Path("disk2.luks"), {"--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto v = boost::json::parse(json.output);
  for (const char* member : {"seconds", "copy_seconds", "kdf_seconds"}) {
    EXPECT_TRUE(v.at(member).is_number()) << member;
    EXPECT_GE(v.at(member).to_number<double>(), 0.0) << member;
  }
  EXPECT_TRUE(v.at("kdf_during_copy").as_bool());
  // Plain JSON numbers ("0.042"), not Boost's exponent form ("4.2E-2").
  EXPECT_EQ(json.output.find("E-"), std::string::npos) << json.output;
  EXPECT_EQ(json.output.find("E0"), std::string::npos) << json.output;

  auto d = Veil({"image", "decrypt", Path("disk.luks"), Path("back.raw"), "--key-file",
                 Path("secret.dek"), "--output", "json"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_TRUE(boost::json::parse(d.output).at("kdf_seconds").is_number()) << d.output;
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
  VEIL_REQUIRE_TOOL("cryptsetup");
  VEIL_REQUIRE_TOOL("qemu-img");
  // Classic (IBM's secret.dek): the base64 text is the passphrase; EncryptInspectVerify...
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
  auto open = Sh("cryptsetup open --test-passphrase --key-file " + Path("dek.bin") + " " +
                 Path("bytes.luks"));
  EXPECT_EQ(open.exit_code, 0) << open.output;
  // The VPC documentation's own example: the user's passphrase "abc123" is wrapped as its base64
  // text YWJjMTIz; the qcow2's secret is the decoded bytes. QEMU takes it (QEMU requires a
  // secret to be valid UTF-8, so raw random DEK bytes cannot be a QEMU passphrase).
  ASSERT_EQ(Sh("echo -n YWJjMTIz | base64 -d > " + Path("vpc.key")).exit_code, 0);
  EXPECT_EQ(ReadFile(Path("vpc.key")), "abc123");
  args = {"image",    "encrypt", Path("disk.raw"), Path("vpc.qcow2"),
          "--format", "qcow2",   "--key-file",     Path("vpc.key")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  ASSERT_EQ(Veil(args).exit_code, 0);
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

TEST_F(ImageCli, CtrlCDuringEncryptLeavesNoDestination) {
  // A large sparse input: the copy runs long enough to be interrupted (8 GiB: seconds of work,
  // and no more than that written should the interrupt fail).
  ASSERT_EQ(Sh("truncate -s 8G " + Path("huge.raw")).exit_code, 0);
  std::vector<std::string> args = {
      kVeil,        "image",           "encrypt", Path("huge.raw"), Path("huge.luks"),
      "--key-file", Path("secret.dek")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  Background veil(args, Path("veil.log"));
  InterruptWhileWritingAndExpectNothingLeft(veil, "huge.luks");
}

TEST_F(ImageCli, SfdiskGptDiskVerifiesAndCryptsetupAcceptsLuks2) {
  VEIL_REQUIRE_TOOL("sfdisk");
  VEIL_REQUIRE_TOOL("cryptsetup");
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
  auto table = Veil({"image", "verify", Path("gpt.luks2"), "--key-file", Path("secret.dek")});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("TYPE NAME         NAME  BOOT"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("Linux filesystem  root  -"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("Linux swap        -     -"), std::string::npos) << table.output;
  auto open = Sh("cryptsetup open --test-passphrase --key-file " + Path("secret.dek") + " " +
                 Path("gpt.luks2"));
  EXPECT_EQ(open.exit_code, 0) << open.output;
}

TEST_F(ImageCli, Luks1IterTimeCalibratesPbkdf2ThatCryptsetupOpens) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  // No forced iterations: Veil's own PBKDF2 calibration picks the count for 50 ms.
  auto e = EncryptWithCost(Path("disk.raw"), Path("disk.luks"),
                           {"--format", "luks1", "--iter-time", "50"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto dump = Sh("cryptsetup luksDump " + Path("disk.luks"));
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_EQ(DumpField(dump.output, "Key Slot 0"), "ENABLED") << dump.output;
  // The first "Iterations:" line is key slot 0's ("MK iterations:" is the digest's).
  const std::string iterations = DumpField(dump.output, "Iterations");
  ASSERT_FALSE(iterations.empty()) << dump.output;
  // Above the 1000 the calibration clamps to: the benchmark produced the count.
  EXPECT_GT(std::stoull(iterations), 1000u) << dump.output;
  auto inspect = Veil({"image", "inspect", Path("disk.luks")});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("pbkdf2-sha256, " + iterations + " iterations"), std::string::npos)
      << inspect.output;
  ExpectCryptsetupAndVerifyOpen(Path("disk.luks"));
}

TEST_F(ImageCli, Luks2Argon2iCostOptionsReachTheKeyslot) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  auto e = EncryptWithCost(Path("disk.raw"), Path("disk.luks2"),
                           {"--format", "luks2", "--pbkdf", "argon2i", "--pbkdf-memory", "8192",
                            "--pbkdf-parallel", "2", "--iter-time", "50"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto dump = Sh("cryptsetup luksDump " + Path("disk.luks2"));
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_EQ(DumpField(dump.output, "Version"), "2") << dump.output;
  EXPECT_EQ(DumpField(dump.output, "PBKDF"), "argon2i") << dump.output;
  EXPECT_EQ(DumpField(dump.output, "Memory"), "8192") << dump.output;
  EXPECT_EQ(DumpField(dump.output, "Threads"), "2") << dump.output;
  ExpectCryptsetupAndVerifyOpen(Path("disk.luks2"));
}

TEST_F(ImageCli, KeySize256Luks1AndLuks2RoundTrip) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  VEIL_REQUIRE_TOOL("qemu-img");
  const std::string source = ReadFile(Path("disk.raw"));

  auto e1 =
      Encrypt(Path("disk.raw"), Path("k256.luks"), {"--format", "luks1", "--key-size", "256"});
  ASSERT_EQ(e1.exit_code, 0) << e1.output;
  EXPECT_NE(e1.output.find("luks1, aes-xts-plain64 256-bit"), std::string::npos) << e1.output;
  auto dump1 = Sh("cryptsetup luksDump " + Path("k256.luks"));
  ASSERT_EQ(dump1.exit_code, 0) << dump1.output;
  EXPECT_EQ(DumpField(dump1.output, "MK bits"), "256") << dump1.output;
  EXPECT_EQ(DumpField(dump1.output, "Cipher mode"), "xts-plain64") << dump1.output;
  EXPECT_EQ(CryptsetupTestPassphrase(Path("k256.luks")).exit_code, 0);
  auto d1 = Decrypt(Path("k256.luks"), Path("k256-luks1.raw"));
  ASSERT_EQ(d1.exit_code, 0) << d1.output;
  EXPECT_TRUE(ReadFile(Path("k256-luks1.raw")) == source);
  auto qemu =
      Sh("qemu-img convert " + QemuLuks(Path("k256.luks")) + " -O raw " + Path("k256-qemu.raw"));
  ASSERT_EQ(qemu.exit_code, 0) << qemu.output;
  EXPECT_TRUE(ReadFile(Path("k256-qemu.raw")) == source);

  auto e2 = Encrypt(Path("disk.raw"), Path("k256.luks2"),
                    {"--format", "luks2", "--pbkdf", "pbkdf2", "--key-size", "256"});
  ASSERT_EQ(e2.exit_code, 0) << e2.output;
  auto dump2 = Sh("cryptsetup luksDump " + Path("k256.luks2"));
  ASSERT_EQ(dump2.exit_code, 0) << dump2.output;
  EXPECT_EQ(DumpField(dump2.output, "Key"), "256 bits") << dump2.output;
  EXPECT_EQ(DumpField(dump2.output, "Cipher key"), "256 bits") << dump2.output;
  EXPECT_EQ(DumpField(dump2.output, "cipher"), "aes-xts-plain64") << dump2.output;
  EXPECT_EQ(CryptsetupTestPassphrase(Path("k256.luks2")).exit_code, 0);
  auto d2 = Decrypt(Path("k256.luks2"), Path("k256-luks2.raw"));
  ASSERT_EQ(d2.exit_code, 0) << d2.output;
  EXPECT_TRUE(ReadFile(Path("k256-luks2.raw")) == source);
}

TEST_F(ImageCli, ProgressBarOnATerminalOnly) {
  VEIL_REQUIRE_TOOL("script");
  // 64 MiB of random data: several pipeline chunks. The bar is drawn at the first progress report
  // whatever the time (the 100 ms throttle only applies between draws), so at least one frame
  // always shows; nothing here depends on how long the copy takes.
  ASSERT_EQ(Sh("head -c 67108864 /dev/urandom > " + Path("big.raw")).exit_code, 0);
  const std::string key = " --key-file " + Path("secret.dek");
  const std::string encrypt = kVeil + " image encrypt " + Path("big.raw") + " " + Path("tty.luks") +
                              key + " --pbkdf-force-iterations 1000";
  const std::string decrypt =
      kVeil + " image decrypt " + Path("tty.luks") + " " + Path("tty.raw") + key;
  for (const std::string& command : {encrypt, decrypt}) {
    // util-linux script: the command runs on a pseudo-terminal; -e passes on its exit code.
    auto tty = Sh("script -qec '" + command + "' /dev/null");
    ASSERT_EQ(tty.exit_code, 0) << tty.output;
    EXPECT_NE(tty.output.find("\r["), std::string::npos) << tty.output;
    EXPECT_NE(tty.output.find(" / 64.0 MiB  "), std::string::npos) << tty.output;
    EXPECT_NE(tty.output.find(" MB/s  ETA "), std::string::npos) << tty.output;
    EXPECT_NE(tty.output.find("\r\033[K"), std::string::npos) << "the bar is cleared at the end";
    EXPECT_NE(tty.output.find(command == encrypt ? "Encrypted " : "Decrypted "), std::string::npos)
        << tty.output;
  }
  EXPECT_TRUE(ReadFile(Path("tty.raw")) == ReadFile(Path("big.raw")));

  // The same commands with stdout and stderr in a file: the summary only.
  std::filesystem::remove(Path("tty.raw"));
  for (const std::string& command : {decrypt, encrypt}) {
    if (command == encrypt) std::filesystem::remove(Path("tty.luks"));
    auto quiet = Sh(command);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
    EXPECT_EQ(quiet.output.find('\r'), std::string::npos) << quiet.output;
    EXPECT_EQ(quiet.output.find('\033'), std::string::npos) << quiet.output;
    EXPECT_EQ(quiet.output.find("ETA"), std::string::npos) << quiet.output;
    EXPECT_EQ(quiet.output.find('['), std::string::npos) << quiet.output;
    EXPECT_EQ(quiet.output.rfind(command == encrypt ? "Encrypted " : "Decrypted ", 0), 0u)
        << quiet.output;
    // What was made, the copy, the key derivation.
    EXPECT_EQ(std::count(quiet.output.begin(), quiet.output.end(), '\n'), 3) << quiet.output;
  }
}

TEST_F(ImageCli, CtrlCDuringDecryptLeavesNoDestination) {
  // A LUKS1 image with an 8 GiB payload: the header of an encrypted small disk, then a sparse
  // tail (zero ciphertext decrypts to noise, which is written, not left as holes). The copy runs
  // long enough to be interrupted.
  ASSERT_EQ(Encrypt(Path("disk.raw"), Path("huge.luks")).exit_code, 0);
  ASSERT_EQ(Sh("truncate -s 8G " + Path("huge.luks")).exit_code, 0);
  Background veil({kVeil, "image", "decrypt", Path("huge.luks"), Path("huge.raw"), "--key-file",
                   Path("secret.dek")},
                  Path("veil.log"));
  InterruptWhileWritingAndExpectNothingLeft(veil, "huge.raw");
}

TEST_F(ImageCli, StdoutLuksOpensInCryptsetupAndQemu) {
  VEIL_REQUIRE_TOOL("cryptsetup");
  VEIL_REQUIRE_TOOL("qemu-img");
  const std::string source = ReadFile(Path("disk.raw"));
  for (const std::string format : {"luks1", "luks2"}) {
    const std::string out = Path("stdout." + format);
    auto e = Sh(kVeil + " image encrypt --format " + format + " " + Path("disk.raw") +
                " - --key-file " + Path("secret.dek") + " --pbkdf-force-iterations 1000" +
                (format == "luks2" ? " --pbkdf pbkdf2" : "") + " > " + out + " 2> " +
                Path("stderr.txt"));
    ASSERT_EQ(e.exit_code, 0) << format << ": " << ReadFile(Path("stderr.txt"));
    // The summary goes to stderr when stdout is the image.
    EXPECT_EQ(ReadFile(Path("stderr.txt")).rfind("Encrypted ", 0), 0u)
        << ReadFile(Path("stderr.txt"));
    auto dump = Sh("cryptsetup luksDump " + out);
    ASSERT_EQ(dump.exit_code, 0) << format << ": " << dump.output;
    EXPECT_EQ(DumpField(dump.output, "Version"), format == "luks1" ? "1" : "2") << dump.output;
    auto open = CryptsetupTestPassphrase(out);
    EXPECT_EQ(open.exit_code, 0) << format << ": " << open.output;
    auto back = Decrypt(out, Path("back-" + format + ".raw"));
    ASSERT_EQ(back.exit_code, 0) << back.output;
    EXPECT_TRUE(ReadFile(Path("back-" + format + ".raw")) == source) << format;
  }
  auto qemu =
      Sh("qemu-img convert " + QemuLuks(Path("stdout.luks1")) + " -O raw " + Path("qemu.raw"));
  ASSERT_EQ(qemu.exit_code, 0) << qemu.output;
  EXPECT_TRUE(ReadFile(Path("qemu.raw")) == source);
}

TEST_F(ImageCli, QemuImgLuks1CbcEssivDecrypts) {
  VEIL_REQUIRE_TOOL("qemu-img");
  VEIL_REQUIRE_TOOL("qemu-io");
  const std::string image = Path("essiv.luks");
  auto create = QemuImgCreate("-f luks --object secret,id=s,file=" + Path("secret.dek") +
                                  " -o key-secret=s,cipher-alg=aes-256,cipher-mode=cbc,"
                                  "ivgen-alg=essiv,ivgen-hash-alg=sha256,iter-time=10 " +
                                  image + " 8M",
                              image);
  ASSERT_EQ(create.exit_code, 0) << create.output;
  auto write =
      Sh("qemu-io " + QemuLuks(image) + " -c 'write -P 0xab 0 1M'" + " -c 'write -P 0x5c 3M 512k'");
  ASSERT_EQ(write.exit_code, 0) << write.output;
  ASSERT_NE(write.output.find("wrote 1048576/1048576 bytes at offset 0"), std::string::npos)
      << write.output;
  ASSERT_NE(write.output.find("wrote 524288/524288 bytes at offset 3145728"), std::string::npos)
      << write.output;

  auto inspect = Veil({"image", "inspect", image});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("Cipher:         aes-cbc-essiv:sha256, 256-bit key"),
            std::string::npos)
      << inspect.output;

  auto d = Decrypt(image, Path("essiv.raw"));
  ASSERT_EQ(d.exit_code, 0) << d.output;
  const std::string plain = ReadFile(Path("essiv.raw"));
  ASSERT_EQ(plain.size(), 8u << 20);
  const size_t mib = 1 << 20;
  EXPECT_TRUE(plain.substr(0, mib) == std::string(mib, '\xab'));
  EXPECT_TRUE(plain.substr(3 * mib, mib / 2) == std::string(mib / 2, '\x5c'));
  // The sectors never written are zero ciphertext, which decrypts to noise, not zeros: the rest is
  // compared with what QEMU itself reads from the same image, byte for byte.
  auto qemu = Sh("qemu-img convert " + QemuLuks(image) + " -O raw " + Path("essiv-qemu.raw"));
  ASSERT_EQ(qemu.exit_code, 0) << qemu.output;
  EXPECT_TRUE(plain == ReadFile(Path("essiv-qemu.raw")));
}

}  // namespace
}  // namespace veil::testing
