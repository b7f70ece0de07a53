// WorkerPool: the fixed set of threads that run blocking work for the server: request handlers,
// pulls of streamed response bodies, audit emission. Internal to src/http.
//
// New requests enter through TrySubmit(), which refuses once `max_backlog` tasks wait: the server
// then sheds the request (503 with Retry-After) instead of queueing it behind work that may take
// long. Work of requests already admitted (pulls of their response bodies) enters through
// Submit(), which is not bounded: it is bounded by the admitted requests themselves.
//
// Thread-safety: Submit(), TrySubmit() and Stop() are safe from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace veil::http {

class WorkerPool {
 public:
  // `max_backlog` 0: TrySubmit() is not bounded either.
  explicit WorkerPool(int threads, size_t max_backlog = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` (FIFO). Returns false, dropping the task, once Stop() has begun. A task must
  // not throw.
  bool Submit(std::function<void()> task);
  enum class Admission { kQueued, kFull, kStopped };
  // As Submit(), but refused (kFull, the task dropped) when max_backlog tasks already wait.
  Admission TrySubmit(std::function<void()> task);
  // Runs every queued task, then joins the threads. Idempotent; must not be called from a task.
  void Stop();
  // Tasks queued and not yet started.
  size_t backlog() const;

 private:
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  const size_t max_backlog_;
  std::vector<std::thread> threads_;
};

}  // namespace veil::http
