// dgrid chain deploy: deploys dgrid's contracts to any EVM chain.
#include <iostream>

#include "cli/common.hpp"
#include "crypto/keystore.hpp"
#include "eth/deploy.hpp"

namespace dgrid::cli {

namespace {

void register_chain(CLI::App& app) {
  auto* chain = app.add_subcommand("chain", "Talk to the settlement chain");
  chain->require_subcommand(1);

  auto* cmd = chain->add_subcommand("deploy", "Deploy and wire dgrid's contracts");
  struct Opts {
    std::string rpc, token, out, min_stake;
    eth::DeployParams params;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto key = std::make_shared<KeyOptions>();
  cmd->add_option("--rpc", o->rpc, "JSON-RPC URL of the chain")->required();
  key->add_to(*cmd);
  cmd->add_option("--token", o->token, "use this ERC-20 for stakes and payments (default: deploy the dUSD test token)");
  cmd->add_option("--min-stake", o->min_stake, "minimum provider stake in token base units (default 100000000)");
  cmd->add_option("--unbonding-delay", o->params.unbonding_delay, "blocks before unbonded stake can be withdrawn")->capture_default_str();
  cmd->add_option("--unlock-period", o->params.unlock_period, "blocks before a ticket sender's funds unlock")->capture_default_str();
  cmd->add_option("--epoch-length", o->params.epoch_length, "blocks per storage challenge epoch")->capture_default_str();
  cmd->add_option("--out", o->out, "write the deployment record (JSON) to this file");
  cmd->add_flag("--json", o->json, "print the deployment as JSON");
  cmd->callback([o, key] {
    if (!o->min_stake.empty()) o->params.min_stake = unwrap(parse_u256(o->min_stake));
    if (!o->token.empty()) o->params.token = unwrap(crypto::parse_address(o->token));
    auto rpc = unwrap(eth::RpcClient::connect(o->rpc));
    uint64_t chain_id = unwrap(rpc->chain_id());
    eth::NonceManager nonces(*rpc);
    eth::Wallet wallet(*rpc, nonces, key->load(), chain_id);
    progress("deploying from " + wallet.address().checksummed() + " to chain " + std::to_string(chain_id));
    auto dep = unwrap(eth::deploy_contracts(wallet, o->params, [](const std::string& s) { progress("  " + s); }));
    if (!o->out.empty()) unwrap(crypto::write_file_atomic(o->out, dep.to_json().dump(2) + "\n", 0644));
    if (o->json) print_json(dep.to_json());
    else std::cout << dep.to_json().dump(2) << std::endl;
  });
}

const CommandRegistrar kRegistrar{"chain", register_chain};

}  // namespace

}  // namespace dgrid::cli
