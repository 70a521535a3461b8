// Shared pieces of the dgrid command: output in text or --json, errors, key loading.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::cli {

// Options every command that signs takes: a keystore + password file, or a raw key (dev).
struct KeyOptions {
  std::string keystore;
  std::string password_file;
  std::string private_key;  // hex; for devnets and scripts only
  void add_to(CLI::App& cmd);
  // Loads the key; a wrong password says so and what to do.
  crypto::PrivateKey load() const;
};

// Reads a password file (trailing newline removed). Throws Exception with a clear message.
std::string read_password_file(const std::filesystem::path& path);
std::string read_text_file(const std::filesystem::path& path, size_t max_bytes = 16 << 20);

// Prints a JSON document (pretty) to stdout.
void print_json(const nlohmann::json& j);

// Progress for long work goes to stderr so stdout stays clean for --json and pipes.
void progress(const std::string& line);

// Which chain a command talks to: --rpc URL, or the devnet recorded in a directory.
struct ChainTarget {
  std::string rpc_url;
  std::optional<crypto::Address> token;
};
ChainTarget resolve_chain_target(const std::string& rpc, const std::filesystem::path& devnet_dir,
                                 const std::string& token);

// Each command file registers itself at static-initialization time:
//   static const CommandRegistrar kRegistrar{"wallet", register_wallet};
// main() then adds every registered command, in name order, to the app.
using RegisterFn = void (*)(CLI::App&);
struct CommandRegistrar {
  CommandRegistrar(const char* name, RegisterFn fn);
};
void register_all_commands(CLI::App& app);

}  // namespace dgrid::cli
