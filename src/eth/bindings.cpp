#include "eth/bindings.hpp"

namespace dgrid::eth {

using abi::Value;

namespace {

Result<Contract> make(RpcClient& rpc, std::string_view name, const Address& address) {
  auto a = embedded_abi(name);
  if (!a) return std::unexpected(a.error());
  return Contract(rpc, **a, address);
}

// The first output of a view call, converted with `get`.
template <class T, class Get>
Result<T> first(Result<abi::NamedValues> r, Get get) {
  if (!r) return std::unexpected(r.error());
  if (r->values.empty()) return fail(Errc::malformed, "call returned no values");
  return get(r->values[0]);
}

Result<u256> as_uint(const Value& v) { return v.as_uint(); }
Result<bool> as_bool(const Value& v) { return v.as_bool(); }

Result<Receipt> ensure_allowance(Wallet& w, const TokenClient& token, const Address& spender, const u256& amount) {
  auto have = token.allowance(w.address(), spender);
  if (!have) return std::unexpected(have.error());
  if (*have >= amount) return Receipt{};
  return token.approve(w, spender, amount);
}

}  // namespace

#define DGRID_CLIENT_AT(Client, name)                                            \
  Result<Client> Client::at(RpcClient& rpc, const Address& address) {            \
    auto c = make(rpc, name, address);                                           \
    if (!c) return std::unexpected(c.error());                                   \
    return Client(*c);                                                           \
  }
DGRID_CLIENT_AT(TokenClient, "Token")
DGRID_CLIENT_AT(RegistryClient, "ProviderRegistry")
DGRID_CLIENT_AT(BrokerClient, "TicketBroker")
#undef DGRID_CLIENT_AT

// ---- Token

Result<u256> TokenClient::balance_of(const Address& who) const {
  return first<u256>(c_.call("balanceOf", {Value::address(who)}), as_uint);
}
Result<u256> TokenClient::allowance(const Address& owner, const Address& spender) const {
  return first<u256>(c_.call("allowance", {Value::address(owner), Value::address(spender)}), as_uint);
}
Result<Receipt> TokenClient::approve(Wallet& w, const Address& spender, const u256& amount) const {
  return c_.send(w, "approve", {Value::address(spender), Value::uint(amount)});
}
Result<Receipt> TokenClient::transfer(Wallet& w, const Address& to, const u256& amount) const {
  return c_.send(w, "transfer", {Value::address(to), Value::uint(amount)});
}
Result<Receipt> TokenClient::mint(Wallet& owner, const Address& to, const u256& amount) const {
  return c_.send(owner, "mint", {Value::address(to), Value::uint(amount)});
}

// ---- ProviderRegistry

Result<Receipt> RegistryClient::register_provider(Wallet& w, const std::string& uri, const std::string& metadata) const {
  return c_.send(w, "register", {Value::string(uri), Value::string(metadata)});
}
Result<Receipt> RegistryClient::update_provider(Wallet& w, const std::string& uri, const std::string& metadata) const {
  return c_.send(w, "updateProvider", {Value::string(uri), Value::string(metadata)});
}
Result<Receipt> RegistryClient::add_model(Wallet& w, const Hash32& model) const {
  return c_.send(w, "addModel", {Value::bytes(model)});
}
Result<Receipt> RegistryClient::remove_model(Wallet& w, const Hash32& model) const {
  return c_.send(w, "removeModel", {Value::bytes(model)});
}
Result<Receipt> RegistryClient::stake(Wallet& w, const TokenClient& token, const u256& amount) const {
  auto ok = ensure_allowance(w, token, c_.address(), amount);
  if (!ok) return std::unexpected(ok.error());
  return c_.send(w, "stake", {Value::uint(amount)});
}
Result<Receipt> RegistryClient::request_unbond(Wallet& w, const u256& amount) const {
  return c_.send(w, "requestUnbond", {Value::uint(amount)});
}
Result<Receipt> RegistryClient::withdraw(Wallet& w) const { return c_.send(w, "withdraw", {}); }

Result<ProviderInfo> RegistryClient::provider(const Address& who) const {
  auto r = c_.call("getProvider", {Value::address(who)});
  if (!r) return std::unexpected(r.error());
  const auto* f = r->values.empty() ? nullptr : r->values[0].items();
  if (!f || f->size() != 9) return fail(Errc::malformed, "getProvider returned an unexpected shape");
  ProviderInfo p;
  auto get = [&](auto& out, auto res) -> bool {
    if (!res) return false;
    out = *res;
    return true;
  };
  uint64_t holds = 0;
  if (!get(p.registered, (*f)[0].as_bool()) || !get(p.active, (*f)[1].as_bool()) || !get(p.uri, (*f)[2].as_string()) ||
      !get(p.metadata, (*f)[3].as_string()) || !get(p.stake, (*f)[4].as_uint()) || !get(p.unbonding, (*f)[5].as_uint()) ||
      !get(p.unbond_ready_block, (*f)[6].as_u64()) || !get(holds, (*f)[7].as_u64()) || !(*f)[8].items())
    return fail(Errc::malformed, "getProvider returned a field of the wrong type");
  p.holds = static_cast<uint32_t>(holds);
  for (const auto& m : *(*f)[8].items()) {
    auto h = m.as_fixed<32>();
    if (!h) return std::unexpected(h.error());
    p.models.push_back(*h);
  }
  return p;
}
Result<u256> RegistryClient::stake_of(const Address& who) const {
  return first<u256>(c_.call("stakeOf", {Value::address(who)}), as_uint);
}
Result<bool> RegistryClient::is_active(const Address& who) const {
  return first<bool>(c_.call("isActive", {Value::address(who)}), as_bool);
}
Result<u256> RegistryClient::min_stake() const { return first<u256>(c_.call("minStake", {}), as_uint); }
Result<std::vector<Address>> RegistryClient::providers_for_model(const Hash32& model) const {
  return first<std::vector<Address>>(c_.call("providersForModel", {Value::bytes(model)}),
                                     [](const Value& v) -> Result<std::vector<Address>> {
                                       if (!v.items()) return fail(Errc::malformed, "expected an address list");
                                       std::vector<Address> out;
                                       for (const auto& a : *v.items()) {
                                         auto addr = a.as_address();
                                         if (!addr) return std::unexpected(addr.error());
                                         out.push_back(*addr);
                                       }
                                       return out;
                                     });
}

// ---- TicketBroker

Value ticket_value(const Ticket& t) {
  return Value::tuple({Value::address(t.recipient), Value::address(t.sender), Value::uint(t.face_value),
                       Value::uint(t.win_prob), Value::uint(t.sender_nonce), Value::bytes(t.recipient_rand_hash),
                       Value::uint(t.expiration_block), Value::bytes(t.aux_data)});
}

Result<Receipt> BrokerClient::fund(Wallet& w, const TokenClient& token, const u256& deposit, const u256& reserve) const {
  auto ok = ensure_allowance(w, token, c_.address(), deposit + reserve);
  if (!ok) return std::unexpected(ok.error());
  return c_.send(w, "fundDepositAndReserve", {Value::uint(deposit), Value::uint(reserve)});
}
Result<Receipt> BrokerClient::unlock(Wallet& w) const { return c_.send(w, "unlock", {}); }
Result<Receipt> BrokerClient::cancel_unlock(Wallet& w) const { return c_.send(w, "cancelUnlock", {}); }
Result<Receipt> BrokerClient::withdraw(Wallet& w) const { return c_.send(w, "withdraw", {}); }

Result<Receipt> BrokerClient::redeem(Wallet& w, const SignedTicket& t) const {
  auto sig = t.sig.to_rsv();
  return c_.send(w, "redeemWinningTicket", {ticket_value(t.ticket), Value::bytes(sig), Value::uint(t.recipient_rand)});
}

Result<Receipt> BrokerClient::redeem_batch(Wallet& w, const std::vector<SignedTicket>& tickets) const {
  std::vector<Value> ts, sigs, rands;
  for (const auto& t : tickets) {
    ts.push_back(ticket_value(t.ticket));
    auto sig = t.sig.to_rsv();
    sigs.push_back(Value::bytes(sig));
    rands.push_back(Value::uint(t.recipient_rand));
  }
  return c_.send(w, "batchRedeemWinningTickets", {Value::array(ts), Value::array(sigs), Value::array(rands)});
}

Result<SenderInfo> BrokerClient::sender_info(const Address& sender) const {
  auto r = c_.call("getSenderInfo", {Value::address(sender)});
  if (!r) return std::unexpected(r.error());
  if (r->values.size() != 2 || !r->values[0].items() || !r->values[1].items() || r->values[0].items()->size() != 3 ||
      r->values[1].items()->size() != 5)
    return fail(Errc::malformed, "getSenderInfo returned an unexpected shape");
  const auto& s = *r->values[0].items();
  const auto& q = *r->values[1].items();
  SenderInfo out;
  auto d = s[0].as_uint(), rs = s[1].as_uint(), fr = q[0].as_uint(), al = q[1].as_uint(), rc = q[2].as_uint();
  auto wb = s[2].as_u64(), fe = q[3].as_u64(), fid = q[4].as_u64();
  if (!d || !rs || !fr || !al || !rc || !wb || !fe || !fid) return fail(Errc::malformed, "getSenderInfo field of the wrong type");
  out.deposit = *d;
  out.reserve = *rs;
  out.withdraw_block = *wb;
  out.frozen_reserve = *fr;
  out.allocation = *al;
  out.recipients = *rc;
  out.freeze_end_block = *fe;
  out.freeze_id = *fid;
  return out;
}

Result<bool> BrokerClient::is_used(const Hash32& digest) const {
  return first<bool>(c_.call("usedTickets", {Value::bytes(digest)}), as_bool);
}
Result<Hash32> BrokerClient::ticket_hash(const Ticket& t) const {
  return first<Hash32>(c_.call("ticketHash", {ticket_value(t)}), [](const Value& v) { return v.as_fixed<32>(); });
}
Result<Hash32> BrokerClient::domain_separator() const {
  return first<Hash32>(c_.call("domainSeparator", {}), [](const Value& v) { return v.as_fixed<32>(); });
}

// ---- StorageMarket

namespace {

// Checked event fields: a log that does not decode as the ABI says is an error naming the
// event and the field, never a crash (the chain's answers are input like any other).
class Fields {
 public:
  explicit Fields(const Event& e) : e_(e) {}

  Result<Value> get(std::string_view name) const {
    auto v = e_.values.get(name);
    if (!v) return fail(Errc::malformed, e_.name + " log: " + v.error().message);
    return v;
  }
  template <class T, class Conv>
  Result<T> conv(std::string_view name, Conv c) const {
    auto v = get(name);
    if (!v) return std::unexpected(v.error());
    auto r = c(*v);
    if (!r) return fail(Errc::malformed, e_.name + " log: field " + std::string(name) + ": " + r.error().message);
    return *r;
  }
  Result<u256> uint(std::string_view n) const { return conv<u256>(n, [](const Value& v) { return v.as_uint(); }); }
  Result<uint64_t> u64(std::string_view n) const { return conv<uint64_t>(n, [](const Value& v) { return v.as_u64(); }); }
  Result<uint32_t> u32(std::string_view n, uint32_t max) const {
    return conv<uint32_t>(n, [max](const Value& v) -> Result<uint32_t> {
      auto x = v.as_u64();
      if (!x) return std::unexpected(x.error());
      if (*x > max) return fail(Errc::malformed, std::to_string(*x) + " is above " + std::to_string(max));
      return static_cast<uint32_t>(*x);
    });
  }
  Result<Address> address(std::string_view n) const {
    return conv<Address>(n, [](const Value& v) { return v.as_address(); });
  }
  Result<Bytes> bytes(std::string_view n) const { return conv<Bytes>(n, [](const Value& v) { return v.as_bytes(); }); }
  Result<Hash32> hash(std::string_view n) const {
    return conv<Hash32>(n, [](const Value& v) { return v.as_fixed<32>(); });
  }

 private:
  const Event& e_;
};

// A slot index is below the deal's replica count, a uint8 on chain.
constexpr uint32_t kMaxSlot = 255;

#define DGRID_FIELD(out, expr)                      \
  do {                                              \
    auto _v = (expr);                               \
    if (!_v) return std::unexpected(_v.error());    \
    out = std::move(*_v);                           \
  } while (0)

Value proof_value(const std::vector<Hash32>& siblings) {
  std::vector<Value> v;
  v.reserve(siblings.size());
  for (const auto& h : siblings) v.push_back(Value::bytes(h));
  return Value::array(std::move(v));
}

Result<uint64_t> as_u64(const Value& v) { return v.as_u64(); }

}  // namespace

Result<StorageEventData> decode_storage_event(const Event& e) {
  Fields f(e);
  if (e.name == "DealOpened") {
    DealOpenedEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.client, f.address("client"));
    DGRID_FIELD(d.cid, f.bytes("cid"));
    DGRID_FIELD(d.segment_root, f.hash("segmentRoot"));
    DGRID_FIELD(d.size, f.u64("size"));
    DGRID_FIELD(d.replicas, f.u32("replicas", kMaxSlot));
    DGRID_FIELD(d.endowment, f.uint("endowment"));
    return d;
  }
  if (e.name == "DealToppedUp") {
    DealToppedUpEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.from, f.address("from"));
    DGRID_FIELD(d.amount, f.uint("amount"));
    return d;
  }
  if (e.name == "SlotClaimed") {
    SlotClaimedEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.slot, f.u32("slot", kMaxSlot));
    DGRID_FIELD(d.storer, f.address("storer"));
    DGRID_FIELD(d.collateral, f.uint("collateral"));
    DGRID_FIELD(d.start_epoch, f.u64("startEpoch"));
    return d;
  }
  if (e.name == "StorageProven") {
    StorageProvenEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.slot, f.u32("slot", kMaxSlot));
    DGRID_FIELD(d.storer, f.address("storer"));
    DGRID_FIELD(d.epoch, f.u64("epoch"));
    DGRID_FIELD(d.segment_index, f.u64("segmentIndex"));
    DGRID_FIELD(d.payment, f.uint("payment"));
    return d;
  }
  if (e.name == "StorageProofMissed") {
    StorageProofMissedEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.slot, f.u32("slot", kMaxSlot));
    DGRID_FIELD(d.storer, f.address("storer"));
    DGRID_FIELD(d.epoch, f.u64("epoch"));
    DGRID_FIELD(d.collateral_slashed, f.uint("collateralSlashed"));
    DGRID_FIELD(d.reporter, f.address("reporter"));
    DGRID_FIELD(d.reporter_reward, f.uint("reporterReward"));
    return d;
  }
  if (e.name == "SlotLeft") {
    SlotLeftEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.slot, f.u32("slot", kMaxSlot));
    DGRID_FIELD(d.storer, f.address("storer"));
    DGRID_FIELD(d.returned, f.uint("returned"));
    DGRID_FIELD(d.penalty, f.uint("penalty"));
    return d;
  }
  if (e.name == "SlotReopened") {
    SlotReopenedEvent d;
    DGRID_FIELD(d.deal_id, f.u64("dealId"));
    DGRID_FIELD(d.slot, f.u32("slot", kMaxSlot));
    DGRID_FIELD(d.pool, f.uint("pool"));
    return d;
  }
  return fail(Errc::malformed, "not a StorageMarket event: " + e.name);
}
#undef DGRID_FIELD

Result<StorageMarketClient> StorageMarketClient::at(RpcClient& rpc, const Address& address) {
  auto c = make(rpc, "StorageMarket", address);
  if (!c) return std::unexpected(c.error());
  return StorageMarketClient(*c);
}

Result<std::vector<StorageEvent>> StorageMarketClient::decode(const std::vector<Log>& logs) const {
  auto evs = c_.events(logs);
  if (!evs) return std::unexpected(evs.error());
  std::vector<StorageEvent> out;
  out.reserve(evs->size());
  for (auto& e : *evs) {
    auto d = decode_storage_event(e);
    if (!d) return std::unexpected(d.error());
    out.push_back(StorageEvent{std::move(*d), std::move(e.log)});
  }
  return out;
}

Result<OpenedDeal> StorageMarketClient::open_deal(Wallet& w, const TokenClient& token, ByteView cid,
                                                   const Hash32& segment_root, uint64_t size, uint32_t replicas,
                                                   const u256& endowment) const {
  if (replicas == 0 || replicas > 255)
    return fail(Errc::invalid_argument, "replicas must be 1..255, got " + std::to_string(replicas));
  auto ok = ensure_allowance(w, token, c_.address(), endowment);
  if (!ok) return std::unexpected(ok.error());
  auto r = c_.send(w, "openDeal", {Value::bytes(cid), Value::bytes(segment_root), Value::uint(size),
                                   Value::uint(replicas), Value::uint(endowment)});
  if (!r) return std::unexpected(r.error());
  auto evs = decode(r->logs);
  if (!evs) return std::unexpected(evs.error().context("openDeal receipt"));
  for (const auto& e : *evs) {
    if (const auto* d = std::get_if<DealOpenedEvent>(&e.data)) return OpenedDeal{d->deal_id, std::move(*r)};
  }
  return fail(Errc::malformed, "openDeal receipt has no DealOpened event");
}

Result<Receipt> StorageMarketClient::top_up(Wallet& w, const TokenClient& token, uint64_t deal_id,
                                            const u256& amount) const {
  auto ok = ensure_allowance(w, token, c_.address(), amount);
  if (!ok) return std::unexpected(ok.error());
  return c_.send(w, "topUp", {Value::uint(deal_id), Value::uint(amount)});
}

Result<ClaimedSlot> StorageMarketClient::claim_slot(Wallet& w, const TokenClient& token, uint64_t deal_id) const {
  auto deal = get_deal(deal_id);
  if (!deal) return std::unexpected(deal.error());
  // The contract takes the lowest open slot; approve that slot's collateral. When no slot is
  // open the send below reverts NoOpenSlot, which is what the caller wants to see.
  u256 need = 0;
  for (uint32_t i = 0; i < deal->replicas; ++i) {
    auto s = get_slot(deal_id, i);
    if (!s) return std::unexpected(s.error());
    if (!s->open()) continue;
    auto c = required_collateral(deal_id, i);
    if (!c) return std::unexpected(c.error());
    need = *c;
    break;
  }
  if (need != 0) {
    auto ok = ensure_allowance(w, token, c_.address(), need);
    if (!ok) return std::unexpected(ok.error());
  }
  auto r = c_.send(w, "claimSlot", {Value::uint(deal_id)});
  if (!r) return std::unexpected(r.error());
  auto evs = decode(r->logs);
  if (!evs) return std::unexpected(evs.error().context("claimSlot receipt"));
  for (const auto& e : *evs) {
    if (const auto* c = std::get_if<SlotClaimedEvent>(&e.data))
      return ClaimedSlot{c->deal_id, c->slot, c->collateral, c->start_epoch, std::move(*r)};
  }
  return fail(Errc::malformed, "claimSlot receipt has no SlotClaimed event");
}

Result<Receipt> StorageMarketClient::prove_storage(Wallet& w, uint64_t deal_id, uint32_t slot, uint64_t epoch,
                                                   ByteView segment, const std::vector<Hash32>& proof) const {
  return c_.send(w, "proveStorage", {Value::uint(deal_id), Value::uint(slot), Value::uint(epoch),
                                     Value::bytes(segment), proof_value(proof)});
}
Result<Receipt> StorageMarketClient::report_missed_proof(Wallet& w, uint64_t deal_id, uint32_t slot,
                                                         uint64_t epoch) const {
  return c_.send(w, "reportMissedProof", {Value::uint(deal_id), Value::uint(slot), Value::uint(epoch)});
}
Result<Receipt> StorageMarketClient::leave_slot(Wallet& w, uint64_t deal_id, uint32_t slot) const {
  return c_.send(w, "leaveSlot", {Value::uint(deal_id), Value::uint(slot)});
}

Result<StorageDeal> StorageMarketClient::get_deal(uint64_t deal_id) const {
  auto r = c_.call("getDeal", {Value::uint(deal_id)});
  if (!r) return std::unexpected(r.error());
  const auto* f = r->values.empty() ? nullptr : r->values[0].items();
  if (!f || f->size() != 6) return fail(Errc::malformed, "getDeal returned an unexpected shape");
  StorageDeal d;
  auto client = (*f)[0].as_address();
  auto root = (*f)[1].as_fixed<32>();
  auto size = (*f)[2].as_u64();
  auto replicas = (*f)[3].as_u64();
  auto opened = (*f)[4].as_u64();
  auto cid = (*f)[5].as_bytes();
  if (!client || !root || !size || !replicas || !opened || !cid || *replicas > 255)
    return fail(Errc::malformed, "getDeal returned a field of the wrong type");
  d.client = *client;
  d.segment_root = *root;
  d.size = *size;
  d.replicas = static_cast<uint32_t>(*replicas);
  d.opened_block = *opened;
  d.cid = std::move(*cid);
  return d;
}

Result<StorageSlot> StorageMarketClient::get_slot(uint64_t deal_id, uint32_t slot) const {
  auto r = c_.call("getSlot", {Value::uint(deal_id), Value::uint(slot)});
  if (!r) return std::unexpected(r.error());
  const auto* f = r->values.empty() ? nullptr : r->values[0].items();
  if (!f || f->size() != 4) return fail(Errc::malformed, "getSlot returned an unexpected shape");
  auto storer = (*f)[0].as_address();
  auto next = (*f)[1].as_u64();
  auto collateral = (*f)[2].as_uint();
  auto pool = (*f)[3].as_uint();
  if (!storer || !next || !collateral || !pool) return fail(Errc::malformed, "getSlot returned a field of the wrong type");
  return StorageSlot{*storer, *next, *collateral, *pool};
}

Result<uint64_t> StorageMarketClient::challenge_index(uint64_t deal_id, uint32_t slot, uint64_t epoch) const {
  return first<uint64_t>(c_.call("challengeIndex", {Value::uint(deal_id), Value::uint(slot), Value::uint(epoch)}),
                         as_u64);
}
Result<uint64_t> StorageMarketClient::current_epoch() const { return first<uint64_t>(c_.call("currentEpoch", {}), as_u64); }
Result<uint64_t> StorageMarketClient::epoch_length() const { return first<uint64_t>(c_.call("epochLength", {}), as_u64); }
Result<uint64_t> StorageMarketClient::claim_grace_epochs() const {
  return first<uint64_t>(c_.call("claimGraceEpochs", {}), as_u64);
}
Result<u256> StorageMarketClient::payout_rate_ppb() const { return first<u256>(c_.call("payoutRatePpb", {}), as_uint); }
Result<u256> StorageMarketClient::required_collateral(uint64_t deal_id, uint32_t slot) const {
  return first<u256>(c_.call("requiredCollateral", {Value::uint(deal_id), Value::uint(slot)}), as_uint);
}
Result<uint64_t> StorageMarketClient::segment_count(uint64_t deal_id) const {
  return first<uint64_t>(c_.call("segmentCount", {Value::uint(deal_id)}), as_u64);
}
Result<uint64_t> StorageMarketClient::deal_count() const { return first<uint64_t>(c_.call("dealCount", {}), as_u64); }
Result<bool> StorageMarketClient::is_storing(uint64_t deal_id, const Address& storer) const {
  return first<bool>(c_.call("isStoringDeal", {Value::uint(deal_id), Value::address(storer)}), as_bool);
}

Result<DgridContracts> DgridContracts::at(RpcClient& rpc, const Deployment& d) {
  auto token = TokenClient::at(rpc, d.token);
  auto registry = RegistryClient::at(rpc, d.registry);
  auto broker = BrokerClient::at(rpc, d.broker);
  auto disputes = make(rpc, "Disputes", d.disputes);
  auto storage = StorageMarketClient::at(rpc, d.storage);
  if (!token) return std::unexpected(token.error());
  if (!registry) return std::unexpected(registry.error());
  if (!broker) return std::unexpected(broker.error());
  if (!disputes) return std::unexpected(disputes.error());
  if (!storage) return std::unexpected(storage.error());
  return DgridContracts{*token, *registry, *broker, *disputes, *storage};
}

}  // namespace dgrid::eth
