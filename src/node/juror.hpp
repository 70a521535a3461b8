// The juror service of a provider: watches the Disputes contract, and when drawn for a case
// re-executes the disputed canonical request with its own deterministic engine, commits a
// vote, reveals it after the commit window, and resolves and claims afterwards. Every step
// is recorded in NodeState before the transaction is sent, so a restart resumes where it
// stopped (a committed vote is always revealed with the same salt).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "node/chain.hpp"
#include "node/follower.hpp"
#include "node/metrics.hpp"
#include "node/provider.hpp"
#include "node/state.hpp"

namespace dgrid::node {

class Juror {
 public:
  static Result<std::unique_ptr<Juror>> start(const NodeConfig& config, ChainContext& chain, NodeState& state,
                                              Metrics& metrics, const Provider& provider);
  ~Juror();
  void stop();
  // One pass: read new Disputes events, then act on every open case (tests call this).
  Result<void> poll_once();

 private:
  Juror(const NodeConfig& config, ChainContext& chain, NodeState& state, Metrics& metrics, const Provider& provider);
  Result<void> on_event(const eth::Log& log);
  Result<void> act(nlohmann::json& d);
  void loop();

  const NodeConfig& config_;
  ChainContext& chain_;
  NodeState& state_;
  Counter& reexecutions_;
  Counter& votes_;
  const Provider& provider_;
  std::unique_ptr<EventFollower> follower_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dgrid::node
