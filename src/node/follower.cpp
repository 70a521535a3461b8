#include "node/follower.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace dgrid::node {

EventFollower::EventFollower(eth::RpcClient& rpc, NodeState& state, FollowerOptions options, Handler handler)
    : rpc_(rpc), state_(state), options_(std::move(options)), handler_(std::move(handler)) {
  options_.max_range = std::max<uint64_t>(options_.max_range, 1);
}

EventFollower::~EventFollower() { stop(); }

Result<size_t> EventFollower::poll_once() {
  std::lock_guard lock(poll_mu_);
  const std::string& name = options_.stream;
  auto head = rpc_.block_number();
  if (!head) return std::unexpected(head.error().context("follower " + name + ": reading the head block"));
  if (*head < options_.confirmations) return size_t{0};
  const uint64_t safe = *head - options_.confirmations;
  auto cur = state_.cursor(name);
  if (!cur) return std::unexpected(cur.error());
  uint64_t from = *cur ? **cur + 1 : options_.start_block;

  size_t handled = 0;
  while (from <= safe && !stopping_.load()) {
    const uint64_t to = std::min(safe, from + (options_.max_range - 1));
    eth::LogFilter filter{options_.addresses, options_.topics, from, to};
    auto logs = rpc_.logs(filter);
    if (!logs)
      return std::unexpected(logs.error().context("follower " + name + ": logs of blocks " + std::to_string(from) +
                                                  ".." + std::to_string(to)));
    // Nodes return logs in chain order already; sorting makes that a guarantee.
    std::stable_sort(logs->begin(), logs->end(), [](const eth::Log& a, const eth::Log& b) {
      return a.block_number != b.block_number ? a.block_number < b.block_number : a.log_index < b.log_index;
    });
    for (const auto& log : *logs) {
      if (log.removed) continue;  // only reorg notifications carry it; confirmations cover reorgs
      if (auto r = handler_(log); !r)
        return std::unexpected(r.error().context("follower " + name + ": handling the log at block " +
                                                 std::to_string(log.block_number) + " index " +
                                                 std::to_string(log.log_index)));
      ++handled;
    }
    if (auto r = state_.set_cursor(name, to); !r) return std::unexpected(r.error());
    from = to + 1;
  }
  return handled;
}

void EventFollower::start(std::chrono::milliseconds interval) {
  stop();
  stopping_ = false;
  thread_ = std::thread([this, interval] { run(interval); });
}

void EventFollower::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventFollower::run(std::chrono::milliseconds interval) {
  auto backoff = options_.min_backoff;
  while (!stopping_.load()) {
    auto wait = interval;
    try {
      auto r = poll_once();
      if (r) {
        backoff = options_.min_backoff;
      } else {
        spdlog::warn("{}; retrying in {} ms", r.error().to_string(), backoff.count());
        wait = backoff;
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    } catch (const std::exception& e) {
      // A throwing handler must not take the node down with it.
      spdlog::error("follower {}: {}; retrying in {} ms", options_.stream, e.what(), backoff.count());
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    std::unique_lock lock(wait_mu_);
    wake_.wait_for(lock, wait, [this] { return stopping_.load(); });
  }
}

}  // namespace dgrid::node
