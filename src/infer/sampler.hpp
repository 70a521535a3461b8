// Token sampling: greedy, temperature, top-k, top-p, with a counter-based RNG keyed by
// (seed, position) so that a sample depends on nothing but its inputs (docs/determinism.md).
// Pure functions are thread-safe; a Sampler holds scratch space: one per thread.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace dgrid::infer {

struct SamplerParams {
  float temperature = 0.0f;  // 0: greedy (argmax, lowest id on ties)
  uint32_t top_k = 0;        // 0: no limit
  float top_p = 1.0f;        // in (0, 1]
  uint64_t seed = 0;
};

// invalid_argument for a negative or non-finite temperature, top_p outside (0, 1], or
// top_k larger than the vocabulary.
Result<void> validate_sampler_params(const SamplerParams& p, uint32_t vocab);

// SplitMix64's finalizer; the RNG's mixing function.
uint64_t mix64(uint64_t x) noexcept;
// Uniform in [0, 1) with 24 random bits: (mix64(seed ^ mix64(position)) >> 40) * 2^-24.
float uniform01(uint64_t seed, uint64_t position) noexcept;

class Sampler {
 public:
  explicit Sampler(SamplerParams params) : p_(params) {}
  // The token for sequence position `position` (the index the token will occupy).
  // `logits` must be non-empty; params must have been validated.
  uint32_t sample(std::span<const float> logits, uint64_t position);

 private:
  SamplerParams p_;
  std::vector<std::pair<float, uint32_t>> cand_;
  std::vector<float> weights_;
};

}  // namespace dgrid::infer
