// Spot checks: how often the gateway re-executes a job to catch a cheating provider, and the
// per-job decision. With detection probability p and slash S, cheating on a job worth g is
// unprofitable when p * S > g (DESIGN §7, docs/economics.md); the probability rises with the
// job's cost so that this holds by a margin for expensive jobs too.
// Pure functions; thread-safe.
#pragma once

#include "core/u256.hpp"

namespace dgrid::market {

struct SpotCheckPolicy {
  double rate = 0.05;        // floor on the probability, for every job
  double cost_factor = 10;   // k: p * S >= k * cost
  u256 slash_amount = 0;     // S: what a provider caught cheating loses
};

// max(rate, k * cost / S), capped at 1 (1 when S is 0: nothing deters cheating, check all).
double spot_check_probability(const SpotCheckPolicy& policy, const u256& job_cost) noexcept;

// Deterministic in (secret, job_id): the top 53 bits of keccak256(secret || job_id) as a
// fraction in [0, 1) below the probability. The provider cannot predict which jobs get
// checked without the gateway's secret, and a restarted gateway decides the same way.
bool should_spot_check(const SpotCheckPolicy& policy, const Hash32& job_id, const Hash32& secret,
                       const u256& job_cost) noexcept;

}  // namespace dgrid::market
