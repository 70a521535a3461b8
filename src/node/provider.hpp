// The provider service: serves models over the OpenAI-compatible API, gets paid by
// probabilistic tickets (credit per sender), signs a receipt for every job, redeems winning
// tickets on chain in batches, and keeps its registration and stake current
// (docs/protocol.md, DESIGN §5).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "infer/engine.hpp"
#include "market/canonical.hpp"
#include "market/pricing.hpp"
#include "market/ticket_wire.hpp"
#include "net/http_server.hpp"
#include "node/auth.hpp"
#include "node/chain.hpp"
#include "node/config.hpp"
#include "node/metrics.hpp"
#include "node/state.hpp"

namespace dgrid::node {

struct ServedModel {
  std::string name;
  Hash32 id{};  // SHA-256 of the GGUF file: the on-chain model id
  std::filesystem::path path;
  std::shared_ptr<const infer::Model> model;
  market::Price price;
  uint32_t context = 0;
};

// Content id of a model file: SHA-256 of its bytes (what `dgrid model info` prints).
Result<Hash32> model_file_id(const std::filesystem::path& path);

// The engine's request for a canonical request: the one mapping every re-execution uses
// (provider, juror, gateway spot checks, `dgrid verify --reexecute`).
infer::GenerateRequest to_generate_request(const market::CanonicalRequest& c);

// What one executed job produced (the juror and /dgrid/v1/execute use this too).
struct JobOutput {
  market::CanonicalRequest request;
  infer::GenerateResult result;
};

using Metrics = Registry;

// Makes this node's ProviderRegistry record read `uri` and `metadata` (registering it, or
// updating it when either differs) and tops its bonded stake up to `stake`. Shared by the
// provider and by a node that runs only a storer (storers must be active providers).
Result<void> register_and_stake(ChainContext& chain, const std::string& uri, const nlohmann::json& metadata,
                                const u256& stake);

// The registration metadata every node publishes: {"version", "models": [names]}, plus
// "storage": URL when it runs a storer.
nlohmann::json registration_metadata(const std::vector<std::string>& model_names, const std::string& storage_url);

class Provider {
 public:
  // Loads and validates every configured model. Nothing touches the chain yet.
  static Result<std::unique_ptr<Provider>> create(const NodeConfig& config, ChainContext& chain,
                                                  NodeState& state, Metrics& metrics);
  ~Provider();

  void register_routes(net::Router& router);
  // Registers/updates the provider on chain at `public_url`, tops its stake up to the
  // configured amount, declares its models, and starts the head-refresh and redemption loops.
  // `storage_url`: this node's storer, published in the metadata (empty: none).
  Result<void> go_online(const std::string& public_url, const std::string& storage_url = "");
  void stop();

  nlohmann::json info() const;
  const ServedModel* model_by_id(const Hash32& id) const;
  const ServedModel* model_by_name(std::string_view name) const;
  const std::vector<ServedModel>& models() const noexcept { return models_; }

  // Runs a canonical request exactly (no payment, no receipt): the juror's re-execution.
  Result<infer::GenerateResult> execute(const market::CanonicalRequest& request,
                                        const infer::TokenCallback& on_token = {},
                                        const infer::CancelToken* cancel = nullptr) const;

  // One redemption pass (the loop calls this; tests call it directly).
  Result<size_t> redeem_pending();

 private:
  Provider(const NodeConfig& config, ChainContext& chain, NodeState& state, Metrics& metrics);

  market::TicketParams ticket_params() const;
  Result<void> rotate_rand();
  // Validates and credits the tickets of one request; the new balance of the sender.
  Result<u256> accept_tickets(const std::vector<eth::SignedTicket>& tickets);
  Result<u256> max_face_value(const crypto::Address& sender);

  void handle_info(net::Request& req, net::ResponseWriter& w);
  void handle_models(net::Request& req, net::ResponseWriter& w);
  void handle_credit_get(net::Request& req, net::ResponseWriter& w);
  void handle_credit_post(net::Request& req, net::ResponseWriter& w);
  void handle_completion(net::Request& req, net::ResponseWriter& w, bool chat);
  void handle_execute(net::Request& req, net::ResponseWriter& w);
  void handle_receipt(net::Request& req, net::ResponseWriter& w);

  // Shared by completions and /execute: authenticates, credits attached tickets, holds the
  // maximum cost, runs the job, signs and stores the receipt, charges the actual cost.
  struct PaidJob;
  Result<PaidJob> run_paid(net::Request& req, const ServedModel& m, market::CanonicalRequest creq,
                           const infer::TokenCallback& on_token, const infer::CancelToken* cancel);

  void background_loop();

  struct Counters {
    explicit Counters(Metrics& m);
    Counter& jobs;
    Counter& tokens;
    Counter& tickets_received;
    Counter& tickets_won;
    Counter& tickets_redeemed;
    Counter& tickets_expired;
    Counter& cheated;
    Counter& rejected;
  };

  const NodeConfig& config_;
  ChainContext& chain_;
  NodeState& state_;
  Counters m_;
  std::vector<ServedModel> models_;
  RequestVerifier verifier_;
  std::unique_ptr<std::counting_semaphore<1024>> slots_;
  std::atomic<uint32_t> in_flight_{0};

  mutable std::mutex rand_mu_;
  Hash32 rand_secret_{};
  uint64_t rand_index_ = 0;
  u256 rand_ = 0;
  Hash32 rand_hash_{};

  struct SenderCache {
    u256 max_face;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex sender_mu_;
  std::map<crypto::Address, SenderCache> sender_cache_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace dgrid::node
