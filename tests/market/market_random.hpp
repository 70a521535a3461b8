// Random market values for the market tests (seeded: every run draws the same values).
#pragma once

#include <random>

#include "market/canonical.hpp"
#include "market/receipt.hpp"
#include "market/ticket_wire.hpp"

namespace dgrid::market::test {

class MarketRandom {
 public:
  explicit MarketRandom(uint64_t seed) : rng(seed) {}

  uint64_t pick(uint64_t n) { return rng() % n; }

  Hash32 hash() {
    Hash32 h;
    for (auto& b : h) b = static_cast<uint8_t>(rng());
    return h;
  }

  crypto::Address address() {
    crypto::Address a;
    for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
    return a;
  }

  // Below 2^bits, with the extremes (0, the maximum) drawn often.
  u256 below_pow2(unsigned bits) {
    u256 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 64) | u256(rng());
    if (bits < 256) v &= (u256(1) << bits) - 1;
    switch (pick(6)) {
      case 0: return 0;
      case 1: return bits < 256 ? (u256(1) << bits) - 1 : ~u256(0);
      case 2: return v >> pick(bits);
      default: return v;
    }
  }

  uint64_t u64() { return static_cast<uint64_t>(below_pow2(64)); }

  crypto::PrivateKey key() {
    for (;;) {
      auto k = crypto::PrivateKey::from_bytes(hash());
      if (k) return *k;
    }
  }

  std::string utf8_text(size_t max_bytes) {
    static const char* const pieces[] = {"a", "Z", " ", "\n", "</s>", "é", "日本", "🙂", "\\", "\"", "###"};
    std::string s;
    while (s.empty() || (s.size() < max_bytes / 2 && pick(3) != 0)) s += pieces[pick(std::size(pieces))];
    return s;
  }

  CanonicalRequest request() {
    CanonicalRequest r;
    r.model = hash();
    r.prompt.resize(1 + pick(pick(4) == 0 ? 300 : 20));
    for (auto& t : r.prompt) t = pick(4) == 0 ? static_cast<uint32_t>(rng()) : static_cast<uint32_t>(pick(32000));
    r.max_tokens = pick(5) == 0 ? UINT32_MAX : static_cast<uint32_t>(pick(4096));
    static const float temps[] = {0.0f, -0.0f, 0.7f, 1.0f, 1.3f, 1e-30f, 2.5f};
    r.temperature = temps[pick(std::size(temps))];
    r.top_k = pick(3) == 0 ? 0 : static_cast<uint32_t>(rng());
    static const float top_ps[] = {1.0f, 0.9f, 0.0f, 0.95f, 1e-7f};
    r.top_p = top_ps[pick(std::size(top_ps))];
    r.seed = u64();
    r.stop.resize(pick(5));
    for (auto& s : r.stop) s = utf8_text(40);
    return r;
  }

  Receipt receipt() {
    Receipt r;
    r.job_id = hash();
    r.provider = address();
    r.model = hash();
    r.input_hash = hash();
    r.output_hash = hash();
    r.prompt_tokens = u64();
    r.completion_tokens = u64();
    r.cost = below_pow2(256);
    r.chain_id = pick(4) == 0 ? u64() : 31337;
    r.timestamp = u64();
    return r;
  }

  eth::Ticket ticket(const crypto::Address& sender) {
    eth::Ticket t;
    t.recipient = address();
    t.sender = sender;
    t.face_value = below_pow2(256);
    t.win_prob = below_pow2(256);
    t.sender_nonce = below_pow2(256);
    t.recipient_rand_hash = hash();
    t.expiration_block = below_pow2(256);
    t.aux_data = pick(2) ? Hash32{} : hash();
    return t;
  }

  std::mt19937_64 rng;
};

}  // namespace dgrid::market::test
