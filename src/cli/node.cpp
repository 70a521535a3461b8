// dgrid node: runs the services a TOML config enables (provider + juror, gateway) until
// SIGINT/SIGTERM, then shuts down gracefully (docs/formats/node-config.md).
#include <csignal>
#include <iostream>
#include <thread>

#include "cli/common.hpp"
#include "node/config.hpp"
#include "node/node.hpp"

namespace dgrid::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

void register_node(CLI::App& app) {
  auto* cmd = app.add_subcommand("node", "Run a dgrid node (provider, juror, gateway, storer) from a TOML config");
  struct Opts {
    std::string config;
    std::vector<std::string> sets;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--config", o->config, "node config (TOML); see docs/formats/node-config.md")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", o->sets, "override a config key, e.g. --set provider.listen=127.0.0.1:8001 (repeatable)");
  cmd->add_flag("--json", o->json, "print the endpoints as JSON once serving");
  cmd->callback([o] {
    auto cfg = unwrap(node::load_node_config(o->config, o->sets, [](const char* k) { return std::getenv(k); }));
    for (const auto& w : cfg.warnings) progress("warning: " + w);
    node::configure_logging(cfg);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    auto n = unwrap(node::Node::start(cfg, [](const std::string& s) { progress(s); }));
    if (o->json) {
      print_json({{"address", n->address()}, {"provider_url", n->provider_url()}, {"gateway_url", n->gateway_url()}, {"storer_url", n->storer_url()}});
    } else {
      if (!n->provider_url().empty()) std::cout << "provider: " << n->provider_url() << std::endl;
      if (!n->gateway_url().empty()) std::cout << "gateway:  " << n->gateway_url() << "/v1" << std::endl;
      if (!n->storer_url().empty()) std::cout << "storer:   " << n->storer_url() << "/ipfs/{cid}" << std::endl;
      std::cout << "node " << n->address() << " running; Ctrl-C to stop" << std::endl;
    }
    while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    progress("shutting down (finishing in-flight requests) ...");
    n->stop();
  });
}

const CommandRegistrar kRegistrar{"node", register_node};

}  // namespace
}  // namespace dgrid::cli
