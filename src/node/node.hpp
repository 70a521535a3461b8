// `dgrid node`: one process running the services its config enables (provider + juror,
// gateway, storer), each on its own HTTP listener, sharing the chain connection, the SQLite state
// and the metrics registry. DESIGN §2 and §10.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "node/config.hpp"

namespace dgrid::node {

// Sets spdlog's level and format (text, or one JSON object per line) from the config.
void configure_logging(const NodeConfig& config);

class Node {
 public:
  // Loads the key and the deployment, opens DATA_DIR/node.db, starts every enabled service
  // and, for a provider or a storer, registers it on chain (once, with both URLs) and stakes. `progress` gets one line per step.
  static Result<std::unique_ptr<Node>> start(const NodeConfig& config,
                                             const std::function<void(const std::string&)>& progress = {});
  ~Node();

  // Base URLs ("http://127.0.0.1:PORT"); empty when the service is off.
  std::string provider_url() const;
  std::string gateway_url() const;
  std::string storer_url() const;
  std::string address() const;  // the node's account (checksummed)
  // Graceful: stop accepting, let in-flight requests finish, stop loops, close the state.
  void stop();

  struct Impl;

 private:
  Node() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgrid::node
