// Follows contract events: polls eth_getLogs over confirmed blocks in bounded ranges, hands
// each log to a handler in chain order, and persists a cursor in NodeState so a restart
// resumes where the last fully handled range ended. Delivery is at-least-once: a crash or
// a handler failure repeats the current range, so handlers must be idempotent.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "eth/rpc.hpp"
#include "node/state.hpp"

namespace dgrid::node {

struct FollowerOptions {
  std::string stream;                          // the cursor's name in NodeState
  std::vector<Address> addresses;              // empty: any contract
  std::vector<std::optional<Hash32>> topics;   // positional; nullopt matches anything
  uint64_t start_block = 0;                    // first block when no cursor is stored (deployment.block)
  uint64_t confirmations = 0;                  // blocks behind head left unprocessed
  uint64_t max_range = 2'000;                  // blocks per eth_getLogs request and per cursor step
  std::chrono::milliseconds min_backoff{500};  // after a failed poll; doubled up to max_backoff
  std::chrono::milliseconds max_backoff{30'000};
};

// Borrows `rpc` and `state`, which must outlive it. poll_once() and the background thread
// never run at once (an internal mutex); start/stop are for one owning thread.
class EventFollower {
 public:
  // Called once per log, in (block, log index) order. An error stops the pass; the range is
  // delivered again on the next one.
  using Handler = std::function<Result<void>(const eth::Log&)>;

  EventFollower(eth::RpcClient& rpc, NodeState& state, FollowerOptions options, Handler handler);
  ~EventFollower();
  EventFollower(const EventFollower&) = delete;
  EventFollower& operator=(const EventFollower&) = delete;

  // Processes every confirmed block after the cursor, range by range, persisting the cursor
  // after each fully handled range. Returns the number of logs handled. An RPC or handler
  // error returns early; ranges completed before it stay done.
  Result<size_t> poll_once();

  // Polls every `interval` on a thread of its own; failures are logged as warnings and
  // retried with backoff, never thrown. stop() (or destruction) ends it.
  void start(std::chrono::milliseconds interval);
  void stop();

  // The last block fully processed (nullopt before the first).
  Result<std::optional<uint64_t>> cursor() { return state_.cursor(options_.stream); }

 private:
  void run(std::chrono::milliseconds interval);

  eth::RpcClient& rpc_;
  NodeState& state_;
  FollowerOptions options_;
  Handler handler_;

  std::mutex poll_mu_;
  std::mutex wait_mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace dgrid::node
