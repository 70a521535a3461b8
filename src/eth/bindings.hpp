// Typed clients for dgrid's contracts. Each wraps a Contract (ABI-typed calls, decoded
// reverts) and converts results to C++ types. Cheap to copy; borrow the RpcClient.
#pragma once

#include <optional>
#include <string>
#include <variant>
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

// ---- StorageMarket (contracts/StorageMarket.sol, DESIGN §9)

struct StorageDeal {
  Address client;
  Hash32 segment_root{};
  uint64_t size = 0;
  uint32_t replicas = 0;
  uint64_t opened_block = 0;
  Bytes cid;  // binary CIDv1
};

struct StorageSlot {
  Address storer;  // zero while the slot is open
  uint64_t next_epoch = 0;
  u256 collateral = 0;
  u256 pool = 0;
  bool open() const noexcept { return storer == Address{}; }
};

// The StorageMarket events, each field checked on decoding.
struct DealOpenedEvent {
  uint64_t deal_id = 0;
  Address client;
  Bytes cid;
  Hash32 segment_root{};
  uint64_t size = 0;
  uint32_t replicas = 0;
  u256 endowment = 0;
};
struct DealToppedUpEvent {
  uint64_t deal_id = 0;
  Address from;
  u256 amount = 0;
};
struct SlotClaimedEvent {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  Address storer;
  u256 collateral = 0;
  uint64_t start_epoch = 0;
};
struct StorageProvenEvent {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  Address storer;
  uint64_t epoch = 0;
  uint64_t segment_index = 0;
  u256 payment = 0;
};
struct StorageProofMissedEvent {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  Address storer;
  uint64_t epoch = 0;
  u256 collateral_slashed = 0;
  Address reporter;
  u256 reporter_reward = 0;
};
struct SlotLeftEvent {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  Address storer;
  u256 returned = 0;
  u256 penalty = 0;
};
struct SlotReopenedEvent {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  u256 pool = 0;
};
using StorageEventData = std::variant<DealOpenedEvent, DealToppedUpEvent, SlotClaimedEvent, StorageProvenEvent,
                                      StorageProofMissedEvent, SlotLeftEvent, SlotReopenedEvent>;
struct StorageEvent {
  StorageEventData data;
  Log log;  // where it was emitted (block, index, transaction)
};

// One decoded StorageMarket event. A value of the wrong type or out of range (a deal id or
// size past 64 bits, more than 255 replicas) is Errc::malformed naming the event and field.
Result<StorageEventData> decode_storage_event(const Event& e);

struct OpenedDeal {
  uint64_t deal_id = 0;
  Receipt receipt;
};
struct ClaimedSlot {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  u256 collateral = 0;
  uint64_t start_epoch = 0;  // first epoch to prove
  Receipt receipt;
};

class StorageMarketClient {
 public:
  static Result<StorageMarketClient> at(RpcClient& rpc, const Address& address);
  const Contract& contract() const noexcept { return c_; }
  const Address& address() const noexcept { return c_.address(); }

  // Approves the market for `endowment` first when the allowance is short. `cid` is the
  // binary CID; the deal id comes from the DealOpened event of the receipt.
  Result<OpenedDeal> open_deal(Wallet& w, const TokenClient& token, ByteView cid, const Hash32& segment_root,
                               uint64_t size, uint32_t replicas, const u256& endowment) const;
  Result<Receipt> top_up(Wallet& w, const TokenClient& token, uint64_t deal_id, const u256& amount) const;
  // Claims the lowest open slot, approving requiredCollateral of that slot first when the
  // allowance is short. Errc::reverted NoOpenSlot / AlreadyStoringDeal when it lost a race.
  Result<ClaimedSlot> claim_slot(Wallet& w, const TokenClient& token, uint64_t deal_id) const;
  Result<Receipt> prove_storage(Wallet& w, uint64_t deal_id, uint32_t slot, uint64_t epoch, ByteView segment,
                                const std::vector<Hash32>& proof) const;
  Result<Receipt> report_missed_proof(Wallet& w, uint64_t deal_id, uint32_t slot, uint64_t epoch) const;
  Result<Receipt> leave_slot(Wallet& w, uint64_t deal_id, uint32_t slot) const;

  Result<StorageDeal> get_deal(uint64_t deal_id) const;  // reverts UnknownDeal
  Result<StorageSlot> get_slot(uint64_t deal_id, uint32_t slot) const;
  // Reverts ChallengeUnavailable before the epoch's start block is mined.
  Result<uint64_t> challenge_index(uint64_t deal_id, uint32_t slot, uint64_t epoch) const;
  Result<uint64_t> current_epoch() const;
  Result<uint64_t> epoch_length() const;
  Result<uint64_t> claim_grace_epochs() const;
  Result<u256> payout_rate_ppb() const;
  Result<u256> required_collateral(uint64_t deal_id, uint32_t slot) const;
  Result<uint64_t> segment_count(uint64_t deal_id) const;
  Result<uint64_t> deal_count() const;
  Result<bool> is_storing(uint64_t deal_id, const Address& storer) const;

  // This contract's events among `logs`, decoded and checked (other contracts' logs skipped).
  Result<std::vector<StorageEvent>> decode(const std::vector<Log>& logs) const;

 private:
  explicit StorageMarketClient(Contract c) : c_(c) {}
  Contract c_;
};

// All five clients for a deployment.
struct DgridContracts {
  TokenClient token;
  RegistryClient registry;
  BrokerClient broker;
  Contract disputes;
  StorageMarketClient storage;

  static Result<DgridContracts> at(RpcClient& rpc, const Deployment& d);
};

}  // namespace dgrid::eth
