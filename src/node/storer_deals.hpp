// The storer's side of StorageMarket deals (DESIGN §9, docs/economics.md §4): follows the
// contract's events into NodeState, claims open slots of deals it accepts (price, capacity)
// once it holds the content (fetched by CID from the uploader's storer or other replicas and
// checked against the deal's segment root), answers its challenge every epoch with a segment
// and Merkle path (re-fetching a block that fails verification from another replica), reports
// other storers' missed proofs, and claims reopened slots to repair lost replicas.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/u256.hpp"
#include "crypto/address.hpp"
#include "store/blockstore.hpp"
#include "store/cid.hpp"

namespace dgrid::node {

class ChainContext;
class NodeState;
class Registry;

struct DealKeeperOptions {
  std::filesystem::path index_dir;       // segment indexes: <cid>.dgsi
  uint64_t capacity_bytes = 0;           // 0: unlimited; deals that do not fit are not claimed
  u256 min_endowment_per_gib = 0;        // per replica slot, token base units; cheaper deals are not claimed
  uint64_t max_object_bytes = 0;         // 0: unlimited
  bool claim = true;                     // claim open slots of new deals
  bool watch = true;                     // report other storers' missed proofs (reporter reward)
  bool repair = true;                    // claim reopened slots
  std::chrono::milliseconds poll_interval{500};
};

// A deal as the contract's events describe it.
struct DealInfo {
  uint64_t id = 0;
  crypto::Address client;
  store::Cid cid;
  Hash32 segment_root{};
  uint64_t size = 0;
  uint32_t replicas = 0;
  u256 endowment = 0;
};

// Borrows chain, state, metrics and bs, which must outlive it. Registers its metrics in
// `metrics` (once per registry: a second keeper needs its own). Chain state lives in
// NodeState (follower stream "storer.deals"), so a keeper recreated over the same state and
// blockstore carries on proving its slots. deal_for, on_pinned and status_json are
// thread-safe; poll_once and start/stop are for one owning thread, never both.
class DealKeeper {
 public:
  // Where to fetch content from: base URLs of other storers (the caller excludes itself).
  using PeerSource = std::function<std::vector<std::string>()>;
  DealKeeper(ChainContext& chain, NodeState& state, Registry& metrics, store::Blockstore& bs,
             DealKeeperOptions options, PeerSource peers);
  ~DealKeeper();

  // One pass: new events, then due work (proofs, reports, claims, fetches). Tests drive this.
  // Every part runs; the first error is returned (a race lost to another storer is none).
  Result<void> poll_once();
  // Two threads every poll_interval: events, proofs and reports on one, claims and fetches on
  // the other (a long fetch never delays a proof). stop() (or destruction) ends them.
  void start();
  void stop();

  // The newest deal for `cid` whose client is `client` (upload authorization).
  std::optional<DealInfo> deal_for(const store::Cid& cid, const crypto::Address& client) const;
  // Content for a deal arrived (an upload was pinned): claim without waiting for a fetch.
  void on_pinned(const store::Cid& cid);
  // Deals and slots this storer holds, with last proofs and payouts (GET /dgrid/v1/store/deals).
  nlohmann::json status_json() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgrid::node
