#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace veil::http {
namespace {

TEST(WorkerPoolTest, TrySubmitShedsOnceTheBacklogIsFull) {
  WorkerPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  ASSERT_EQ(pool.TrySubmit([&] {
    started.set_value();
    released.wait();
  }),
            WorkerPool::Admission::kQueued);
  started.get_future().wait();  // the one worker is busy: what follows waits in the backlog
  std::atomic<int> ran{0};
  EXPECT_EQ(pool.TrySubmit([&] { ++ran; }), WorkerPool::Admission::kQueued);
  EXPECT_EQ(pool.TrySubmit([&] { ++ran; }), WorkerPool::Admission::kQueued);
  EXPECT_EQ(pool.TrySubmit([&] { ++ran; }), WorkerPool::Admission::kFull);
  // Work of admitted requests is never shed.
  EXPECT_TRUE(pool.Submit([&] { ++ran; }));
  EXPECT_EQ(pool.backlog(), 3u);
  release.set_value();
  pool.Stop();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(pool.TrySubmit([] {}), WorkerPool::Admission::kStopped);
}

}  // namespace
}  // namespace veil::http
