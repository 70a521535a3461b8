// Job cost arithmetic, price JSON and spot-check probabilities.
#include "market/pricing.hpp"

#include <gtest/gtest.h>

#include "market/market_random.hpp"
#include "market/spot_check.hpp"

namespace dgrid::market {
namespace {

using nlohmann::json;

TEST(Pricing, CostRoundsUp) {
  Price p{2'000'000, 6'000'000};  // 2 and 6 base units per token
  EXPECT_EQ(job_cost(p, 10, 5), 50);
  EXPECT_EQ(job_cost(p, 0, 0), 0);
  Price cheap{1, 3};
  EXPECT_EQ(job_cost(cheap, 1, 0), 1);          // 1e-6 rounds up to 1
  EXPECT_EQ(job_cost(cheap, 1'000'000, 0), 1);  // exactly 1
  EXPECT_EQ(job_cost(cheap, 1'000'001, 0), 2);
  EXPECT_EQ(job_cost(cheap, 250'000, 250'000), 1);  // 250000 + 750000 = 1e6
  EXPECT_EQ(job_cost(Price{}, 1000, 1000), 0);       // free is free
  EXPECT_EQ(max_job_cost(p, 10, 100), job_cost(p, 10, 100));
}

TEST(Pricing, CostSaturatesInsteadOfWrapping) {
  const u256 max = ~u256(0);
  EXPECT_EQ(job_cost(Price{max, max}, UINT64_MAX, UINT64_MAX), max);
  // Large but representable: (2^255 * 2 * 1e6) / 1e6 = 2^256 overflows by exactly one.
  EXPECT_EQ(job_cost(Price{u256(1) << 255, 0}, 2'000'000, 0), max);
  EXPECT_EQ(job_cost(Price{u256(1) << 200, 0}, 3'000'000, 0), u256(3) << 200);
}

TEST(Pricing, Json) {
  Price p{u256(1) << 100, 7};
  json j = price_to_json(p);
  EXPECT_EQ(j, json({{"input", to_dec(u256(1) << 100)}, {"output", "7"}}));
  auto back = price_from_json(json::parse(j.dump()));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  auto bad = price_from_json(json{{"input", 5}, {"output", "7"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("price: input: expected a decimal string"), std::string::npos)
      << bad.error().message;
  bad = price_from_json(json{{"input", "5"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("missing field output"), std::string::npos);
}

TEST(SpotCheck, Probability) {
  SpotCheckPolicy p{0.05, 10, 1'000'000};
  EXPECT_DOUBLE_EQ(spot_check_probability(p, 0), 0.05);
  EXPECT_DOUBLE_EQ(spot_check_probability(p, 1000), 0.05);    // 10 * 1000 / 1e6 = 0.01
  EXPECT_DOUBLE_EQ(spot_check_probability(p, 20'000), 0.2);   // cost-driven
  EXPECT_DOUBLE_EQ(spot_check_probability(p, 500'000), 1.0);  // capped
  // p * S >= k * cost whenever p < 1: cheating by the job's cost never pays.
  for (u256 cost : {u256(1), u256(4999), u256(5000), u256(77'777)}) {
    double prob = spot_check_probability(p, cost);
    if (prob < 1) {
      EXPECT_GE(prob * 1e6, 10 * cost.convert_to<double>() * (1 - 1e-12));
    }
  }
  p.slash_amount = 0;
  EXPECT_DOUBLE_EQ(spot_check_probability(p, 0), 1.0);
}

TEST(SpotCheck, DecisionIsKeyedAndDeterministic) {
  test::MarketRandom rnd(30);
  SpotCheckPolicy p{0.05, 10, u256(1) << 64};
  const auto secret = rnd.hash(), other_secret = rnd.hash();
  int checked = 0, differs = 0;
  const int n = 20'000;
  for (int i = 0; i < n; ++i) {
    const auto job = rnd.hash();
    bool a = should_spot_check(p, job, secret, 100);
    EXPECT_EQ(a, should_spot_check(p, job, secret, 100));
    checked += a;
    differs += a != should_spot_check(p, job, other_secret, 100);
  }
  // 5% of 20000 = 1000 (sd ~31): generous margins, fixed seed.
  EXPECT_GT(checked, 800);
  EXPECT_LT(checked, 1200);
  EXPECT_GT(differs, 1000);  // another secret picks other jobs
  SpotCheckPolicy all{1.0, 0, 1};
  SpotCheckPolicy none{0.0, 0, 1};
  for (int i = 0; i < 100; ++i) {
    const auto job = rnd.hash();
    EXPECT_TRUE(should_spot_check(all, job, secret, 0));
    EXPECT_FALSE(should_spot_check(none, job, secret, 0));
  }
}

}  // namespace
}  // namespace dgrid::market
