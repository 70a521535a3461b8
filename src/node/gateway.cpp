// The gateway's lifecycle (funding, threads), its small endpoints (models, receipts, route
// explain, stats) and API-key checks. Completions live in gateway_relay.cpp, discovery in
// gateway_discovery.cpp, payment in gateway_credit.cpp, receipts/spot checks/disputes in
// gateway_verify.cpp.
#include "node/gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "crypto/keccak.hpp"
#include "node/config.hpp"
#include "node/gateway_impl.hpp"

namespace dgrid::node {

namespace {

// Constant-time comparison: an API key check must not leak how many leading bytes matched.
bool same_key(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Checks `Authorization: Bearer <key>` when keys are configured; answers 401 and returns
// false otherwise.
bool authorized(const GatewayOptions& o, const net::Request& req, net::ResponseWriter& w) {
  if (o.api_keys.empty()) return true;
  auto h = req.header("authorization");
  if (!h) {
    w.send(net::error_response(401, "missing API key: send Authorization: Bearer <key>", "authentication_error",
                               "invalid_api_key"));
    return false;
  }
  std::string_view v = *h;
  constexpr std::string_view kBearer = "Bearer ";
  if (v.size() < kBearer.size() || !std::equal(kBearer.begin(), kBearer.end(), v.begin(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
      })) {
    w.send(net::error_response(401, "Authorization header must be \"Bearer <key>\"", "authentication_error",
                               "invalid_api_key"));
    return false;
  }
  v.remove_prefix(kBearer.size());
  bool ok = false;
  for (const auto& k : o.api_keys) ok |= same_key(v, k);
  if (!ok) {
    w.send(net::error_response(401, "incorrect API key", "authentication_error", "invalid_api_key"));
    return false;
  }
  return true;
}

Result<Hash32> load_or_make_secret(NodeState& state, uint64_t salt) {
  constexpr std::string_view kKey = "gateway.spot_check_secret";
  auto cur = state.get(kKey);
  if (!cur) return std::unexpected(cur.error());
  if (*cur) {
    auto h = fixed_from_hex<32>(**cur);
    if (h) return *h;
  }
  // A fresh secret from the OS random source (via a generated key's secret bytes) mixed
  // with the caller's salt; stored so that a restart decides the same jobs the same way.
  auto k = crypto::PrivateKey::generate();
  Bytes seed(k.secret().begin(), k.secret().end());
  Hash32 s = to_be32(salt);
  seed.insert(seed.end(), s.begin(), s.end());
  Hash32 secret = crypto::keccak256(seed);
  if (auto p = state.put(kKey, to_hex(secret)); !p) return std::unexpected(p.error());
  return secret;
}

}  // namespace

GatewayOptions gateway_options(const NodeConfig& config) {
  GatewayOptions o;
  const auto& g = config.gateway;
  o.api_keys = g.api_keys;
  o.spot_check_rate = g.spot_check_rate;
  o.verify_model_dir = g.verify_model_dir;
  o.deposit = g.deposit;
  o.reserve = g.reserve;
  o.top_up = g.top_up;
  o.discovery_interval = g.discovery_interval;
  o.check_interval = std::max(config.chain.poll_interval, std::chrono::milliseconds(100));
  o.max_request_bytes = static_cast<size_t>(g.max_request_bytes);
  o.default_max_tokens = g.default_max_tokens;
  o.confirmations = config.chain.confirmations;
  return o;
}

GatewayMetrics::GatewayMetrics(Metrics& r)
    : requests(r.counter("dgrid_gateway_requests_total", "Completion requests received")),
      requests_failed(r.counter("dgrid_gateway_requests_failed_total", "Completion requests that ended in an error")),
      failovers(r.counter("dgrid_gateway_failovers_total", "Provider attempts that failed before the first token")),
      tokens(r.counter_family("dgrid_gateway_tokens_total", "Tokens in verified receipts", {"kind"})),
      tickets_sent(r.counter("dgrid_gateway_tickets_sent_total", "Payment tickets sent to providers")),
      ticket_ev_sent(r.counter("dgrid_gateway_ticket_ev_sent_total", "Expected value of tickets sent (token base units)")),
      receipts(r.counter("dgrid_gateway_receipts_total", "Receipts verified and stored")),
      receipts_invalid(r.counter("dgrid_gateway_receipts_invalid_total", "Receipts that failed verification")),
      spot_checks(r.counter_family("dgrid_gateway_spot_checks_total", "Spot checks by result", {"result"})),
      disputes(r.counter_family("dgrid_gateway_disputes_total", "Disputes opened and how they ended", {"event"})),
      providers_live(r.gauge("dgrid_gateway_providers_live", "Providers whose last /info poll succeeded")),
      ttft(r.histogram("dgrid_gateway_ttft_seconds", "Time to the first streamed token", latency_buckets())) {}

Gateway::Impl::Impl(GatewayOptions o, ChainContext& c, NodeState& s, Metrics& registry)
    : options(std::move(o)),
      chain(c),
      state(s),
      metrics(registry),
      issuer(c.key(), c.broker_domain()),
      rng(std::random_device{}()) {}

uint64_t Gateway::Impl::random_u64() {
  std::lock_guard lock(rng_mu);
  return rng();
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { stop(); }

Result<std::unique_ptr<Gateway>> Gateway::start(const NodeConfig& config, ChainContext& chain, NodeState& state,
                                                 Metrics& metrics) {
  return start(gateway_options(config), chain, state, metrics);
}

Result<std::unique_ptr<Gateway>> Gateway::start(const GatewayOptions& options, ChainContext& chain,
                                                 NodeState& state, Metrics& metrics) {
  if (options.spot_check_rate < 0 || options.spot_check_rate > 1) {
    return fail(Errc::invalid_argument, "gateway.spot_check_rate must be between 0 and 1");
  }
  if (options.max_attempts == 0) return fail(Errc::invalid_argument, "gateway: max_attempts must be at least 1");
  auto impl = std::make_unique<Impl>(options, chain, state, metrics);
  Impl& g = *impl;

  // Economics the checker needs: what a provider loses when caught, what a dispute costs us.
  const auto& disputes = chain.contracts().disputes;
  auto slash = disputes.call("providerSlashAmount", {});
  if (!slash) return fail(slash.error().code, "gateway: reading Disputes.providerSlashAmount: " + slash.error().message);
  auto bond = disputes.call("challengeBond", {});
  if (!bond) return fail(bond.error().code, "gateway: reading Disputes.challengeBond: " + bond.error().message);
  g.spot_policy.rate = options.spot_check_rate;
  g.spot_policy.slash_amount = slash->values.at(0).as_uint().value_or(0);
  g.challenge_bond = bond->values.at(0).as_uint().value_or(0);
  auto secret = load_or_make_secret(state, g.random_u64());
  if (!secret) return fail(secret.error().code, "gateway: " + secret.error().message);
  g.spot_secret = *secret;

  // Keep the TicketBroker deposit and reserve at least as configured: tickets are only
  // worth something to providers while they are covered.
  auto info = chain.contracts().broker.sender_info(chain.address());
  if (!info) return fail(info.error().code, "gateway: reading TicketBroker sender info: " + info.error().message);
  u256 add_deposit = info->deposit < options.deposit ? options.deposit - info->deposit : u256(0);
  u256 add_reserve = info->reserve < options.reserve ? options.reserve - info->reserve : u256(0);
  if (add_deposit != 0 || add_reserve != 0) {
    spdlog::info("gateway: funding TicketBroker deposit +{} reserve +{} (targets {} / {})", to_dec(add_deposit),
                 to_dec(add_reserve), to_dec(options.deposit), to_dec(options.reserve));
    auto f = chain.contracts().broker.fund(chain.wallet(), chain.contracts().token, add_deposit, add_reserve);
    if (!f) return fail(f.error().code, "gateway: funding TicketBroker: " + f.error().message);
  }

  g.index_local_models();
  if (auto r = g.load_known_providers(); !r) return std::unexpected(r.error());
  auto follower = make_registry_follower(g);
  if (!follower) return std::unexpected(follower.error());
  g.follower = std::move(*follower);

  std::unique_ptr<Gateway> gw(new Gateway(std::move(impl)));
  if (options.start_threads) {
    Impl& gi = *gw->impl_;
    gi.discovery_thread = std::thread([&gi] { gi.loop(gi.options.discovery_interval, &Impl::discovery_step); });
    gi.checker_thread = std::thread([&gi] { gi.loop(gi.options.check_interval, &Impl::checker_step); });
  }
  spdlog::info("gateway: started as {} (spot checks >= {:.1f}%, {} API keys)", chain.address().checksummed(),
               options.spot_check_rate * 100, options.api_keys.size());
  return gw;
}

void Gateway::Impl::loop(std::chrono::milliseconds interval, void (Impl::*step)()) {
  std::unique_lock lock(loop_mu);
  while (!stopping) {
    lock.unlock();
    try {
      (this->*step)();
    } catch (const std::exception& e) {
      // A worker must never take the node down; the next pass tries again.
      spdlog::error("gateway: background pass failed: {}", e.what());
    }
    lock.lock();
    loop_cv.wait_for(lock, interval, [this] { return stopping; });
  }
}

void Gateway::Impl::discovery_step() {
  if (auto r = discover_once(); !r) spdlog::warn("gateway: discovery: {}", r.error().message);
}

void Gateway::Impl::checker_step() { check_once(); }

void Gateway::stop() {
  {
    std::lock_guard lock(impl_->loop_mu);
    impl_->stopping = true;
  }
  impl_->loop_cv.notify_all();
  if (impl_->discovery_thread.joinable()) impl_->discovery_thread.join();
  if (impl_->checker_thread.joinable()) impl_->checker_thread.join();
}

Result<void> Gateway::discover_once() { return impl_->discover_once(); }
void Gateway::check_once() { impl_->check_once(); }

void Gateway::register_routes(net::Router& router) {
  Impl& g = *impl_;
  router.add("GET", "/v1/models", [&g](net::Request& req, net::ResponseWriter& w) {
    if (!authorized(g.options, req, w)) return;
    w.send(net::json_response(200, g.models_json()));
  });
  router.add("GET", "/v1/models/{model}", [&g](net::Request& req, net::ResponseWriter& w) {
    if (!authorized(g.options, req, w)) return;
    const std::string& want = req.params["model"];
    auto all = g.models_json();
    if (all.contains("data") && all["data"].is_array()) {
      for (const auto& m : all["data"]) {
        if (m.value("id", "") == want) return (void)w.send(net::json_response(200, m));
      }
    }
    w.send(net::error_response(404, "The model '" + want + "' does not exist or no live provider serves it", "invalid_request_error",
                               "model_not_found"));
  });
  router.add("POST", "/v1/completions", [&g](net::Request& req, net::ResponseWriter& w) {
    if (!authorized(g.options, req, w)) return;
    handle_completion(g, req, w, /*chat=*/false);
  });
  router.add("POST", "/v1/chat/completions", [&g](net::Request& req, net::ResponseWriter& w) {
    if (!authorized(g.options, req, w)) return;
    handle_completion(g, req, w, /*chat=*/true);
  });
  router.add("GET", "/dgrid/v1/receipts/{job_id}", [&g](net::Request& req, net::ResponseWriter& w) {
    auto id = fixed_from_hex<32>(req.params["job_id"]);
    if (!id) {
      w.send(net::error_response(400, "job_id must be 0x followed by 64 hex digits", "invalid_request_error",
                                 "invalid_job_id"));
      return;
    }
    auto r = g.state.receipt(*id);
    if (!r) {
      w.send(net::error_response(500, "reading the receipt store: " + r.error().message, "internal_error", "internal_error"));
      return;
    }
    if (!*r) {
      w.send(net::error_response(404, "no receipt for job " + to_hex(*id), "invalid_request_error", "not_found"));
      return;
    }
    net::Response resp;
    resp.body = **r;
    w.send(std::move(resp));
  });
  router.add("GET", "/dgrid/v1/route/explain", [&g](net::Request& req, net::ResponseWriter& w) {
    auto name = req.query_param("model");
    if (!name || name->empty()) {
      w.send(net::error_response(400, "query parameter model=NAME is required", "invalid_request_error", "missing_model"));
      return;
    }
    uint32_t max_tokens = g.options.default_max_tokens;
    if (auto mt = req.query_param("max_tokens")) {
      auto v = parse_u256(*mt);
      if (!v || *v == 0 || *v > u256(UINT32_MAX)) {
        w.send(net::error_response(400, "max_tokens must be a positive integer", "invalid_request_error",
                                   "invalid_max_tokens"));
        return;
      }
      max_tokens = static_cast<uint32_t>(*v);
    }
    uint64_t prompt_tokens = 0;
    if (auto pt = req.query_param("prompt_tokens")) {
      auto v = parse_u256(*pt);
      if (!v || *v > u256(UINT32_MAX)) {
        w.send(net::error_response(400, "prompt_tokens must be a non-negative integer", "invalid_request_error",
                                   "invalid_prompt_tokens"));
        return;
      }
      prompt_tokens = static_cast<uint64_t>(*v);
    }
    auto model = g.resolve_model(*name);
    if (!model) {
      w.send(net::error_response(404, "model \"" + *name + "\" is not served by any live provider",
                                 "invalid_request_error", "model_not_found"));
      return;
    }
    std::mt19937_64 rng(g.random_u64());
    auto d = g.book.route(*model, prompt_tokens, max_tokens, {}, rng);
    nlohmann::json j = d.to_json();
    j["model_name"] = *name;
    w.send(net::json_response(200, j));
  });
  router.add("GET", "/dgrid/v1/stats", [this](net::Request&, net::ResponseWriter& w) {
    w.send(net::json_response(200, stats()));
  });
}

nlohmann::json Gateway::stats() const {
  GatewayStats& s = impl_->stats;
  nlohmann::json providers = nlohmann::json::array();
  u256 ev_sent;
  {
    std::lock_guard lock(s.mu);
    uint64_t total_jobs = 0;
    for (const auto& [a, p] : s.providers) total_jobs += p.jobs;
    for (const auto& [a, p] : s.providers) {
      providers.push_back({{"address", a.checksummed()},
                           {"jobs", p.jobs},
                           {"tokens", p.tokens},
                           {"failures", p.failures},
                           {"cost", to_dec(p.cost)},
                           {"share", total_jobs == 0 ? 0.0 : static_cast<double>(p.jobs) / static_cast<double>(total_jobs)}});
    }
    ev_sent = s.ticket_ev_sent;
  }
  size_t live = 0, known = 0;
  {
    std::lock_guard lock(impl_->dir_mu);
    known = impl_->providers.size();
    for (const auto& [a, p] : impl_->providers) live += p.live ? 1 : 0;
  }
  return {{"address", impl_->chain.address().checksummed()},
          {"requests", s.requests.load()},
          {"requests_failed", s.requests_failed.load()},
          {"failovers", s.failovers.load()},
          {"tokens", {{"prompt", s.prompt_tokens.load()}, {"completion", s.completion_tokens.load()}}},
          {"providers", providers},
          {"providers_known", known},
          {"providers_live", live},
          {"tickets_sent", s.tickets_sent.load()},
          {"ticket_ev_sent", to_dec(ev_sent)},
          {"receipts", {{"stored", s.receipts_stored.load()}, {"invalid", s.receipts_invalid.load()}}},
          {"spot_checks",
           {{"run", s.spot_checks.load()},
            {"matches", s.spot_matches.load()},
            {"mismatches", s.spot_mismatches.load()},
            {"errors", s.spot_errors.load()}}},
          {"disputes",
           {{"opened", s.disputes_opened.load()},
            {"won", s.disputes_won.load()},
            {"lost", s.disputes_lost.load()},
            {"other", s.disputes_other.load()}}}};
}

}  // namespace dgrid::node
