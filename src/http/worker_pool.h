// WorkerPool: the fixed set of threads that run blocking work for the server: request handlers,
// pulls of streamed response bodies, audit emission. Internal to src/http.
//
// Thread-safety: Submit() and Stop() are safe from any thread.
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
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` (FIFO). Returns false, dropping the task, once Stop() has begun. A task must
  // not throw.
  bool Submit(std::function<void()> task);
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
  std::vector<std::thread> threads_;
};

}  // namespace veil::http
