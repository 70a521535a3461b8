#include "market/storage_pricing.hpp"

#include <gtest/gtest.h>

namespace dgrid::market {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

TEST(StoragePricing, EndowmentIsCostOverDeclineTimesSizeAndReplicas) {
  StoragePriceParams p;  // 0.24 dUSD per GiB-year, 1% a year
  auto q = quote_endowment(kGiB, 3, p);
  ASSERT_TRUE(q) << q.error().to_string();
  EXPECT_EQ(q->per_gib_per_replica, u256(24'000'000));  // 24 dUSD = 0.24 / 0.01
  EXPECT_EQ(q->per_replica, u256(24'000'000));
  EXPECT_EQ(q->total, u256(72'000'000));
  EXPECT_EQ(q->first_year_per_replica, u256(240'000));  // year one pays C

  auto half = quote_endowment(kGiB / 2, 1, p);
  ASSERT_TRUE(half);
  EXPECT_EQ(half->total, u256(12'000'000));
}

TEST(StoragePricing, SmallFilesRoundUpAndEveryReplicaGetsSomething) {
  StoragePriceParams p;
  p.cost_per_gib_year = 1;
  p.decline_ppm = 500'000;  // E = 2 base units per GiB
  auto q = quote_endowment(1, 4, p);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->per_replica, u256(1));  // ceil(2 * 1 / 2^30)
  EXPECT_EQ(q->total, u256(4));        // the contract needs endowment >= replicas
}

TEST(StoragePricing, RejectsWhatNoDealCanHave) {
  StoragePriceParams p;
  EXPECT_EQ(quote_endowment(0, 1, p).error().code, Errc::invalid_argument);
  EXPECT_EQ(quote_endowment(10, 0, p).error().code, Errc::invalid_argument);
  EXPECT_EQ(quote_endowment(10, 17, p).error().code, Errc::invalid_argument);
  p.decline_ppm = 0;
  EXPECT_EQ(quote_endowment(10, 1, p).error().code, Errc::invalid_argument);
  p.decline_ppm = 1'000'000;
  EXPECT_EQ(quote_endowment(10, 1, p).error().code, Errc::invalid_argument);
}

TEST(StoragePricing, PayoutRateMatchesTheEconomicsTable) {
  // docs/economics.md §4: r = 1%, 256 blocks of 2 s -> 162 ppb.
  EXPECT_EQ(payout_rate_ppb(10'000, 512), 162u);
  EXPECT_EQ(payout_rate_ppb(0, 512), 0u);
  EXPECT_EQ(payout_rate_ppb(1, 1), 1u);  // never rounds a positive rate to zero
  EXPECT_EQ(payout_rate_ppb(999'999, 31'536'000), 999'999'000u);
}

TEST(StoragePricing, EndowmentPerGibInvertsTheQuote) {
  StoragePriceParams p;
  auto q = quote_endowment(3 * kGiB + 5, 2, p);
  ASSERT_TRUE(q);
  u256 per = endowment_per_gib(q->total, 2, q->size);
  EXPECT_GE(per, q->per_gib_per_replica);
  EXPECT_LE(per, q->per_gib_per_replica + 1);
  EXPECT_EQ(endowment_per_gib(100, 0, 10), u256(0));
  EXPECT_EQ(endowment_per_gib(~u256(0), 1, 1), ~u256(0));  // saturates
}

}  // namespace
}  // namespace dgrid::market
