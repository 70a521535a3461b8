#include "infer/thread_pool.hpp"

namespace dgrid::infer {

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 1; i < (threads == 0 ? 1 : threads); ++i)
    workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on(const std::function<void(size_t)>& fn) {
  for (;;) {
    size_t task;
    {
      std::lock_guard lock(mutex_);
      if (next_task_ >= n_tasks_) return;
      task = next_task_++;
    }
    fn(task);
  }
}

void ThreadPool::worker_loop(size_t /*index*/) {
  size_t seen = 0;
  for (;;) {
    const std::function<void(size_t)>* job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (job_ == nullptr) continue;  // woke after that run() had already finished
      job = job_;
      ++active_;
    }
    work_on(*job);
    {
      std::lock_guard lock(mutex_);
      if (--active_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::run(size_t n_tasks, const std::function<void(size_t)>& fn) {
  if (n_tasks == 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (size_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::lock_guard call(call_mutex_);
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    n_tasks_ = n_tasks;
    next_task_ = 0;
    ++generation_;
  }
  wake_.notify_all();
  work_on(fn);
  std::unique_lock lock(mutex_);
  // Workers that woke for this generation hold active_ until they finish their tasks.
  done_.wait(lock, [&] { return next_task_ >= n_tasks_ && active_ == 0; });
  job_ = nullptr;
}

}  // namespace dgrid::infer
