#include "node/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace dgrid::node {

namespace {

bool valid_name(std::string_view n, bool allow_colon) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Prometheus floats: integers exactly, others in the shortest form that reads back equal.
void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    out += std::to_string(static_cast<int64_t>(v));
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
  }
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

// `name{a="x",b="y"}` with an optional extra label (histogram `le`).
void append_series(std::string& out, std::string_view name, const std::vector<std::string>& labels,
                   const std::vector<std::string>& values, std::string_view extra_label = {},
                   std::string_view extra_value = {}) {
  out += name;
  if (labels.empty() && extra_label.empty()) return;
  out += '{';
  bool first = true;
  auto add = [&](std::string_view l, std::string_view v) {
    if (!first) out += ',';
    first = false;
    out += l;
    out += "=\"";
    append_escaped(out, v, /*quote=*/true);
    out += '"';
  };
  for (size_t i = 0; i < labels.size(); ++i) add(labels[i], values[i]);
  if (!extra_label.empty()) add(extra_label, extra_value);
  out += '}';
}

}  // namespace

// ---- metric types ----

void Counter::inc(double amount) noexcept {
  if (amount > 0) v_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i])) throw std::invalid_argument("histogram bucket bounds must be finite");
    if (i > 0 && bounds_[i] <= bounds_[i - 1])
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) noexcept {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

template <class M>
M& Family<M>::with(const std::vector<std::string>& values) {
  if (values.size() != labels_.size())
    throw std::invalid_argument("metric needs " + std::to_string(labels_.size()) + " label values, got " +
                                std::to_string(values.size()));
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, make_()).first;
  return *it->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- registry ----

struct Registry::Entry {
  std::string name, help;
  std::string_view type;
  std::vector<std::string> labels;
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<double()>>
      metric;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(std::string name, std::string help, std::string_view type,
                               std::vector<std::string> labels) {
  if (!valid_name(name, /*allow_colon=*/true)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& l : labels)
    if (!valid_name(l, false) || l.starts_with("__") || l == "le")
      throw std::invalid_argument("invalid label name '" + l + "' for metric " + name);
  std::lock_guard lock(mu_);
  for (const auto& e : entries_)
    if (e->name == name) throw std::invalid_argument("metric " + name + " registered twice");
  auto e = std::make_unique<Entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = type;
  e->labels = std::move(labels);
  entries_.push_back(std::move(e));
  return *entries_.back();
}

Family<Counter>& Registry::counter_family(std::string name, std::string help, std::vector<std::string> labels) {
  auto& e = add(std::move(name), std::move(help), "counter", labels);
  auto f = std::unique_ptr<Family<Counter>>(
      new Family<Counter>(std::move(labels), [] { return std::make_unique<Counter>(); }));
  auto& ref = *f;
  std::lock_guard lock(mu_);
  e.metric = std::move(f);
  return ref;
}

Family<Gauge>& Registry::gauge_family(std::string name, std::string help, std::vector<std::string> labels) {
  auto& e = add(std::move(name), std::move(help), "gauge", labels);
  auto f = std::unique_ptr<Family<Gauge>>(new Family<Gauge>(std::move(labels), [] { return std::make_unique<Gauge>(); }));
  auto& ref = *f;
  std::lock_guard lock(mu_);
  e.metric = std::move(f);
  return ref;
}

Family<Histogram>& Registry::histogram_family(std::string name, std::string help, std::vector<std::string> labels,
                                              std::vector<double> bounds) {
  Histogram check(bounds);  // reject bad bounds before registering the name
  auto& e = add(std::move(name), std::move(help), "histogram", labels);
  auto f = std::unique_ptr<Family<Histogram>>(new Family<Histogram>(
      std::move(labels), [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); }));
  auto& ref = *f;
  std::lock_guard lock(mu_);
  e.metric = std::move(f);
  return ref;
}

Counter& Registry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help), {}).with({});
}

Gauge& Registry::gauge(std::string name, std::string help) {
  return gauge_family(std::move(name), std::move(help), {}).with({});
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  return histogram_family(std::move(name), std::move(help), {}, std::move(bounds)).with({});
}

void Registry::gauge_callback(std::string name, std::string help, std::function<double()> read) {
  auto& e = add(std::move(name), std::move(help), "gauge", {});
  std::lock_guard lock(mu_);
  e.metric = std::move(read);
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& e : entries_) {
    out += "# HELP " + e->name + " ";
    append_escaped(out, e->help, /*quote=*/false);
    out += "\n# TYPE " + e->name + " ";
    out += e->type;
    out += '\n';
    auto simple = [&](const std::vector<std::string>& values, double v) {
      append_series(out, e->name, e->labels, values);
      out += ' ';
      append_number(out, v);
      out += '\n';
    };
    if (auto* c = std::get_if<std::unique_ptr<Family<Counter>>>(&e->metric)) {
      (*c)->each([&](const auto& values, const Counter& m) { simple(values, m.value()); });
    } else if (auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&e->metric)) {
      (*g)->each([&](const auto& values, const Gauge& m) { simple(values, m.value()); });
    } else if (auto* fn = std::get_if<std::function<double()>>(&e->metric)) {
      simple({}, (*fn)());
    } else if (auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&e->metric)) {
      (*h)->each([&](const auto& values, const Histogram& m) {
        auto s = m.snapshot();
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          std::string le;
          if (i < s.bounds.size()) append_number(le, s.bounds[i]);
          else le = "+Inf";
          append_series(out, e->name + "_bucket", e->labels, values, "le", le);
          out += ' ' + std::to_string(s.cumulative[i]) + '\n';
        }
        append_series(out, e->name + "_sum", e->labels, values);
        out += ' ';
        append_number(out, s.sum);
        out += '\n';
        append_series(out, e->name + "_count", e->labels, values);
        out += ' ' + std::to_string(s.cumulative.back()) + '\n';
      });
    }
  }
  return out;
}

}  // namespace dgrid::node
