#include "eth/devnet.hpp"

#include <signal.h>

#include <fstream>

#include "crypto/keystore.hpp"
#include "eth/contract.hpp"

namespace dgrid::eth {

namespace fs = std::filesystem;
using nlohmann::json;

std::string devnet_role(size_t index) {
  static const char* kRoles[] = {"deployer", "provider-1", "provider-2", "provider-3", "gateway",
                                 "user",     "storer-1",   "storer-2",   "storer-3",   "spare"};
  return index < std::size(kRoles) ? kRoles[index] : "account-" + std::to_string(index);
}

json DevnetInfo::to_json() const {
  json accs = json::array();
  for (const auto& a : accounts)
    accs.push_back({{"role", a.role}, {"address", a.address.checksummed()}, {"private_key", a.private_key}});
  return {{"version", 1},          {"rpc_url", rpc_url},  {"chain_id", chain_id}, {"anvil_pid", anvil_pid},
          {"contracts", contracts.to_json()}, {"accounts", accs}};
}

Result<DevnetInfo> DevnetInfo::from_json(const json& j) {
  try {
    DevnetInfo d;
    if (j.at("version").get<int>() != 1) return fail(Errc::unsupported, "devnet.json version is not 1");
    d.rpc_url = j.at("rpc_url").get<std::string>();
    d.chain_id = j.at("chain_id").get<uint64_t>();
    d.anvil_pid = j.at("anvil_pid").get<pid_t>();
    auto c = Deployment::from_json(j.at("contracts"));
    if (!c) return std::unexpected(c.error().context("contracts"));
    d.contracts = *c;
    for (const auto& a : j.at("accounts")) {
      auto addr = crypto::parse_address(a.at("address").get<std::string>());
      if (!addr) return std::unexpected(addr.error().context("account"));
      d.accounts.push_back({a.at("role").get<std::string>(), *addr, a.at("private_key").get<std::string>()});
    }
    return d;
  } catch (const json::exception& e) {
    return fail(Errc::malformed, std::string("devnet.json: ") + e.what());
  }
}

Result<DevnetInfo> DevnetInfo::load(const fs::path& dir) {
  fs::path file = dir / "devnet.json";
  std::error_code ec;
  if (!fs::exists(file, ec))
    return fail(Errc::not_found, "no devnet in " + dir.string() + " (start one with `dgrid devnet up --dir " + dir.string() + "`)");
  std::ifstream in(file);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::malformed, file.string() + " is not valid JSON");
  auto d = from_json(j);
  if (!d) return std::unexpected(d.error().context(file.string()));
  return d;
}

Result<void> DevnetInfo::save(const fs::path& dir) const {
  return crypto::write_file_atomic(dir / "devnet.json", to_json().dump(2) + "\n", 0600);
}

Result<const DevnetAccount*> DevnetInfo::account(std::string_view role) const {
  for (const auto& a : accounts)
    if (a.role == role) return &a;
  return fail(Errc::not_found, "devnet has no account with role " + std::string(role));
}

Result<std::unique_ptr<Devnet>> Devnet::up(const DevnetOptions& options, const ProgressFn& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  if (auto existing = DevnetInfo::load(options.dir); existing && existing->anvil_pid > 0 && kill(existing->anvil_pid, 0) == 0)
    return fail(Errc::invalid_argument, "a devnet is already running in " + options.dir.string() + " at " +
                                            existing->rpc_url + " (stop it with `dgrid devnet down --dir " +
                                            options.dir.string() + "`)");
  std::unique_ptr<Devnet> d(new Devnet());
  AnvilOptions ao;
  ao.port = options.port;
  ao.work_dir = options.dir;
  ao.detach = options.detach;
  ao.block_time_s = options.block_time_s;
  say("starting anvil");
  auto anvil = Anvil::start(ao);
  if (!anvil) return std::unexpected(anvil.error());
  d->anvil_ = std::move(*anvil);
  say("anvil listening at " + d->anvil_->rpc_url());

  auto rpc = RpcClient::connect(d->anvil_->rpc_url());
  if (!rpc) return std::unexpected(rpc.error());
  NonceManager nonces(**rpc);
  const auto& keys = d->anvil_->dev_keys();
  if (keys.empty()) return fail(Errc::internal, "anvil reported no dev accounts");
  Wallet deployer(**rpc, nonces, keys[0], d->anvil_->chain_id());
  auto dep = deploy_contracts(deployer, options.params, progress);
  if (!dep) return std::unexpected(dep.error());

  auto token_abi = embedded_abi("Token");
  if (!token_abi) return std::unexpected(token_abi.error());
  Contract token(**rpc, **token_abi, dep->token);
  say("funding " + std::to_string(keys.size()) + " dev accounts with " + format_units(options.fund_amount, 6) + " dUSD each");
  for (size_t i = 0; i < keys.size(); ++i) {
    auto rc = token.send(deployer, "mint", {abi::Value::address(keys[i].address()), abi::Value::uint(options.fund_amount)});
    if (!rc) return std::unexpected(rc.error().context("funding " + keys[i].address().checksummed()));
    d->info_.accounts.push_back({devnet_role(i), keys[i].address(), to_hex(keys[i].secret())});
  }
  d->info_.rpc_url = d->anvil_->rpc_url();
  d->info_.chain_id = d->anvil_->chain_id();
  d->info_.anvil_pid = d->anvil_->pid();
  d->info_.contracts = *dep;
  auto saved = d->info_.save(options.dir);
  if (!saved) return std::unexpected(saved.error());
  say("wrote " + (options.dir / "devnet.json").string());
  return d;
}

Result<void> devnet_down(const fs::path& dir) {
  auto info = DevnetInfo::load(dir);
  if (!info) return std::unexpected(info.error());
  if (info->anvil_pid <= 0 || !stop_process(info->anvil_pid))
    return fail(Errc::not_found, "the devnet in " + dir.string() + " is not running (anvil pid " +
                                     std::to_string(info->anvil_pid) + " is gone)");
  info->anvil_pid = -1;
  return info->save(dir);
}

}  // namespace dgrid::eth
