#include "market/storage_pricing.hpp"

#include <boost/multiprecision/cpp_int.hpp>

namespace dgrid::market {
namespace {

using u512 = boost::multiprecision::uint512_t;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint32_t kMaxReplicas = 16;  // StorageMarket.MAX_REPLICAS
constexpr uint64_t kSecondsPerYear = 31'536'000;

u256 saturate(const u512& v) {
  static const u512 kMax = u512(~u256(0));
  return v > kMax ? ~u256(0) : u256(v);
}

u512 ceil_div(const u512& a, const u512& b) { return (a + b - 1) / b; }

}  // namespace

Result<EndowmentQuote> quote_endowment(uint64_t size, uint32_t replicas, const StoragePriceParams& p) {
  if (size == 0) return fail(Errc::invalid_argument, "cannot store an empty file: a deal needs at least one byte");
  if (replicas == 0 || replicas > kMaxReplicas) {
    return fail(Errc::invalid_argument, "replicas must be 1.." + std::to_string(kMaxReplicas) + ", got " + std::to_string(replicas));
  }
  if (p.decline_ppm == 0 || p.decline_ppm >= 1'000'000) {
    return fail(Errc::invalid_argument, "the yearly cost decline must be between 0 and 100% (exclusive)");
  }
  EndowmentQuote q;
  q.size = size;
  q.replicas = replicas;
  // E = C / r, with r in ppm: C * 1e6 / r_ppm, rounded up.
  const u512 e = ceil_div(u512(p.cost_per_gib_year) * 1'000'000, p.decline_ppm);
  q.per_gib_per_replica = saturate(e);
  u512 per_replica = ceil_div(e * size, kGiB);
  if (per_replica == 0) per_replica = 1;
  q.per_replica = saturate(per_replica);
  q.total = saturate(per_replica * replicas);
  q.first_year_per_replica = saturate(ceil_div(u512(p.cost_per_gib_year) * size, kGiB));
  return q;
}

uint64_t payout_rate_ppb(uint32_t decline_ppm, uint64_t epoch_seconds) noexcept {
  if (decline_ppm == 0) return 0;
  // r * epochSeconds / secondsPerYear * 1e9 with r = decline_ppm / 1e6, rounded to nearest.
  const u512 num = u512(decline_ppm) * epoch_seconds * 1000;
  const u512 rate = (num + kSecondsPerYear / 2) / kSecondsPerYear;
  if (rate == 0) return 1;
  return rate > 1'000'000'000 ? 1'000'000'000 : static_cast<uint64_t>(rate);
}

u256 endowment_per_gib(const u256& endowment, uint32_t replicas, uint64_t size) noexcept {
  if (replicas == 0 || size == 0) return 0;
  return saturate(u512(endowment) * kGiB / (u512(replicas) * size));
}

nlohmann::json quote_to_json(const EndowmentQuote& q, unsigned decimals) {
  return {{"size", q.size},
          {"replicas", q.replicas},
          {"per_gib_per_replica", format_units(q.per_gib_per_replica, decimals)},
          {"per_replica", format_units(q.per_replica, decimals)},
          {"total", format_units(q.total, decimals)},
          {"first_year_per_replica", format_units(q.first_year_per_replica, decimals)}};
}

}  // namespace dgrid::market
