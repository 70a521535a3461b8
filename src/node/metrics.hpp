// A small Prometheus registry: counters, gauges and fixed-bucket histograms, each optionally
// with a fixed set of label names, rendered in the text exposition format 0.0.4. Serving
// /metrics over HTTP is the caller's job.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dgrid::node {

// The Content-Type to serve render()'s output with.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Thread-safe (lock-free updates).
class Counter {
 public:
  // Counters only go up: a negative amount is ignored.
  void inc(double amount = 1) noexcept;
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Thread-safe (lock-free updates).
class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void inc(double amount = 1) noexcept { v_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1) noexcept { v_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Thread-safe (lock-free updates). Buckets are upper bounds, strictly increasing; +Inf is
// implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (= count)
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last: +Inf
  std::atomic<double> sum_{0};
};

// Seconds buckets for request latencies (1 ms .. 60 s).
std::vector<double> latency_buckets();

// The metrics of one name with one fixed set of label names. Thread-safe. References from
// with() stay valid for the registry's lifetime: look them up once, outside hot loops.
template <class M>
class Family {
 public:
  // One value per label name, in order; a wrong count is a programming error (throws
  // std::invalid_argument).
  M& with(const std::vector<std::string>& values);

 private:
  friend class Registry;
  Family(std::vector<std::string> labels, std::function<std::unique_ptr<M>()> make)
      : labels_(std::move(labels)), make_(std::move(make)) {}
  template <class F>
  void each(F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, m] : children_) f(values, *m);
  }

  std::vector<std::string> labels_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

// Owns every metric. Thread-safe. Registering a name twice, or an invalid metric or label
// name, is a programming error (throws std::invalid_argument).
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  Counter& counter(std::string name, std::string help);
  Family<Counter>& counter_family(std::string name, std::string help, std::vector<std::string> labels);
  Gauge& gauge(std::string name, std::string help);
  Family<Gauge>& gauge_family(std::string name, std::string help, std::vector<std::string> labels);
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);
  Family<Histogram>& histogram_family(std::string name, std::string help, std::vector<std::string> labels,
                                      std::vector<double> bounds);
  // A gauge read at render time (e.g. a count kept in the database). `read` runs on the
  // rendering thread and must be thread-safe; it must not call back into this registry.
  void gauge_callback(std::string name, std::string help, std::function<double()> read);

  // The text exposition format 0.0.4, metrics in registration order.
  std::string render() const;

 private:
  struct Entry;
  Entry& add(std::string name, std::string help, std::string_view type, std::vector<std::string> labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace dgrid::node
