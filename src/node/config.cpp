#include "node/config.hpp"

#include <algorithm>
#include <boost/multiprecision/cpp_int.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <span>
#include <sstream>
#include <toml++/toml.h>
#include <variant>

#include "crypto/keystore.hpp"
#include "eth/devnet.hpp"
#include "store/cid.hpp"

namespace dgrid::node {

namespace fs = std::filesystem;

namespace {

enum class Kind { string, path, boolean, integer, size, ratio, amount, probability, listen, strings, choice };

using Val = std::variant<std::string, bool, uint64_t, double, u256, std::vector<std::string>, fs::path,
                         ListenAddress>;

struct Field {
  std::string_view key;  // dotted: "provider.listen"
  Kind kind;
  void (*set)(NodeConfig&, Val&&);
  std::span<const std::string_view> choices = {};  // Kind::choice
  uint64_t min = 0;                                // Kind::integer and Kind::size bounds
  uint64_t max = UINT64_MAX;
};

constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view kLogFormats[] = {"text", "json"};
constexpr uint64_t kU32Max = UINT32_MAX;

template <class T>
T take(Val&& v) {
  return std::get<T>(std::move(v));
}
std::chrono::milliseconds ms(Val&& v) { return std::chrono::milliseconds(static_cast<int64_t>(take<uint64_t>(std::move(v)))); }

// The single list of scalar keys: the TOML walk, overrides and the environment all use it.
const std::vector<Field>& fields() {
  using C = NodeConfig;
  static const std::vector<Field> f = {
      {"data_dir", Kind::path, [](C& c, Val&& v) { c.data_dir = take<fs::path>(std::move(v)); }},
      {"log_level", Kind::choice, [](C& c, Val&& v) { c.log_level = take<std::string>(std::move(v)); }, kLogLevels},
      {"log_format", Kind::choice, [](C& c, Val&& v) { c.log_format = take<std::string>(std::move(v)); }, kLogFormats},
      {"chain.rpc", Kind::string, [](C& c, Val&& v) { c.chain.rpc = take<std::string>(std::move(v)); }},
      {"chain.deployment", Kind::path, [](C& c, Val&& v) { c.chain.deployment = take<fs::path>(std::move(v)); }},
      {"chain.confirmations", Kind::integer, [](C& c, Val&& v) { c.chain.confirmations = take<uint64_t>(std::move(v)); }},
      {"chain.poll_interval_ms", Kind::integer, [](C& c, Val&& v) { c.chain.poll_interval = ms(std::move(v)); }, {}, 1},
      {"key.keystore", Kind::path, [](C& c, Val&& v) { c.key.keystore = take<fs::path>(std::move(v)); }},
      {"key.password_file", Kind::path, [](C& c, Val&& v) { c.key.password_file = take<fs::path>(std::move(v)); }},
      {"key.private_key", Kind::string, [](C& c, Val&& v) { c.key.private_key = take<std::string>(std::move(v)); }},
      {"provider.enabled", Kind::boolean, [](C& c, Val&& v) { c.provider.enabled = take<bool>(std::move(v)); }},
      {"provider.listen", Kind::listen, [](C& c, Val&& v) { c.provider.listen = take<ListenAddress>(std::move(v)); }},
      {"provider.public_url", Kind::string, [](C& c, Val&& v) { c.provider.public_url = take<std::string>(std::move(v)); }},
      {"provider.stake", Kind::amount, [](C& c, Val&& v) { c.provider.stake = take<u256>(std::move(v)); }},
      {"provider.model_sources", Kind::strings,
       [](C& c, Val&& v) { c.provider.model_sources = take<std::vector<std::string>>(std::move(v)); }},
      {"provider.threads", Kind::integer,
       [](C& c, Val&& v) { c.provider.threads = static_cast<uint32_t>(take<uint64_t>(std::move(v))); }, {}, 1, 1024},
      {"provider.capacity", Kind::integer,
       [](C& c, Val&& v) { c.provider.capacity = static_cast<uint32_t>(take<uint64_t>(std::move(v))); }, {}, 1, 65536},
      {"provider.face_value", Kind::amount, [](C& c, Val&& v) { c.provider.face_value = take<u256>(std::move(v)); }},
      {"provider.win_prob", Kind::probability, [](C& c, Val&& v) { c.provider.win_prob = take<u256>(std::move(v)); }},
      {"provider.ticket_expiry_blocks", Kind::integer,
       [](C& c, Val&& v) { c.provider.ticket_expiry_blocks = take<uint64_t>(std::move(v)); }, {}, 1},
      {"provider.redeem_interval_ms", Kind::integer, [](C& c, Val&& v) { c.provider.redeem_interval = ms(std::move(v)); }, {}, 1},
      {"provider.juror", Kind::boolean, [](C& c, Val&& v) { c.provider.juror = take<bool>(std::move(v)); }},
      {"provider.cheat_rate", Kind::ratio, [](C& c, Val&& v) { c.provider.cheat_rate = take<double>(std::move(v)); }},
      {"provider.latency_ms", Kind::integer, [](C& c, Val&& v) { c.provider.latency = ms(std::move(v)); }},
      {"gateway.enabled", Kind::boolean, [](C& c, Val&& v) { c.gateway.enabled = take<bool>(std::move(v)); }},
      {"gateway.listen", Kind::listen, [](C& c, Val&& v) { c.gateway.listen = take<ListenAddress>(std::move(v)); }},
      {"gateway.api_keys", Kind::strings, [](C& c, Val&& v) { c.gateway.api_keys = take<std::vector<std::string>>(std::move(v)); }},
      {"gateway.spot_check_rate", Kind::ratio, [](C& c, Val&& v) { c.gateway.spot_check_rate = take<double>(std::move(v)); }},
      {"gateway.verify_model_dir", Kind::path, [](C& c, Val&& v) { c.gateway.verify_model_dir = take<fs::path>(std::move(v)); }},
      {"gateway.deposit", Kind::amount, [](C& c, Val&& v) { c.gateway.deposit = take<u256>(std::move(v)); }},
      {"gateway.reserve", Kind::amount, [](C& c, Val&& v) { c.gateway.reserve = take<u256>(std::move(v)); }},
      {"gateway.top_up", Kind::amount, [](C& c, Val&& v) { c.gateway.top_up = take<u256>(std::move(v)); }},
      {"gateway.discovery_interval_ms", Kind::integer,
       [](C& c, Val&& v) { c.gateway.discovery_interval = ms(std::move(v)); }, {}, 1},
      {"gateway.max_request_bytes", Kind::integer,
       [](C& c, Val&& v) { c.gateway.max_request_bytes = take<uint64_t>(std::move(v)); }, {}, 1},
      {"gateway.default_max_tokens", Kind::integer,
       [](C& c, Val&& v) { c.gateway.default_max_tokens = static_cast<uint32_t>(take<uint64_t>(std::move(v))); }, {}, 1,
       kU32Max},
      {"storer.enabled", Kind::boolean, [](C& c, Val&& v) { c.storer.enabled = take<bool>(std::move(v)); }},
      {"storer.listen", Kind::listen, [](C& c, Val&& v) { c.storer.listen = take<ListenAddress>(std::move(v)); }},
      {"storer.public_url", Kind::string, [](C& c, Val&& v) { c.storer.public_url = take<std::string>(std::move(v)); }},
      {"storer.capacity_bytes", Kind::size, [](C& c, Val&& v) { c.storer.capacity_bytes = take<uint64_t>(std::move(v)); }},
      {"storer.min_endowment_per_gib", Kind::amount,
       [](C& c, Val&& v) { c.storer.min_endowment_per_gib = take<u256>(std::move(v)); }},
      {"storer.max_object_bytes", Kind::size,
       [](C& c, Val&& v) { c.storer.max_object_bytes = take<uint64_t>(std::move(v)); }, {}, 1},
      // One CAR batch must hold at least one largest block (2 MiB) and its framing.
      {"storer.max_upload_batch", Kind::size,
       [](C& c, Val&& v) { c.storer.max_upload_batch = take<uint64_t>(std::move(v)); }, {}, 3ull << 20, 1ull << 32},
      {"storer.claim", Kind::boolean, [](C& c, Val&& v) { c.storer.claim = take<bool>(std::move(v)); }},
      {"storer.watch", Kind::boolean, [](C& c, Val&& v) { c.storer.watch = take<bool>(std::move(v)); }},
      {"storer.repair", Kind::boolean, [](C& c, Val&& v) { c.storer.repair = take<bool>(std::move(v)); }},
  };
  return f;
}

constexpr std::string_view kSections[] = {"chain", "key", "provider", "gateway", "storer"};
constexpr std::string_view kModelKeys[] = {"name", "path", "cid", "price_input", "price_output", "context"};

const Field* find_field(std::string_view key) {
  for (const auto& f : fields())
    if (f.key == key) return &f;
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// " — did you mean X?" for the closest candidate within two edits, else "".
std::string suggestion(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_d = 3;
  for (auto c : candidates) {
    size_t d = edit_distance(name, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best.empty() ? "" : " — did you mean " + std::string(best) + "?";
}

// Key names (without the section) that a section accepts.
std::vector<std::string_view> section_keys(std::string_view section) {
  std::vector<std::string_view> out;
  for (const auto& f : fields()) {
    auto dot = f.key.find('.');
    std::string_view sec = dot == std::string_view::npos ? "" : f.key.substr(0, dot);
    if (sec == section) out.push_back(dot == std::string_view::npos ? f.key : f.key.substr(dot + 1));
  }
  if (section.empty()) out.insert(out.end(), std::begin(kSections), std::end(kSections));
  if (section == "provider") out.push_back("models");
  return out;
}

fs::path resolve_path(std::string_view text, const fs::path& base) {
  if (text.empty()) return {};
  fs::path p(text);
  return p.is_absolute() ? p.lexically_normal() : (base / p).lexically_normal();
}

Result<u256> amount_from_text(std::string_view text) {
  auto v = parse_units(text, kTokenDecimals);
  if (!v)
    return fail(Errc::invalid_argument, "bad amount '" + std::string(text) + "' (want dUSD with at most " +
                                            std::to_string(kTokenDecimals) + " decimals, e.g. \"1.5\"): " +
                                            v.error().message);
  return v;
}

Result<uint64_t> integer_from_text(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return fail(Errc::invalid_argument, "expected a non-negative integer, got '" + std::string(text) + "'");
  return v;
}

Result<double> ratio_from_double(double d) {
  if (!(d >= 0.0 && d <= 1.0))
    return fail(Errc::invalid_argument, "expected a fraction between 0 and 1, got " + std::to_string(d));
  return d;
}

// Range and choice checks shared by every source.
Result<Val> check(const Field& f, Val v) {
  if (f.kind == Kind::integer || f.kind == Kind::size) {
    uint64_t n = std::get<uint64_t>(v);
    if (n < f.min || n > f.max)
      return fail(Errc::invalid_argument, "must be between " + std::to_string(f.min) + " and " +
                                              std::to_string(f.max) + ", got " + std::to_string(n));
  }
  if (f.kind == Kind::choice) {
    const auto& s = std::get<std::string>(v);
    std::string all;
    for (auto c : f.choices) {
      if (c == s) return v;
      all += (all.empty() ? "" : "|") + std::string(c);
    }
    return fail(Errc::invalid_argument, "must be one of " + all + ", got '" + s + "'");
  }
  return v;
}

Result<Val> from_text(const Field& f, std::string_view text, const fs::path& base) {
  switch (f.kind) {
    case Kind::string:
    case Kind::choice:
      return check(f, std::string(text));
    case Kind::path:
      return Val(resolve_path(text, base));
    case Kind::boolean:
      if (text == "true") return Val(true);
      if (text == "false") return Val(false);
      return fail(Errc::invalid_argument, "expected true or false, got '" + std::string(text) + "'");
    case Kind::integer: {
      auto v = integer_from_text(text);
      if (!v) return std::unexpected(v.error());
      return check(f, *v);
    }
    case Kind::size: {
      auto v = parse_byte_size(text);
      if (!v) return std::unexpected(v.error());
      return check(f, *v);
    }
    case Kind::ratio: {
      double d = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return fail(Errc::invalid_argument, "expected a number, got '" + std::string(text) + "'");
      auto r = ratio_from_double(d);
      if (!r) return std::unexpected(r.error());
      return Val(*r);
    }
    case Kind::amount: {
      auto v = amount_from_text(text);
      if (!v) return std::unexpected(v.error());
      return Val(*v);
    }
    case Kind::probability: {
      auto v = parse_probability(text);
      if (!v) return std::unexpected(v.error());
      return Val(*v);
    }
    case Kind::listen: {
      auto v = parse_listen(text);
      if (!v) return std::unexpected(v.error());
      return Val(*v);
    }
    case Kind::strings: {
      std::vector<std::string> out;
      size_t start = 0;
      while (start <= text.size() && !text.empty()) {
        size_t comma = text.find(',', start);
        auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty()) return fail(Errc::invalid_argument, "empty item in list '" + std::string(text) + "'");
        out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      return Val(std::move(out));
    }
  }
  return fail(Errc::internal, "unhandled config kind");
}

std::string_view toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

Result<std::string> toml_string(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  return fail(Errc::invalid_argument, "expected a string, got " + std::string(toml_type_name(n)));
}

Result<u256> toml_amount(const toml::node& n) {
  if (auto s = n.as_string()) return amount_from_text(s->get());
  if (auto i = n.as_integer()) {
    if (i->get() < 0) return fail(Errc::invalid_argument, "amounts cannot be negative");
    return u256(i->get()) * 1'000'000;
  }
  if (n.is_floating_point())
    return fail(Errc::invalid_argument, "write amounts as strings (\"0.5\"): floats are inexact");
  return fail(Errc::invalid_argument, "expected an amount string, got " + std::string(toml_type_name(n)));
}

Result<Val> from_toml(const Field& f, const toml::node& n, const fs::path& base) {
  switch (f.kind) {
    case Kind::string:
    case Kind::choice:
    case Kind::path:
    case Kind::listen: {
      auto s = toml_string(n);
      if (!s) return std::unexpected(s.error());
      return from_text(f, *s, base);
    }
    case Kind::boolean:
      if (auto b = n.as_boolean()) return Val(b->get());
      return fail(Errc::invalid_argument, "expected true or false, got " + std::string(toml_type_name(n)));
    case Kind::integer:
      if (auto i = n.as_integer()) {
        if (i->get() < 0) return fail(Errc::invalid_argument, "must not be negative, got " + std::to_string(i->get()));
        return check(f, static_cast<uint64_t>(i->get()));
      }
      return fail(Errc::invalid_argument, "expected an integer, got " + std::string(toml_type_name(n)));
    case Kind::size: {
      if (auto i = n.as_integer()) {
        if (i->get() < 0) return fail(Errc::invalid_argument, "must not be negative, got " + std::to_string(i->get()));
        return check(f, static_cast<uint64_t>(i->get()));
      }
      auto s = toml_string(n);
      if (!s) return fail(Errc::invalid_argument, "expected a size (\"10GiB\", \"512MiB\" or a number of bytes), got " +
                                                      std::string(toml_type_name(n)));
      return from_text(f, *s, base);
    }
    case Kind::ratio: {
      double d = 0;
      if (auto x = n.as_floating_point()) d = x->get();
      else if (auto i = n.as_integer()) d = static_cast<double>(i->get());
      else return fail(Errc::invalid_argument, "expected a number, got " + std::string(toml_type_name(n)));
      auto r = ratio_from_double(d);
      if (!r) return std::unexpected(r.error());
      return Val(*r);
    }
    case Kind::amount: {
      auto v = toml_amount(n);
      if (!v) return std::unexpected(v.error());
      return Val(*v);
    }
    case Kind::probability: {
      if (n.is_floating_point())
        return fail(Errc::invalid_argument, "write the probability as a string (\"0.001\"): floats are inexact");
      auto s = toml_string(n);
      if (!s) return std::unexpected(s.error());
      return from_text(f, *s, base);
    }
    case Kind::strings: {
      auto arr = n.as_array();
      if (!arr) return fail(Errc::invalid_argument, "expected an array of strings, got " + std::string(toml_type_name(n)));
      std::vector<std::string> out;
      for (const auto& item : *arr) {
        auto s = toml_string(item);
        if (!s) return std::unexpected(s.error().context("item " + std::to_string(out.size() + 1)));
        out.push_back(*s);
      }
      return Val(std::move(out));
    }
  }
  return fail(Errc::internal, "unhandled config kind");
}

// Parses TOML into a NodeConfig; errors read "<source>:<line>: <key>: <what>".
class Walker {
 public:
  Walker(NodeConfig& c, fs::path base, std::string source) : c_(c), base_(std::move(base)), source_(std::move(source)) {}

  Result<void> table(const toml::table& t, std::string_view section) {
    for (auto&& [k, v] : t) {
      std::string name(k.str());
      std::string dotted = section.empty() ? name : std::string(section) + "." + name;
      if (section.empty() && std::find(std::begin(kSections), std::end(kSections), name) != std::end(kSections)) {
        auto sub = v.as_table();
        if (!sub) return err(v, dotted, "expected a table [" + name + "], got " + std::string(toml_type_name(v)));
        if (name == "provider") c_.provider.enabled = true;
        if (name == "gateway") c_.gateway.enabled = true;
        if (name == "storer") c_.storer.enabled = true;
        if (auto r = table(*sub, name); !r) return r;
        continue;
      }
      if (dotted == "provider.models") {
        if (auto r = models(v); !r) return r;
        continue;
      }
      const Field* f = find_field(dotted);
      if (!f) {
        std::string what = section.empty() ? "unknown key " + name : "unknown key " + dotted;
        return err(k, dotted, what + suggestion(name, section_keys(section)), /*prefix_key=*/false);
      }
      auto val = from_toml(*f, v, base_);
      if (!val) return err(v, dotted, val.error().message);
      f->set(c_, std::move(*val));
      if (dotted == "key.private_key")
        c_.warnings.push_back(source_ + ":" + line(v) +
                              ": key.private_key holds a raw private key in clear text; use key.keystore "
                              "outside development");
    }
    return {};
  }

 private:
  Result<void> models(const toml::node& n) {
    auto arr = n.as_array();
    if (!arr || !arr->is_array_of_tables())
      return err(n, "provider.models", "expected [[provider.models]] tables");
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto& t = *arr->get(i)->as_table();
      std::string where = "provider.models[" + std::to_string(i) + "]";
      ModelConfig m;
      bool have_name = false, have_path = false, have_cid = false;
      for (auto&& [k, v] : t) {
        std::string key(k.str());
        std::string dotted = where + "." + key;
        if (key == "name" || key == "path" || key == "cid") {
          auto s = toml_string(v);
          if (!s) return err(v, dotted, s.error().message);
          if (s->empty()) return err(v, dotted, "must not be empty");
          if (key == "name") {
            m.name = *s, have_name = true;
          } else if (key == "path") {
            m.path = resolve_path(*s, base_), have_path = true;
          } else {
            auto cid = store::Cid::parse(*s);
            if (!cid) return err(v, dotted, "not a content id: " + cid.error().message);
            m.cid = cid->to_string(), have_cid = true;
          }
        } else if (key == "price_input" || key == "price_output") {
          auto a = toml_amount(v);
          if (!a) return err(v, dotted, a.error().message);
          (key == "price_input" ? m.price_input : m.price_output) = *a;
        } else if (key == "context") {
          auto ctx = v.as_integer();
          if (!ctx || ctx->get() < 0 || static_cast<uint64_t>(ctx->get()) > kU32Max)
            return err(v, dotted, "expected a non-negative integer (0: the model's own context)");
          m.context = static_cast<uint32_t>(ctx->get());
        } else {
          std::vector<std::string_view> known(std::begin(kModelKeys), std::end(kModelKeys));
          return err(k, dotted, "unknown key " + dotted + suggestion(key, known), false);
        }
      }
      if (!have_name) return err(t, where, "missing name");
      if (have_path == have_cid)
        return err(t, where, have_path ? "give either path or cid, not both"
                                        : "missing path (the model's GGUF file) or cid (its content id, fetched from storers)");
      for (const auto& other : c_.provider.models)
        if (other.name == m.name) return err(t, where, "duplicate model name '" + m.name + "'");
      c_.provider.models.push_back(std::move(m));
    }
    return {};
  }

  template <class Node>
  static std::string line(const Node& n) {
    return std::to_string(n.source().begin.line);
  }

  template <class Node>
  Result<void> err(const Node& n, std::string_view key, const std::string& what, bool prefix_key = true) const {
    std::string msg = source_ + ":" + line(n) + ": ";
    if (prefix_key) msg += std::string(key) + ": ";
    return fail(Errc::invalid_argument, msg + what);
  }

  NodeConfig& c_;
  fs::path base_;
  std::string source_;
};

}  // namespace

std::string ListenAddress::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ListenAddress> parse_listen(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, "bad listen address '" + std::string(text) + "' (want host:port, e.g. "
                                        "127.0.0.1:8001): " + std::string(why));
  };
  ListenAddress a;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("an IPv6 host is written [addr]:port");
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :port");
    a.host = std::string(text.substr(0, colon));
    if (a.host.find(':') != std::string::npos) return bad("an IPv6 host is written [addr]:port");
    port = text.substr(colon + 1);
  }
  if (a.host.empty()) return bad("missing host");
  uint32_t p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535)
    return bad("port must be 0..65535");
  a.port = static_cast<uint16_t>(p);
  return a;
}

Result<uint64_t> parse_byte_size(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, "bad size '" + std::string(text) + "' (want bytes, or a whole number with a unit: "
                                        "\"512MiB\", \"10GiB\", \"1TB\"): " + std::string(why));
  };
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return bad("no number");
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc() || end != text.data() + digits) return bad("number out of range");
  std::string_view unit = text.substr(digits);
  while (unit.starts_with(' ')) unit.remove_prefix(1);
  if (unit.starts_with('.')) return bad("fractions are not accepted; use a smaller unit (\"1536MiB\")");
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},           {"B", 1},
                                    {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
                                    {"kB", 1'000},       {"KB", 1'000},       {"MB", 1'000'000},   {"GB", 1'000'000'000},
                                    {"TB", 1'000'000'000'000}};
  for (const auto& u : kUnits) {
    if (u.name != unit) continue;
    if (n > UINT64_MAX / u.factor) return bad("too large");
    return n * u.factor;
  }
  return bad("unknown unit '" + std::string(unit) + "' (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)");
}

Result<u256> parse_probability(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) return parse_u256(text);  // the raw field
  using boost::multiprecision::cpp_int;
  auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument,
                "bad probability '" + std::string(text) + "' (want a decimal in (0, 1], e.g. \"0.001\"): " + std::string(why));
  };
  auto dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty())) return bad("not a decimal number");
  if (frac.size() > 40) return bad("more than 40 decimals");
  cpp_int num = 0, den = 1;
  for (std::string_view part : {whole, frac})
    for (char ch : part) {
      if (ch < '0' || ch > '9') return bad("not a decimal number");
      num = num * 10 + (ch - '0');
    }
  for (size_t i = 0; i < frac.size(); ++i) den *= 10;
  if (num == 0) return bad("a ticket that never wins pays nothing");
  if (num > den) return bad("greater than 1");
  cpp_int scaled = (num << 256) / den;
  const cpp_int max = (cpp_int(1) << 256) - 1;
  if (scaled > max) scaled = max;  // probability 1 is the largest field value
  return u256(scaled);
}

std::vector<std::string_view> NodeConfig::keys() {
  std::vector<std::string_view> out;
  for (const auto& f : fields()) out.push_back(f.key);
  return out;
}

Result<NodeConfig> NodeConfig::parse(std::string_view toml_text, const fs::path& base_dir, std::string_view source) {
  NodeConfig c;
  c.data_dir = resolve_path("node-data", base_dir);
  toml::table t;
  try {
    t = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return fail(Errc::malformed, std::string(source) + ":" + std::to_string(e.source().begin.line) + ": " +
                                     std::string(e.description()));
  }
  Walker w(c, base_dir, std::string(source));
  if (auto r = w.table(t, ""); !r) return std::unexpected(r.error());
  return c;
}

Result<NodeConfig> NodeConfig::load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::io, "cannot read config file " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20)) return fail(Errc::invalid_argument, file.string() + ": config file over 1 MiB");
  return parse(text.str(), fs::absolute(file).parent_path(), file.string());
}

Result<void> NodeConfig::apply_override(std::string_view name, std::string_view value) {
  const Field* f = find_field(name);
  if (!f) {
    if (name.starts_with("provider.models"))
      return fail(Errc::invalid_argument, "provider.models cannot be overridden: edit the config file");
    std::vector<std::string_view> all = keys();
    return fail(Errc::invalid_argument, "unknown key " + std::string(name) + suggestion(name, all));
  }
  auto v = from_text(*f, value, fs::current_path());
  if (!v) return std::unexpected(v.error().context(std::string(name)));
  f->set(*this, std::move(*v));
  return {};
}

Result<void> NodeConfig::apply_assignment(std::string_view assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return fail(Errc::invalid_argument, "bad --set '" + std::string(assignment) + "': want key=value");
  auto r = apply_override(assignment.substr(0, eq), assignment.substr(eq + 1));
  if (!r) return std::unexpected(r.error().context("--set"));
  return {};
}

Result<void> NodeConfig::apply_env(const EnvLookup& getenv) {
  for (const auto& f : fields()) {
    std::string name = "DGRID_";
    for (char ch : f.key) name += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const char* value = getenv(name.c_str());
    if (!value) continue;
    if (auto r = apply_override(f.key, value); !r) return std::unexpected(r.error().context("environment " + name));
  }
  return {};
}

Result<void> NodeConfig::validate() const {
  auto bad = [](std::string msg) { return fail(Errc::invalid_argument, "config: " + std::move(msg)); };
  if (!provider.enabled && !gateway.enabled && !storer.enabled)
    return bad("nothing to run: enable [provider], [gateway] or [storer]");
  if (chain.deployment.empty())
    return bad("chain.deployment is required (a devnet.json, e.g. .devnet/devnet.json, or a deployment json)");
  bool ks = !key.keystore.empty(), pk = !key.private_key.empty();
  if (ks && pk) return bad("give key.keystore or key.private_key, not both");
  if (!ks && !pk) return bad("a signing key is required: key.keystore + key.password_file, or key.private_key (dev only)");
  if (ks && key.password_file.empty()) return bad("key.keystore needs key.password_file");
  if (pk) {
    if (auto k = crypto::PrivateKey::from_hex(key.private_key); !k)
      return bad("key.private_key: " + k.error().message);
  }
  if (provider.enabled) {
    if (provider.models.empty()) return bad("the provider serves no model: add a [[provider.models]] table");
    if (provider.face_value == 0) return bad("provider.face_value must be above 0");
    if (provider.win_prob == 0) return bad("provider.win_prob must be above 0 (e.g. \"0.001\")");
  }
  struct Listener {
    bool on;
    std::string_view name;
    const ListenAddress& at;
  };
  const Listener listeners[] = {{provider.enabled, "provider.listen", provider.listen},
                                {gateway.enabled, "gateway.listen", gateway.listen},
                                {storer.enabled, "storer.listen", storer.listen}};
  for (size_t i = 0; i < std::size(listeners); ++i)
    for (size_t j = i + 1; j < std::size(listeners); ++j) {
      const auto &a = listeners[i], &b = listeners[j];
      if (a.on && b.on && a.at.port != 0 && a.at.port == b.at.port && a.at.host == b.at.host)
        return bad(std::string(a.name) + " and " + std::string(b.name) + " are the same address " + a.at.to_string());
    }
  if (storer.enabled && storer.capacity_bytes != 0 && storer.capacity_bytes < (1u << 20))
    return bad("storer.capacity_bytes below 1 MiB cannot hold even one chunk (0 means unlimited)");
  if (gateway.enabled && gateway.reserve > gateway.deposit * 1000)
    return bad("gateway.reserve is implausibly larger than gateway.deposit");
  return {};
}

Result<NodeConfig> load_node_config(const fs::path& file, const std::vector<std::string>& assignments,
                                    const NodeConfig::EnvLookup& getenv) {
  auto c = NodeConfig::load(file);
  if (!c) return c;
  if (getenv)
    if (auto r = c->apply_env(getenv); !r) return std::unexpected(r.error());
  for (const auto& a : assignments)
    if (auto r = c->apply_assignment(a); !r) return std::unexpected(r.error());
  if (auto r = c->validate(); !r) return std::unexpected(r.error().context(file.string()));
  return c;
}

Result<ChainTarget> resolve_chain(const ChainConfig& chain) {
  std::ifstream in(chain.deployment, std::ios::binary);
  if (!in) return fail(Errc::io, "cannot read chain.deployment " + chain.deployment.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return fail(Errc::malformed, chain.deployment.string() + ": not JSON: " + e.what());
  }
  ChainTarget t;
  if (j.is_object() && j.contains("contracts")) {  // devnet.json
    auto d = eth::DevnetInfo::from_json(j);
    if (!d) return std::unexpected(d.error().context(chain.deployment.string()));
    t.rpc_url = chain.rpc.value_or(d->rpc_url);
    t.deployment = d->contracts;
  } else {
    auto d = eth::Deployment::from_json(j);
    if (!d) return std::unexpected(d.error().context(chain.deployment.string()));
    t.rpc_url = chain.rpc.value_or("http://127.0.0.1:8545");
    t.deployment = *d;
  }
  return t;
}

Result<crypto::PrivateKey> load_key(const KeyConfig& key) {
  if (!key.private_key.empty()) {
    auto k = crypto::PrivateKey::from_hex(key.private_key);
    if (!k) return std::unexpected(k.error().context("key.private_key"));
    return k;
  }
  if (key.keystore.empty()) return fail(Errc::invalid_argument, "no key configured (key.keystore or key.private_key)");
  std::ifstream in(key.password_file, std::ios::binary);
  if (!in) return fail(Errc::io, "cannot read key.password_file " + key.password_file.string());
  std::string password((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Editors add a final newline; it is never part of the password.
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  auto k = crypto::load_keystore(key.keystore, password);
  if (!k) return std::unexpected(k.error().context("key.keystore " + key.keystore.string()));
  return k;
}

}  // namespace dgrid::node
