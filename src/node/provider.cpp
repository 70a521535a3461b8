#include "node/provider.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <random>

#include "crypto/keccak.hpp"
#include "crypto/sha256.hpp"
#include "market/credit.hpp"
#include "market/receipt.hpp"
#include "net/openai.hpp"
#include "net/sse.hpp"

namespace dgrid::node {
namespace {

constexpr const char* kVersion = "0.1.0";

Hash32 random_hash() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  Hash32 h{};
  for (size_t i = 0; i < h.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(h.data() + i, &v, 8);
  }
  return h;
}

uint64_t random_seed() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng() >> 1;  // 63 bits: fits every JSON number reader
}

// HTTP status and OpenAI error type for a failed step.
net::Response error_for(const Error& e, int fallback_status = 400) {
  switch (e.code) {
    case Errc::permission_denied:
    case Errc::crypto:
      return net::error_response(401, e.message, "authentication_error", "invalid_auth");
    case Errc::failed_precondition:
      return net::error_response(402, e.message, "payment_required", "insufficient_credit");
    case Errc::already_exists:
      return net::error_response(402, e.message, "payment_required", "invalid_ticket");
    case Errc::not_found: return net::error_response(404, e.message, "invalid_request_error", "not_found");
    case Errc::unavailable: return net::error_response(503, e.message, "server_error", "unavailable");
    case Errc::internal: return net::error_response(500, e.message, "server_error", "internal_error");
    default: return net::error_response(fallback_status, e.message, "invalid_request_error", "invalid_request");
  }
}

bool is_ticket_error(const Error& e) {
  return market::is_stale_ticket_error(e) || (e.payload.size() == 1 && e.payload[0] == 't');
}

// Tickets carry payment errors: 402 with a code the gateway can act on.
net::Response ticket_error(const Error& e) {
  return net::error_response(402, e.message, "payment_required",
                             market::is_stale_ticket_error(e) ? std::string(market::kStaleTicketParams) : "invalid_ticket");
}

std::string lower_hex(const Hash32& h) { return to_hex(h); }

}  // namespace

struct Provider::PaidJob {
  market::CanonicalRequest request;
  Bytes request_bytes;
  infer::GenerateResult result;
  market::SignedReceipt receipt;
  crypto::Address sender;
};

infer::GenerateRequest to_generate_request(const market::CanonicalRequest& c) {
  infer::GenerateRequest g;
  g.prompt = c.prompt;
  g.max_tokens = c.max_tokens;
  g.temperature = c.temperature;
  g.top_k = c.top_k;
  g.top_p = c.top_p;
  g.seed = c.seed;
  g.stop = c.stop;
  return g;
}

Result<Hash32> model_file_id(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::not_found, "cannot read model file " + path.string());
  crypto::Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<size_t>(in.gcount());
    if (n) h.update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), n));
  }
  if (in.bad()) return fail(Errc::io, "error reading model file " + path.string());
  return h.finalize();
}

Provider::Counters::Counters(Metrics& m)
    : jobs(m.counter("dgrid_provider_jobs_total", "Jobs served and charged")),
      tokens(m.counter("dgrid_provider_tokens_total", "Prompt plus completion tokens of charged jobs")),
      tickets_received(m.counter("dgrid_provider_tickets_received_total", "Valid payment tickets credited")),
      tickets_won(m.counter("dgrid_provider_tickets_won_total", "Winning tickets received")),
      tickets_redeemed(m.counter("dgrid_provider_tickets_redeemed_total", "Winning tickets redeemed on chain")),
      tickets_expired(m.counter("dgrid_provider_tickets_expired_total", "Winning tickets that expired unredeemed")),
      cheated(m.counter("dgrid_provider_cheated_jobs_total", "DEMO ONLY: jobs answered wrongly on purpose")),
      rejected(m.counter("dgrid_provider_rejected_requests_total", "Requests refused (payment, validation, capacity)")) {}

Provider::Provider(const NodeConfig& config, ChainContext& chain, NodeState& state, Metrics& metrics)
    : config_(config), chain_(chain), state_(state), m_(metrics) {}

Provider::~Provider() { stop(); }

Result<std::unique_ptr<Provider>> Provider::create(const NodeConfig& config, ChainContext& chain, NodeState& state,
                                                   Metrics& metrics) {
  std::unique_ptr<Provider> p(new Provider(config, chain, state, metrics));
  const auto& pc = config.provider;
  if (pc.models.empty()) return fail(Errc::invalid_argument, "provider.models is empty: configure at least one [[provider.models]]");
  for (const auto& mc : pc.models) {
    infer::LoadOptions lo;
    lo.threads = pc.threads;
    lo.context = mc.context;
    auto model = infer::Model::load(mc.path, lo);
    if (!model) return fail(model.error().code, "model " + mc.name + " (" + mc.path.string() + "): " + model.error().message);
    auto id = model_file_id(mc.path);
    if (!id) return std::unexpected(id.error());
    ServedModel sm;
    sm.name = mc.name;
    sm.id = *id;
    sm.path = mc.path;
    sm.model = std::move(*model);
    sm.price = market::Price{mc.price_input, mc.price_output};
    sm.context = sm.model->context();
    spdlog::info("provider: loaded model {} ({}) id {} context {}", sm.name, sm.path.string(), lower_hex(sm.id), sm.context);
    p->models_.push_back(std::move(sm));
  }
  p->slots_ = std::make_unique<std::counting_semaphore<1024>>(std::clamp<uint32_t>(pc.capacity, 1, 1024));

  // Recipient randomness is derived from the node key, so only the index needs storing.
  crypto::Keccak256 h;
  h.update(as_bytes(std::string_view("dgrid.recipient-rand")));
  h.update(chain.key().secret());
  p->rand_secret_ = h.finalize();
  auto idx = state.get("provider.rand_index");
  if (!idx) return std::unexpected(idx.error());
  p->rand_index_ = *idx ? std::stoull(**idx) : 0;
  p->rand_ = market::derive_recipient_rand(p->rand_secret_, p->rand_index_);
  p->rand_hash_ = eth::recipient_rand_hash(p->rand_);
  return p;
}

void Provider::register_routes(net::Router& r) {
  r.add("GET", "/dgrid/v1/info", [this](net::Request& q, net::ResponseWriter& w) { handle_info(q, w); });
  r.add("GET", "/v1/models", [this](net::Request& q, net::ResponseWriter& w) { handle_models(q, w); });
  r.add("GET", "/dgrid/v1/credit", [this](net::Request& q, net::ResponseWriter& w) { handle_credit_get(q, w); });
  r.add("POST", "/dgrid/v1/credit", [this](net::Request& q, net::ResponseWriter& w) { handle_credit_post(q, w); });
  r.add("POST", "/v1/completions", [this](net::Request& q, net::ResponseWriter& w) { handle_completion(q, w, false); });
  r.add("POST", "/v1/chat/completions", [this](net::Request& q, net::ResponseWriter& w) { handle_completion(q, w, true); });
  r.add("POST", "/dgrid/v1/execute", [this](net::Request& q, net::ResponseWriter& w) { handle_execute(q, w); });
  r.add("GET", "/dgrid/v1/receipts/{job_id}", [this](net::Request& q, net::ResponseWriter& w) { handle_receipt(q, w); });
}

// ------------------------------------------------------------------ chain side

nlohmann::json registration_metadata(const std::vector<std::string>& model_names, const std::string& storage_url) {
  nlohmann::json meta = {{"version", kVersion}, {"models", model_names}};
  if (!storage_url.empty()) meta["storage"] = storage_url;
  return meta;
}

Result<void> register_and_stake(ChainContext& chain, const std::string& uri, const nlohmann::json& metadata,
                                const u256& stake) {
  const auto& c = chain.contracts();
  auto& wallet = chain.wallet();
  const auto& me = chain.address();
  const std::string meta = metadata.dump();
  auto info = c.registry.provider(me);
  if (!info) return fail(info.error().code, "reading registration: " + info.error().message);
  if (!info->registered) {
    spdlog::info("node: registering {} at {}", me.checksummed(), uri);
    if (auto r = c.registry.register_provider(wallet, uri, meta); !r) {
      return fail(r.error().code, "register: " + r.error().message);
    }
  } else if (info->uri != uri || info->metadata != meta) {
    if (auto r = c.registry.update_provider(wallet, uri, meta); !r) {
      return fail(r.error().code, "update registration: " + r.error().message);
    }
  }
  auto staked = c.registry.stake_of(me);
  if (!staked) return fail(staked.error().code, "reading stake: " + staked.error().message);
  if (*staked < stake) {
    u256 add = stake - *staked;
    spdlog::info("node: staking {} more (target {})", add.str(), stake.str());
    if (auto r = c.registry.stake(wallet, c.token, add); !r) return fail(r.error().code, "stake: " + r.error().message);
  }
  return {};
}

Result<void> Provider::go_online(const std::string& public_url, const std::string& storage_url) {
  const auto& c = chain_.contracts();
  auto& wallet = chain_.wallet();
  const auto& me = chain_.address();
  std::vector<std::string> names;
  for (const auto& m : models_) names.push_back(m.name);
  if (auto r = register_and_stake(chain_, public_url, registration_metadata(names, storage_url), config_.provider.stake); !r)
    return r;
  auto now = c.registry.provider(me);
  if (!now) return fail(now.error().code, now.error().message);
  for (const auto& m : models_) {
    if (std::find(now->models.begin(), now->models.end(), m.id) != now->models.end()) continue;
    if (auto r = c.registry.add_model(wallet, m.id); !r) return fail(r.error().code, "declare model " + m.name + ": " + r.error().message);
  }
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = false;
  }
  if (!loop_.joinable()) loop_ = std::thread([this] { background_loop(); });
  spdlog::info("provider: online at {} as {}", public_url, me.checksummed());
  return {};
}

void Provider::stop() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

void Provider::background_loop() {
  auto interval = config_.provider.redeem_interval;
  auto head_every = config_.chain.poll_interval;
  auto next_redeem = std::chrono::steady_clock::now() + interval;
  std::unique_lock lock(loop_mu_);
  while (!stopping_) {
    loop_cv_.wait_for(lock, head_every, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (auto h = chain_.refresh_head(); !h) spdlog::warn("provider: chain head refresh failed: {}", h.error().message);
    if (std::chrono::steady_clock::now() >= next_redeem) {
      next_redeem = std::chrono::steady_clock::now() + interval;
      if (auto n = redeem_pending(); !n) spdlog::warn("provider: redemption pass failed (will retry): {}", n.error().message);
    }
    lock.lock();
  }
}

Result<size_t> Provider::redeem_pending() {
  auto pending = state_.pending_tickets(32);
  if (!pending) return std::unexpected(pending.error());
  if (pending->empty()) return 0;
  uint64_t head = chain_.head();
  std::vector<eth::SignedTicket> batch;
  std::vector<int64_t> ids;
  size_t already = 0;  // found redeemed on chain by an earlier, unconfirmed attempt
  for (const auto& p : *pending) {
    auto stored = nlohmann::json::parse(p.json, nullptr, false);
    Result<eth::SignedTicket> t = fail(Errc::malformed, "not a stored winning ticket");
    if (stored.is_object() && stored.contains("ticket") && stored.contains("recipient_rand")) {
      t = market::ticket_from_json(stored["ticket"]);
      if (t) t->recipient_rand = u256(stored["recipient_rand"].get<std::string>());
    }
    if (!t) {
      (void)state_.mark_failed(p.id, "unreadable stored ticket: " + t.error().message, true);
      continue;
    }
    if (p.attempts > 0) {
      // An earlier attempt may have gone through unconfirmed (the RPC failed after sending,
      // or the process died before recording it): a used ticket is paid already, and
      // redeeming it again would revert (TicketAlreadyUsed) on every pass until it expired.
      auto used = chain_.contracts().broker.is_used(eth::ticket_digest(t->ticket, chain_.broker_domain()));
      if (used && *used) {
        spdlog::info("provider: a winning ticket from {} was already redeemed by an earlier attempt", t->ticket.sender.checksummed());
        (void)state_.mark_redeemed({p.id}, Hash32{});
        m_.tickets_redeemed.inc();
        ++already;
        continue;
      }
    }
    if (head != 0 && p.expiration_block <= head) {
      (void)state_.mark_failed(p.id, "expired before redemption", true);
      m_.tickets_expired.inc();
      continue;
    }
    batch.push_back(*t);
    ids.push_back(p.id);
  }
  if (batch.empty()) return already;
  const auto& broker = chain_.contracts().broker;
  auto rc = batch.size() == 1 ? broker.redeem(chain_.wallet(), batch[0]) : broker.redeem_batch(chain_.wallet(), batch);
  if (!rc) {
    // Reverted as a whole (e.g. a single ticket that fails): retry each alone next pass.
    for (auto id : ids) (void)state_.mark_failed(id, rc.error().message, false);
    return std::unexpected(rc.error());
  }
  size_t redeemed = 0;
  const auto& domain = chain_.broker_domain();
  for (size_t i = 0; i < batch.size(); ++i) {
    auto used = broker.is_used(eth::ticket_digest(batch[i].ticket, domain));
    if (used && *used) {
      (void)state_.mark_redeemed({ids[i]}, rc->tx_hash);
      ++redeemed;
    } else {
      // Counted as an attempt: the next pass checks the chain before sending it again.
      (void)state_.mark_failed(ids[i], used ? "redemption failed on chain (see TicketRedemptionFailed)"
                                            : "redemption not confirmed: " + used.error().message,
                               false);
    }
  }
  m_.tickets_redeemed.inc(static_cast<double>(redeemed));
  spdlog::info("provider: redeemed {}/{} winning tickets in tx {}", redeemed, batch.size(), to_hex(rc->tx_hash));
  return redeemed + already;
}

// ------------------------------------------------------------------ tickets and credit

market::TicketParams Provider::ticket_params() const {
  std::lock_guard lock(rand_mu_);
  market::TicketParams p;
  p.recipient = chain_.address();
  p.recipient_rand_hash = rand_hash_;
  p.face_value = config_.provider.face_value;
  p.win_prob = config_.provider.win_prob;
  p.expiration_block = chain_.head() + config_.provider.ticket_expiry_blocks;
  p.broker = chain_.deployment().broker;
  p.chain_id = chain_.chain_id();
  return p;
}

Result<void> Provider::rotate_rand() {
  std::lock_guard lock(rand_mu_);
  // Persisted before use: a restart never goes back to a rand that may have been revealed.
  if (auto p = state_.put("provider.rand_index", std::to_string(rand_index_ + 1)); !p) return p;
  ++rand_index_;
  rand_ = market::derive_recipient_rand(rand_secret_, rand_index_);
  rand_hash_ = eth::recipient_rand_hash(rand_);
  return {};
}

Result<u256> Provider::max_face_value(const crypto::Address& sender) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(sender_mu_);
    auto it = sender_cache_.find(sender);
    if (it != sender_cache_.end() && now - it->second.at < std::chrono::seconds(10)) return it->second.max_face;
  }
  auto info = chain_.contracts().broker.sender_info(sender);
  if (!info) {
    // The chain is unreachable: keep serving on what we last knew (DESIGN: serving continues).
    std::lock_guard lock(sender_mu_);
    auto it = sender_cache_.find(sender);
    if (it != sender_cache_.end()) return it->second.max_face;
    return fail(Errc::unavailable, "cannot read the sender's TicketBroker deposit: " + info.error().message);
  }
  if (info->withdraw_block != 0) {
    return fail(Errc::permission_denied, "sender " + sender.checksummed() + " is unlocking its TicketBroker deposit");
  }
  uint64_t recipients = info->recipients > 0 ? static_cast<uint64_t>(info->recipients) : 1;
  u256 mf = market::max_float(info->deposit, info->reserve, recipients);
  std::lock_guard lock(sender_mu_);
  sender_cache_[sender] = {mf, now};
  return mf;
}

Result<u256> Provider::accept_tickets(const std::vector<eth::SignedTicket>& tickets) {
  // Validate all first so a bad ticket in the middle credits nothing.
  std::vector<market::AcceptedTicket> ok;
  for (const auto& t : tickets) {
    auto mf = max_face_value(t.ticket.sender);
    if (!mf) return std::unexpected(mf.error());
    market::TicketCheck chk;
    chk.me = chain_.address();
    chk.domain_separator = chain_.broker_domain();
    chk.current_block = chain_.head();
    chk.expected_win_prob = config_.provider.win_prob;
    chk.max_face_value = *mf;
    {
      std::lock_guard lock(rand_mu_);
      Hash32 cur_hash = rand_hash_;
      u256 cur = rand_;
      chk.recipient_rand = [cur_hash, cur](const Hash32& h) -> std::optional<u256> {
        if (h == cur_hash) return cur;
        return std::nullopt;
      };
    }
    auto a = market::check_ticket(t, chk);
    if (!a) return std::unexpected(a.error());
    ok.push_back(std::move(*a));
  }
  u256 balance = 0;
  for (const auto& a : ok) {
    std::optional<std::string> winning;
    // The wire form has no recipient_rand (only we know it); redemption needs it.
    if (a.winning) {
      winning = nlohmann::json{{"ticket", market::ticket_to_json(a.ticket)}, {"recipient_rand", a.ticket.recipient_rand.str()}}.dump();
    }
    auto b = state_.add_ticket(a.ticket.ticket.sender, a.digest, a.ev, winning,
                               static_cast<uint64_t>(a.ticket.ticket.expiration_block));
    if (!b) return std::unexpected(b.error());
    balance = *b;
    m_.tickets_received.inc();
    if (a.winning) {
      m_.tickets_won.inc();
      spdlog::info("provider: winning ticket from {} (face {})", a.ticket.ticket.sender.checksummed(), a.ticket.ticket.face_value.str());
      // Its rand will be revealed on chain at redemption: switch to a fresh one now.
      if (auto r = rotate_rand(); !r) return std::unexpected(r.error());
    }
  }
  return balance;
}

// ------------------------------------------------------------------ handlers

nlohmann::json Provider::info() const {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : models_) {
    models.push_back({{"id", m.name}, {"model_id", to_hex(m.id)}, {"context", m.context}, {"price", market::price_to_json(m.price)}});
  }
  return {{"address", chain_.address().checksummed()},
          {"version", kVersion},
          {"chain_id", chain_.chain_id()},
          {"models", models},
          {"hardware", {{"threads", config_.provider.threads}, {"backend", "cpu"}}},
          {"capacity", config_.provider.capacity},
          {"in_flight", in_flight_.load()},
          {"ticket_params", market::ticket_params_to_json(ticket_params())}};
}

const ServedModel* Provider::model_by_id(const Hash32& id) const {
  for (const auto& m : models_) if (m.id == id) return &m;
  return nullptr;
}

const ServedModel* Provider::model_by_name(std::string_view name) const {
  for (const auto& m : models_) if (m.name == name) return &m;
  return nullptr;
}

void Provider::handle_info(net::Request&, net::ResponseWriter& w) { w.send(net::json_response(200, info())); }

void Provider::handle_models(net::Request&, net::ResponseWriter& w) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& m : models_) {
    data.push_back({{"id", m.name}, {"object", "model"}, {"created", 0}, {"owned_by", chain_.address().checksummed()}});
  }
  w.send(net::json_response(200, {{"object", "list"}, {"data", data}}));
}

void Provider::handle_credit_get(net::Request& req, net::ResponseWriter& w) {
  auto s = req.query_param("sender");
  if (!s) return (void)w.send(net::error_response(400, "query parameter sender=0x... is required", "invalid_request_error", "missing_sender"));
  auto addr = crypto::parse_address(*s);
  if (!addr) return (void)w.send(net::error_response(400, "sender: " + addr.error().message, "invalid_request_error", "invalid_sender"));
  auto c = state_.credit(*addr);
  if (!c) return (void)w.send(error_for(c.error(), 500));
  w.send(net::json_response(200, {{"sender", addr->checksummed()}, {"credit", c->str()}}));
}

void Provider::handle_credit_post(net::Request& req, net::ResponseWriter& w) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("tickets") || !body["tickets"].is_array()) {
    return (void)w.send(net::error_response(400, "body must be {\"tickets\":[...]}", "invalid_request_error", "invalid_body"));
  }
  std::vector<eth::SignedTicket> tickets;
  for (const auto& tj : body["tickets"]) {
    auto t = market::ticket_from_json(tj);
    if (!t) return (void)w.send(ticket_error(t.error()));
    tickets.push_back(std::move(*t));
  }
  if (tickets.empty()) return (void)w.send(net::error_response(400, "tickets is empty", "invalid_request_error", "invalid_body"));
  auto bal = accept_tickets(tickets);
  if (!bal) return (void)w.send(bal.error().code == Errc::unavailable ? error_for(bal.error()) : ticket_error(bal.error()));
  w.send(net::json_response(200, {{"credit", bal->str()}, {"accepted", tickets.size()}}));
}

Result<infer::GenerateResult> Provider::execute(const market::CanonicalRequest& c, const infer::TokenCallback& on_token,
                                                const infer::CancelToken* cancel) const {
  const ServedModel* m = model_by_id(c.model);
  if (!m) return fail(Errc::not_found, "model " + to_hex(c.model) + " is not served here");
  auto session = m->model->new_session();
  return session->generate(to_generate_request(c), on_token, cancel);
}

Result<Provider::PaidJob> Provider::run_paid(net::Request& req, const ServedModel& m, market::CanonicalRequest creq,
                                             const infer::TokenCallback& on_token, const infer::CancelToken* cancel) {
  auto auth = req.header(kAuthHeader);
  auto sender = verifier_.verify(auth ? *auth : std::string_view{}, req.method, req.path, req.body);
  if (!sender) return fail(Errc::permission_denied, sender.error().message);
  if (auto th = req.header(kTicketsHeader)) {
    auto tickets = market::decode_tickets_header(*th);
    if (!tickets) return fail(Errc::invalid_argument, "X-Dgrid-Tickets: " + tickets.error().message);
    for (const auto& t : *tickets) {
      if (t.ticket.sender != *sender) {
        return fail(Errc::permission_denied, "ticket sender " + t.ticket.sender.checksummed() + " is not the request signer " + sender->checksummed());
      }
    }
    if (auto b = accept_tickets(*tickets); !b) {
      Error e = b.error();
      // Marks a ticket error for the status mapping, keeping a stale-parameters marker.
      if (!market::is_stale_ticket_error(e)) e.payload = {'t'};
      return std::unexpected(e);
    }
  }
  u256 max_cost = market::max_job_cost(m.price, creq.prompt.size(), creq.max_tokens);
  auto hold = state_.hold(*sender, max_cost);
  if (!hold) return std::unexpected(hold.error());

  if (!slots_->try_acquire()) {
    (void)state_.release(*hold);
    return fail(Errc::unavailable, "provider busy: all " + std::to_string(config_.provider.capacity) + " slots in use");
  }
  in_flight_.fetch_add(1);
  struct SlotGuard {
    Provider* p;
    ~SlotGuard() {
      p->in_flight_.fetch_sub(1);
      p->slots_->release();
    }
  } guard{this};

  Bytes encoded = market::encode_canonical(creq);
  Hash32 input_hash = crypto::keccak256(encoded);
  Hash32 job_id = market::make_job_id(input_hash, chain_.address(), random_hash());

  if (config_.provider.latency.count() > 0) std::this_thread::sleep_for(config_.provider.latency);
  // DEMO ONLY (provider.cheat_rate): skip half of the work on a fraction of jobs, chosen from
  // the job id, to show spot checks and disputes catching a dishonest provider.
  market::CanonicalRequest run = creq;
  if (config_.provider.cheat_rate > 0) {
    double draw = static_cast<double>(job_id[0]) / 256.0;
    if (draw < config_.provider.cheat_rate) {
      run.max_tokens = std::max<uint32_t>(1, creq.max_tokens / 2);
      m_.cheated.inc();
    }
  }
  auto result = execute(run, on_token, cancel);
  if (!result) {
    (void)state_.release(*hold);
    return std::unexpected(result.error());
  }
  if (result->finish_reason == infer::FinishReason::cancelled) {
    (void)state_.release(*hold);
    return fail(Errc::unavailable, "client went away; job cancelled and not charged");
  }

  market::Receipt r;
  r.job_id = job_id;
  r.provider = chain_.address();
  r.model = m.id;
  r.input_hash = input_hash;
  r.output_hash = result->output_hash;
  r.prompt_tokens = result->prompt_tokens;
  r.completion_tokens = result->completion_tokens;
  r.cost = market::job_cost(m.price, result->prompt_tokens, result->completion_tokens);
  r.chain_id = chain_.chain_id();
  r.timestamp = unix_ms_now() / 1000;
  auto signed_receipt = market::sign_receipt(r, chain_.deployment().disputes, chain_.key());
  // Receipt first, then the charge: a crash in between leaves the job uncharged (the hold is
  // released on restart), never charged without a receipt.
  if (auto s = state_.put_receipt(job_id, market::receipt_to_json(signed_receipt).dump()); !s) {
    (void)state_.release(*hold);
    return std::unexpected(s.error());
  }
  if (auto s = state_.settle(*hold, r.cost); !s) return std::unexpected(s.error());
  m_.jobs.inc();
  m_.tokens.inc(static_cast<double>(r.prompt_tokens + r.completion_tokens));
  return PaidJob{std::move(creq), std::move(encoded), std::move(*result), std::move(signed_receipt), *sender};
}

void Provider::handle_completion(net::Request& req, net::ResponseWriter& w, bool chat) {
  auto parsed = net::parse_completion_request(req.body, chat);
  if (!parsed) return (void)w.send(net::error_response(400, parsed.error().message, "invalid_request_error", "invalid_request"));
  const ServedModel* m = model_by_name(parsed->model);
  if (!m) {
    return (void)w.send(net::error_response(404, "model '" + parsed->model + "' is not served by this provider (GET /v1/models)",
                                            "invalid_request_error", "model_not_found"));
  }
  const auto& tok = m->model->tokenizer();
  market::CanonicalRequest c;
  c.model = m->id;
  if (chat) {
    std::vector<infer::Tokenizer::ChatMessage> msgs;
    for (const auto& cm : parsed->messages) msgs.push_back({cm.role, cm.content});
    auto ids = tok.encode_chat(msgs, true, tok.wants_bos());
    if (!ids) return (void)w.send(net::error_response(400, "messages: " + ids.error().message, "invalid_request_error", "invalid_messages"));
    c.prompt = std::move(*ids);
  } else {
    auto ids = m->model->encode(parsed->prompt);
    if (!ids) return (void)w.send(net::error_response(400, "prompt: " + ids.error().message, "invalid_request_error", "invalid_prompt"));
    c.prompt = std::move(*ids);
  }
  if (c.prompt.size() + 1 >= m->context) {
    return (void)w.send(net::error_response(400, "prompt is " + std::to_string(c.prompt.size()) + " tokens; the model's context is " +
                                                 std::to_string(m->context),
                                            "invalid_request_error", "context_length_exceeded"));
  }
  uint32_t room = m->context - static_cast<uint32_t>(c.prompt.size());
  c.max_tokens = std::min(parsed->max_tokens.value_or(config_.gateway.default_max_tokens), room);
  c.temperature = parsed->temperature.value_or(1.0f);
  c.top_p = parsed->top_p.value_or(1.0f);
  c.top_k = parsed->top_k.value_or(0);
  c.seed = parsed->seed.value_or(random_seed());
  c.stop = parsed->stop;

  const std::string id = (chat ? "chatcmpl-" : "cmpl-") + to_hex(random_hash(), false).substr(0, 24);
  const int64_t created = static_cast<int64_t>(unix_ms_now() / 1000);
  const std::string object = chat ? "chat.completion" : "text_completion";
  const std::string chunk_object = chat ? "chat.completion.chunk" : "text_completion";

  auto finish = [](const infer::GenerateResult& r) { return std::string(infer::finish_reason_name(r.finish_reason)); };
  auto usage = [](const infer::GenerateResult& r) {
    return nlohmann::json{{"prompt_tokens", r.prompt_tokens},
                          {"completion_tokens", r.completion_tokens},
                          {"total_tokens", r.prompt_tokens + r.completion_tokens}};
  };
  auto respond_error = [&](const Error& e) {
    if (is_ticket_error(e)) return (void)w.send(ticket_error(e));
    if (e.code == Errc::unavailable) {
      return (void)w.send(net::error_response(429, e.message, "rate_limit_error", "provider_busy"));
    }
    w.send(error_for(e));
  };

  if (!parsed->stream) {
    auto job = run_paid(req, *m, std::move(c), {}, nullptr);
    if (!job) return respond_error(job.error());
    nlohmann::json choice = {{"index", 0}, {"finish_reason", finish(job->result)}, {"logprobs", nullptr}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", job->result.text}};
    } else {
      choice["text"] = job->result.text;
    }
    nlohmann::json body = {{"id", id},
                           {"object", object},
                           {"created", created},
                           {"model", m->name},
                           {"choices", nlohmann::json::array({choice})},
                           {"usage", usage(job->result)},
                           {"dgrid_receipt", market::receipt_to_json(job->receipt)},
                           {"dgrid_request", to_hex(job->request_bytes)}};
    w.send(net::json_response(200, body));
    return;
  }

  // Streaming: the head goes out with the first token, so that payment and validation errors
  // still get a proper HTTP status.
  bool started = false;
  bool gone = false;
  infer::CancelToken cancel;
  auto chunk = [&](const nlohmann::json& delta_or_text, const nlohmann::json& finish_reason) {
    nlohmann::json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
    if (chat) {
      choice["delta"] = delta_or_text;
    } else {
      choice["text"] = delta_or_text;
    }
    return nlohmann::json{{"id", id}, {"object", chunk_object}, {"created", created}, {"model", m->name},
                          {"choices", nlohmann::json::array({choice})}};
  };
  auto start = [&]() {
    if (started) return !gone;
    started = true;
    if (!w.begin_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}})) gone = true;
    if (!gone && chat) {
      if (!w.write(net::sse_data(chunk({{"role", "assistant"}, {"content", ""}}, nullptr).dump()))) gone = true;
    }
    return !gone;
  };
  auto on_token = [&](uint32_t, std::string_view text) {
    if (!start()) {
      cancel.cancel();
      return false;
    }
    if (text.empty()) return true;
    nlohmann::json piece = chat ? nlohmann::json{{"content", std::string(text)}} : nlohmann::json(std::string(text));
    if (!w.write(net::sse_data(chunk(piece, nullptr).dump()))) {
      gone = true;
      cancel.cancel();
      return false;
    }
    return true;
  };
  auto job = run_paid(req, *m, std::move(c), on_token, &cancel);
  if (!job) {
    if (!started) return respond_error(job.error());
    if (!gone) {
      nlohmann::json err = {{"error", {{"message", job.error().message}, {"type", "server_error"}, {"code", "job_failed"}}}};
      w.write(net::sse_data(err.dump()));
      w.end();
    }
    return;
  }
  if (!start()) return;
  nlohmann::json last = chunk(chat ? nlohmann::json::object() : nlohmann::json(""), finish(job->result));
  w.write(net::sse_data(last.dump()));
  nlohmann::json tail = {{"id", id},
                         {"object", chunk_object},
                         {"created", created},
                         {"model", m->name},
                         {"choices", nlohmann::json::array()},
                         {"usage", usage(job->result)},
                         {"dgrid_receipt", market::receipt_to_json(job->receipt)},
                         {"dgrid_request", to_hex(job->request_bytes)}};
  w.write(net::sse_data(tail.dump()));
  w.write("data: [DONE]\n\n");
  w.end();
}

void Provider::handle_execute(net::Request& req, net::ResponseWriter& w) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("request") || !body["request"].is_string()) {
    return (void)w.send(net::error_response(400, "body must be {\"request\":\"0x<canonical request>\"}", "invalid_request_error", "invalid_body"));
  }
  auto bytes = from_hex(body["request"].get<std::string>());
  if (!bytes) return (void)w.send(net::error_response(400, "request: " + bytes.error().message, "invalid_request_error", "invalid_body"));
  auto c = market::decode_canonical(*bytes);
  if (!c) return (void)w.send(net::error_response(400, "request: " + c.error().message, "invalid_request_error", "invalid_request"));
  const ServedModel* m = model_by_id(c->model);
  if (!m) return (void)w.send(net::error_response(404, "model " + to_hex(c->model) + " is not served here", "invalid_request_error", "model_not_found"));
  if (c->prompt.size() + c->max_tokens > m->context) {
    return (void)w.send(net::error_response(400, "prompt + max_tokens exceed the model's context of " + std::to_string(m->context),
                                            "invalid_request_error", "context_length_exceeded"));
  }
  auto job = run_paid(req, *m, std::move(*c), {}, nullptr);
  if (!job) {
    const Error& e = job.error();
    if (is_ticket_error(e)) return (void)w.send(ticket_error(e));
    if (e.code == Errc::unavailable) return (void)w.send(net::error_response(429, e.message, "rate_limit_error", "provider_busy"));
    return (void)w.send(error_for(e));
  }
  w.send(net::json_response(200, {{"output_hash", to_hex(job->result.output_hash)},
                                  {"tokens", job->result.tokens},
                                  {"text", job->result.text},
                                  {"prompt_tokens", job->result.prompt_tokens},
                                  {"completion_tokens", job->result.completion_tokens},
                                  {"dgrid_receipt", market::receipt_to_json(job->receipt)},
                                  {"dgrid_request", to_hex(job->request_bytes)}}));
}

void Provider::handle_receipt(net::Request& req, net::ResponseWriter& w) {
  auto id = fixed_from_hex<32>(req.params["job_id"]);
  if (!id) return (void)w.send(net::error_response(400, "job_id must be 32 bytes of 0x-hex", "invalid_request_error", "invalid_job_id"));
  auto r = state_.receipt(*id);
  if (!r) return (void)w.send(error_for(r.error(), 500));
  if (!*r) return (void)w.send(net::error_response(404, "no receipt for job " + req.params["job_id"], "invalid_request_error", "not_found"));
  w.send(net::Response{200, "application/json", {}, **r});
}

}  // namespace dgrid::node
