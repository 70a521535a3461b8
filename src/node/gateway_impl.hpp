// The gateway's internals shared by gateway_*.cpp: the provider directory, the credit
// ledger per provider, counters, and the Impl every handler and worker works on.
// Not a public header: only the gateway's own files include it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "market/canonical.hpp"
#include "market/pricing.hpp"
#include "market/receipt.hpp"
#include "market/routing.hpp"
#include "market/spot_check.hpp"
#include "market/ticket_wire.hpp"
#include "net/http_client.hpp"
#include "node/chain.hpp"
#include "node/follower.hpp"
#include "node/gateway.hpp"
#include "node/metrics.hpp"
#include "node/state.hpp"

namespace dgrid::infer {
class Model;
}

namespace dgrid::node {

using Clock = std::chrono::steady_clock;

// One model as a provider's /info offers it.
struct ModelOffer {
  std::string name;
  Hash32 model_id{};
  uint32_t context = 0;
  market::Price price;
};

// What the gateway knows about one provider: its on-chain record and its last /info.
struct ProviderRecord {
  crypto::Address address;
  std::string url;  // the registry's uri, without a trailing '/'
  bool active = false;
  u256 stake = 0;
  std::vector<Hash32> chain_models;
  bool live = false;  // the last /info poll succeeded and agreed with the chain
  std::vector<ModelOffer> offers;  // only models the provider also declared on chain
  uint32_t capacity = 0;
  uint32_t in_flight = 0;
  std::optional<market::TicketParams> ticket_params;
  std::string last_error;
  std::optional<Clock::time_point> last_seen;

  const ModelOffer* offer(const Hash32& model) const;
};

// The gateway's view of its credit at one provider (DESIGN §5): what the provider said it
// held for us when last asked, plus ticket EV sent since, minus receipt costs since. Jobs in
// flight reserve their maximum cost so that concurrent requests do not overdraw.
struct CreditLedger {
  std::mutex mu;
  bool synced = false;  // false: ask the provider before trusting `known`
  u256 known = 0;
  u256 reserved = 0;
};

// A payment prepared for one call to a provider.
struct Payment {
  crypto::Address provider;
  u256 reserved = 0;  // max cost reserved in the ledger until settle_payment
  std::vector<eth::SignedTicket> tickets;
  u256 ev = 0;        // total expected value of `tickets`
};

// Counters behind /dgrid/v1/stats (metrics mirror most of them).
struct GatewayStats {
  std::atomic<uint64_t> requests{0}, requests_failed{0}, failovers{0};
  std::atomic<uint64_t> prompt_tokens{0}, completion_tokens{0};
  std::atomic<uint64_t> tickets_sent{0};
  std::atomic<uint64_t> receipts_stored{0}, receipts_invalid{0};
  std::atomic<uint64_t> spot_checks{0}, spot_matches{0}, spot_mismatches{0}, spot_errors{0};
  std::atomic<uint64_t> disputes_opened{0}, disputes_won{0}, disputes_lost{0}, disputes_other{0};
  std::mutex mu;  // guards the maps below
  u256 ticket_ev_sent = 0;
  struct PerProvider {
    uint64_t jobs = 0, tokens = 0, failures = 0;
    u256 cost = 0;
  };
  std::map<crypto::Address, PerProvider> providers;
};

// What accept_receipt does with a receipt that passes every check.
enum class ReceiptUse {
  verify_only,
  store_only,             // a spot check's own job: stored, never checked in turn
  store_and_maybe_check,  // a user's job: stored, and spot-checked when should_spot_check says so
};

// The gateway's Prometheus metrics, registered once per registry.
struct GatewayMetrics {
  explicit GatewayMetrics(Metrics& r);
  Counter& requests;
  Counter& requests_failed;
  Counter& failovers;
  Family<Counter>& tokens;    // kind = prompt | completion
  Counter& tickets_sent;
  Counter& ticket_ev_sent;    // token base units
  Counter& receipts;
  Counter& receipts_invalid;
  Family<Counter>& spot_checks;  // result = match | mismatch | error
  Family<Counter>& disputes;     // event = opened | won | lost | other
  Gauge& providers_live;
  Histogram& ttft;            // seconds to the first token (streams)
};

// A response from a provider for a job that finished (its receipt fields parsed).
struct VerifiedJob {
  market::SignedReceipt receipt;
  Bytes request;
  market::CanonicalRequest canonical;
};

// An independent execution of a job: its output hash and who produced it (nullopt: the
// gateway's own engine).
struct Reexecution {
  Hash32 output_hash{};
  std::optional<crypto::Address> by;
  std::optional<Hash32> job_id;  // the checker's own signed job (remote re-executions)
};

struct Gateway::Impl {
  Impl(GatewayOptions o, ChainContext& c, NodeState& s, Metrics& m);

  GatewayOptions options;
  ChainContext& chain;
  NodeState& state;
  GatewayMetrics metrics;

  market::ProviderBook book;
  market::TicketIssuer issuer;
  market::SpotCheckPolicy spot_policy;
  Hash32 spot_secret{};
  u256 challenge_bond = 0;
  net::HttpClient http;
  std::unique_ptr<EventFollower> follower;

  mutable std::mutex dir_mu;  // guards providers and dirty
  std::map<crypto::Address, ProviderRecord> providers;
  std::vector<crypto::Address> dirty;  // registry events seen: refresh the on-chain record

  std::mutex ledger_mu;  // guards the map, not the ledgers
  std::map<crypto::Address, std::unique_ptr<CreditLedger>> ledgers;

  std::mutex rng_mu;
  std::mt19937_64 rng;

  GatewayStats stats;

  std::mutex local_mu;  // local re-execution models by id, hashed and loaded lazily
  std::vector<std::filesystem::path> local_paths;
  std::set<std::filesystem::path> local_hashed;
  std::map<Hash32, std::filesystem::path> local_files;
  std::map<Hash32, std::shared_ptr<const infer::Model>> local_models;

  std::mutex check_mu;  // one check_once() pass at a time
  // Spot checks nobody could run yet (guarded by check_mu).
  std::map<Hash32, uint32_t> spot_attempts;
  std::map<Hash32, Clock::time_point> spot_retry_at;

  std::mutex dispute_mu;  // one dispute pass at a time

  std::mutex loop_mu;
  std::condition_variable loop_cv;
  bool stopping = false;
  std::thread discovery_thread;
  std::thread checker_thread;

  // ---- gateway.cpp ----
  uint64_t random_u64();

  // ---- gateway_discovery.cpp ----
  Result<void> discover_once();
  Result<void> load_known_providers();
  void save_known_providers();
  void refresh_chain_record(const crypto::Address& who);
  void poll_info(const crypto::Address& who);
  std::optional<ProviderRecord> provider(const crypto::Address& who) const;
  // Live providers offering the model, and the model id a name resolves to.
  std::optional<Hash32> resolve_model(std::string_view name) const;
  nlohmann::json models_json() const;

  // ---- gateway_credit.cpp ----
  CreditLedger& ledger(const crypto::Address& provider);
  Result<u256> read_remote_credit(const ProviderRecord& p);
  // Reserves max_cost and issues tickets when the ledger is short of max_cost + top_up.
  // force_sync re-reads the provider's balance first (after a 402).
  Result<Payment> prepare_payment(const ProviderRecord& p, const u256& max_cost, bool force_sync);
  // charged: the receipt's cost; nullopt when the job failed. uncertain: the request may
  // have reached the provider with tickets, so the ledger must be re-read before use.
  void settle_payment(const Payment& pay, const std::optional<u256>& charged, bool uncertain);
  // Headers for a paid request: X-Dgrid-Auth over (method, path, body) and the tickets.
  net::Headers paid_headers(std::string_view method, std::string_view path, std::string_view body,
                            const Payment& pay) const;

  // ---- gateway_verify.cpp ----
  // Checks a receipt returned for `request_hex` from `expected_provider`; on success stores
  // it and its job (deciding the spot check). The error says what was wrong.
  Result<VerifiedJob> accept_receipt(const nlohmann::json& receipt_json, const nlohmann::json& request_hex,
                                     const crypto::Address& expected_provider, const Hash32& expected_model,
                                     std::optional<uint64_t> expected_seed, const market::Price& price,
                                     ReceiptUse use);
  void index_local_models();
  void check_once();
  void run_spot_check(JobRecord job);
  // Re-executes a job's request: on the local engine when it has the model, else on a live
  // provider not in `exclude` (paid, its receipt verified and stored).
  Result<Reexecution> reexecute(const JobRecord& job, const market::CanonicalRequest& req,
                                std::vector<crypto::Address> exclude);
  Result<Reexecution> reexecute_remote(const JobRecord& job, const market::CanonicalRequest& req,
                                       std::vector<crypto::Address> exclude);
  Result<std::optional<Hash32>> reexecute_local(const market::CanonicalRequest& req);
  // ---- gateway_dispute.cpp ----
  // Durably notes that a job's receipt should be disputed with this output hash.
  Result<void> record_dispute_intent(const Hash32& job_id, const Hash32& challenger_output_hash);
  void advance_disputes();
  Result<void> open_dispute(const nlohmann::json& intent);
  Result<void> advance_dispute(const DisputeRecord& rec);

  void loop(std::chrono::milliseconds interval, void (Impl::*step)());
  void discovery_step();
  void checker_step();
};

// The follower of ProviderRegistry events (gateway_discovery.cpp).
Result<std::unique_ptr<EventFollower>> make_registry_follower(Gateway::Impl& g);

// Handlers (gateway_relay.cpp).
void handle_completion(Gateway::Impl& g, net::Request& req, net::ResponseWriter& w, bool chat);

}  // namespace dgrid::node
