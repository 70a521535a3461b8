#include "infer/thread_pool.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dgrid::infer {

namespace {

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `value` until it differs from `old` or `spin` passes, then sleeps on it (futex).
// Returns the new value.
uint32_t await_change(const std::atomic<uint32_t>& value, uint32_t old, std::chrono::microseconds spin) {
  const auto deadline = std::chrono::steady_clock::now() + spin;
  while (spin.count() > 0) {
    for (int i = 0; i < 64; ++i) {
      const uint32_t v = value.load(std::memory_order_acquire);
      if (v != old) return v;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  for (;;) {
    value.wait(old, std::memory_order_acquire);
    const uint32_t v = value.load(std::memory_order_acquire);
    if (v != old) return v;
  }
}

}  // namespace

ThreadPool::ThreadPool(size_t threads) {
  // More threads than cores: a polling thread would take a core from one with work.
  const size_t cores = std::thread::hardware_concurrency();
  spin_ = cores != 0 && threads > cores ? std::chrono::microseconds(0) : kSpin;
  for (size_t i = 1; i < (threads == 0 ? 1 : threads); ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  if (workers_.empty()) return;
  {
    std::lock_guard call(call_mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on(const std::function<void(size_t)>& fn, size_t n_tasks) {
  for (;;) {
    const size_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks) return;
    fn(task);
  }
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    seen = await_change(generation_, seen, spin_);
    if (stop_) return;
    work_on(*job_, n_tasks_);
    // After this the worker touches nothing of this loop: run() may return and reuse it.
    checked_in_.fetch_add(1, std::memory_order_release);
    checked_in_.notify_one();
  }
}

void ThreadPool::run(size_t n_tasks, const std::function<void(size_t)>& fn) {
  if (n_tasks == 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (size_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::lock_guard call(call_mutex_);
  job_ = &fn;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  checked_in_.store(0, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  work_on(fn, n_tasks);
  // Every worker checks in once per generation, so none can still be reading job_ (or
  // claim a task of the next loop) after this.
  const auto workers = static_cast<uint32_t>(workers_.size());
  for (uint32_t done = checked_in_.load(std::memory_order_acquire); done < workers;)
    done = await_change(checked_in_, done, spin_);
}

}  // namespace dgrid::infer
