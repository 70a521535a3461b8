// A fixed set of persistent worker threads running one parallel loop at a time. Callers
// from several threads (concurrent sessions) are serialized; the calling thread takes part.
// Thread-safe. The pool must outlive every call to run().
//
// A forward pass runs a few hundred short loops per token, so waking the workers is on the
// critical path: between loops they spin for a short while (kSpin) before sleeping on a
// futex, and every worker checks in once per loop, which is what lets the loop's state be
// plain fields published by one atomic generation counter.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
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

  // How long an idle thread polls before it sleeps (not at all when the pool has more
  // threads than the machine has cores).
  static constexpr std::chrono::microseconds kSpin{200};

 private:
  void worker_loop();
  void work_on(const std::function<void(size_t)>& fn, size_t n_tasks);

  std::mutex call_mutex_;  // one run() at a time
  std::vector<std::thread> workers_;
  // The current loop: written by run() before generation_ is incremented (release), read by
  // the workers after they see the new value (acquire).
  const std::function<void(size_t)>* job_ = nullptr;
  size_t n_tasks_ = 0;
  bool stop_ = false;
  std::chrono::microseconds spin_;
  std::atomic<uint32_t> generation_{0};
  std::atomic<size_t> next_task_{0};
  std::atomic<uint32_t> checked_in_{0};  // workers done with the current generation
};

}  // namespace dgrid::infer
