// The gateway role of a node: the user-facing OpenAI-compatible endpoint that discovers
// providers, routes and fails over, pays them with tickets, verifies and stores their
// receipts, spot-checks a fraction of jobs on another provider and disputes mismatches on
// chain (docs/protocol.md "Gateway endpoints", DESIGN §7, §8).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/u256.hpp"
#include "crypto/address.hpp"
#include "net/http_server.hpp"

namespace dgrid::node {

struct NodeConfig;
class ChainContext;
class NodeState;
class Registry;
using Metrics = Registry;  // node/metrics.hpp

// Everything the gateway reads from the [gateway] config section, in base units and plain
// durations. Tests build one directly to shorten intervals or force spot checks.
struct GatewayOptions {
  std::vector<std::string> api_keys;        // empty: no authentication (dev)
  double spot_check_rate = 0.05;            // floor of the spot-check probability per job
  std::filesystem::path verify_model_dir;   // local GGUF files to re-execute with (optional)
  u256 deposit = 0;                         // TicketBroker deposit kept at least this high
  u256 reserve = 0;                         // TicketBroker reserve kept at least this high
  u256 top_up = 0;                          // credit sent ahead to a provider beyond a job's max cost
  std::chrono::milliseconds discovery_interval{2'000};
  std::chrono::milliseconds check_interval{1'000};  // spot-check and dispute worker period
  size_t max_request_bytes = 1 << 20;
  uint32_t default_max_tokens = 128;
  uint32_t max_attempts = 3;                // providers tried before the first token
  uint64_t confirmations = 0;               // registry events followed this far behind head
  bool start_threads = true;                // false: tests drive discover_once()/check_once()
};

// Reads the gateway's options from a parsed node config.
GatewayOptions gateway_options(const NodeConfig& config);

// Thread-safe: handlers run concurrently on the HTTP server's connection threads while the
// discovery and checker threads run in the background. `chain`, `state` and `metrics` are
// borrowed and must outlive the gateway.
class Gateway {
 public:
  // Ensures the TicketBroker deposit/reserve (approve + fund when below the options), then
  // starts provider discovery (registry events + /info polling) and the spot-check/dispute
  // worker. Errors: chain failures while funding, unusable options.
  static Result<std::unique_ptr<Gateway>> start(const NodeConfig& config, ChainContext& chain,
                                                NodeState& state, Metrics& metrics);
  static Result<std::unique_ptr<Gateway>> start(const GatewayOptions& options, ChainContext& chain,
                                                NodeState& state, Metrics& metrics);
  ~Gateway();  // stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Adds the gateway's routes (/v1/*, /dgrid/v1/receipts/{job_id}, /dgrid/v1/route/explain,
  // /dgrid/v1/stats). The router must not be used until this returns; the gateway must
  // outlive every server that serves it. /metrics and /healthz belong to the node runner.
  void register_routes(net::Router& router);

  // What GET /dgrid/v1/stats returns: requests, tokens, per-provider shares, tickets sent,
  // spot checks, mismatches, disputes opened/won/lost, known providers.
  nlohmann::json stats() const;

  // One discovery pass: follows registry events, refreshes on-chain provider records and
  // polls every known provider's /info. The discovery thread calls it periodically.
  Result<void> discover_once();
  // One pass of the checker: runs pending spot checks and advances open disputes. Safe to
  // call while the checker thread runs (passes take turns).
  void check_once();

  // Stops the background threads and joins them. Idempotent; in-flight requests finish.
  void stop();

  struct Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgrid::node
