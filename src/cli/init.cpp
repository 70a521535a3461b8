// dgrid init: a new node in one step — an encrypted key (v3 keystore), a password file and a
// node.toml for a provider, a gateway or both. With --devnet it also funds the new account
// from the devnet's deployer (ETH for gas, dUSD for stake and ticket deposits), so
// `dgrid node --config DIR/node.toml` works right away.
#include <fstream>
#include <iostream>
#include <random>

#include "cli/common.hpp"
#include "crypto/keystore.hpp"
#include "eth/bindings.hpp"
#include "eth/devnet.hpp"

namespace dgrid::cli {
namespace {

std::string random_token(size_t bytes) {
  std::random_device rd;
  Bytes b(bytes);
  for (auto& x : b) x = static_cast<uint8_t>(rd());
  return to_hex(b, /*prefix=*/false);
}

std::string toml_string(const std::string& s) { return nlohmann::json(s).dump(); }

void register_init(CLI::App& app) {
  auto* cmd = app.add_subcommand("init", "Create a node: encrypted key, password file and node.toml (provider and/or gateway)");
  struct Opts {
    std::string dir = "node", role = "provider", devnet, deployment, rpc, password_file, listen;
    std::vector<std::string> models;
    bool json = false, force = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--dir", o->dir, "directory for key.json, password.txt, node.toml and the node's data")->capture_default_str();
  cmd->add_option("--role", o->role, "provider, gateway or both")
      ->check(CLI::IsMember({"provider", "gateway", "both"}))
      ->capture_default_str();
  cmd->add_option("--model", o->models, "NAME=PATH of a GGUF model to serve (provider; repeatable)");
  cmd->add_option("--devnet", o->devnet, "a devnet directory: use its chain and fund the new account from its deployer");
  cmd->add_option("--deployment", o->deployment, "deployment record for another chain (with --rpc)");
  cmd->add_option("--rpc", o->rpc, "chain RPC URL (with --deployment)");
  cmd->add_option("--password-file", o->password_file, "keystore password (default: a random one written to DIR/password.txt)");
  cmd->add_option("--listen", o->listen, "listen address (default 127.0.0.1:8001 provider, 127.0.0.1:8787 gateway)");
  cmd->add_flag("--force", o->force, "overwrite an existing node.toml and key");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    namespace fs = std::filesystem;
    fs::path dir = fs::absolute(o->dir);
    if (!o->force && (fs::exists(dir / "node.toml") || fs::exists(dir / "key.json"))) {
      throw Exception(Error(Errc::already_exists, dir.string() + " already holds a node (use --force to replace it)"));
    }
    bool provider = o->role != "gateway", gateway = o->role != "provider";
    if (provider && o->models.empty()) {
      throw Exception(Error(Errc::invalid_argument, "a provider needs at least one --model NAME=PATH"));
    }
    std::string chain_section;
    std::optional<eth::DevnetInfo> devnet;
    if (!o->devnet.empty()) {
      devnet = unwrap(eth::DevnetInfo::load(o->devnet));
      chain_section = "deployment = " + toml_string((fs::absolute(o->devnet) / "devnet.json").string()) + "\n";
    } else if (!o->deployment.empty() && !o->rpc.empty()) {
      chain_section = "rpc = " + toml_string(o->rpc) + "\ndeployment = " + toml_string(fs::absolute(o->deployment).string()) + "\n";
    } else {
      throw Exception(Error(Errc::invalid_argument, "say which chain: --devnet DIR, or --rpc URL with --deployment FILE"));
    }
    fs::create_directories(dir);

    std::string password;
    fs::path password_path;
    if (!o->password_file.empty()) {
      password = read_password_file(o->password_file);
      password_path = fs::absolute(o->password_file);
    } else {
      password = random_token(24);
      password_path = dir / "password.txt";
      unwrap(crypto::write_file_atomic(password_path, password + "\n", 0600));
    }
    auto key = crypto::PrivateKey::generate();
    progress("encrypting the key (scrypt) ...");
    unwrap(crypto::save_keystore(dir / "key.json", key, password));

    std::ostringstream cfg;
    cfg << "# dgrid node (docs/formats/node-config.md). Address " << key.address().checksummed() << "\n"
        << "data_dir = \"data\"\n\n[chain]\n" << chain_section << "\n[key]\nkeystore = \"key.json\"\npassword_file = "
        << toml_string(password_path.string()) << "\n";
    std::string api_key;
    if (provider) {
      cfg << "\n[provider]\nlisten = " << toml_string(!o->listen.empty() && !gateway ? o->listen : "127.0.0.1:8001")
          << "\nstake = \"100\"\n";
      for (const auto& m : o->models) {
        auto eq = m.find('=');
        if (eq == std::string::npos || eq == 0) throw Exception(Error(Errc::invalid_argument, "--model expects NAME=PATH, got '" + m + "'"));
        fs::path p = fs::absolute(m.substr(eq + 1));
        if (!fs::exists(p)) throw Exception(Error(Errc::not_found, "model file " + p.string() + " does not exist"));
        cfg << "\n[[provider.models]]\nname = " << toml_string(m.substr(0, eq)) << "\npath = " << toml_string(p.string())
            << "\nprice_input = \"0.5\"\nprice_output = \"1.5\"\n";
      }
    }
    if (gateway) {
      api_key = "sk-dgrid-" + random_token(16);
      cfg << "\n[gateway]\nlisten = " << toml_string(!o->listen.empty() && !provider ? o->listen : "127.0.0.1:8787")
          << "\napi_keys = [" << toml_string(api_key) << "]\n";
    }
    unwrap(crypto::write_file_atomic(dir / "node.toml", cfg.str(), 0600));

    bool funded = false;
    if (devnet) {
      auto deployer = unwrap(devnet->account("deployer"));
      auto rpc = unwrap(eth::RpcClient::connect(devnet->rpc_url));
      eth::NonceManager nonces(*rpc);
      eth::Wallet w(*rpc, nonces, unwrap(crypto::PrivateKey::from_hex(deployer->private_key)), devnet->chain_id);
      progress("funding " + key.address().checksummed() + " from the devnet deployer (10 ETH, 10,000 dUSD) ...");
      unwrap(w.send(eth::TxRequest{key.address(), {}, u256(10) * u256("1000000000000000000"), std::nullopt}));
      auto contracts = unwrap(eth::DgridContracts::at(*rpc, devnet->contracts));
      unwrap(contracts.token.mint(w, key.address(), u256(10'000) * 1'000'000));
      funded = true;
    }

    if (o->json) {
      print_json({{"address", key.address().checksummed()},
                  {"config", (dir / "node.toml").string()},
                  {"keystore", (dir / "key.json").string()},
                  {"password_file", password_path.string()},
                  {"api_key", api_key},
                  {"funded", funded}});
      return;
    }
    std::cout << "Created a " << o->role << " node in " << dir.string() << "\n"
              << "  address   " << key.address().checksummed() << (funded ? "  (funded: 10 ETH, 10000 dUSD)" : "") << "\n"
              << "  key       " << (dir / "key.json").string() << " (password in " << password_path.string() << ")\n"
              << "  config    " << (dir / "node.toml").string() << "\n";
    if (!api_key.empty()) std::cout << "  API key   " << api_key << "\n";
    if (!funded) std::cout << "Fund the address with gas and the payment token before starting it.\n";
    std::cout << "Start it:  dgrid node --config " << (dir / "node.toml").string() << std::endl;
  });
}

const CommandRegistrar kRegistrar{"init", register_init};

}  // namespace
}  // namespace dgrid::cli
