// A fixed set of persistent worker threads running one parallel loop at a time. Callers
// from several threads (concurrent sessions) are serialized; the calling thread takes part.
// Thread-safe. The pool must outlive every call to run().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dgrid::infer {

class ThreadPool {
 public:
  // threads >= 1 (1 means the caller does everything, no workers are started).
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const noexcept { return workers_.size() + 1; }

  // Calls fn(i) once for each i in [0, n_tasks), spread over the threads; returns when all
  // are done. Which thread runs which task varies; results must not depend on it.
  void run(size_t n_tasks, const std::function<void(size_t)>& fn);

 private:
  void worker_loop(size_t index);
  void work_on(const std::function<void(size_t)>& fn);

  std::mutex call_mutex_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t n_tasks_ = 0;
  size_t next_task_ = 0;
  size_t active_ = 0;
  size_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace dgrid::infer
