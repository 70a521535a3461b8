// The pool runs every task exactly once per call, whatever the thread count, call sizes and
// callers; workers that sleep between calls wake for the next one.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "infer/thread_pool.hpp"

namespace dgrid::infer {
namespace {

TEST(ThreadPool, EveryTaskRunsExactlyOnceInManyShortCalls) {
  for (size_t threads : {1ul, 2ul, 3ul, 5ul}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t call = 0; call < 2000; ++call) {
      const size_t n = call % 17;  // 0, 1 (inline) and more tasks than threads
      std::vector<std::atomic<int>> hits(n);
      pool.run(n, [&](size_t i) { hits[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " call " << call;
    }
  }
}

TEST(ThreadPool, WorkersAsleepWakeForTheNextCall) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    // Longer than the spin phase: the workers go to sleep on the futex.
    std::this_thread::sleep_for(ThreadPool::kSpin * 5);
    std::atomic<size_t> sum{0};
    std::vector<std::thread::id> who(64);
    pool.run(64, [&](size_t i) {
      sum.fetch_add(i);
      who[i] = std::this_thread::get_id();
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // long enough to share
    });
    EXPECT_EQ(sum.load(), 64u * 63u / 2u);
    std::sort(who.begin(), who.end());
    EXPECT_GT(std::unique(who.begin(), who.end()) - who.begin(), 1) << "only one thread worked";
  }
}

TEST(ThreadPool, ConcurrentCallersAreSerializedAndComplete) {
  ThreadPool pool(2);
  std::atomic<size_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int k = 0; k < 300; ++k) pool.run(7, [&](size_t) { total.fetch_add(1); });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4u * 300u * 7u);
}

}  // namespace
}  // namespace dgrid::infer
