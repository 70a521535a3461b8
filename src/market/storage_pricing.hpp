// One-time endowments for perpetual storage deals (docs/economics.md §4, Arweave-style):
// a GiB-year costs C today and the cost falls by a fraction r per year, so perpetual storage
// of one GiB per replica costs E = C / r, paid up front; the contract pays each proven epoch
// pool * payoutRatePpb / 1e9, which declines at r per year when
// payoutRatePpb = r * epochSeconds / secondsPerYear * 1e9. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/u256.hpp"

namespace dgrid::market {

struct StoragePriceParams {
  u256 cost_per_gib_year = 240'000;  // C, token base units (0.24 dUSD)
  uint32_t decline_ppm = 10'000;     // r, parts per million per year (1%)
};

struct EndowmentQuote {
  uint64_t size = 0;                  // content bytes
  uint32_t replicas = 0;
  u256 per_gib_per_replica = 0;       // E = C / r
  u256 per_replica = 0;               // E * size / GiB, rounded up
  u256 total = 0;                     // per_replica * replicas: what openDeal pulls
  // What the first proven year pays each replica (≈ r * per_replica = C * size / GiB).
  u256 first_year_per_replica = 0;
};

// Errc::invalid_argument for size 0, replicas outside 1..16 (StorageMarket.MAX_REPLICAS),
// r of 0 or >= 100%. Every replica gets at least 1 base unit (the contract needs
// endowment >= replicas).
Result<EndowmentQuote> quote_endowment(uint64_t size, uint32_t replicas, const StoragePriceParams& p);

// payoutRatePpb for a yearly decline r and an epoch of `epoch_seconds` (>= 1 when r > 0).
uint64_t payout_rate_ppb(uint32_t decline_ppm, uint64_t epoch_seconds) noexcept;

// Endowment per replica per GiB a deal offers (what a storer compares with its minimum).
u256 endowment_per_gib(const u256& endowment, uint32_t replicas, uint64_t size) noexcept;

nlohmann::json quote_to_json(const EndowmentQuote& q, unsigned decimals);

}  // namespace dgrid::market
