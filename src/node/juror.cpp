#include "node/juror.hpp"

#include <spdlog/spdlog.h>

#include <random>

#include "crypto/keccak.hpp"
#include "market/canonical.hpp"
#include "market/receipt.hpp"

namespace dgrid::node {
namespace {

using eth::abi::Value;

Hash32 random_salt() {
  std::random_device rd;
  Hash32 h{};
  for (auto& b : h) b = static_cast<uint8_t>(rd());
  return h;
}

bool final_status(const std::string& s) {
  return s == "not_selected" || s == "closed" || s == "claimed" || s == "missed";
}

// A revert that only says the case moved on (someone else drew, resolved or it is over):
// the juror's view catches up from the events.
bool benign_revert(const Error& e) {
  return e.code == Errc::reverted &&
         (e.message.find("WrongStatus") != std::string::npos || e.message.find("AlreadyCommitted") != std::string::npos ||
          e.message.find("AlreadyRevealed") != std::string::npos);
}

// Event fields, checked: a log that does not decode as the ABI says is an error naming the
// field, never a crash (the chain's answers are input like any other).
Result<eth::abi::Value> field(const eth::Event& e, std::string_view name) {
  auto v = e.values.get(name);
  if (!v) return fail(Errc::malformed, e.name + " log: " + v.error().message);
  return *v;
}
Result<uint64_t> u64_field(const eth::Event& e, std::string_view name) {
  auto v = field(e, name);
  if (!v) return std::unexpected(v.error());
  auto n = v->as_u64();
  if (!n) return fail(Errc::malformed, e.name + " log: " + std::string(name) + ": " + n.error().message);
  return *n;
}
Result<Bytes> bytes_field(const eth::Event& e, std::string_view name) {
  auto v = field(e, name);
  if (!v) return std::unexpected(v.error());
  auto b = v->as_bytes();
  if (!b) return fail(Errc::malformed, e.name + " log: " + std::string(name) + ": " + b.error().message);
  return *b;
}

#define JUROR_TRY_ASSIGN(var, expr)          \
  auto var##_r = (expr);                     \
  if (!var##_r) return std::unexpected(var##_r.error()); \
  auto var = std::move(*var##_r)

}  // namespace

Juror::Juror(const NodeConfig& config, ChainContext& chain, NodeState& state, Metrics& metrics, const Provider& provider)
    : config_(config),
      chain_(chain),
      state_(state),
      reexecutions_(metrics.counter("dgrid_juror_reexecutions_total", "Disputed jobs re-executed as a juror")),
      votes_(metrics.counter("dgrid_juror_votes_total", "Juror votes revealed")),
      provider_(provider) {}

Juror::~Juror() { stop(); }

Result<std::unique_ptr<Juror>> Juror::start(const NodeConfig& config, ChainContext& chain, NodeState& state,
                                            Metrics& metrics, const Provider& provider) {
  std::unique_ptr<Juror> j(new Juror(config, chain, state, metrics, provider));
  Juror* self = j.get();
  FollowerOptions fo;
  fo.stream = "juror.disputes";
  fo.addresses = {chain.deployment().disputes};
  fo.start_block = chain.deployment().block;
  fo.confirmations = config.chain.confirmations;
  j->follower_ = std::make_unique<EventFollower>(chain.rpc(), state, fo,
                                                 [self](const eth::Log& log) { return self->on_event(log); });
  j->thread_ = std::thread([self] { self->loop(); });
  return j;
}

void Juror::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Juror::loop() {
  auto every = config_.chain.poll_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    if (auto r = poll_once(); !r) spdlog::warn("juror: {} (will retry)", r.error().message);
    lock.lock();
    cv_.wait_for(lock, every, [this] { return stopping_; });
  }
}

Result<void> Juror::on_event(const eth::Log& log) {
  const auto& disputes = chain_.contracts().disputes;
  auto evs = disputes.events({log});
  if (!evs) return std::unexpected(evs.error());
  for (const auto& e : *evs) {
    // Only the case lifecycle matters here (Claimed, VoteCommitted, ... are not per-case steps).
    if (e.name != "DisputeOpened" && e.name != "JurorsSelected" && e.name != "JurySelectionRestarted" &&
        e.name != "DisputeResolved") {
      continue;
    }
    JUROR_TRY_ASSIGN(dispute_id, u64_field(e, "disputeId"));
    auto stored = state_.dispute(u256(dispute_id));
    if (!stored) return std::unexpected(stored.error());
    if (e.name == "DisputeOpened") {
      if (*stored) continue;  // at-least-once delivery: seen before
      JUROR_TRY_ASSIGN(model_raw, bytes_field(e, "model"));
      if (model_raw.size() != 32) return fail(Errc::malformed, "DisputeOpened log: model is not 32 bytes");
      Hash32 model{};
      std::copy(model_raw.begin(), model_raw.end(), model.begin());
      if (!provider_.model_by_id(model)) continue;  // not a model we could judge
      JUROR_TRY_ASSIGN(provider, field(e, "provider"));
      JUROR_TRY_ASSIGN(challenger, field(e, "challenger"));
      auto p = provider.as_address();
      auto c = challenger.as_address();
      if ((p && *p == chain_.address()) || (c && *c == chain_.address())) continue;
      JUROR_TRY_ASSIGN(request, bytes_field(e, "request"));
      JUROR_TRY_ASSIGN(selection_block, u64_field(e, "selectionBlock"));
      nlohmann::json d = {{"id", dispute_id},
                          {"model", to_hex(model)},
                          {"request", to_hex(request)},
                          {"selection_block", selection_block},
                          {"status", "opened"}};
      if (auto r = state_.put_dispute(u256(dispute_id), "juror", d.dump()); !r) return r;
      spdlog::info("juror: dispute {} opened for a model we serve", dispute_id);
    } else if (e.name == "JurorsSelected") {
      if (!*stored || (*stored)->role != "juror") continue;
      auto d = nlohmann::json::parse((*stored)->json);
      if (d["status"] != "opened") continue;
      bool me = false;
      if (auto js = e.values.get("jurors"); js && js->items()) {
        for (const auto& v : *js->items()) me = me || (v.as_address() && *v.as_address() == chain_.address());
      }
      JUROR_TRY_ASSIGN(commit_deadline, u64_field(e, "commitDeadline"));
      JUROR_TRY_ASSIGN(reveal_deadline, u64_field(e, "revealDeadline"));
      d["status"] = me ? "selected" : "not_selected";
      d["commit_deadline"] = commit_deadline;
      d["reveal_deadline"] = reveal_deadline;
      if (auto r = state_.update_dispute(u256(dispute_id), d.dump(), !final_status(d["status"])); !r) return r;
      if (me) spdlog::info("juror: drawn for dispute {}", dispute_id);
    } else if (e.name == "JurySelectionRestarted") {
      if (!*stored || (*stored)->role != "juror") continue;
      auto d = nlohmann::json::parse((*stored)->json);
      JUROR_TRY_ASSIGN(selection_block, u64_field(e, "selectionBlock"));
      d["selection_block"] = selection_block;
      if (auto r = state_.update_dispute(u256(dispute_id), d.dump(), !final_status(d["status"])); !r) return r;
    } else if (e.name == "DisputeResolved") {
      if (!*stored || (*stored)->role != "juror") continue;
      auto d = nlohmann::json::parse((*stored)->json);
      JUROR_TRY_ASSIGN(outcome, u64_field(e, "outcome"));
      d["outcome"] = outcome;
      if (d["status"] != "claimed") d["status"] = d["status"] == "revealed" ? "resolved" : "closed";
      if (auto r = state_.update_dispute(u256(dispute_id), d.dump(), !final_status(d["status"])); !r) return r;
    }
  }
  return {};
}

Result<void> Juror::poll_once() {
  if (auto r = follower_->poll_once(); !r) return std::unexpected(r.error());
  auto open = state_.open_disputes();
  if (!open) return std::unexpected(open.error());
  for (const auto& rec : *open) {
    if (rec.role != "juror") continue;
    auto d = nlohmann::json::parse(rec.json, nullptr, false);
    if (d.is_discarded()) continue;
    std::string before = d.dump();
    auto r = act(d);
    if (d.dump() != before) {
      if (auto u = state_.update_dispute(rec.id, d.dump(), !final_status(d["status"])); !u) return u;
    }
    if (!r) spdlog::warn("juror: dispute {}: {}", rec.id.str(), r.error().message);
  }
  return {};
}

// Advances one case by at most one step per phase; `d` is updated in place and saved by the
// caller. Status flow: opened -> selected -> committed -> revealed -> resolved -> claimed
// (or not_selected / closed, which are final).
Result<void> Juror::act(nlohmann::json& d) {
  const auto& disputes = chain_.contracts().disputes;
  auto& wallet = chain_.wallet();
  uint64_t id = d["id"].get<uint64_t>();
  uint64_t head = chain_.head();
  if (auto h = chain_.refresh_head(); h) head = *h;
  std::string status = d["status"];

  if (status == "opened") {
    // Anyone may draw the jury; doing it keeps cases moving without the challenger.
    if (head > d["selection_block"].get<uint64_t>()) {
      auto r = disputes.send(wallet, "drawJurors", {Value::uint(id)});
      if (!r && !benign_revert(r.error())) return fail(r.error().code, "drawJurors: " + r.error().message);
    }
    return {};
  }
  if (status == "selected") {
    if (!d.contains("output_hash")) {
      auto bytes = from_hex(d["request"].get<std::string>());
      if (!bytes) return fail(Errc::malformed, "stored request: " + bytes.error().message);
      auto creq = market::decode_canonical(*bytes);
      Hash32 vote{};
      if (!creq) {
        // An undecodable request cannot have been served honestly: vote a fixed marker hash.
        vote = crypto::keccak256(std::string_view("dgrid.invalid-request"));
      } else {
        auto out = provider_.execute(*creq);
        if (!out) return fail(out.error().code, "re-execution: " + out.error().message);
        vote = out->output_hash;
      }
      d["output_hash"] = to_hex(vote);
      d["salt"] = to_hex(random_salt());
      reexecutions_.inc();
      return {};  // saved before the commit is sent: a crash after sending still reveals
    }
    if (head > d["commit_deadline"].get<uint64_t>()) {
      d["status"] = "missed";
      return fail(Errc::failed_precondition, "commit window closed before the vote was sent");
    }
    auto vote = fixed_from_hex<32>(d["output_hash"].get<std::string>());
    auto salt = fixed_from_hex<32>(d["salt"].get<std::string>());
    Hash32 commitment = market::vote_commitment(id, *vote, *salt, chain_.address());
    auto r = disputes.send(wallet, "commitVote", {Value::uint(id), Value::bytes(commitment)});
    if (!r && !benign_revert(r.error())) return fail(r.error().code, "commitVote: " + r.error().message);
    d["status"] = "committed";
    spdlog::info("juror: committed vote on dispute {}", id);
    return {};
  }
  if (status == "committed") {
    if (head <= d["commit_deadline"].get<uint64_t>()) return {};
    auto vote = fixed_from_hex<32>(d["output_hash"].get<std::string>());
    auto salt = fixed_from_hex<32>(d["salt"].get<std::string>());
    auto r = disputes.send(wallet, "revealVote", {Value::uint(id), Value::bytes(*vote), Value::bytes(*salt)});
    if (!r && !benign_revert(r.error())) {
      if (head > d["reveal_deadline"].get<uint64_t>()) d["status"] = "missed";
      return fail(r.error().code, "revealVote: " + r.error().message);
    }
    d["status"] = "revealed";
    votes_.inc();
    spdlog::info("juror: revealed vote on dispute {}", id);
    return {};
  }
  if (status == "revealed") {
    if (head <= d["reveal_deadline"].get<uint64_t>()) return {};
    auto r = disputes.send(wallet, "resolve", {Value::uint(id)});
    if (!r && !benign_revert(r.error())) return fail(r.error().code, "resolve: " + r.error().message);
    d["status"] = "resolved";
    return {};
  }
  if (status == "resolved") {
    auto c = disputes.call("claimable", {Value::address(chain_.address())});
    if (!c) return fail(c.error().code, "claimable: " + c.error().message);
    auto amount = c->values.at(0).as_uint();
    if (amount && *amount > 0) {
      auto r = disputes.send(wallet, "claim", {});
      if (!r) return fail(r.error().code, "claim: " + r.error().message);
      spdlog::info("juror: claimed {} from dispute rewards", amount->str());
    }
    d["status"] = "claimed";
    return {};
  }
  return {};
}

}  // namespace dgrid::node
