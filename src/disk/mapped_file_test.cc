#include "disk/mapped_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using testutil::TempDir;

struct stat StatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st;
}

TEST(MappedFileTest, MapsTheFilesBytes) {
  TempDir dir;
  const std::string path = dir / "in.raw";
  std::vector<uint8_t> bytes(3 << 20);
  testutil::FillRandom(bytes, 7);
  testutil::WriteFile(path, bytes);
  auto map = MappedFile::Map(path, StatOf(path), bytes.size());
  ASSERT_NE(map, nullptr);
  ASSERT_EQ(map->bytes().size(), bytes.size());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), map->bytes().begin()));
  // Released pages read the same again (from the page cache), and a range past the end is fine.
  map->Release(4096, 1 << 20);
  map->Release(bytes.size() - 10, 1 << 20);
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), map->bytes().begin()));
  EXPECT_FALSE(map->faulted());
}

TEST(MappedFileTest, AFileThatShrinksReadsZerosPastItsEndAndSaysSo) {
  TempDir dir;
  const std::string path = dir / "in.raw";
  std::vector<uint8_t> bytes(1 << 20, 0xab);
  testutil::WriteFile(path, bytes);
  auto map = MappedFile::Map(path, StatOf(path), bytes.size());
  ASSERT_NE(map, nullptr);
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  // Without the handler the second read would end the process with SIGBUS.
  const volatile uint8_t* p = map->bytes().data();
  EXPECT_EQ(p[100], 0xab);
  EXPECT_FALSE(map->faulted());
  EXPECT_EQ(p[8192], 0);
  EXPECT_TRUE(map->faulted());
  EXPECT_EQ(p[(1 << 20) - 1], 0);
}

TEST(MappedFileTest, RefusesAReplacedFileADifferentSizeAndASecondMapping) {
  TempDir dir;
  const std::string path = dir / "in.raw", other = dir / "other.raw";
  testutil::WriteFile(path, std::vector<uint8_t>(8192, 1));
  testutil::WriteFile(other, std::vector<uint8_t>(8192, 2));
  const struct stat st = StatOf(path);
  EXPECT_EQ(MappedFile::Map(path, st, 4096), nullptr);  // not the size we were told
  EXPECT_EQ(MappedFile::Map(path, st, 0), nullptr);
  ASSERT_EQ(std::rename(other.c_str(), path.c_str()), 0);  // another file under the name
  EXPECT_EQ(MappedFile::Map(path, st, 8192), nullptr);
  const struct stat now = StatOf(path);
  auto first = MappedFile::Map(path, now, 8192);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->bytes()[0], 2);
  EXPECT_EQ(MappedFile::Map(path, now, 8192), nullptr);  // one at a time per process
  first.reset();
  EXPECT_NE(MappedFile::Map(path, now, 8192), nullptr);
}

}  // namespace
}  // namespace veil::disk
