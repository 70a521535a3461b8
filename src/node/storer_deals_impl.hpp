// Internals of the deal keeper shared by storer_deals.cpp (events, claims, reports, loops,
// status) and storer_proofs.cpp (segment indexes, proofs, healing). Not a public header.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "eth/bindings.hpp"
#include "node/chain.hpp"
#include "node/follower.hpp"
#include "node/metrics.hpp"
#include "node/state.hpp"
#include "node/storer_deals.hpp"
#include "store/segments.hpp"

namespace dgrid::node {

struct DealKeeper::Impl {
  Impl(ChainContext& chain, NodeState& state, Registry& metrics, store::Blockstore& bs, DealKeeperOptions options,
       PeerSource peers);

  ChainContext& chain;
  NodeState& state;
  store::Blockstore& bs;
  const DealKeeperOptions opt;
  const PeerSource peers;
  const eth::StorageMarketClient& market;
  const Address self;

  Counter& proofs_sent;
  Counter& proofs_failed;
  Counter& refetches;
  Counter& reports;
  Counter& claims;
  Counter& repairs;
  Counter& rejected;
  Gauge& slots_held;
  Gauge& bytes_held;

  std::unique_ptr<EventFollower> follower;
  std::atomic<uint64_t> epoch_length{0};  // 0 until first read from the contract

  // ---- events (storer_deals.cpp)
  Result<void> on_log(const eth::Log& log);
  Result<void> apply(const eth::StorageEvent& e);
  // The StorageMarket events of a receipt, applied at once (the follower sees them again later).
  void apply_receipt(const eth::Receipt& r);
  Result<uint64_t> epoch_len();

  // ---- the work of one pass
  Result<void> sync();
  Result<void> prove_due(uint64_t head);
  Result<void> watch(uint64_t head);
  Result<void> acquire();
  Result<void> acquire_deal(const StorageDealRecord& deal, const std::vector<StorageSlotRecord>& slots);
  void update_gauges();
  Result<void> poll_all();

  // ---- proofs and content (storer_proofs.cpp)
  Result<void> prove_slot(const StorageSlotRecord& slot, uint64_t epoch);
  // A segment proof for challenge `index` of `deal`, checked locally against the deal's
  // root; a failed read or check fetches the content again from peers and retries once.
  Result<store::SegmentProof> make_proof(const StorageDealRecord& deal, const store::Cid& cid, uint64_t index);
  Result<store::SegmentProof> try_proof(const StorageDealRecord& deal, const store::Cid& cid, uint64_t index);
  // The segment index of stored content: cached, else index_dir/<cid>.dgsi, else computed
  // from the blockstore (and written there).
  // The content must be `expected_size` bytes (the deal's size, read from the root block
  // before anything is hashed: a small DAG can claim an absurd size by repeating links).
  Result<std::shared_ptr<const store::SegmentIndex>> index_for(const store::Cid& cid, uint64_t expected_size);
  void forget_index(const store::Cid& cid);
  // Fetches `cid` again from peers (the pin is dropped first: fetch_dag trusts a pin, and a
  // block of this object is gone or bad).
  Result<void> heal(const store::Cid& cid);
  // With the background threads running (start()), a proof that finds bad or missing blocks
  // queues the object here instead of fetching it on the proof thread (a long fetch would
  // make every other slot miss its epoch); the claim thread heals it and the next pass
  // proves. poll_once() (tests, one thread) heals inline.
  bool defer_heal = false;
  void heal_queued();
  // Reads every reachable block of the DAG under `root` once (the blockstore moves bad ones
  // aside); how many were bad.
  size_t scrub(const store::Cid& root);

  // ---- in-memory bookkeeping
  std::mutex mu;  // guards the members below
  std::map<store::Cid, std::shared_ptr<const store::SegmentIndex>> indexes;
  struct Backoff {
    std::chrono::steady_clock::time_point next{};
    std::chrono::milliseconds wait{0};
  };
  std::map<store::Cid, Backoff> fetch_backoff;
  std::set<std::pair<uint64_t, uint32_t>> warned_default;  // (deal, slot) in default, logged once
  std::set<store::Cid> heal_queue;

  // ---- background loops
  std::mutex loop_mu;
  std::condition_variable loop_cv;
  bool stopping = false;
  bool acquire_wake = false;
  std::thread chain_thread;
  std::thread acquire_thread;
};

// A revert naming one of `errors`: a race another party won, not a failure of ours.
bool lost_race(const Error& e, std::initializer_list<std::string_view> errors);
// "b..." text of a stored binary CID (hex when it does not parse).
std::string cid_text(ByteView cid);

}  // namespace dgrid::node
