// Routing: eligibility, breakers, exclusion, preference for cheap and fast providers over
// many seeded draws, spread over the top set, and the explanation JSON.
#include "market/routing.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "market/market_random.hpp"

namespace dgrid::market {
namespace {

using namespace std::chrono_literals;
using Clock = ProviderBook::Clock;

class RoutingTest : public ::testing::Test {
 protected:
  RoutingTest() : rnd_(40) {
    model_ = rnd_.hash();
    other_model_ = rnd_.hash();
  }

  crypto::Address add(u256 price_per_million, u256 stake = 1000, uint32_t capacity = 4,
                      const Hash32* model = nullptr) {
    ProviderEndpoint e;
    e.address = rnd_.address();
    e.url = "http://127.0.0.1:" + std::to_string(9000 + count_++);
    e.model_id = model ? *model : model_;
    e.price = {price_per_million, price_per_million};
    e.stake = stake;
    e.capacity = capacity;
    book_.upsert(e);
    return e.address;
  }

  // How often each provider is chosen over `n` seeded draws (begin/success not called).
  std::map<crypto::Address, int> shares(int n, const std::vector<crypto::Address>& exclude = {}) {
    std::mt19937_64 rng(99);
    std::map<crypto::Address, int> out;
    for (int i = 0; i < n; ++i) {
      auto d = book_.route(model_, 100, 100, exclude, rng);
      if (d.chosen) out[*d.chosen]++;
    }
    return out;
  }

  const Scored& find(const Decision& d, const crypto::Address& a) {
    for (const auto& c : d.ranked)
      if (c.endpoint.address == a) return c;
    throw std::runtime_error("candidate missing");
  }

  test::MarketRandom rnd_;
  Hash32 model_{}, other_model_{};
  ProviderBook book_;
  int count_ = 0;
};

TEST_F(RoutingTest, EmptyBookChoosesNothing) {
  std::mt19937_64 rng(1);
  auto d = book_.route(model_, 10, 10, {}, rng);
  EXPECT_FALSE(d.chosen);
  EXPECT_NE(d.summary.find("no eligible provider"), std::string::npos);
  EXPECT_TRUE(d.to_json()["candidates"].empty());
}

TEST_F(RoutingTest, CheaperProvidersWinMoreOften) {
  auto cheap = add(1'000'000), mid = add(2'000'000), dear = add(4'000'000);
  auto s = shares(3000);
  EXPECT_GT(s[cheap], s[mid]);
  EXPECT_GT(s[mid], s[dear]);
  // No herding: each of the top 3 still gets a real share.
  EXPECT_GT(s[dear], 300);
  EXPECT_EQ(s[cheap] + s[mid] + s[dear], 3000);
}

TEST_F(RoutingTest, FasterProvidersWinMoreOften) {
  auto fast = add(1'000'000), slow = add(1'000'000);
  for (int i = 0; i < 5; ++i) {
    book_.begin(fast);
    book_.success(fast, 50, 5);
    book_.begin(slow);
    book_.success(slow, 400, 40);
  }
  auto s = shares(2000);
  EXPECT_GT(s[fast], s[slow] * 1.2);
  EXPECT_GT(s[slow], 200);
}

TEST_F(RoutingTest, UnmeasuredProvidersGetAnOptimisticLatency) {
  auto known = add(1'000'000), fresh = add(1'000'000);
  book_.begin(known);
  book_.success(known, 300, 30);
  std::mt19937_64 rng(1);
  auto d = book_.route(model_, 10, 10, {}, rng);
  const auto& f = find(d, fresh);
  EXPECT_TRUE(f.eligible);
  EXPECT_FALSE(f.latency_known);
  EXPECT_DOUBLE_EQ(f.latency, 1.0);
  EXPECT_DOUBLE_EQ(f.expected_latency_ms, find(d, known).expected_latency_ms);
}

TEST_F(RoutingTest, OnlyTheTopKArePicked) {
  std::vector<crypto::Address> all;
  for (int i = 1; i <= 6; ++i) all.push_back(add(u256(i) * 10'000'000));
  auto s = shares(3000);
  for (int i = 0; i < 3; ++i) EXPECT_GT(s[all[static_cast<size_t>(i)]], 300) << i;
  for (int i = 3; i < 6; ++i) EXPECT_EQ(s[all[static_cast<size_t>(i)]], 0) << i;
}

TEST_F(RoutingTest, ExcludeAndIneligibleReasons) {
  auto a = add(1'000'000), b = add(1'000'000);
  auto no_stake = add(1'000'000, /*stake=*/0);
  auto elsewhere = add(1'000'000, 1000, 4, &other_model_);
  auto s = shares(500, {a});
  EXPECT_EQ(s[a], 0);
  EXPECT_EQ(s[b], 500);
  EXPECT_EQ(s[no_stake], 0);
  EXPECT_EQ(s[elsewhere], 0);

  std::mt19937_64 rng(1);
  auto d = book_.route(model_, 10, 10, {a}, rng);
  EXPECT_EQ(find(d, a).reason, "excluded (already tried for this request)");
  EXPECT_EQ(find(d, no_stake).reason, "zero stake");
  EXPECT_EQ(find(d, elsewhere).reason, "model not served");
  EXPECT_EQ(d.chosen, b);
  auto d2 = book_.route(model_, 10, 10, {a, b}, rng);
  EXPECT_FALSE(d2.chosen);
}

TEST_F(RoutingTest, BreakerOpensHalfOpensAndCloses) {
  auto flaky = add(1'000'000), steady = add(50'000'000);
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < book_.policy().breaker_failures; ++i) {
    book_.begin(flaky);
    book_.failure(flaky, "connection refused", t0);
  }
  std::mt19937_64 rng(1);
  auto d = book_.route(model_, 10, 10, {}, rng, t0 + 1s);
  const auto& open = find(d, flaky);
  EXPECT_FALSE(open.eligible);
  EXPECT_EQ(open.breaker, BreakerState::open);
  EXPECT_NE(open.reason.find("breaker open after 3 failures in a row"), std::string::npos) << open.reason;
  EXPECT_NE(open.reason.find("connection refused"), std::string::npos);
  EXPECT_EQ(d.chosen, steady);

  // After the cooldown one probe goes through; while it runs, no second one.
  const auto later = t0 + book_.policy().breaker_cooldown + 1ms;
  d = book_.route(model_, 10, 10, {steady}, rng, later);
  EXPECT_EQ(find(d, flaky).breaker, BreakerState::half_open);
  ASSERT_EQ(d.chosen, flaky);
  book_.begin(flaky);
  d = book_.route(model_, 10, 10, {steady}, rng, later);
  EXPECT_FALSE(d.chosen);
  EXPECT_EQ(find(d, flaky).reason, "breaker half-open, probe request in flight");

  // A failed probe reopens it for a full cooldown.
  book_.failure(flaky, "timeout", later);
  d = book_.route(model_, 10, 10, {steady}, rng, later + 1s);
  EXPECT_EQ(find(d, flaky).breaker, BreakerState::open);
  const auto again = later + book_.policy().breaker_cooldown + 1ms;
  d = book_.route(model_, 10, 10, {steady}, rng, again);
  ASSERT_EQ(d.chosen, flaky);

  // A successful probe closes it.
  book_.begin(flaky);
  book_.success(flaky, 10, 1);
  d = book_.route(model_, 10, 10, {}, rng, again);
  EXPECT_EQ(find(d, flaky).breaker, BreakerState::closed);
  EXPECT_TRUE(find(d, flaky).eligible);
  auto st = book_.stats(flaky);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->failures, 4u);
  EXPECT_EQ(st->successes, 1u);
  EXPECT_EQ(st->in_flight, 0u);
}

TEST_F(RoutingTest, FailuresLowerReliabilityAndLoadLowersScore) {
  auto a = add(1'000'000, 1000, 2), b = add(1'000'000, 1000, 2);
  book_.begin(a);
  book_.failure(a, "500");
  std::mt19937_64 rng(1);
  auto d = book_.route(model_, 10, 10, {}, rng);
  EXPECT_LT(find(d, a).reliability, find(d, b).reliability);
  EXPECT_LT(find(d, a).total, find(d, b).total);

  book_.begin(b);
  book_.begin(b);
  d = book_.route(model_, 10, 10, {}, rng);
  EXPECT_DOUBLE_EQ(find(d, b).load, 0.0);
  EXPECT_EQ(find(d, b).in_flight, 2u);
}

TEST_F(RoutingTest, RemoveAndUpsert) {
  auto a = add(1'000'000);
  add(1'000'000, 1000, 4, &other_model_);
  EXPECT_EQ(book_.endpoints().size(), 2u);
  EXPECT_EQ(book_.endpoints(model_).size(), 1u);
  ProviderEndpoint second = book_.endpoints(model_)[0];
  second.model_id = other_model_;
  second.price = {5, 5};
  book_.upsert(second);  // a serves two models now
  EXPECT_EQ(book_.endpoints(other_model_).size(), 2u);
  book_.remove(a);
  EXPECT_EQ(book_.endpoints(model_).size(), 0u);
  EXPECT_EQ(book_.endpoints(other_model_).size(), 1u);
  EXPECT_FALSE(book_.stats(a));
  book_.success(a, 1, 1);  // a late completion for a removed provider is ignored
  EXPECT_FALSE(book_.stats(a));
}

TEST_F(RoutingTest, ExplainListsEveryCandidate) {
  auto a = add(1'000'000), b = add(3'000'000);
  auto no_stake = add(1'000'000, 0);
  auto elsewhere = add(1'000'000, 1000, 4, &other_model_);
  std::mt19937_64 rng(5);
  auto d = book_.route(model_, 120, 256, {b}, rng);
  auto j = d.to_json();
  EXPECT_EQ(j["model"], to_hex(model_));
  EXPECT_EQ(j["prompt_tokens"], 120);
  EXPECT_EQ(j["max_tokens"], 256);
  EXPECT_EQ(j["chosen"], a.checksummed());
  EXPECT_EQ(j["summary"], d.summary);
  ASSERT_EQ(j["candidates"].size(), 4u);
  std::map<std::string, nlohmann::json> by;
  for (const auto& c : j["candidates"]) by[c["address"]] = c;
  EXPECT_EQ(by[a.checksummed()]["reason"], "chosen");
  EXPECT_EQ(by[a.checksummed()]["rank"], 1);
  EXPECT_DOUBLE_EQ(by[a.checksummed()]["pick_probability"].get<double>(), 1.0);
  EXPECT_TRUE(by[a.checksummed()]["scores"].contains("latency"));
  EXPECT_EQ(by[a.checksummed()]["inputs"]["expected_cost"], "376");  // ceil((120 + 256) * 1)
  EXPECT_EQ(by[b.checksummed()]["reason"], "excluded (already tried for this request)");
  EXPECT_EQ(by[no_stake.checksummed()]["reason"], "zero stake");
  EXPECT_EQ(by[elsewhere.checksummed()]["reason"], "model not served");
  for (const auto& c : j["candidates"]) {
    EXPECT_FALSE(c["reason"].get<std::string>().empty());
    EXPECT_TRUE(c.contains("url"));
  }
  EXPECT_NE(d.summary.find("zero stake"), std::string::npos) << d.summary;
  EXPECT_NE(d.summary.find("model not served"), std::string::npos) << d.summary;
}

TEST_F(RoutingTest, SameSeedSameChoices) {
  for (int i = 0; i < 4; ++i) add(u256(1'000'000 + i));
  EXPECT_EQ(shares(200), shares(200));
}

TEST_F(RoutingTest, ConcurrentUseIsSafe) {
  std::vector<crypto::Address> all;
  for (int i = 0; i < 5; ++i) all.push_back(add(u256(1'000'000)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      for (int i = 0; i < 500; ++i) {
        auto d = book_.route(model_, 10, 10, {}, rng);
        if (!d.chosen) continue;
        book_.begin(*d.chosen);
        if (i % 7 == 0) book_.failure(*d.chosen, "x");
        else book_.success(*d.chosen, 10, 1);
      }
    });
  for (auto& th : threads) th.join();
  for (const auto& a : all) EXPECT_EQ(book_.stats(a)->in_flight, 0u);
}

}  // namespace
}  // namespace dgrid::market
