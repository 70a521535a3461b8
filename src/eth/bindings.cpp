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

Result<DgridContracts> DgridContracts::at(RpcClient& rpc, const Deployment& d) {
  auto token = TokenClient::at(rpc, d.token);
  auto registry = RegistryClient::at(rpc, d.registry);
  auto broker = BrokerClient::at(rpc, d.broker);
  auto disputes = make(rpc, "Disputes", d.disputes);
  auto storage = make(rpc, "StorageMarket", d.storage);
  if (!token) return std::unexpected(token.error());
  if (!registry) return std::unexpected(registry.error());
  if (!broker) return std::unexpected(broker.error());
  if (!disputes) return std::unexpected(disputes.error());
  if (!storage) return std::unexpected(storage.error());
  return DgridContracts{*token, *registry, *broker, *disputes, *storage};
}

}  // namespace dgrid::eth
