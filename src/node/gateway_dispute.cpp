// The gateway as challenger: a confirmed spot-check mismatch is disputed on chain,
// openDispute -> drawJurors -> resolve -> claim, each step recorded in NodeState first so a
// restarted gateway resumes where it stopped (DESIGN §7, docs/contracts.md "Disputes").
#include <spdlog/spdlog.h>

#include "node/gateway_impl.hpp"

namespace dgrid::node {

using eth::abi::Value;

namespace {

constexpr std::string_view kIntentsKey = "gateway.dispute_intents";
constexpr std::string_view kRole = "challenger";

enum DisputeStatus : uint64_t { kNone = 0, kAwaitingJurors = 1, kVoting = 2, kResolved = 3 };
enum DisputeOutcome : uint64_t { kProviderWins = 1, kChallengerWins = 2, kProviderFault = 3, kNoMajority = 4, kNoJurors = 5 };

std::string_view outcome_name(uint64_t o) {
  switch (o) {
    case kProviderWins: return "provider_wins";
    case kChallengerWins: return "challenger_wins";
    case kProviderFault: return "provider_fault";
    case kNoMajority: return "no_majority";
    case kNoJurors: return "no_jurors";
    default: return "unknown";
  }
}

struct OnChainDispute {
  crypto::Address challenger, provider;
  uint64_t selection_block = 0, commit_deadline = 0, reveal_deadline = 0;
  uint64_t status = 0, outcome = 0;
};

Result<OnChainDispute> read_dispute(const eth::Contract& disputes, const u256& id) {
  auto r = disputes.call("getDispute", {Value::uint(id)});
  if (!r) return fail(r.error().code, "getDispute(" + to_dec(id) + "): " + r.error().message);
  const auto* f = r->values.at(0).items();
  if (!f || f->size() != 13) return fail(Errc::malformed, "getDispute returned an unexpected shape");
  OnChainDispute d;
  auto challenger = (*f)[0].as_address();
  auto provider = (*f)[1].as_address();
  auto sel = (*f)[7].as_u64();
  auto cd = (*f)[8].as_u64();
  auto rd = (*f)[9].as_u64();
  auto st = (*f)[10].as_u64();
  auto oc = (*f)[11].as_u64();
  if (!challenger || !provider || !sel || !cd || !rd || !st || !oc) return fail(Errc::malformed, "getDispute fields did not decode");
  d.challenger = *challenger;
  d.provider = *provider;
  d.selection_block = *sel;
  d.commit_deadline = *cd;
  d.reveal_deadline = *rd;
  d.status = *st;
  d.outcome = *oc;
  return d;
}

Result<u256> uint_call(const eth::Contract& c, std::string_view fn, std::initializer_list<Value> args) {
  auto r = c.call(fn, args);
  if (!r) return fail(r.error().code, std::string(fn) + ": " + r.error().message);
  auto v = r->values.at(0).as_uint();
  if (!v) return fail(Errc::malformed, std::string(fn) + " did not return a uint");
  return *v;
}

// A failure to open a dispute that retrying cannot fix: the contract refuses this receipt
// for good, or our own records are unreadable. Anything else (RPC down, bond not funded
// yet) is retried on later passes.
bool dispute_is_hopeless(const Error& e) {
  if (e.code == Errc::malformed || e.code == Errc::not_found) return true;
  if (e.code != Errc::reverted) return false;
  for (std::string_view final_reason : {"ReceiptTooOld", "ReceiptAlreadyDisputed", "SameOutputHash", "SelfDispute",
                                        "InputHashMismatch", "ReceiptSignerMismatch", "WrongChain", "RequestTooLarge",
                                        "ZeroOutputHash"}) {
    if (e.message.find(final_reason) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Result<void> Gateway::Impl::record_dispute_intent(const Hash32& job_id, const Hash32& challenger_output_hash) {
  std::lock_guard lock(dispute_mu);
  auto cur = state.get(kIntentsKey);
  if (!cur) return std::unexpected(cur.error());
  nlohmann::json intents = nlohmann::json::array();
  if (*cur) {
    auto j = nlohmann::json::parse(**cur, nullptr, false);
    if (j.is_array()) intents = std::move(j);
  }
  intents.push_back({{"job_id", to_hex(job_id)}, {"challenger_output_hash", to_hex(challenger_output_hash)}});
  return state.put(kIntentsKey, intents.dump());
}

Result<void> Gateway::Impl::open_dispute(const nlohmann::json& intent) {
  auto job_id = fixed_from_hex<32>(intent.value("job_id", ""));
  auto theirs = fixed_from_hex<32>(intent.value("challenger_output_hash", ""));
  if (!job_id || !theirs) return fail(Errc::malformed, "unreadable dispute intent " + intent.dump());
  auto job = state.job(*job_id);
  if (!job || !*job) return fail(Errc::not_found, "dispute intent for unknown job " + to_hex(*job_id));
  auto rj = state.receipt(*job_id);
  if (!rj || !*rj) return fail(Errc::not_found, "no stored receipt for job " + to_hex(*job_id));
  auto sr = market::receipt_from_json(nlohmann::json::parse(**rj, nullptr, false));
  if (!sr) return fail(sr.error().code, "stored receipt: " + sr.error().message);
  const auto& disputes = chain.contracts().disputes;
  const Hash32 digest = market::receipt_digest(sr->receipt, sr->verifying_contract);

  // A crash after openDispute was sent but before it was recorded: adopt the open dispute.
  auto existing = uint_call(disputes, "disputeOfReceipt", {Value::bytes(digest)});
  if (!existing) return std::unexpected(existing.error());
  u256 id = *existing;
  uint64_t selection_block = 0;
  if (id != 0) {
    auto d = read_dispute(disputes, id);
    if (!d) return std::unexpected(d.error());
    if (d->challenger != chain.address()) {
      spdlog::info("gateway: job {} is already disputed by {} (dispute {})", to_hex(*job_id), d->challenger.checksummed(), to_dec(id));
      return {};
    }
    selection_block = d->selection_block;
  } else {
    auto balance = chain.contracts().token.balance_of(chain.address());
    if (!balance) return fail(balance.error().code, "token balance: " + balance.error().message);
    if (*balance < challenge_bond) {
      return fail(Errc::failed_precondition, "the dispute bond is " + to_dec(challenge_bond) + " but the gateway holds " +
                                                 to_dec(*balance) + " (fund " + chain.address().checksummed() + ")");
    }
    auto allowance = chain.contracts().token.allowance(chain.address(), disputes.address());
    if (!allowance) return fail(allowance.error().code, "bond allowance: " + allowance.error().message);
    if (*allowance < challenge_bond) {
      auto a = chain.contracts().token.approve(chain.wallet(), disputes.address(), challenge_bond);
      if (!a) return fail(a.error().code, "approving the dispute bond: " + a.error().message);
    }
    auto sent = disputes.send(chain.wallet(), "openDispute",
                              {market::receipt_value(sr->receipt), Value::bytes(sr->signature.to_rsv()),
                               Value::bytes(job->value().request), Value::bytes(*theirs)});
    if (!sent) return fail(sent.error().code, "openDispute: " + sent.error().message);
    auto events = disputes.events(sent->logs);
    if (!events) return fail(events.error().code, "openDispute events: " + events.error().message);
    for (const auto& e : *events) {
      if (e.name != "DisputeOpened") continue;
      if (auto v = e.values.get("disputeId")) id = v->as_uint().value_or(0);
      if (auto v = e.values.get("selectionBlock")) selection_block = v->as_u64().value_or(0);
    }
    if (id == 0) return fail(Errc::internal, "openDispute succeeded without a DisputeOpened event");
    stats.disputes_opened++;
    metrics.disputes.with({"opened"}).inc();
    spdlog::warn("gateway: opened dispute {} against {} for job {} (bond {})", to_dec(id), sr->receipt.provider.checksummed(),
                 to_hex(*job_id), to_dec(challenge_bond));
  }
  nlohmann::json rec = {{"job_id", to_hex(*job_id)},
                        {"provider", sr->receipt.provider.checksummed()},
                        {"receipt_digest", to_hex(digest)},
                        {"challenger_output_hash", to_hex(*theirs)},
                        {"selection_block", selection_block},
                        {"stage", "opened"}};
  if (auto p = state.put_dispute(id, kRole, rec.dump()); !p && p.error().code != Errc::already_exists) {
    return fail(p.error().code, "recording dispute: " + p.error().message);
  }
  JobRecord updated = job->value();
  updated.spot_check = SpotCheck::mismatch;
  updated.dispute_id = id;
  if (auto u = state.update_job(updated); !u) spdlog::warn("gateway: recording the job's dispute: {}", u.error().message);
  return {};
}

Result<void> Gateway::Impl::advance_dispute(const DisputeRecord& rec) {
  const auto& disputes = chain.contracts().disputes;
  auto j = nlohmann::json::parse(rec.json, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  auto d = read_dispute(disputes, rec.id);
  if (!d) return std::unexpected(d.error());
  auto head = chain.rpc().block_number();
  if (!head) return fail(head.error().code, "block number: " + head.error().message);
  const std::string id_text = to_dec(rec.id);

  // Anybody may draw and resolve; the status on chain says what is left to do. The next
  // transaction lands in head + 1.
  if (d->status == kAwaitingJurors && *head + 1 > d->selection_block) {
    auto r = disputes.send(chain.wallet(), "drawJurors", {Value::uint(rec.id)});
    if (!r) return fail(r.error().code, "drawJurors(" + id_text + "): " + r.error().message);
    j["stage"] = "drawn";
    spdlog::info("gateway: dispute {}: jurors drawn", id_text);
    (void)state.update_dispute(rec.id, j.dump());
    auto again = read_dispute(disputes, rec.id);
    if (!again) return std::unexpected(again.error());
    d = again;
  }
  if (d->status == kVoting && *head + 1 > d->reveal_deadline) {
    auto r = disputes.send(chain.wallet(), "resolve", {Value::uint(rec.id)});
    if (!r) return fail(r.error().code, "resolve(" + id_text + "): " + r.error().message);
    spdlog::info("gateway: dispute {}: resolved", id_text);
    auto again = read_dispute(disputes, rec.id);
    if (!again) return std::unexpected(again.error());
    d = again;
  }
  if (d->status != kResolved) {
    j["reveal_deadline"] = d->reveal_deadline;
    if (j.value("stage", "") == "opened" && d->status == kVoting) j["stage"] = "drawn";
    (void)state.update_dispute(rec.id, j.dump());
    return {};
  }
  j["stage"] = "resolved";
  j["outcome"] = outcome_name(d->outcome);
  (void)state.update_dispute(rec.id, j.dump());
  auto owed = uint_call(disputes, "claimable", {Value::address(chain.address())});
  if (!owed) return std::unexpected(owed.error());
  if (*owed != 0) {
    auto c = disputes.send(chain.wallet(), "claim", {});
    if (!c) return fail(c.error().code, "claim: " + c.error().message);
    j["claimed"] = to_dec(*owed);
    spdlog::info("gateway: dispute {}: claimed {}", id_text, to_dec(*owed));
  }
  j["stage"] = "closed";
  switch (d->outcome) {
    case kChallengerWins:
    case kProviderFault: stats.disputes_won++; metrics.disputes.with({"won"}).inc(); break;
    case kProviderWins: stats.disputes_lost++; metrics.disputes.with({"lost"}).inc(); break;
    default: stats.disputes_other++; metrics.disputes.with({"other"}).inc(); break;
  }
  spdlog::info("gateway: dispute {} closed: {}", id_text, outcome_name(d->outcome));
  if (auto u = state.update_dispute(rec.id, j.dump(), /*open=*/false); !u) return std::unexpected(u.error());
  return {};
}

void Gateway::Impl::advance_disputes() {
  std::lock_guard lock(dispute_mu);
  // Intents first: each either becomes a recorded dispute or stays for the next pass.
  auto cur = state.get(kIntentsKey);
  if (cur && *cur) {
    auto intents = nlohmann::json::parse(**cur, nullptr, false);
    if (intents.is_array() && !intents.empty()) {
      nlohmann::json left = nlohmann::json::array();
      for (const auto& i : intents) {
        auto r = open_dispute(i);
        if (!r) {
          spdlog::warn("gateway: dispute not opened yet: {}", r.error().message);
          if (!dispute_is_hopeless(r.error())) left.push_back(i);
        }
      }
      if (auto p = state.put(kIntentsKey, left.dump()); !p) spdlog::warn("gateway: saving dispute intents: {}", p.error().message);
    }
  }
  auto open = state.open_disputes();
  if (!open) {
    spdlog::warn("gateway: reading open disputes: {}", open.error().message);
    return;
  }
  for (const auto& rec : *open) {
    if (rec.role != kRole) continue;
    if (auto r = advance_dispute(rec); !r) spdlog::warn("gateway: dispute {}: {}", to_dec(rec.id), r.error().message);
  }
}

}  // namespace dgrid::node
