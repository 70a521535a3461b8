// The Prometheus registry: exact text exposition output, escaping, histograms, misuse.
#include "node/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace dgrid::node {
namespace {

TEST(MetricsTest, RendersTextFormat004) {
  Registry r;
  auto& requests = r.counter_family("dgrid_requests_total", "Requests served.", {"route", "status"});
  requests.with({"/v1/completions", "200"}).inc();
  requests.with({"/v1/completions", "200"}).inc(2);
  requests.with({"/v1/chat/completions", "402"}).inc();
  auto& inflight = r.gauge("dgrid_inflight_jobs", "Jobs running now.");
  inflight.inc(3);
  inflight.dec();
  r.gauge_callback("dgrid_tickets_pending", "Winning tickets awaiting redemption.", [] { return 7.0; });
  auto& lat = r.histogram("dgrid_latency_seconds", "Request latency.", {0.1, 0.5, 2.5});
  lat.observe(0.05);
  lat.observe(0.1);  // bounds are inclusive upper bounds
  lat.observe(1.0);
  lat.observe(100);

  EXPECT_EQ(r.render(),
            "# HELP dgrid_requests_total Requests served.\n"
            "# TYPE dgrid_requests_total counter\n"
            "dgrid_requests_total{route=\"/v1/chat/completions\",status=\"402\"} 1\n"
            "dgrid_requests_total{route=\"/v1/completions\",status=\"200\"} 3\n"
            "# HELP dgrid_inflight_jobs Jobs running now.\n"
            "# TYPE dgrid_inflight_jobs gauge\n"
            "dgrid_inflight_jobs 2\n"
            "# HELP dgrid_tickets_pending Winning tickets awaiting redemption.\n"
            "# TYPE dgrid_tickets_pending gauge\n"
            "dgrid_tickets_pending 7\n"
            "# HELP dgrid_latency_seconds Request latency.\n"
            "# TYPE dgrid_latency_seconds histogram\n"
            "dgrid_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "dgrid_latency_seconds_bucket{le=\"0.5\"} 2\n"
            "dgrid_latency_seconds_bucket{le=\"2.5\"} 3\n"
            "dgrid_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "dgrid_latency_seconds_sum 101.15\n"
            "dgrid_latency_seconds_count 4\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry r;
  r.counter_family("x_total", "Help with \\ and\nnewline.", {"v"}).with({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, NumbersAndSpecialValues) {
  Registry r;
  r.gauge("a", "").set(0.25);
  r.gauge("b", "").set(-1e300);
  r.gauge("c", "").set(std::numeric_limits<double>::infinity());
  r.gauge("d", "").set(std::nan(""));
  r.gauge("e", "").set(123456789012.0);
  auto text = r.render();
  EXPECT_NE(text.find("\na 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nb -1e+300\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nd NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ne 123456789012\n"), std::string::npos) << text;
}

TEST(MetricsTest, LabelledHistogramsAndCounterOnlyGoesUp) {
  Registry r;
  auto& h = r.histogram_family("h_seconds", "h", {"model"}, {1});
  h.with({"m1"}).observe(0.5);
  h.with({"m2"}).observe(2);
  auto& c = r.counter("c_total", "c");
  c.inc(-5);
  EXPECT_EQ(c.value(), 0);
  auto text = r.render();
  EXPECT_NE(text.find("h_seconds_bucket{model=\"m1\",le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{model=\"m2\",le=\"1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count{model=\"m2\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, MisuseIsRejected) {
  Registry r;
  r.counter("dup_total", "");
  EXPECT_THROW(r.counter("dup_total", ""), std::invalid_argument);
  EXPECT_THROW(r.gauge("dup_total", ""), std::invalid_argument);
  EXPECT_THROW(r.counter("9bad", ""), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name", ""), std::invalid_argument);
  EXPECT_THROW(r.counter_family("ok_total", "", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.histogram_family("h", "", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2", "", {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h3", "", {2, 1}), std::invalid_argument);
  auto& f = r.counter_family("f_total", "", {"a", "b"});
  EXPECT_THROW(f.with({"only-one"}), std::invalid_argument);
  EXPECT_EQ(latency_buckets().front(), 0.001);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& fam = r.counter_family("n_total", "", {"t"});
  auto& h = r.histogram("h", "", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto& c = fam.with({std::to_string(t % 2)});
      for (int i = 0; i < 10'000; ++i) {
        c.inc();
        h.observe(1);
        if (i % 1000 == 0) (void)r.render();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fam.with({"0"}).value() + fam.with({"1"}).value(), 40'000);
  auto text = r.render();
  EXPECT_NE(text.find("h_count 40000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum 40000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace dgrid::node
