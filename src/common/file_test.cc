// Fd, WriteFileAtomically, ReadFile on a temporary directory: content, mode, no leftover, errors.
#include "common/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/bytes.h"

namespace veil {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "veil-file-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_F(FileTest, FdClosesAndMoves) {
  int raw = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    Fd a(raw);
    Fd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
    Fd c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed once, by c
  Fd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const int released = d.Release();
  EXPECT_FALSE(d.valid());
  EXPECT_EQ(::close(released), 0);
}

TEST_F(FileTest, WriteFileAtomicallyReplacesWithModeAndLeavesNoTemporary) {
  const std::string path = Path("config");
  ASSERT_TRUE(WriteFileAtomically(path, AsBytes("old")));
  ASSERT_TRUE(WriteFileAtomically(path, AsBytes("new content"), 0640));
  auto read = ReadFile(path, 1024);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(std::string(read->begin(), read->end()), "new content");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(FileTest, WriteFileAtomicallyIgnoresAStaleTemporaryAndRefusesAMissingDirectory) {
  const std::string path = Path("token");
  ASSERT_TRUE(WriteFileAtomically(path + ".tmp", AsBytes("stale")));
  ASSERT_TRUE(WriteFileAtomically(path, AsBytes("fresh")));
  auto read = ReadFile(path, 1024);
  ASSERT_TRUE(read);
  EXPECT_EQ(std::string(read->begin(), read->end()), "fresh");
  auto missing = WriteFileAtomically(Path("no/such/dir/file"), AsBytes("x"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kInternal);
}

TEST_F(FileTest, ReadFileErrors) {
  EXPECT_EQ(ReadFile(Path("absent"), 10).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(Path("big"), AsBytes("0123456789a")));
  EXPECT_EQ(ReadFile(Path("big"), 10).error().code, ErrorCode::kResourceExhausted);
  auto exact = ReadFile(Path("big"), 11);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->size(), 11u);
  ASSERT_TRUE(WriteFileAtomically(Path("empty"), {}));
  auto empty = ReadFile(Path("empty"), 0);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(FileTest, LockFileIsExclusiveAndNamesItsHolder) {
  const std::string path = Path("veild.lock");
  auto first = LockFile(path, "pid 1234");
  ASSERT_TRUE(first) << first.error().ToString();
  // flock locks belong to the open file description: a second open is refused, even in-process.
  auto second = LockFile(path, "pid 5678");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(second.error().message, "pid 1234");
  first->Reset();  // released, as when the holder dies
  auto third = LockFile(path, "pid 5678");
  ASSERT_TRUE(third) << third.error().ToString();
  auto content = ReadFile(path, 100);
  ASSERT_TRUE(content);
  EXPECT_EQ(std::string(content->begin(), content->end()), "pid 5678");  // "1234" is gone
}

}  // namespace
}  // namespace veil
