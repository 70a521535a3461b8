// Job prices: token base units per million tokens, input and output priced apart, and the
// cost of a job, cost = ceil((prompt * input + completion * output) / 1e6).
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "core/u256.hpp"

namespace dgrid::market {

struct Price {
  u256 input_per_million = 0;   // token base units per 1e6 prompt tokens
  u256 output_per_million = 0;  // token base units per 1e6 completion tokens

  bool operator==(const Price&) const = default;
};

// Rounded up, so that a job is never free unless its price is; saturates at 2^256 - 1
// (only reachable with absurd advertised prices, which then simply never fit a credit).
u256 job_cost(const Price& p, uint64_t prompt_tokens, uint64_t completion_tokens) noexcept;
// The most a job may cost: what a provider holds from the sender's credit before running it.
u256 max_job_cost(const Price& p, uint64_t prompt_tokens, uint64_t max_tokens) noexcept;

// {"input": "decimal", "output": "decimal"} (the /info "price" object).
nlohmann::json price_to_json(const Price& p);
Result<Price> price_from_json(const nlohmann::json& j);

}  // namespace dgrid::market
