// The deal keeper's chain side: StorageMarket events into NodeState, the claim policy and
// claims (new deals and reopened slots), reports of other storers' missed proofs, the
// background loops and the status. Proofs and content live in storer_proofs.cpp.
#include <spdlog/spdlog.h>

#include <boost/multiprecision/cpp_int.hpp>

#include "node/store_client.hpp"
#include "node/storer_deals_impl.hpp"

namespace dgrid::node {

namespace {

constexpr auto kMaxBackoff = std::chrono::minutes(5);

std::optional<store::Cid> parse_cid(ByteView raw) {
  auto c = store::Cid::from_bytes(raw);
  if (!c) return std::nullopt;
  return *c;
}

// Why a deal is not for this storer under its options, or nullopt when it is.
std::optional<std::string> policy_refusal(const DealKeeperOptions& o, const StorageDealRecord& d, uint64_t held_bytes) {
  if (o.max_object_bytes != 0 && d.size > o.max_object_bytes)
    return std::to_string(d.size) + " bytes exceed max_object_bytes " + std::to_string(o.max_object_bytes);
  if (o.capacity_bytes != 0 && held_bytes + d.size > o.capacity_bytes)
    return "no capacity left (" + std::to_string(held_bytes) + " of " + std::to_string(o.capacity_bytes) +
           " bytes held)";
  // endowment / replicas per GiB >= min, compared without division (exact, no overflow).
  using boost::multiprecision::cpp_int;
  const cpp_int lhs = cpp_int(d.endowment) << 30;
  const cpp_int rhs = cpp_int(o.min_endowment_per_gib) * d.replicas * d.size;
  if (d.replicas == 0 || lhs < rhs)
    return "endowment " + to_dec(d.endowment) + " over " + std::to_string(d.replicas) + " replicas of " +
           std::to_string(d.size) + " bytes is below min_endowment_per_gib " + to_dec(o.min_endowment_per_gib);
  return std::nullopt;
}

}  // namespace

bool lost_race(const Error& e, std::initializer_list<std::string_view> errors) {
  if (e.code != Errc::reverted) return false;
  for (auto name : errors)
    if (e.message.find(name) != std::string::npos) return true;
  return false;
}

std::string cid_text(ByteView cid) {
  if (auto c = parse_cid(cid)) return c->to_string();
  return to_hex(cid);
}

DealKeeper::Impl::Impl(ChainContext& c, NodeState& s, Registry& m, store::Blockstore& b, DealKeeperOptions o,
                       PeerSource p)
    : chain(c),
      state(s),
      bs(b),
      opt(std::move(o)),
      peers(std::move(p)),
      market(c.contracts().storage),
      self(c.address()),
      proofs_sent(m.counter("dgrid_storer_proofs_sent_total", "Storage proofs accepted on chain")),
      proofs_failed(m.counter("dgrid_storer_proofs_failed_total",
                              "Due storage proofs that could not be made or were refused")),
      refetches(m.counter("dgrid_storer_proof_refetches_total",
                          "Content fetched again from peers because a challenged segment could not be read")),
      reports(m.counter("dgrid_storer_missed_proof_reports_total", "Other storers' missed proofs reported (slashed)")),
      claims(m.counter("dgrid_storer_slot_claims_total", "Deal slots claimed")),
      repairs(m.counter("dgrid_storer_slot_repairs_total", "Reopened slots claimed (lost replicas repaired)")),
      rejected(m.counter("dgrid_storer_deals_rejected_total",
                         "Deals never to be claimed: content does not match the deal's segment root")),
      slots_held(m.gauge("dgrid_storer_slots_held", "Deal slots this storer holds")),
      bytes_held(m.gauge("dgrid_storer_slot_bytes_held", "Content bytes of the deal slots this storer holds")) {
  FollowerOptions fo;
  fo.stream = "storer.deals";
  fo.addresses = {chain.deployment().storage};
  fo.start_block = chain.deployment().block;
  follower = std::make_unique<EventFollower>(chain.rpc(), state, fo, [this](const eth::Log& l) { return on_log(l); });
}

// ------------------------------------------------------------------ events

Result<uint64_t> DealKeeper::Impl::epoch_len() {
  if (uint64_t l = epoch_length.load(); l != 0) return l;
  auto l = market.epoch_length();
  if (!l) return std::unexpected(l.error().context("StorageMarket epochLength"));
  if (*l == 0) return fail(Errc::malformed, "StorageMarket epochLength is 0");
  epoch_length.store(*l);
  return *l;
}

Result<void> DealKeeper::Impl::on_log(const eth::Log& log) {
  if (log.removed) return {};
  auto evs = market.decode({log});
  if (!evs) return std::unexpected(evs.error());
  for (const auto& e : *evs)
    if (auto r = apply(e); !r) return r;
  return {};
}

void DealKeeper::Impl::apply_receipt(const eth::Receipt& r) {
  auto evs = market.decode(r.logs);
  if (!evs) {
    spdlog::warn("storer: decoding the logs of {}: {} (the event follower records them)", to_hex(r.tx_hash),
                 evs.error().message);
    return;
  }
  for (const auto& e : *evs)
    if (auto a = apply(e); !a) spdlog::warn("storer: recording {}: {}", to_hex(r.tx_hash), a.error().message);
}

Result<void> DealKeeper::Impl::apply(const eth::StorageEvent& ev) {
  const eth::Log& log = ev.log;
  auto slot_row = [&](uint64_t deal, uint32_t slot) -> Result<StorageSlotRecord> {
    auto rows = state.storage_slots(deal);
    if (!rows) return std::unexpected(rows.error());
    for (const auto& r : *rows)
      if (r.slot == slot) return r;
    StorageSlotRecord r;
    r.deal_id = deal;
    r.slot = slot;
    return r;
  };
  auto put_slot = [&](StorageSlotRecord r) -> Result<void> {
    r.ev_block = log.block_number;
    r.ev_index = log.log_index;
    auto w = state.put_storage_slot(r);
    if (!w) return std::unexpected(w.error());
    return {};
  };

  if (const auto* o = std::get_if<eth::DealOpenedEvent>(&ev.data)) {
    StorageDealRecord d;
    d.id = o->deal_id;
    d.client = o->client;
    d.segment_root = o->segment_root;
    d.size = o->size;
    d.replicas = o->replicas;
    d.endowment = o->endowment;
    d.opened_block = log.block_number;
    d.cid = o->cid;
    auto cid = store::Cid::from_bytes(o->cid);
    if (!cid) {
      d.rejected = "the deal's CID does not parse: " + cid.error().message;
    } else if (cid->codec() != store::Codec::raw && cid->codec() != store::Codec::dag_pb) {
      d.rejected = "the deal's CID " + cid->to_string() + " is not a UnixFS file (codec neither raw nor dag-pb)";
    } else {
      d.cid = cid->to_v1().bytes();  // one key per content, whichever CID version the client used
    }
    return state.put_storage_deal(d, log.block_number, log.log_index);
  }
  if (const auto* c = std::get_if<eth::SlotClaimedEvent>(&ev.data)) {
    StorageSlotRecord r;
    r.deal_id = c->deal_id;
    r.slot = c->slot;
    r.storer = c->storer;
    r.next_epoch = c->start_epoch;
    r.collateral = c->collateral;
    return put_slot(r);
  }
  if (const auto* p = std::get_if<eth::StorageProvenEvent>(&ev.data)) {
    auto r = slot_row(p->deal_id, p->slot);
    if (!r) return std::unexpected(r.error());
    r->storer = p->storer;
    r->next_epoch = p->epoch + 1;
    r->reopened = false;
    if (auto w = put_slot(*r); !w) return w;
    if (p->storer != self) return {};
    StorageProofRecord pr;
    pr.deal_id = p->deal_id;
    pr.slot = p->slot;
    pr.epoch = p->epoch;
    pr.storer = p->storer;
    pr.segment_index = p->segment_index;
    pr.payment = p->payment;
    pr.tx_hash = log.tx_hash;
    pr.block = log.block_number;
    return state.put_storage_proof(pr);
  }
  if (const auto* m = std::get_if<eth::StorageProofMissedEvent>(&ev.data)) {
    if (m->storer == self)
      spdlog::error("storer: lost slot {} of deal {}: proof of epoch {} missed, collateral {} slashed", m->slot,
                    m->deal_id, m->epoch, to_dec(m->collateral_slashed));
    return {};  // SlotReopened follows in the same transaction
  }
  if (const auto* r = std::get_if<eth::SlotReopenedEvent>(&ev.data)) {
    StorageSlotRecord s;
    s.deal_id = r->deal_id;
    s.slot = r->slot;
    s.reopened = true;
    return put_slot(s);
  }
  return {};  // DealToppedUp, SlotLeft: nothing to keep (SlotReopened follows a SlotLeft)
}

Result<void> DealKeeper::Impl::sync() {
  auto n = follower->poll_once();
  if (!n) return std::unexpected(n.error().context("following StorageMarket events"));
  return {};
}

// ------------------------------------------------------------------ watcher

Result<void> DealKeeper::Impl::watch(uint64_t head) {
  if (!opt.watch) return {};
  auto len = epoch_len();
  if (!len) return std::unexpected(len.error());
  // A report lands in a block after `head`, so an epoch before head's is over by then.
  const uint64_t current = head / *len;
  auto due = state.storage_slots_due_before(current);
  if (!due) return std::unexpected(due.error());
  Result<void> first_error;
  for (const auto& s : *due) {
    // Our own default is left to others: this keeper is the one that failed to prove it.
    if (s.storer == self) continue;
    auto cs = market.get_slot(s.deal_id, s.slot);
    if (!cs) {
      if (first_error) first_error = std::unexpected(cs.error());
      continue;
    }
    if (cs->open() || cs->next_epoch >= current) continue;  // our rows lag the chain
    if (cs->storer == self) continue;  // the chain, not a possibly stale row, says it is ours
    auto r = market.report_missed_proof(chain.wallet(), s.deal_id, s.slot, cs->next_epoch);
    if (!r) {
      if (lost_race(r.error(), {"EpochNotMissed", "SlotIsOpen"})) continue;  // proven or reported meanwhile
      spdlog::warn("storer: reporting the missed proof of deal {} slot {}: {}", s.deal_id, s.slot, r.error().message);
      if (first_error) first_error = std::unexpected(r.error());
      continue;
    }
    reports.inc();
    spdlog::info("storer: reported {} missing its proof of epoch {} for deal {} slot {}", cs->storer.checksummed(),
                 cs->next_epoch, s.deal_id, s.slot);
    apply_receipt(*r);
  }
  return first_error;
}

// ------------------------------------------------------------------ claims

Result<void> DealKeeper::Impl::acquire() {
  if (!opt.claim && !opt.repair) return {};
  auto deals = state.storage_deals_with_open_slots();
  if (!deals) return std::unexpected(deals.error());
  auto held = state.storage_slots_held_by(self);
  if (!held) return std::unexpected(held.error());
  std::set<uint64_t> held_deals;
  uint64_t held_bytes = 0;
  for (const auto& h : *held) {
    if (!held_deals.insert(h.deal_id).second) continue;
    if (auto d = state.storage_deal(h.deal_id); d && *d) held_bytes += (*d)->size;
  }
  Result<void> first_error;
  for (const auto& d : *deals) {
    if (held_deals.contains(d.id)) continue;
    auto slots = state.storage_slots(d.id);
    if (!slots) return std::unexpected(slots.error());
    bool fresh = false, reopened = false;
    for (const auto& s : *slots) {
      if (s.storer) continue;
      (s.reopened ? reopened : fresh) = true;
    }
    if (!((opt.claim && fresh) || (opt.repair && reopened))) continue;
    if (auto why = policy_refusal(opt, d, held_bytes)) {
      spdlog::debug("storer: not claiming deal {}: {}", d.id, *why);
      continue;
    }
    auto cid = parse_cid(d.cid);
    if (!cid) continue;  // rejected when recorded
    {
      std::lock_guard lock(mu);
      auto it = fetch_backoff.find(*cid);
      if (it != fetch_backoff.end() && std::chrono::steady_clock::now() < it->second.next) continue;
    }
    auto r = acquire_deal(d, *slots);
    std::lock_guard lock(mu);
    if (r) {
      fetch_backoff.erase(*cid);
      held_bytes += d.size;  // later deals of this pass see the capacity it took
      continue;
    }
    auto& b = fetch_backoff[*cid];
    b.wait = std::min<std::chrono::milliseconds>(std::max(b.wait * 2, opt.poll_interval), kMaxBackoff);
    b.next = std::chrono::steady_clock::now() + b.wait;
    // Content not (yet) available from any peer is normal while an upload is under way.
    if (r.error().code == Errc::unavailable) {
      spdlog::info("storer: deal {} not claimed yet: {}", d.id, r.error().message);
      continue;
    }
    spdlog::warn("storer: deal {}: {}", d.id, r.error().message);
    if (first_error) first_error = std::unexpected(r.error());
  }
  return first_error;
}

Result<void> DealKeeper::Impl::acquire_deal(const StorageDealRecord& d, const std::vector<StorageSlotRecord>& slots) {
  const store::Cid cid = *parse_cid(d.cid);
  const bool was_pinned = bs.pinned(cid);
  if (!was_pinned) {
    auto urls = peers ? peers() : std::vector<std::string>{};
    if (urls.empty()) return fail(Errc::unavailable, "no peer storer to fetch " + cid.to_string() + " from");
    if (auto f = fetch_dag(bs, cid, urls); !f) return std::unexpected(f.error());
    spdlog::info("storer: fetched {} for deal {} from peers", cid.to_string(), d.id);
  }
  // The content must be exactly what the deal commits to, or every proof would fail.
  // (A read error is not proof of a bad deal: a block may have gone bad on our disk. It is
  // retried later, and the pin dropped so that the next try fetches what is missing.)
  auto index = index_for(cid, d.size);
  if (!index) {
    (void)bs.unpin(cid);
    return std::unexpected(index.error().context("reading " + cid.to_string()));
  }
  std::string mismatch;
  if ((*index)->size() != d.size || (*index)->root() != d.segment_root) {
    mismatch = "its content (" + std::to_string((*index)->size()) + " bytes, segment root " +
               to_hex((*index)->root()) + ") does not match the deal (" + std::to_string(d.size) +
               " bytes, segment root " + to_hex(d.segment_root) + ")";
  }
  if (!mismatch.empty()) {
    rejected.inc();
    spdlog::warn("storer: never claiming deal {} for {}: {}", d.id, cid.to_string(), mismatch);
    if (!was_pinned) {
      // Keep the pin only for another deal of the same content that this storer holds.
      bool needed = false;
      if (auto others = state.storage_deals_for_cid(d.cid)) {
        for (const auto& o : *others) {
          auto rows = state.storage_slots(o.id);
          if (rows)
            for (const auto& s : *rows) needed = needed || s.storer == self;
        }
      }
      if (!needed) (void)bs.unpin(cid);
    }
    return state.reject_storage_deal(d.id, mismatch);
  }

  auto storing = market.is_storing(d.id, self);
  if (!storing) return std::unexpected(storing.error());
  if (*storing) return {};  // claimed before (our rows catch up from the events)
  auto c = market.claim_slot(chain.wallet(), chain.contracts().token, d.id);
  if (!c) {
    if (lost_race(c.error(), {"NoOpenSlot", "AlreadyStoringDeal"})) {
      spdlog::info("storer: deal {}: another storer took the last open slot", d.id);
      return {};
    }
    return fail(c.error().code, "claiming a slot of deal " + std::to_string(d.id) + ": " + c.error().message);
  }
  bool repair = false;
  for (const auto& s : slots)
    if (s.slot == c->slot) repair = s.reopened;
  claims.inc();
  if (repair) repairs.inc();
  spdlog::info("storer: claimed slot {} of deal {} ({}, {} bytes){}, collateral {}, first proof in epoch {}", c->slot,
               d.id, cid.to_string(), d.size, repair ? " to repair a lost replica" : "", to_dec(c->collateral),
               c->start_epoch);
  apply_receipt(c->receipt);
  return {};
}

// ------------------------------------------------------------------ passes and loops

void DealKeeper::Impl::update_gauges() {
  auto held = state.storage_slots_held_by(self);
  if (!held) return;
  uint64_t bytes = 0;
  for (const auto& h : *held)
    if (auto d = state.storage_deal(h.deal_id); d && *d) bytes += (*d)->size;
  slots_held.set(static_cast<double>(held->size()));
  bytes_held.set(static_cast<double>(bytes));
}

Result<void> DealKeeper::Impl::poll_all() {
  if (auto s = sync(); !s) return s;
  auto head = chain.refresh_head();
  if (!head) return std::unexpected(head.error().context("reading the chain head"));
  // Every part runs even when an earlier one failed: a bad slot must not stop the others.
  Result<void> first_error = prove_due(*head);
  for (auto r : {watch(*head), acquire()})
    if (!r && first_error) first_error = r;
  update_gauges();
  return first_error;
}

DealKeeper::DealKeeper(ChainContext& chain, NodeState& state, Registry& metrics, store::Blockstore& bs,
                       DealKeeperOptions options, PeerSource peers)
    : impl_(std::make_unique<Impl>(chain, state, metrics, bs, std::move(options), std::move(peers))) {}

DealKeeper::~DealKeeper() { stop(); }

Result<void> DealKeeper::poll_once() { return impl_->poll_all(); }

void DealKeeper::start() {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.loop_mu);
    if (im.chain_thread.joinable()) return;
    im.stopping = false;
  }
  auto wait = [&im](bool* wake) {
    std::unique_lock lock(im.loop_mu);
    im.loop_cv.wait_for(lock, im.opt.poll_interval, [&] { return im.stopping || (wake && *wake); });
    if (wake) *wake = false;
    return !im.stopping;
  };
  // Events, proofs and reports on one thread; claims (which may fetch a whole object) on
  // another, so a long fetch never delays a proof.
  im.chain_thread = std::thread([&im, wait] {
    do {
      auto s = im.sync();
      auto head = s ? im.chain.refresh_head() : Result<uint64_t>(std::unexpected(s.error()));
      if (head) {
        if (auto p = im.prove_due(*head); !p) spdlog::warn("storer: proofs: {}", p.error().message);
        if (auto w = im.watch(*head); !w) spdlog::warn("storer: watching slots: {}", w.error().message);
        im.update_gauges();
      } else {
        spdlog::warn("storer: deal keeper: {} (will retry)", head.error().message);
      }
    } while (wait(nullptr));
  });
  im.defer_heal = true;
  im.acquire_thread = std::thread([&im, wait] {
    do {
      im.heal_queued();
      if (auto a = im.acquire(); !a) spdlog::warn("storer: claims: {}", a.error().message);
    } while (wait(&im.acquire_wake));
  });
}

void DealKeeper::stop() {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.loop_mu);
    im.stopping = true;
  }
  im.loop_cv.notify_all();
  if (im.chain_thread.joinable()) im.chain_thread.join();
  if (im.acquire_thread.joinable()) im.acquire_thread.join();
}

std::optional<DealInfo> DealKeeper::deal_for(const store::Cid& cid, const crypto::Address& client) const {
  const Bytes key = cid.to_v1().bytes();
  auto find = [&]() -> std::optional<DealInfo> {
    auto deals = impl_->state.storage_deals_for_cid(key);
    if (!deals) return std::nullopt;
    for (const auto& d : *deals) {  // newest first
      if (d.client != client) continue;
      DealInfo info;
      info.id = d.id;
      info.client = d.client;
      info.cid = cid.to_v1();
      info.segment_root = d.segment_root;
      info.size = d.size;
      info.replicas = d.replicas;
      info.endowment = d.endowment;
      return info;
    }
    return std::nullopt;
  };
  if (auto d = find()) return d;
  // A client uploads right after opening its deal: catch up with the chain once.
  if (auto s = impl_->sync(); !s) spdlog::warn("storer: {}", s.error().message);
  return find();
}

void DealKeeper::on_pinned(const store::Cid& cid) {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.mu);
    im.fetch_backoff.erase(cid.to_v1());
  }
  {
    std::lock_guard lock(im.loop_mu);
    im.acquire_wake = true;
  }
  im.loop_cv.notify_all();
}

nlohmann::json DealKeeper::status_json() const {
  Impl& im = *impl_;
  nlohmann::json out = {{"address", im.self.checksummed()},
                        {"head", im.chain.head()},
                        {"epoch_length", im.epoch_length.load()},
                        {"metrics",
                         {{"proofs_sent", im.proofs_sent.value()},
                          {"proofs_failed", im.proofs_failed.value()},
                          {"proof_refetches", im.refetches.value()},
                          {"reports", im.reports.value()},
                          {"claims", im.claims.value()},
                          {"repairs", im.repairs.value()},
                          {"deals_rejected", im.rejected.value()},
                          {"slots_held", im.slots_held.value()},
                          {"bytes_held", im.bytes_held.value()}}}};
  auto held = im.state.storage_slots_held_by(im.self);
  if (!held) {
    out["error"] = held.error().message;
    return out;
  }
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& s : *held) {
    auto d = im.state.storage_deal(s.deal_id);
    if (!d || !*d) continue;
    const auto& deal = **d;
    nlohmann::json proofs = nlohmann::json::array();
    if (auto ps = im.state.storage_proofs(s.deal_id, s.slot, 8))
      for (const auto& p : *ps)
        proofs.push_back({{"epoch", p.epoch},
                          {"segment_index", p.segment_index},
                          {"payment", to_dec(p.payment)},
                          {"tx", to_hex(p.tx_hash)},
                          {"block", p.block}});
    auto paid = im.state.storage_paid(s.deal_id, s.slot, im.self);
    slots.push_back({{"deal", deal.id},
                     {"slot", s.slot},
                     {"cid", cid_text(deal.cid)},
                     {"client", deal.client.checksummed()},
                     {"size", deal.size},
                     {"replicas", deal.replicas},
                     {"endowment", to_dec(deal.endowment)},
                     {"segment_root", to_hex(deal.segment_root)},
                     {"next_epoch", s.next_epoch},
                     {"collateral", to_dec(s.collateral)},
                     {"paid", paid ? to_dec(*paid) : "?"},
                     {"last_proofs", std::move(proofs)}});
  }
  out["slots"] = std::move(slots);
  return out;
}

}  // namespace dgrid::node
