// Typed clients for dgrid's contracts. Each wraps a Contract (ABI-typed calls, decoded
// reverts) and converts results to C++ types. Cheap to copy; borrow the RpcClient.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "eth/contract.hpp"
#include "eth/deploy.hpp"
#include "eth/ticket.hpp"

namespace dgrid::eth {

class TokenClient {
 public:
  static Result<TokenClient> at(RpcClient& rpc, const Address& address);
  const Contract& contract() const noexcept { return c_; }

  Result<u256> balance_of(const Address& who) const;
  Result<u256> allowance(const Address& owner, const Address& spender) const;
  Result<Receipt> approve(Wallet& w, const Address& spender, const u256& amount) const;
  Result<Receipt> transfer(Wallet& w, const Address& to, const u256& amount) const;
  Result<Receipt> mint(Wallet& owner, const Address& to, const u256& amount) const;  // dUSD only

 private:
  explicit TokenClient(Contract c) : c_(c) {}
  Contract c_;
};

struct ProviderInfo {
  bool registered = false;
  bool active = false;
  std::string uri;
  std::string metadata;
  u256 stake = 0;
  u256 unbonding = 0;
  uint64_t unbond_ready_block = 0;
  uint32_t holds = 0;
  std::vector<Hash32> models;
};

class RegistryClient {
 public:
  static Result<RegistryClient> at(RpcClient& rpc, const Address& address);
  const Contract& contract() const noexcept { return c_; }

  Result<Receipt> register_provider(Wallet& w, const std::string& uri, const std::string& metadata) const;
  Result<Receipt> update_provider(Wallet& w, const std::string& uri, const std::string& metadata) const;
  Result<Receipt> add_model(Wallet& w, const Hash32& model) const;
  Result<Receipt> remove_model(Wallet& w, const Hash32& model) const;
  // Approves the registry for `amount` of `token` first when the allowance is short.
  Result<Receipt> stake(Wallet& w, const TokenClient& token, const u256& amount) const;
  Result<Receipt> request_unbond(Wallet& w, const u256& amount) const;
  Result<Receipt> withdraw(Wallet& w) const;

  Result<ProviderInfo> provider(const Address& who) const;
  Result<u256> stake_of(const Address& who) const;
  Result<bool> is_active(const Address& who) const;
  Result<std::vector<Address>> providers_for_model(const Hash32& model) const;
  Result<u256> min_stake() const;

 private:
  explicit RegistryClient(Contract c) : c_(c) {}
  Contract c_;
};

struct SenderInfo {
  u256 deposit = 0;
  u256 reserve = 0;
  uint64_t withdraw_block = 0;  // 0: not unlocking
  u256 frozen_reserve = 0;
  u256 allocation = 0;
  u256 recipients = 0;
  uint64_t freeze_end_block = 0;
  uint64_t freeze_id = 0;
};

struct SignedTicket {
  Ticket ticket;
  crypto::Signature sig;
  u256 recipient_rand = 0;
};

class BrokerClient {
 public:
  static Result<BrokerClient> at(RpcClient& rpc, const Address& address);
  const Contract& contract() const noexcept { return c_; }

  // Approves first when the allowance is short.
  Result<Receipt> fund(Wallet& w, const TokenClient& token, const u256& deposit, const u256& reserve) const;
  Result<Receipt> unlock(Wallet& w) const;
  Result<Receipt> cancel_unlock(Wallet& w) const;
  Result<Receipt> withdraw(Wallet& w) const;
  // Any wallet may submit; the ticket's recipient is paid.
  Result<Receipt> redeem(Wallet& w, const SignedTicket& t) const;
  // Failed tickets are skipped on chain (TicketRedemptionFailed events), not reverted.
  Result<Receipt> redeem_batch(Wallet& w, const std::vector<SignedTicket>& tickets) const;

  Result<SenderInfo> sender_info(const Address& sender) const;
  Result<bool> is_used(const Hash32& ticket_digest) const;
  Result<Hash32> ticket_hash(const Ticket& t) const;  // the contract's own computation
  Result<Hash32> domain_separator() const;

 private:
  explicit BrokerClient(Contract c) : c_(c) {}
  Contract c_;
};

// The on-chain tuple form of a ticket (for calls and tests).
abi::Value ticket_value(const Ticket& t);

// All five clients for a deployment.
struct DgridContracts {
  TokenClient token;
  RegistryClient registry;
  BrokerClient broker;
  Contract disputes;
  Contract storage;

  static Result<DgridContracts> at(RpcClient& rpc, const Deployment& d);
};

}  // namespace dgrid::eth
