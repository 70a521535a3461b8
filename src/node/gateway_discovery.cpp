// Provider discovery: ProviderRegistry events say who exists (and when a record changed),
// the registry says where they are, what they staked and which models they declared, and
// each provider's /dgrid/v1/info says what it serves now, at what price, with which ticket
// parameters. Live offers feed the ProviderBook the router scores.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "node/gateway_impl.hpp"

namespace dgrid::node {

namespace {

constexpr std::string_view kKnownKey = "gateway.providers";
constexpr std::string_view kFollowerStream = "gateway.registry";

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

Result<uint32_t> small_uint(const nlohmann::json& j, std::string_view key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return fail(Errc::malformed, std::string(key) + " must be a non-negative integer");
  auto v = it->get<uint64_t>();
  if (v > UINT32_MAX) return fail(Errc::malformed, std::string(key) + " is too large");
  return static_cast<uint32_t>(v);
}

// Parses a provider's /info against what the chain says about it.
Result<void> parse_info(const nlohmann::json& j, ProviderRecord& p, uint64_t chain_id, const crypto::Address& broker) {
  if (!j.is_object()) return fail(Errc::malformed, "/info is not a JSON object");
  auto addr_it = j.find("address");
  if (addr_it == j.end() || !addr_it->is_string()) return fail(Errc::malformed, "/info has no address");
  auto addr = crypto::parse_address(addr_it->get<std::string>());
  if (!addr) return fail(Errc::malformed, "/info address: " + addr.error().message);
  if (*addr != p.address) {
    return fail(Errc::permission_denied, "/info at " + p.url + " answers as " + addr->checksummed() +
                                             ", not the registered provider " + p.address.checksummed());
  }
  auto cid = j.find("chain_id");
  if (cid == j.end() || !cid->is_number_unsigned() || cid->get<uint64_t>() != chain_id) {
    return fail(Errc::invalid_argument, "/info chain_id is not this chain's (" + std::to_string(chain_id) + ")");
  }
  auto cap = small_uint(j, "capacity");
  if (!cap) return fail(cap.error().code, "/info " + cap.error().message);
  auto inf = small_uint(j, "in_flight");
  auto tp_it = j.find("ticket_params");
  if (tp_it == j.end()) return fail(Errc::malformed, "/info has no ticket_params");
  auto tp = market::ticket_params_from_json(*tp_it);
  if (!tp) return fail(tp.error().code, "/info ticket_params: " + tp.error().message);
  if (tp->recipient != p.address) return fail(Errc::invalid_argument, "/info ticket_params.recipient is not the provider");
  if (tp->broker != broker || tp->chain_id != chain_id) {
    return fail(Errc::invalid_argument, "/info ticket_params name another TicketBroker or chain");
  }
  auto models = j.find("models");
  if (models == j.end() || !models->is_array()) return fail(Errc::malformed, "/info models must be an array");
  std::vector<ModelOffer> offers;
  for (const auto& m : *models) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string() || !m.contains("model_id") ||
        !m["model_id"].is_string() || !m.contains("price")) {
      return fail(Errc::malformed, "/info models[] entries need id, model_id and price");
    }
    ModelOffer o;
    o.name = m["id"].get<std::string>();
    auto id = fixed_from_hex<32>(m["model_id"].get<std::string>());
    if (!id) return fail(Errc::malformed, "/info model " + o.name + ": model_id: " + id.error().message);
    o.model_id = *id;
    auto price = market::price_from_json(m["price"]);
    if (!price) return fail(price.error().code, "/info model " + o.name + ": price: " + price.error().message);
    o.price = *price;
    if (auto c = small_uint(m, "context")) o.context = *c;
    // Only models declared on chain: juries for disputes are drawn from the model's
    // on-chain providers, so an undeclared model could never be judged.
    if (std::ranges::find(p.chain_models, o.model_id) == p.chain_models.end()) {
      spdlog::debug("gateway: {} offers {} ({}) but has not declared it on chain; skipped", p.address.checksummed(),
                    o.name, to_hex(o.model_id));
      continue;
    }
    offers.push_back(std::move(o));
  }
  p.capacity = std::max<uint32_t>(*cap, 1);
  p.in_flight = inf ? *inf : 0;
  p.ticket_params = *tp;
  p.offers = std::move(offers);
  return {};
}

}  // namespace

const ModelOffer* ProviderRecord::offer(const Hash32& model) const {
  for (const auto& o : offers)
    if (o.model_id == model) return &o;
  return nullptr;
}

Result<std::unique_ptr<EventFollower>> make_registry_follower(Gateway::Impl& g) {
  FollowerOptions fo;
  fo.stream = std::string(kFollowerStream);
  fo.addresses = {g.chain.deployment().registry};
  fo.start_block = g.chain.deployment().block;
  fo.confirmations = g.options.confirmations;
  Gateway::Impl* gp = &g;
  return std::make_unique<EventFollower>(g.chain.rpc(), g.state, fo, [gp](const eth::Log& log) -> Result<void> {
    // Every registry event but SlashersSet names the provider as its first indexed topic.
    if (log.topics.size() < 2) return {};
    crypto::Address a;
    std::copy(log.topics[1].begin() + 12, log.topics[1].end(), a.bytes.begin());
    std::lock_guard lock(gp->dir_mu);
    if (std::ranges::find(gp->dirty, a) == gp->dirty.end()) gp->dirty.push_back(a);
    return {};
  });
}

Result<void> Gateway::Impl::load_known_providers() {
  // The follower's cursor survives restarts, so providers registered before it are not
  // replayed: remember who we know.
  auto v = state.get(kKnownKey);
  if (!v) return fail(v.error().code, "gateway: reading known providers: " + v.error().message);
  if (!*v) return {};
  auto j = nlohmann::json::parse(**v, nullptr, false);
  if (!j.is_array()) {
    spdlog::warn("gateway: ignoring unreadable known-provider list in the state");
    return {};
  }
  std::lock_guard lock(dir_mu);
  for (const auto& e : j) {
    if (!e.is_string()) continue;
    auto a = crypto::parse_address(e.get<std::string>());
    if (a && std::ranges::find(dirty, *a) == dirty.end()) dirty.push_back(*a);
  }
  return {};
}

void Gateway::Impl::save_known_providers() {
  nlohmann::json j = nlohmann::json::array();
  {
    std::lock_guard lock(dir_mu);
    for (const auto& [a, p] : providers) j.push_back(a.hex());
  }
  if (auto r = state.put(kKnownKey, j.dump()); !r) spdlog::warn("gateway: saving known providers: {}", r.error().message);
}

void Gateway::Impl::refresh_chain_record(const crypto::Address& who) {
  auto info = chain.contracts().registry.provider(who);
  if (!info) {
    spdlog::warn("gateway: reading registry record of {}: {}", who.checksummed(), info.error().message);
    std::lock_guard lock(dir_mu);
    dirty.push_back(who);  // try again next pass
    return;
  }
  std::lock_guard lock(dir_mu);
  if (!info->registered) {
    providers.erase(who);
    book.remove(who);
    return;
  }
  ProviderRecord& p = providers[who];
  p.address = who;
  p.url = trim_slash(info->uri);
  p.active = info->active;
  p.stake = info->stake;
  p.chain_models = info->models;
}

void Gateway::Impl::poll_info(const crypto::Address& who) {
  std::string url;
  {
    std::lock_guard lock(dir_mu);
    auto it = providers.find(who);
    if (it == providers.end()) return;
    url = it->second.url;
    if (!it->second.active) {
      it->second.live = false;
      it->second.last_error = "not active on chain (stake below the minimum?)";
      book.remove(who);
      return;
    }
  }
  net::ClientRequest r;
  r.url = url + "/dgrid/v1/info";
  r.timeout = std::chrono::milliseconds(3'000);
  r.connect_timeout = std::chrono::milliseconds(1'000);
  auto resp = http.request(r);
  Result<void> ok;
  nlohmann::json body;
  if (!resp) {
    ok = fail(resp.error().code, resp.error().message);
  } else if (resp->status != 200) {
    ok = fail(Errc::unavailable, "/info answered HTTP " + std::to_string(resp->status));
  } else {
    body = nlohmann::json::parse(resp->body, nullptr, false);
    if (body.is_discarded()) ok = fail(Errc::malformed, "/info is not JSON");
  }

  std::lock_guard lock(dir_mu);
  auto it = providers.find(who);
  if (it == providers.end()) return;
  ProviderRecord& p = it->second;
  if (ok) ok = parse_info(body, p, chain.chain_id(), chain.deployment().broker);
  if (!ok) {
    if (p.live || p.last_error != ok.error().message) {
      spdlog::warn("gateway: provider {} at {} is not usable: {}", who.checksummed(), p.url, ok.error().message);
    }
    p.live = false;
    p.last_error = ok.error().message;
    book.remove(who);
    return;
  }
  if (!p.live) spdlog::info("gateway: provider {} at {} is live ({} models)", who.checksummed(), p.url, p.offers.size());
  p.live = true;
  p.last_error.clear();
  p.last_seen = Clock::now();
  // Replace this provider's endpoints when the set of models changed (remove() drops its
  // statistics too, which is right: it is effectively a different service now).
  std::set<Hash32> now;
  for (const auto& o : p.offers) now.insert(o.model_id);
  std::set<Hash32> before;
  for (const auto& e : book.endpoints())
    if (e.address == who) before.insert(e.model_id);
  if (!std::ranges::includes(now, before)) book.remove(who);
  for (const auto& o : p.offers) {
    market::ProviderEndpoint e;
    e.address = who;
    e.url = p.url;
    e.model_id = o.model_id;
    e.price = o.price;
    e.stake = p.stake;
    e.capacity = p.capacity;
    book.upsert(e);
  }
}

Result<void> Gateway::Impl::discover_once() {
  Result<void> result;
  if (follower) {
    if (auto r = follower->poll_once(); !r) result = fail(r.error().code, "registry events: " + r.error().message);
  }
  std::vector<crypto::Address> todo;
  size_t known_before = 0;
  {
    std::lock_guard lock(dir_mu);
    todo.swap(dirty);
    known_before = providers.size();
  }
  std::ranges::sort(todo);
  auto dup = std::ranges::unique(todo);
  todo.erase(dup.begin(), dup.end());
  for (const auto& a : todo) refresh_chain_record(a);

  std::vector<crypto::Address> all;
  {
    std::lock_guard lock(dir_mu);
    for (const auto& [a, p] : providers) all.push_back(a);
  }
  for (const auto& a : all) poll_info(a);
  size_t live = 0, known = 0;
  {
    std::lock_guard lock(dir_mu);
    known = providers.size();
    for (const auto& [a, p] : providers) live += p.live ? 1 : 0;
  }
  if (known != known_before || !todo.empty()) save_known_providers();
  metrics.providers_live.set(static_cast<double>(live));
  return result;
}

std::optional<ProviderRecord> Gateway::Impl::provider(const crypto::Address& who) const {
  std::lock_guard lock(dir_mu);
  auto it = providers.find(who);
  if (it == providers.end()) return std::nullopt;
  return it->second;
}

std::optional<Hash32> Gateway::Impl::resolve_model(std::string_view name) const {
  // A 0x model id is accepted as is when some live provider serves it.
  std::optional<Hash32> as_id;
  if (name.starts_with("0x") && name.size() == 66) {
    if (auto h = fixed_from_hex<32>(name)) as_id = *h;
  }
  std::map<Hash32, size_t> counts;
  std::lock_guard lock(dir_mu);
  for (const auto& [a, p] : providers) {
    if (!p.live) continue;
    for (const auto& o : p.offers) {
      if ((as_id && o.model_id == *as_id) || (!as_id && o.name == name)) ++counts[o.model_id];
    }
  }
  if (counts.empty()) return std::nullopt;
  // Two different files under one name: the one more providers serve wins (ties: lowest id,
  // so that every gateway resolves the same way).
  auto best = std::ranges::max_element(counts, [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second < y.second : x.first > y.first;
  });
  return best->first;
}

nlohmann::json Gateway::Impl::models_json() const {
  struct Agg {
    Hash32 id{};
    size_t providers = 0;
    std::optional<u256> min_in, min_out;
  };
  std::map<std::string, std::map<Hash32, Agg>> by_name;
  {
    std::lock_guard lock(dir_mu);
    for (const auto& [a, p] : providers) {
      if (!p.live) continue;
      for (const auto& o : p.offers) {
        Agg& g = by_name[o.name][o.model_id];
        g.id = o.model_id;
        ++g.providers;
        if (!g.min_in || o.price.input_per_million < *g.min_in) g.min_in = o.price.input_per_million;
        if (!g.min_out || o.price.output_per_million < *g.min_out) g.min_out = o.price.output_per_million;
      }
    }
  }
  nlohmann::json data = nlohmann::json::array();
  for (const auto& [name, ids] : by_name) {
    auto best = std::ranges::max_element(ids, [](const auto& x, const auto& y) {
      return x.second.providers != y.second.providers ? x.second.providers < y.second.providers : x.first > y.first;
    });
    const Agg& g = best->second;
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", 0},
                    {"owned_by", "dgrid"},
                    {"dgrid",
                     {{"providers", g.providers},
                      {"min_price", {{"input", to_dec(*g.min_in)}, {"output", to_dec(*g.min_out)}}},
                      {"model_id", to_hex(g.id)}}}});
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace dgrid::node
