// The pipeline engine with synthetic jobs: every chunk goes through every stage once, serial stages
// never run concurrently, in-order stages see production order, memory stays within the buffer
// pool, and errors, cancellation and thread-start limits end the run without hanging.
#include "image/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace veil::image {
namespace {

// A job of `chunks` chunks through `kinds`, recording what it saw.
class RecordingJob : public PipelineJob {
 public:
  RecordingJob(uint64_t chunks, std::vector<StageKind> kinds)
      : chunks_(chunks), kinds_(kinds), seen_(kinds.size()), running_(kinds.size()) {}

  Result<bool> Next(Chunk& chunk) override {
    if (produced_ == chunks_) return false;
    chunk.offset = produced_ * chunk.buffer.size();
    chunk.length = chunk.buffer.size();
    chunk.buffer[0] = static_cast<uint8_t>(produced_);
    ++produced_;
    std::lock_guard lock(mu_);
    buffers_.insert(chunk.buffer.data());
    return true;
  }

  std::vector<StageKind> stages() const override { return kinds_; }

  Status Run(size_t stage, Chunk& chunk, size_t worker) override {
    const int now = ++running_[stage];
    if (kinds_[stage] != StageKind::kParallel && now != 1) concurrent_serial_ = true;
    // The chunk's bytes are still the ones Next() wrote: no other chunk shares the buffer.
    if (chunk.buffer[0] != static_cast<uint8_t>(chunk.sequence)) buffer_reused_ = true;
    std::this_thread::sleep_for(std::chrono::microseconds((chunk.sequence * 7919 + stage) % 300));
    {
      std::lock_guard lock(mu_);
      seen_[stage].push_back(chunk.sequence);
      workers_.insert(worker);
    }
    --running_[stage];
    if (fail_at_ && *fail_at_ == chunk.sequence && stage == kinds_.size() - 1) {
      return MakeError(ErrorCode::kDataLoss, "chunk failed");
    }
    return OkStatus();
  }

  uint64_t chunks_;
  std::vector<StageKind> kinds_;
  uint64_t produced_ = 0;
  std::optional<uint64_t> fail_at_;
  std::mutex mu_;
  std::vector<std::vector<uint64_t>> seen_;
  std::set<const uint8_t*> buffers_;
  std::set<size_t> workers_;
  std::vector<std::atomic<int>> running_;
  std::atomic<bool> concurrent_serial_{false};
  std::atomic<bool> buffer_reused_{false};
};

PipelineOptions Options(size_t threads) {
  PipelineOptions o;
  o.threads = threads;
  o.chunk_bytes = 4096;
  return o;
}

TEST(Pipeline, EveryChunkThroughEveryStageOnceSerialStagesAloneInOrderStagesInOrder) {
  const std::vector<StageKind> kinds = {StageKind::kParallel, StageKind::kSerialInOrder,
                                        StageKind::kParallel, StageKind::kSerial};
  for (size_t threads : {1, 2, 3, 8}) {
    RecordingJob job(200, kinds);
    std::vector<uint64_t> progress;
    PipelineOptions o = Options(threads);
    o.progress = [&](uint64_t done) { progress.push_back(done); };
    ASSERT_TRUE(RunPipeline(job, o)) << threads;
    for (size_t s = 0; s < kinds.size(); ++s) {
      std::vector<uint64_t> sorted = job.seen_[s];
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(sorted.size(), 200u) << "stage " << s;
      for (uint64_t i = 0; i < 200; ++i) ASSERT_EQ(sorted[i], i) << "stage " << s;
    }
    for (uint64_t i = 0; i < 200; ++i) EXPECT_EQ(job.seen_[1][i], i) << "in-order stage";
    EXPECT_FALSE(job.concurrent_serial_);
    EXPECT_FALSE(job.buffer_reused_);
    EXPECT_LE(job.buffers_.size(), PipelineBuffers(o));
    ASSERT_FALSE(progress.empty());
    EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
    EXPECT_EQ(progress.back(), 200u * 4096);
    if (threads > 1) {
      EXPECT_GT(job.workers_.size(), 1u) << "work is spread over the workers";
    }
  }
}

TEST(Pipeline, MemoryIsTheBufferPoolWhateverTheLength) {
  RecordingJob job(2000, {StageKind::kParallel, StageKind::kSerial});
  PipelineOptions o = Options(2);
  ASSERT_TRUE(RunPipeline(job, o));
  EXPECT_EQ(PipelineBuffers(o), 8u);
  EXPECT_LE(job.buffers_.size(), 8u);
  o.threads = 100;
  EXPECT_EQ(PipelineBuffers(o), 64u);  // capped: 64 x 1 MiB at most by default
}

TEST(Pipeline, FirstErrorStopsTheRun) {
  RecordingJob job(1000, {StageKind::kParallel, StageKind::kSerialInOrder});
  job.fail_at_ = 17;
  auto st = RunPipeline(job, Options(3));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kDataLoss);
  EXPECT_LT(job.produced_, 1000u) << "the producer stopped early";
}

class FailingNext : public RecordingJob {
 public:
  FailingNext() : RecordingJob(100, {StageKind::kParallel}) {}
  Result<bool> Next(Chunk& chunk) override {
    if (produced_ == 10) return MakeError(ErrorCode::kOutOfRange, "input ended");
    return RecordingJob::Next(chunk);
  }
};

TEST(Pipeline, ProducerErrorIsReturned) {
  FailingNext job;
  auto st = RunPipeline(job, Options(2));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kOutOfRange);
}

TEST(Pipeline, CancelFlagStopsWithCancelled) {
  std::atomic<bool> cancel{false};
  class CancellingJob : public RecordingJob {
   public:
    explicit CancellingJob(std::atomic<bool>* c)
        : RecordingJob(1'000'000, {StageKind::kParallel, StageKind::kSerial}), cancel_(c) {}
    Result<bool> Next(Chunk& chunk) override {
      if (produced_ == 50) cancel_->store(true);
      return RecordingJob::Next(chunk);
    }
    std::atomic<bool>* cancel_;
  } job(&cancel);
  PipelineOptions o = Options(2);
  o.cancel = &cancel;
  auto st = RunPipeline(job, o);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kCancelled);
  EXPECT_LT(job.produced_, 100u);
}

TEST(Pipeline, EmptyJobAndBadOptions) {
  RecordingJob empty(0, {StageKind::kSerialInOrder});
  EXPECT_TRUE(RunPipeline(empty, Options(2)));
  RecordingJob job(1, {StageKind::kParallel});
  PipelineOptions o = Options(0);
  EXPECT_EQ(RunPipeline(job, o).error().code, ErrorCode::kInvalidArgument);
  o = Options(1);
  o.chunk_bytes = 1000;
  EXPECT_EQ(RunPipeline(job, o).error().code, ErrorCode::kInvalidArgument);
  RecordingJob no_stages(1, {});
  EXPECT_EQ(RunPipeline(no_stages, Options(1)).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::image
