// Provider scoring, breakers and the weighted pick.
#include "market/routing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dgrid::market {

namespace {

using Clock = ProviderBook::Clock;

std::string short_address(const crypto::Address& a) {
  std::string s = a.checksummed();
  return s.substr(0, 8) + ".." + s.substr(s.size() - 4);
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double ewma(const std::optional<double>& old, double sample, double alpha) {
  return old ? alpha * sample + (1 - alpha) * *old : sample;
}

// A ratio score in (0, 1]: the best value over this one. The +1 keeps zero costs and
// latencies well defined without changing realistic ratios.
double ratio_score(double best, double value) { return (best + 1) / (value + 1); }

}  // namespace

std::string_view breaker_name(BreakerState s) noexcept {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "closed";
}

ProviderBook::ProviderBook(RoutingPolicy policy) : policy_(std::move(policy)) {}

void ProviderBook::upsert(const ProviderEndpoint& e) {
  std::lock_guard lock(mu_);
  endpoints_[{e.address, e.model_id}] = e;
  stats_.try_emplace(e.address);
}

void ProviderBook::remove(const crypto::Address& provider) {
  std::lock_guard lock(mu_);
  std::erase_if(endpoints_, [&](const auto& kv) { return kv.first.first == provider; });
  stats_.erase(provider);
}

void ProviderBook::begin(const crypto::Address& provider) {
  std::lock_guard lock(mu_);
  auto it = stats_.find(provider);
  if (it == stats_.end()) return;
  auto& s = it->second;
  ++s.in_flight;
  if (policy_.breaker_failures > 0 && s.consecutive_failures >= policy_.breaker_failures) s.probe_in_flight = true;
}

void ProviderBook::success(const crypto::Address& provider, double ttft_ms, double per_token_ms) {
  std::lock_guard lock(mu_);
  auto it = stats_.find(provider);
  if (it == stats_.end()) return;  // removed while the request ran
  auto& s = it->second;
  if (s.in_flight > 0) --s.in_flight;
  ++s.successes;
  s.consecutive_failures = 0;
  s.probe_in_flight = false;
  s.success_rate = policy_.ewma_alpha * 1.0 + (1 - policy_.ewma_alpha) * s.success_rate;
  // Negative or NaN timings would poison the averages for good; ignore them.
  if (std::isfinite(ttft_ms) && ttft_ms >= 0) s.ttft_ms = ewma(s.ttft_ms, ttft_ms, policy_.ewma_alpha);
  if (std::isfinite(per_token_ms) && per_token_ms >= 0)
    s.per_token_ms = ewma(s.per_token_ms, per_token_ms, policy_.ewma_alpha);
}

void ProviderBook::failure(const crypto::Address& provider, std::string reason, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = stats_.find(provider);
  if (it == stats_.end()) return;
  auto& s = it->second;
  if (s.in_flight > 0) --s.in_flight;
  ++s.failures;
  ++s.consecutive_failures;
  s.probe_in_flight = false;
  s.success_rate = (1 - policy_.ewma_alpha) * s.success_rate;
  s.last_error = std::move(reason);
  // (Re)opens on reaching the threshold and on every failed half-open probe after it.
  if (policy_.breaker_failures > 0 && s.consecutive_failures >= policy_.breaker_failures) s.opened_at = now;
}

std::vector<ProviderEndpoint> ProviderBook::endpoints() const {
  std::lock_guard lock(mu_);
  std::vector<ProviderEndpoint> out;
  for (const auto& [key, e] : endpoints_) out.push_back(e);
  return out;
}

std::vector<ProviderEndpoint> ProviderBook::endpoints(const Hash32& model) const {
  std::lock_guard lock(mu_);
  std::vector<ProviderEndpoint> out;
  for (const auto& [key, e] : endpoints_)
    if (key.second == model) out.push_back(e);
  return out;
}

std::optional<ProviderStats> ProviderBook::stats(const crypto::Address& provider) const {
  std::lock_guard lock(mu_);
  auto it = stats_.find(provider);
  if (it == stats_.end()) return std::nullopt;
  return it->second;
}

Decision ProviderBook::route(const Hash32& model, uint64_t prompt_tokens, uint32_t max_tokens,
                             const std::vector<crypto::Address>& exclude, std::mt19937_64& rng,
                             Clock::time_point now) const {
  Decision d;
  d.model = model;
  d.prompt_tokens = prompt_tokens;
  d.max_tokens = max_tokens;
  d.policy = policy_;

  {
    std::lock_guard lock(mu_);
    for (const auto& [address, s] : stats_) {
      Scored c;
      auto served = endpoints_.find({address, model});
      if (served != endpoints_.end()) {
        c.endpoint = served->second;
      } else {
        auto any = endpoints_.lower_bound({address, Hash32{}});
        if (any != endpoints_.end() && any->first.first == address) c.endpoint = any->second;
        c.endpoint.address = address;
      }
      c.in_flight = s.in_flight;
      c.success_rate = s.success_rate;
      if (s.ttft_ms && s.per_token_ms) {
        c.latency_known = true;
        c.expected_latency_ms = *s.ttft_ms + max_tokens * *s.per_token_ms;
      }
      const bool tripped = policy_.breaker_failures > 0 && s.consecutive_failures >= policy_.breaker_failures;
      if (tripped) c.breaker = now < s.opened_at + policy_.breaker_cooldown ? BreakerState::open : BreakerState::half_open;

      if (served == endpoints_.end()) {
        c.reason = "model not served";
      } else if (std::find(exclude.begin(), exclude.end(), address) != exclude.end()) {
        c.reason = "excluded (already tried for this request)";
      } else if (c.endpoint.stake == 0) {
        c.reason = "zero stake";
      } else if (c.breaker == BreakerState::open) {
        auto left = std::chrono::duration<double>(s.opened_at + policy_.breaker_cooldown - now).count();
        c.reason = "breaker open after " + std::to_string(s.consecutive_failures) + " failures in a row (" +
                   fixed(left, 1) + " s left; last error: " + s.last_error + ")";
      } else if (c.breaker == BreakerState::half_open && s.probe_in_flight) {
        c.reason = "breaker half-open, probe request in flight";
      } else {
        c.eligible = true;
        c.expected_cost = job_cost(c.endpoint.price, prompt_tokens, max_tokens);
      }
      d.ranked.push_back(std::move(c));
    }
  }

  // Normalize among the eligible: the best of each input scores 1.
  double best_cost = 0, best_latency = 0, top_stake = 0;
  bool any_cost = false, any_latency = false;
  for (const auto& c : d.ranked) {
    if (!c.eligible) continue;
    double cost = c.expected_cost.convert_to<double>();
    best_cost = any_cost ? std::min(best_cost, cost) : cost;
    any_cost = true;
    if (c.latency_known) {
      best_latency = any_latency ? std::min(best_latency, c.expected_latency_ms) : c.expected_latency_ms;
      any_latency = true;
    }
    top_stake = std::max(top_stake, c.endpoint.stake.convert_to<double>());
  }
  const double weight_sum = policy_.w_price + policy_.w_latency + policy_.w_reliability + policy_.w_stake + policy_.w_load;
  for (auto& c : d.ranked) {
    if (!c.eligible) continue;
    // A provider never measured gets the best known latency: new providers get traffic and
    // are measured, rather than starved by a pessimistic guess.
    if (!c.latency_known) c.expected_latency_ms = any_latency ? best_latency : 0;
    c.price = ratio_score(best_cost, c.expected_cost.convert_to<double>());
    c.latency = ratio_score(best_latency, c.expected_latency_ms);
    c.reliability = std::clamp(c.success_rate, 0.0, 1.0);
    c.stake = top_stake > 0 ? c.endpoint.stake.convert_to<double>() / top_stake : 0;
    const double capacity = std::max<uint32_t>(c.endpoint.capacity, 1);
    c.load = 1 - std::min(1.0, c.in_flight / capacity);
    c.total = weight_sum > 0 ? (policy_.w_price * c.price + policy_.w_latency * c.latency +
                                policy_.w_reliability * c.reliability + policy_.w_stake * c.stake +
                                policy_.w_load * c.load) /
                                   weight_sum
                             : 0;
  }
  std::stable_sort(d.ranked.begin(), d.ranked.end(), [](const Scored& a, const Scored& b) {
    if (a.eligible != b.eligible) return a.eligible;
    return a.total > b.total;
  });

  // Weighted pick among the top_k. The floor keeps every one of them in play, so no
  // provider in the top set is starved even when its score is near zero.
  size_t eligible = 0;
  while (eligible < d.ranked.size() && d.ranked[eligible].eligible) ++eligible;
  const size_t k = std::min(eligible, std::max<size_t>(policy_.top_k, 1));
  constexpr double kMinWeight = 1e-3;
  double sum = 0;
  for (size_t i = 0; i < k; ++i) sum += std::max(d.ranked[i].total, kMinWeight);
  for (size_t i = 0; i < k; ++i) d.ranked[i].pick_probability = std::max(d.ranked[i].total, kMinWeight) / sum;
  if (k > 0) {
    // 53 random bits by hand rather than std::uniform_real_distribution, whose output is
    // not specified: the same seed routes the same way with any standard library.
    double u = static_cast<double>(rng() >> 11) * 0x1p-53 * sum;
    size_t pick = k - 1;
    for (size_t i = 0; i < k; ++i) {
      double w = std::max(d.ranked[i].total, kMinWeight);
      if (u < w) {
        pick = i;
        break;
      }
      u -= w;
    }
    const auto& c = d.ranked[pick];
    d.chosen = c.endpoint.address;
    d.summary = "chose " + short_address(c.endpoint.address) + " (" + c.endpoint.url + "): rank " +
                std::to_string(pick + 1) + " of " + std::to_string(eligible) + " eligible, score " + fixed(c.total, 3) +
                ", chance " + fixed(100 * c.pick_probability, 1) + "%";
  } else {
    d.summary = "no eligible provider among " + std::to_string(d.ranked.size()) + " known";
  }
  if (eligible < d.ranked.size()) {
    d.summary += "; not eligible:";
    for (size_t i = eligible; i < d.ranked.size(); ++i)
      d.summary += (i == eligible ? " " : ", ") + short_address(d.ranked[i].endpoint.address) + " " + d.ranked[i].reason;
  }
  return d;
}

nlohmann::json Decision::to_json() const {
  using nlohmann::json;
  auto round3 = [](double v) { return std::round(v * 1000) / 1000; };
  json candidates = json::array();
  for (size_t i = 0; i < ranked.size(); ++i) {
    const auto& c = ranked[i];
    json item = {
        {"rank", c.eligible ? json(i + 1) : json(nullptr)},
        {"address", c.endpoint.address.checksummed()},
        {"url", c.endpoint.url},
        {"eligible", c.eligible},
        {"reason", c.eligible ? (chosen && *chosen == c.endpoint.address ? "chosen" : "eligible") : c.reason},
        {"breaker", breaker_name(c.breaker)},
        {"pick_probability", round3(c.pick_probability)},
    };
    item["inputs"] = {
        {"in_flight", c.in_flight},
        {"capacity", c.endpoint.capacity},
        {"stake", to_dec(c.endpoint.stake)},
        {"success_rate", round3(c.success_rate)},
    };
    if (c.eligible) {
      item["total"] = round3(c.total);
      item["scores"] = {{"price", round3(c.price)},
                        {"latency", round3(c.latency)},
                        {"reliability", round3(c.reliability)},
                        {"stake", round3(c.stake)},
                        {"load", round3(c.load)}};
      item["inputs"]["expected_cost"] = to_dec(c.expected_cost);
      item["inputs"]["expected_latency_ms"] = round3(c.expected_latency_ms);
      item["inputs"]["latency_known"] = c.latency_known;
      item["inputs"]["price"] = price_to_json(c.endpoint.price);
    }
    candidates.push_back(std::move(item));
  }
  return {
      {"model", to_hex(model)},
      {"prompt_tokens", prompt_tokens},
      {"max_tokens", max_tokens},
      {"chosen", chosen ? json(chosen->checksummed()) : json(nullptr)},
      {"summary", summary},
      {"weights",
       {{"price", policy.w_price},
        {"latency", policy.w_latency},
        {"reliability", policy.w_reliability},
        {"stake", policy.w_stake},
        {"load", policy.w_load}}},
      {"top_k", policy.top_k},
      {"candidates", std::move(candidates)},
  };
}

}  // namespace dgrid::market
