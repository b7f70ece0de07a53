#include "image/pipeline.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

namespace veil::image {

size_t PipelineBuffers(const PipelineOptions& options) {
  if (options.buffers != 0) return options.buffers;
  return std::clamp<size_t>(4 * options.threads, 4, 64);
}

namespace {

constexpr size_t kAlignment = 4096;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// A chunk waiting for, or running, one stage.
struct Task {
  size_t chunk;  // index into the buffer pool
  size_t stage;
};

// The state shared by the producer and the workers. Fields below `mutex_` are guarded by it.
class Run {
 public:
  Run(PipelineJob& job, const PipelineOptions& options, std::vector<Chunk>& chunks)
      : job_(job), options_(options), chunks_(chunks), stages_(job.stages()) {
    for (size_t i = 0; i < chunks.size(); ++i) free_.push_back(i);
    serial_.resize(stages_.size());
  }

  bool Cancelled() const {
    return options_.cancel != nullptr && options_.cancel->load(std::memory_order_relaxed);
  }

  // Records the first error and wakes everyone.
  void Fail(Error error) {
    {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::move(error);
      failed_ = true;
    }
    changed_.notify_all();
  }

  // The producer: the calling thread.
  void Produce() {
    uint64_t sequence = 0;
    for (;;) {
      if (Cancelled()) Fail(Error(ErrorCode::kCancelled, "interrupted"));
      size_t index;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !free_.empty() || failed_; });
        if (failed_) break;
        index = free_.back();
        free_.pop_back();
      }
      Chunk& chunk = chunks_[index];
      chunk.sequence = sequence;
      chunk.offset = 0;
      chunk.length = 0;
      chunk.pieces.clear();
      Result<bool> more = job_.Next(chunk);
      {
        std::lock_guard lock(mutex_);
        if (!more || !*more) {
          free_.push_back(index);
          if (!more) {
            if (!error_) error_ = more.error();
            failed_ = true;
          }
          break;
        }
        ++in_flight_;
        Route(Task{index, 0});
      }
      ++sequence;
      changed_.notify_all();
      Report();
    }
    {
      std::lock_guard lock(mutex_);
      producing_ = false;
    }
    changed_.notify_all();
  }

  void Work(size_t worker) {
    std::unique_lock lock(mutex_);
    for (;;) {
      std::optional<Task> task;
      bool serial = false;
      changed_.wait(lock, [&] {
        if (failed_) return true;
        task = TakeSerial();
        if (task) {
          serial = true;
          return true;
        }
        if (!parallel_.empty()) {
          task = parallel_.front();
          parallel_.pop_front();
          return true;
        }
        return !producing_ && in_flight_ == 0;
      });
      if (failed_ || !task) return;
      lock.unlock();
      Status status = OkStatus();
      if (Cancelled()) {
        status = MakeError(ErrorCode::kCancelled, "interrupted");
      } else {
        status = job_.Run(task->stage, chunks_[task->chunk], worker);
      }
      lock.lock();
      if (serial) {
        SerialStage& s = serial_[task->stage];
        s.busy = false;
        if (stages_[task->stage] == StageKind::kSerialInOrder) ++s.next_sequence;
      }
      if (!status) {
        if (!error_) error_ = status.error();
        failed_ = true;
        lock.unlock();
        changed_.notify_all();
        return;
      }
      Route(Task{task->chunk, task->stage + 1});
      lock.unlock();
      changed_.notify_all();
      lock.lock();
    }
  }

  void Report() {
    if (!options_.progress) return;
    uint64_t done;
    {
      std::lock_guard lock(mutex_);
      done = done_bytes_;
    }
    options_.progress(done);
  }

  Status Outcome() {
    std::lock_guard lock(mutex_);
    if (error_) return tl::unexpected(*error_);
    return OkStatus();
  }

 private:
  struct SerialStage {
    bool busy = false;
    uint64_t next_sequence = 0;          // kSerialInOrder: whose turn it is
    std::map<uint64_t, size_t> waiting;  // sequence -> chunk index
  };

  // Puts a chunk whose previous stage is done where its next stage will find it. mutex_ held.
  void Route(Task task) {
    if (task.stage == stages_.size()) {
      done_bytes_ += chunks_[task.chunk].length;
      --in_flight_;
      free_.push_back(task.chunk);
      return;
    }
    if (stages_[task.stage] == StageKind::kParallel) {
      // Later stages first: finishing chunks frees buffers.
      if (task.stage == 0) {
        parallel_.push_back(task);
      } else {
        parallel_.push_front(task);
      }
      return;
    }
    serial_[task.stage].waiting.emplace(chunks_[task.chunk].sequence, task.chunk);
  }

  // A serial task that may run now, marking its stage busy. mutex_ held. Later stages first.
  std::optional<Task> TakeSerial() {
    for (size_t i = stages_.size(); i-- > 0;) {
      if (stages_[i] == StageKind::kParallel) continue;
      SerialStage& s = serial_[i];
      if (s.busy || s.waiting.empty()) continue;
      auto it = s.waiting.begin();  // the oldest waiting chunk
      if (stages_[i] == StageKind::kSerialInOrder && it->first != s.next_sequence) continue;
      const Task task{it->second, i};
      s.waiting.erase(it);
      s.busy = true;
      return task;
    }
    return std::nullopt;
  }

  PipelineJob& job_;
  const PipelineOptions& options_;
  std::vector<Chunk>& chunks_;
  const std::vector<StageKind> stages_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<size_t> free_;   // buffers nobody uses
  std::deque<Task> parallel_;  // chunks waiting for a parallel stage
  std::vector<SerialStage> serial_;
  size_t in_flight_ = 0;  // chunks produced and not yet through every stage
  bool producing_ = true;
  bool failed_ = false;
  uint64_t done_bytes_ = 0;
  std::optional<Error> error_;
};

}  // namespace

Status RunPipeline(PipelineJob& job, const PipelineOptions& options) {
  if (options.threads == 0 || options.threads > 1024) {
    return InvalidArgument("pipeline: threads must be 1..1024");
  }
  if (options.chunk_bytes == 0 || options.chunk_bytes % kAlignment != 0 ||
      options.chunk_bytes > (size_t{256} << 20)) {
    return InvalidArgument("pipeline: chunk size must be a multiple of 4096 up to 256 MiB");
  }
  if (job.stages().empty()) return InvalidArgument("pipeline: a job needs at least one stage");
  const size_t count = PipelineBuffers(options);
  if (count == 0 || count > 1024) return InvalidArgument("pipeline: 1..1024 buffers");

  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> memory;
  std::vector<Chunk> chunks(count);
  for (Chunk& chunk : chunks) {
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, options.chunk_bytes));
    if (p == nullptr) return ResourceExhausted("pipeline: out of memory for buffers");
    memory.emplace_back(p);
    chunk.buffer = std::span<uint8_t>(p, options.chunk_bytes);
  }

  Run run(job, options, chunks);
  std::vector<std::thread> workers;
  workers.reserve(options.threads);
  try {
    for (size_t w = 0; w < options.threads; ++w) workers.emplace_back([&run, w] { run.Work(w); });
  } catch (const std::system_error& e) {
    run.Fail(Error(ErrorCode::kResourceExhausted,
                   std::string("pipeline: cannot start a thread: ") + e.what()));
  }
  run.Produce();
  for (std::thread& t : workers) t.join();
  run.Report();
  return run.Outcome();
}

}  // namespace veil::image
