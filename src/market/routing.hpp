// Gateway routing (DESIGN §8): a live table of providers with per-provider statistics, a
// score per candidate from price, latency, reliability, stake and load, a weighted random
// pick among the best few (so traffic does not herd onto one provider), circuit breakers,
// and an explanation of every decision (what `dgrid route explain` prints).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/u256.hpp"
#include "crypto/address.hpp"
#include "market/pricing.hpp"

namespace dgrid::market {

// One model a provider serves, as discovered from the registry and its /info.
struct ProviderEndpoint {
  crypto::Address address;
  std::string url;  // base URL of the provider's HTTP API
  Hash32 model_id{};
  Price price;
  u256 stake = 0;
  uint32_t capacity = 1;  // concurrent jobs it advertises

  bool operator==(const ProviderEndpoint&) const = default;
};

struct RoutingPolicy {
  // Score weights; the total is the weighted mean of the component scores, each in [0, 1].
  double w_price = 1;
  double w_latency = 1;
  double w_reliability = 2;
  double w_stake = 0.25;
  double w_load = 0.5;
  size_t top_k = 3;               // pick at random among this many best eligible candidates
  uint32_t breaker_failures = 3;  // consecutive failures that open a breaker (0: never)
  std::chrono::milliseconds breaker_cooldown{10'000};
  double ewma_alpha = 0.2;  // weight of the newest sample in latency and success averages
};

enum class BreakerState { closed, open, half_open };
std::string_view breaker_name(BreakerState s) noexcept;

// A candidate as route() saw it: inputs, normalized component scores (1 = best) and total.
struct Scored {
  ProviderEndpoint endpoint;  // for a provider not serving the model: one of its endpoints
  bool eligible = false;
  std::string reason;  // why not eligible; empty when eligible
  BreakerState breaker = BreakerState::closed;
  // Inputs.
  u256 expected_cost = 0;            // job_cost(price, prompt, max_tokens)
  double expected_latency_ms = 0;    // ttft + max_tokens * per-token, EWMA
  bool latency_known = false;        // false: an optimistic prior stood in
  double success_rate = 1;           // EWMA of successes, starts at 1
  uint32_t in_flight = 0;
  // Component scores in [0, 1] and the weighted mean of them.
  double price = 0, latency = 0, reliability = 0, stake = 0, load = 0;
  double total = 0;
  double pick_probability = 0;  // chance route() had of choosing it
};

struct Decision {
  Hash32 model{};
  uint64_t prompt_tokens = 0;
  uint32_t max_tokens = 0;
  RoutingPolicy policy;
  std::vector<Scored> ranked;  // eligible by total (best first), then the ineligible ones
  std::optional<crypto::Address> chosen;
  std::string summary;  // one line for logs

  // {"model","prompt_tokens","max_tokens","chosen","summary","weights":{...},
  //  "candidates":[{"rank","address","url","eligible","reason","breaker","pick_probability",
  //                 "total","scores":{...},"inputs":{...}}]}
  nlohmann::json to_json() const;
};

// Live statistics of one provider. Shared by all the models it serves: failures are mostly
// about the machine, and a per-model split would starve rarely used models of samples.
struct ProviderStats {
  uint64_t successes = 0;
  uint64_t failures = 0;
  uint32_t consecutive_failures = 0;
  uint32_t in_flight = 0;
  double success_rate = 1;                 // EWMA; optimistic start
  std::optional<double> ttft_ms;           // EWMA; nullopt until the first success
  std::optional<double> per_token_ms;      // EWMA
  std::chrono::steady_clock::time_point opened_at{};  // when the breaker last opened
  bool probe_in_flight = false;            // half-open: one request let through
  std::string last_error;
};

// The gateway's provider table. All members are thread-safe (one mutex inside); route() does
// not change the book: call begin() for the chosen provider, then success() or failure().
class ProviderBook {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ProviderBook(RoutingPolicy policy = {});

  const RoutingPolicy& policy() const noexcept { return policy_; }

  // Adds or replaces the endpoint for (address, model_id). Statistics are kept.
  void upsert(const ProviderEndpoint& e);
  // Drops every endpoint and the statistics of a provider.
  void remove(const crypto::Address& provider);

  // A request to `provider` starts (in-flight + 1). While its breaker is half-open this
  // request is the probe; no other is let through until it ends. (Two route() calls racing
  // before either begin() can both pick a half-open provider: a rare second probe, no harm.)
  void begin(const crypto::Address& provider);
  // It ended well (in-flight - 1): closes the breaker and updates the latency averages.
  void success(const crypto::Address& provider, double ttft_ms, double per_token_ms);
  // It failed (in-flight - 1); breaker_failures in a row open the breaker for the cooldown.
  void failure(const crypto::Address& provider, std::string reason, Clock::time_point now = Clock::now());

  std::vector<ProviderEndpoint> endpoints() const;
  std::vector<ProviderEndpoint> endpoints(const Hash32& model) const;
  std::optional<ProviderStats> stats(const crypto::Address& provider) const;

  // Scores every known provider for a job and picks one at random among the top_k eligible,
  // with probability proportional to the total score. `exclude` lists providers already
  // tried for this request. chosen is empty when none is eligible.
  Decision route(const Hash32& model, uint64_t prompt_tokens, uint32_t max_tokens,
                 const std::vector<crypto::Address>& exclude, std::mt19937_64& rng,
                 Clock::time_point now = Clock::now()) const;

 private:
  const RoutingPolicy policy_;
  mutable std::mutex mu_;
  std::map<std::pair<crypto::Address, Hash32>, ProviderEndpoint> endpoints_;
  std::map<crypto::Address, ProviderStats> stats_;
};

}  // namespace dgrid::market
