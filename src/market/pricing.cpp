// Job cost arithmetic and the price JSON.
#include "market/pricing.hpp"

#include "market/json_fields.hpp"

namespace dgrid::market {

u256 job_cost(const Price& p, uint64_t prompt_tokens, uint64_t completion_tokens) noexcept {
  using boost::multiprecision::uint512_t;
  // 64-bit counts times 256-bit prices: each product fits 320 bits, their sum 321.
  const uint512_t total = uint512_t(p.input_per_million) * prompt_tokens + uint512_t(p.output_per_million) * completion_tokens;
  const uint512_t million = 1'000'000;
  const uint512_t cost = total / million + (total % million != 0 ? 1 : 0);
  if (cost > uint512_t(~u256(0))) return ~u256(0);
  return static_cast<u256>(cost);
}

u256 max_job_cost(const Price& p, uint64_t prompt_tokens, uint64_t max_tokens) noexcept {
  return job_cost(p, prompt_tokens, max_tokens);
}

nlohmann::json price_to_json(const Price& p) {
  return {{"input", to_dec(p.input_per_million)}, {"output", to_dec(p.output_per_million)}};
}

Result<Price> price_from_json(const nlohmann::json& j) {
  namespace f = json_fields;
  if (auto ok = f::expect_keys(j, {"input", "output"}, "price"); !ok) return std::unexpected(ok.error());
  auto input = f::decimal(j, "input");
  if (!input) return std::unexpected(input.error().context("price"));
  auto output = f::decimal(j, "output");
  if (!output) return std::unexpected(output.error().context("price"));
  return Price{*input, *output};
}

}  // namespace dgrid::market
