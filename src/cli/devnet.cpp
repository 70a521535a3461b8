// dgrid devnet up|down: the embedded default chain on loopback.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <thread>

#include "cli/common.hpp"
#include "eth/devnet.hpp"

namespace dgrid::cli {

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

void print_summary(const eth::DevnetInfo& info, const std::filesystem::path& dir) {
  const auto& c = info.contracts;
  auto row = [](const std::string& k, const std::string& v) { std::cout << "  " << std::left << std::setw(18) << k << v << "\n"; };
  std::cout << "\ndgrid devnet ready\n";
  row("RPC URL", info.rpc_url);
  row("chain id", std::to_string(info.chain_id));
  row("Token (dUSD)", c.token.checksummed());
  row("ProviderRegistry", c.registry.checksummed());
  row("TicketBroker", c.broker.checksummed());
  row("Disputes", c.disputes.checksummed());
  row("StorageMarket", c.storage.checksummed());
  row("accounts", std::to_string(info.accounts.size()) + " funded dev accounts (roles and keys in " +
                      (dir / "devnet.json").string() + ")");
}

}  // namespace

namespace {

void register_devnet(CLI::App& app) {
  auto* devnet = app.add_subcommand("devnet", "Run a local chain with dgrid's contracts deployed");
  devnet->require_subcommand(1);

  {
    auto* cmd = devnet->add_subcommand("up", "Start anvil, deploy the contracts, fund the dev accounts");
    struct Opts {
      std::string dir = ".devnet";
      uint16_t port = 0;
      unsigned block_time = 0;
      bool detach = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--dir", o->dir, "directory for devnet.json and the chain's log")->capture_default_str();
    cmd->add_option("--port", o->port, "RPC port (default: a free port)");
    cmd->add_option("--block-time", o->block_time, "seconds between blocks (default: a block per transaction)");
    cmd->add_flag("--detach", o->detach, "return once ready, leaving the chain running");
    cmd->add_flag("--json", o->json, "print devnet.json to stdout when ready");
    cmd->callback([o] {
      eth::DevnetOptions opts;
      opts.dir = o->dir;
      opts.port = o->port;
      opts.detach = o->detach;
      if (o->block_time > 0) opts.block_time_s = o->block_time;
      auto net = unwrap(eth::Devnet::up(opts, [](const std::string& s) { progress("devnet: " + s); }));
      if (o->json) print_json(net->info().to_json());
      else print_summary(net->info(), o->dir);
      if (o->detach) {
        net->release();
        if (!o->json) std::cout << "\nRunning in the background; stop it with: dgrid devnet down --dir " << o->dir << std::endl;
        return;
      }
      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      if (!o->json) std::cout << "\nPress Ctrl-C to stop." << std::endl;
      while (!g_stop && kill(net->info().anvil_pid, 0) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      progress("devnet: stopping");
      net->anvil().stop();
      auto info = net->info();
      info.anvil_pid = -1;
      (void)info.save(o->dir);
    });
  }

  {
    auto* cmd = devnet->add_subcommand("down", "Stop a devnet started with --detach");
    auto dir = std::make_shared<std::string>(".devnet");
    cmd->add_option("--dir", *dir, "the devnet's directory")->capture_default_str();
    cmd->callback([dir] {
      unwrap(eth::devnet_down(*dir));
      std::cout << "devnet in " << *dir << " stopped" << std::endl;
    });
  }
}

const CommandRegistrar kRegistrar{"devnet", register_devnet};

}  // namespace

}  // namespace dgrid::cli
