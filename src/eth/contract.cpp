#include "eth/contract.hpp"

#include <map>
#include <mutex>

#include "eth/artifacts.hpp"

namespace dgrid::eth {

Error Contract::explain(const Error& err) const {
  if (err.code != Errc::reverted) return err;
  if (err.payload.empty()) return Error(Errc::reverted, err.message);
  abi::Revert r = abi_->decode_revert(err.payload);
  return Error(Errc::reverted, "reverted: " + r.message, err.payload);
}

Result<abi::NamedValues> Contract::call(std::string_view function, std::initializer_list<abi::Value> args) const {
  auto fn = abi_->function(function);
  if (!fn) return std::unexpected(fn.error());
  auto data = fn->encode_call(args);
  if (!data) return std::unexpected(data.error().context(fn->signature));
  CallRequest req;
  req.to = address_;
  req.data = std::move(*data);
  auto out = rpc_->eth_call(req);
  if (!out) return std::unexpected(explain(out.error()).context(fn->signature));
  auto decoded = fn->decode_output(*out);
  if (!decoded) return std::unexpected(decoded.error().context(fn->signature + " output"));
  return decoded;
}

Result<Receipt> Contract::send(Wallet& wallet, std::string_view function, std::initializer_list<abi::Value> args,
                               const u256& value) const {
  auto fn = abi_->function(function);
  if (!fn) return std::unexpected(fn.error());
  auto data = fn->encode_call(args);
  if (!data) return std::unexpected(data.error().context(fn->signature));
  TxRequest req;
  req.to = address_;
  req.data = std::move(*data);
  req.value = value;
  auto rc = wallet.send(req);
  if (!rc) return std::unexpected(explain(rc.error()).context(fn->signature));
  return rc;
}

Result<std::vector<Event>> Contract::events(const std::vector<Log>& logs) const {
  std::vector<Event> out;
  for (const auto& log : logs) {
    if (log.address != address_ || log.topics.empty()) continue;
    auto d = abi_->decode_log(log.topics, log.data);
    if (!d) return std::unexpected(d.error().context("log " + std::to_string(log.log_index) + " of block " +
                                                     std::to_string(log.block_number)));
    out.push_back(Event{std::move(d->event), std::move(d->values), log});
  }
  return out;
}

Result<std::vector<Event>> Contract::query_events(std::string_view name, uint64_t from_block, uint64_t to_block) const {
  LogFilter f;
  f.addresses = {address_};
  f.from_block = from_block;
  f.to_block = to_block;
  if (!name.empty()) {
    auto ev = abi_->event(name);
    if (!ev) return std::unexpected(ev.error());
    f.topics = {ev->topic};
  }
  auto logs = rpc_->logs(f);
  if (!logs) return std::unexpected(logs.error());
  return events(*logs);
}

namespace {

const ContractArtifact* find_artifact(std::string_view contract_name) noexcept {
  for (const auto& art : contract_artifacts())
    if (art.name == contract_name) return &art;
  return nullptr;
}

}  // namespace

Result<const abi::ContractAbi*> embedded_abi(std::string_view contract_name) {
  static std::mutex mu;
  static std::map<std::string, abi::ContractAbi, std::less<>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(contract_name); it != cache.end()) return &it->second;
  const ContractArtifact* art = find_artifact(contract_name);
  if (!art) return fail(Errc::not_found, "no embedded contract named " + std::string(contract_name));
  auto parsed = abi::ContractAbi::parse(art->abi_json);
  if (!parsed) return std::unexpected(parsed.error().context("embedded ABI of " + std::string(contract_name)));
  return &cache.emplace(std::string(contract_name), std::move(*parsed)).first->second;
}

Result<Address> deploy_embedded(Wallet& wallet, std::string_view contract_name,
                                std::initializer_list<abi::Value> constructor_args) {
  auto abi = embedded_abi(contract_name);
  if (!abi) return std::unexpected(abi.error());
  auto code = from_hex(find_artifact(contract_name)->bytecode);  // present: embedded_abi found it
  if (!code) return std::unexpected(code.error().context("embedded bytecode"));
  auto args = (*abi)->encode_constructor(constructor_args);
  if (!args) return std::unexpected(args.error().context(std::string(contract_name) + " constructor"));
  TxRequest req;
  req.data = std::move(*code);
  req.data.insert(req.data.end(), args->begin(), args->end());
  auto rc = wallet.send(req);
  if (!rc) {
    Contract c(wallet.rpc(), **abi, Address{});
    return std::unexpected(c.explain(rc.error()).context("deploying " + std::string(contract_name)));
  }
  if (!rc->contract_address)
    return fail(Errc::malformed, "deployment receipt of " + std::string(contract_name) + " has no contract address");
  return *rc->contract_address;
}

}  // namespace dgrid::eth
