// The sampling sequence is spelled out in docs/determinism.md §Sampling; every step is a
// fixed sequence of float operations in a fixed candidate order.
#include "infer/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "infer/math.hpp"

namespace dgrid::infer {

Result<void> validate_sampler_params(const SamplerParams& p, uint32_t vocab) {
  if (!(p.temperature >= 0.0f) || std::isinf(p.temperature))
    return fail(Errc::invalid_argument, "temperature must be a finite number >= 0, got " + std::to_string(p.temperature));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    return fail(Errc::invalid_argument, "top_p must be in (0, 1], got " + std::to_string(p.top_p));
  if (p.top_k > vocab)
    return fail(Errc::invalid_argument, "top_k " + std::to_string(p.top_k) + " exceeds the vocabulary size " +
                                            std::to_string(vocab));
  return {};
}

uint64_t mix64(uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

float uniform01(uint64_t seed, uint64_t position) noexcept {
  return static_cast<float>(mix64(seed ^ mix64(position)) >> 40) * (1.0f / 16777216.0f);
}

uint32_t Sampler::sample(std::span<const float> logits, uint64_t position) {
  const auto n = static_cast<uint32_t>(logits.size());
  if (p_.temperature == 0.0f) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; ++i)
      if (logits[i] > logits[best]) best = i;  // strict: the lowest id wins ties
    return best;
  }
  // Candidates in a total order (logit descending, id ascending): any sort algorithm
  // yields the same sequence. NaN logits sort last and get no weight.
  cand_.resize(n);
  for (uint32_t i = 0; i < n; ++i) cand_[i] = {logits[i], i};
  auto before = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    const bool an = std::isnan(a.first), bn = std::isnan(b.first);
    if (an != bn) return bn;
    if (!an && a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  };
  const uint32_t k = p_.top_k == 0 ? n : p_.top_k;
  std::partial_sort(cand_.begin(), cand_.begin() + k, cand_.end(), before);
  cand_.resize(k);
  // w_i = exp((l_i - l_max) / T); running sum in candidate order.
  const float top = cand_[0].first;
  weights_.resize(k);
  for (uint32_t i = 0; i < k; ++i) {
    const float l = cand_[i].first;
    weights_[i] = std::isnan(l) ? 0.0f : math::exp_f32((l - top) / p_.temperature);
  }
  float total = 0.0f;
  for (uint32_t i = 0; i < k; ++i) total = total + weights_[i];
  // top-p: the shortest prefix whose running sum reaches top_p * total.
  uint32_t keep = k;
  float kept = total;
  if (p_.top_p < 1.0f) {
    const float limit = p_.top_p * total;
    float cum = 0.0f;
    for (uint32_t i = 0; i < k; ++i) {
      cum = cum + weights_[i];
      if (cum >= limit) {
        keep = i + 1;
        kept = cum;
        break;
      }
    }
  }
  const float target = uniform01(p_.seed, position) * kept;
  float cum = 0.0f;
  for (uint32_t i = 0; i < keep; ++i) {
    cum = cum + weights_[i];
    if (cum > target) return cand_[i].second;
  }
  return cand_[keep - 1].second;  // target rounded up to the total
}

}  // namespace dgrid::infer
