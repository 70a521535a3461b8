// A deployed contract: ABI-typed calls and transactions with decoded reverts and events.
#pragma once

#include <string_view>

#include "eth/abi_json.hpp"
#include "eth/rpc.hpp"
#include "eth/wallet.hpp"

namespace dgrid::eth {

struct Event {
  std::string name;
  abi::NamedValues values;
  Log log;
};

// Cheap to copy; borrows `rpc` and `abi`, which must outlive it. Thread-safe.
class Contract {
 public:
  Contract(RpcClient& rpc, const abi::ContractAbi& abi, Address address)
      : rpc_(&rpc), abi_(&abi), address_(address) {}

  const Address& address() const noexcept { return address_; }
  const abi::ContractAbi& abi() const noexcept { return *abi_; }

  // eth_call of a view function; a revert becomes Errc::reverted with the decoded reason.
  Result<abi::NamedValues> call(std::string_view function, std::initializer_list<abi::Value> args) const;
  // A transaction from `wallet`; reverts (at estimation or once mined) are decoded.
  Result<Receipt> send(Wallet& wallet, std::string_view function, std::initializer_list<abi::Value> args,
                       const u256& value = 0) const;

  // This contract's events in a receipt or log list, decoded (other logs are skipped).
  Result<std::vector<Event>> events(const std::vector<Log>& logs) const;
  // Events named `name` (empty: all) in blocks [from, to], via bounded eth_getLogs.
  Result<std::vector<Event>> query_events(std::string_view name, uint64_t from_block, uint64_t to_block) const;

  // Turns a raw Errc::reverted error into one whose message is the decoded reason.
  Error explain(const Error& err) const;

 private:
  RpcClient* rpc_;
  const abi::ContractAbi* abi_;
  Address address_;
};

// The ABI of an embedded dgrid contract ("TicketBroker"), parsed once. Static storage.
Result<const abi::ContractAbi*> embedded_abi(std::string_view contract_name);

// Deploys an embedded contract with constructor arguments; returns its address.
Result<Address> deploy_embedded(Wallet& wallet, std::string_view contract_name,
                                std::initializer_list<abi::Value> constructor_args);

}  // namespace dgrid::eth
