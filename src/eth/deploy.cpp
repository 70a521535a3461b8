#include "eth/deploy.hpp"

#include "eth/contract.hpp"

namespace dgrid::eth {

using nlohmann::json;
using abi::Value;

json Deployment::to_json() const {
  return {{"chain_id", chain_id},
          {"block", block},
          {"token", token.checksummed()},
          {"provider_registry", registry.checksummed()},
          {"ticket_broker", broker.checksummed()},
          {"disputes", disputes.checksummed()},
          {"storage_market", storage.checksummed()}};
}

Result<Deployment> Deployment::from_json(const json& j) {
  if (!j.is_object()) return fail(Errc::malformed, "deployment must be a JSON object");
  Deployment d;
  try {
    d.chain_id = j.at("chain_id").get<uint64_t>();
    d.block = j.at("block").get<uint64_t>();
  } catch (const json::exception& e) {
    return fail(Errc::malformed, std::string("deployment: ") + e.what());
  }
  struct Field {
    const char* name;
    Address* out;
  } fields[] = {{"token", &d.token},
                {"provider_registry", &d.registry},
                {"ticket_broker", &d.broker},
                {"disputes", &d.disputes},
                {"storage_market", &d.storage}};
  for (auto& f : fields) {
    auto it = j.find(f.name);
    if (it == j.end() || !it->is_string()) return fail(Errc::malformed, std::string("deployment lacks the address '") + f.name + "'");
    auto a = crypto::parse_address(it->get<std::string>());
    if (!a) return std::unexpected(a.error().context(f.name));
    *f.out = *a;
  }
  return d;
}

Result<Deployment> deploy_contracts(Wallet& deployer, const DeployParams& p, const ProgressFn& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  // A juror drawn for a dispute must still be slashable when it resolves.
  if (p.unbonding_delay <= p.commit_window + p.reveal_window)
    return fail(Errc::invalid_argument, "the unbonding delay (" + std::to_string(p.unbonding_delay) +
                                            " blocks) must exceed the dispute's commit + reveal windows (" +
                                            std::to_string(p.commit_window + p.reveal_window) + " blocks)");
  Deployment d;
  d.chain_id = deployer.chain_id();
  auto start = deployer.rpc().block_number();
  if (!start) return std::unexpected(start.error());
  d.block = *start + 1;

  auto step = [&](std::string_view name, std::initializer_list<Value> args) -> Result<Address> {
    auto a = deploy_embedded(deployer, name, args);
    if (a) say("deployed " + std::string(name) + " at " + a->checksummed());
    return a;
  };
  if (p.token) {
    d.token = *p.token;
    say("using token " + d.token.checksummed());
  } else {
    auto t = step("Token", {});
    if (!t) return std::unexpected(t.error());
    d.token = *t;
  }
  auto reg = step("ProviderRegistry", {Value::address(d.token), Value::uint(p.min_stake), Value::uint(p.unbonding_delay)});
  if (!reg) return std::unexpected(reg.error());
  d.registry = *reg;
  auto broker = step("TicketBroker", {Value::address(d.token), Value::address(d.registry), Value::uint(p.unlock_period),
                                      Value::uint(p.reserve_freeze_period)});
  if (!broker) return std::unexpected(broker.error());
  d.broker = *broker;
  auto disputes = step("Disputes", {Value::address(d.token), Value::address(d.registry), Value::uint(p.dispute_bond),
                                    Value::uint(p.provider_slash), Value::uint(p.juror_penalty),
                                    Value::uint(p.commit_window), Value::uint(p.reveal_window),
                                    Value::uint(p.juror_count), Value::uint(p.max_receipt_age)});
  if (!disputes) return std::unexpected(disputes.error());
  d.disputes = *disputes;
  auto storage = step("StorageMarket", {Value::address(d.token), Value::address(d.registry), Value::uint(p.epoch_length),
                                        Value::uint(p.claim_grace_epochs), Value::uint(p.payout_rate_ppb),
                                        Value::uint(p.collateral_bps), Value::uint(p.min_slot_collateral),
                                        Value::uint(p.reporter_reward_bps)});
  if (!storage) return std::unexpected(storage.error());
  d.storage = *storage;

  auto reg_abi = embedded_abi("ProviderRegistry");
  if (!reg_abi) return std::unexpected(reg_abi.error());
  Contract registry(deployer.rpc(), **reg_abi, d.registry);
  auto wired = registry.send(deployer, "setSlashers", {Value::address(d.disputes), Value::address(d.storage)});
  if (!wired) return std::unexpected(wired.error().context("wiring slashers"));
  say("wired Disputes and StorageMarket as the registry's only slashers");
  return d;
}

}  // namespace dgrid::eth
