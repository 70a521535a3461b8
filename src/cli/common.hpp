// Shared pieces of the dgrid command: output in text or --json, errors, key loading.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
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

// "1,234,567" and "1.18 MiB".
std::string with_commas(uint64_t v);
std::string human_bytes(uint64_t v);

// Progress of long byte-counting work on stderr: a redrawn bar when stderr is a terminal,
// else a line every 5%. Work smaller than `quiet_below` bytes shows nothing. Not thread-safe.
class ProgressLine {
 public:
  explicit ProgressLine(std::string label, uint64_t quiet_below = 64ull << 20);
  ~ProgressLine();  // ends a bar's line
  void update(uint64_t done, uint64_t total);

 private:
  std::string label_;
  uint64_t quiet_below_;
  std::chrono::steady_clock::time_point start_, last_draw_{};
  int next_pct_ = 0;
  bool tty_ = false, drawn_ = false;
};

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
