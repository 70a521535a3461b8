// Spot-check probability and the keyed per-job draw.
#include "market/spot_check.hpp"

#include <algorithm>

#include "crypto/keccak.hpp"

namespace dgrid::market {

double spot_check_probability(const SpotCheckPolicy& policy, const u256& job_cost) noexcept {
  const double floor = std::clamp(policy.rate, 0.0, 1.0);
  if (policy.slash_amount == 0) return 1.0;
  // Doubles are fine here: this is a probability, not money; 53 bits of the ratio suffice.
  const double ratio = policy.cost_factor * job_cost.convert_to<double>() / policy.slash_amount.convert_to<double>();
  return std::clamp(std::max(floor, ratio), 0.0, 1.0);
}

bool should_spot_check(const SpotCheckPolicy& policy, const Hash32& job_id, const Hash32& secret,
                       const u256& job_cost) noexcept {
  const double p = spot_check_probability(policy, job_cost);
  if (p >= 1.0) return true;
  crypto::Keccak256 h;
  h.update(secret);
  h.update(job_id);
  const Hash32 d = h.finalize();
  uint64_t top = 0;
  for (int i = 0; i < 8; ++i) top = (top << 8) | d[static_cast<size_t>(i)];
  const double u = static_cast<double>(top >> 11) * 0x1p-53;
  return u < p;
}

}  // namespace dgrid::market
