#include "audit/jsonl_file_sink.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit/in_memory_sink.h"

namespace veil::audit {
namespace {

namespace fs = std::filesystem;

class JsonLinesFileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "veil-audit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "events.jsonl").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> ReadLines(const std::string& path) const {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  fs::path dir_;
  std::string path_;
};

Event MakeEvent(const std::string& id) {
  Event e;
  e.id = id;
  e.action = "kms.secrets.read";
  e.event_time = "2026-11-28T20:30:00.12+0000";
  e.outcome = "success";
  e.reason_code = 200;
  e.initiator.id = "iam-user-1";
  e.target.id = "crn:v1:veil:private:kms:local:a/acc:kms1:key:" + id;
  e.request_data = {{"requestURI", "/api/v2/keys/" + id}};
  return e;
}

TEST_F(JsonLinesFileSinkTest, ConcurrentEmitsGiveOneParseableLineEach) {
  auto sink = JsonLinesFileSink::Open(path_);
  ASSERT_TRUE(sink) << sink.error().ToString();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Long enough (> 512 bytes) that interleaved writes would show.
        Event e = MakeEvent(std::to_string(t) + "-" + std::to_string(i));
        e.message = std::string(600, static_cast<char>('a' + t));
        ASSERT_TRUE((*sink)->Emit(e));
      }
    });
  }
  for (auto& th : threads) th.join();

  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const std::string& line : lines) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << ec.message() << ": " << line.substr(0, 80);
    const std::string id(v.at("id").as_string());
    const char expected = static_cast<char>('a' + (id[0] - '0'));
    EXPECT_EQ(v.at("message").as_string(), std::string(600, expected));  // not mixed
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(JsonLinesFileSinkTest, WritesExactlyTheSerializedEventPlusNewline) {
  auto sink = JsonLinesFileSink::Open(path_);
  ASSERT_TRUE(sink);
  Event e = MakeEvent("k1");
  // The sink neither adds nor removes anything: it writes ToJson's bytes.
  e.request_data = {{"note", "looks like a secret: Bearer abc.def.ghi"}};
  ASSERT_TRUE((*sink)->Emit(e));
  ASSERT_TRUE((*sink)->Emit(MakeEvent("k2")));
  std::ifstream in(path_, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, boost::json::serialize(ToJson(e)) + "\n" +
                         boost::json::serialize(ToJson(MakeEvent("k2"))) + "\n");
}

TEST_F(JsonLinesFileSinkTest, FileIsPrivateAndAppendedAcrossOpens) {
  {
    auto sink = JsonLinesFileSink::Open(path_);
    ASSERT_TRUE(sink);
    ASSERT_TRUE((*sink)->Emit(MakeEvent("a")));
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A pre-existing world-readable file is narrowed, and appended to, not truncated.
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  JsonLinesFileSinkOptions sync;
  sync.fsync = FsyncPolicy::kEveryEvent;
  auto again = JsonLinesFileSink::Open(path_, sync);
  ASSERT_TRUE(again);
  ASSERT_TRUE((*again)->Emit(MakeEvent("b")));
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadLines(path_).size(), 2u);
}

TEST_F(JsonLinesFileSinkTest, OpenRefusesMissingDirectorySymlinkAndDirectory) {
  auto missing = JsonLinesFileSink::Open((dir_ / "nope" / "events.jsonl").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  std::string target = (dir_ / "elsewhere").string();
  std::string link = (dir_ / "link.jsonl").string();
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto via_link = JsonLinesFileSink::Open(link);
  ASSERT_FALSE(via_link);
  EXPECT_EQ(via_link.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(target));

  auto dir = JsonLinesFileSink::Open(dir_.string());
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().code, ErrorCode::kOk);
}

TEST_F(JsonLinesFileSinkTest, ReopenAfterRotationStartsANewFile) {
  auto sink = JsonLinesFileSink::Open(path_);
  ASSERT_TRUE(sink);
  ASSERT_TRUE((*sink)->Emit(MakeEvent("before")));
  std::string rotated = path_ + ".1";
  fs::rename(path_, rotated);
  ASSERT_TRUE((*sink)->Emit(MakeEvent("still-old")));  // the old descriptor until Reopen
  ASSERT_TRUE((*sink)->Reopen());
  ASSERT_TRUE((*sink)->Emit(MakeEvent("after")));

  EXPECT_EQ(ReadLines(rotated).size(), 2u);
  std::vector<std::string> fresh = ReadLines(path_);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(boost::json::parse(fresh[0]).at("id").as_string(), "after");
}

TEST(InMemorySinkTest, RecordsSnapshotsAndFailsOnDemand) {
  InMemorySink sink;
  AuditSink& as_sink = sink;  // usable wherever the interface is
  ASSERT_TRUE(as_sink.Emit(MakeEvent("1")));
  std::vector<Event> snapshot = sink.events();
  ASSERT_TRUE(as_sink.Emit(MakeEvent("2")));
  EXPECT_EQ(snapshot.size(), 1u);  // a copy, not a view
  EXPECT_EQ(sink.size(), 2u);
  EXPECT_EQ(sink.events()[1].id, "2");

  sink.FailWith(Error(ErrorCode::kUnavailable, "disk gone"));
  Status failed = as_sink.Emit(MakeEvent("3"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(sink.size(), 2u);
  sink.FailWith(std::nullopt);
  ASSERT_TRUE(as_sink.Emit(MakeEvent("4")));
  sink.Clear();
  EXPECT_EQ(sink.size(), 0u);
}

}  // namespace
}  // namespace veil::audit
