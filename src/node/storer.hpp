// The storer service of `dgrid node` (DESIGN §9, docs/protocol.md "Storage"): a blockstore
// under DATA_DIR/store, a trustless-gateway HTTP API (GET/HEAD /ipfs/{cid}, Range,
// ?format=car|raw), an authenticated upload (CAR batches, then a pin), and the deal keeper
// (storer_deals.hpp) that claims slots, fetches content, proves storage every epoch, reports
// missed proofs of others and repairs reopened slots.
#pragma once

#include <memory>
#include <string>

#include "net/http_server.hpp"
#include "node/config.hpp"
#include "store/blockstore.hpp"

namespace dgrid::node {

class ChainContext;
class NodeState;
class Registry;
class DealKeeper;

class Storer {
 public:
  // Opens DATA_DIR/store (blockstore, segment indexes). Does not touch the chain yet.
  static Result<std::unique_ptr<Storer>> create(ChainContext& chain, NodeState& state, Registry& metrics,
                                                const NodeConfig& config);
  ~Storer();

  // Routes of the storer listener (its own HttpServer: uploads need a larger body limit).
  void add_routes(net::Router& r);
  // Starts the deal keeper (event follower + epoch loop). The node must already be an active
  // registry provider (claimSlot requires it); Node::start registers it first.
  Result<void> start(const std::string& public_url);
  void stop();

  store::Blockstore& blockstore() noexcept;
  DealKeeper& deals() noexcept;

  struct Impl;

 private:
  Storer() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgrid::node
