// The node's configuration: a TOML file (docs/formats/node-config.md), overridable by
// DGRID_<SECTION>_<KEY> environment variables and `--set key=value` flags. Every key is
// checked; unknown keys and bad values are errors naming the file and line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"
#include "eth/deploy.hpp"

namespace dgrid::node {

// dUSD has 6 decimals: config amounts are written in token units ("1.5") and held in base
// units (1500000).
inline constexpr unsigned kTokenDecimals = 6;

struct ListenAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  std::string to_string() const;  // "host:port", IPv6 hosts in brackets
};
// "127.0.0.1:8001", "localhost:0", "[::1]:80".
Result<ListenAddress> parse_listen(std::string_view text);

struct ChainConfig {
  std::optional<std::string> rpc;  // empty: the devnet's rpc_url, else http://127.0.0.1:8545
  std::filesystem::path deployment;  // a devnet.json or a Deployment json (eth/deploy.hpp)
  uint64_t confirmations = 0;
  std::chrono::milliseconds poll_interval{500};
};

struct KeyConfig {  // one of keystore (+ password_file) or private_key
  std::filesystem::path keystore;
  std::filesystem::path password_file;
  std::string private_key;  // hex; dev only
};

struct ModelConfig {
  std::string name;  // the OpenAI `model` string
  // Exactly one of path and cid. A model named by content id is fetched from storers into
  // DATA_DIR/models/<cid> (every block verified) before the provider serves it, and path is
  // set to that file (node.cpp).
  std::filesystem::path path;
  std::string cid;
  u256 price_input = 0;   // token base units per million input tokens
  u256 price_output = 0;  // token base units per million output tokens
  uint32_t context = 0;   // 0: the model's own context length
};

struct ProviderConfig {
  bool enabled = false;  // true when the [provider] table is present, unless it says false
  ListenAddress listen;
  std::string public_url;  // empty: http://<listen>
  u256 stake = 100'000'000;
  // Storer base URLs to fetch models named by cid from; empty: every storer registered on chain.
  std::vector<std::string> model_sources;
  uint32_t threads = 1;
  uint32_t capacity = 4;
  u256 face_value = 1'000'000;
  // The ticket field: probability * 2^256. Default "0.001" (docs/economics.md).
  u256 win_prob = u256("0x4189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a7");
  uint64_t ticket_expiry_blocks = 50;
  std::chrono::milliseconds redeem_interval{2'000};
  bool juror = true;
  double cheat_rate = 0.0;  // DEMO ONLY
  std::chrono::milliseconds latency{0};  // DEMO ONLY
  std::vector<ModelConfig> models;
};

struct GatewayConfig {
  bool enabled = false;  // true when the [gateway] table is present, unless it says false
  ListenAddress listen;
  std::vector<std::string> api_keys;  // empty: no authentication (dev)
  double spot_check_rate = 0.05;
  std::filesystem::path verify_model_dir;
  u256 deposit = 1'000'000'000;
  u256 reserve = 100'000'000;
  u256 top_up = 50'000;
  std::chrono::milliseconds discovery_interval{2'000};
  uint64_t max_request_bytes = 1 << 20;
  uint32_t default_max_tokens = 128;
};

// The storer service (DESIGN §9): a blockstore under DATA_DIR/store, the trustless-gateway
// API and the deal keeper. A storer stakes and registers in ProviderRegistry like a provider
// (provider.stake), with its URL in the registration metadata ("storage").
struct StorerConfig {
  bool enabled = false;  // true when the [storer] table is present, unless it says false
  ListenAddress listen;
  std::string public_url;                     // empty: http://<listen>
  uint64_t capacity_bytes = 0;                // stored block bytes; 0: unlimited
  u256 min_endowment_per_gib = 0;             // per replica slot; cheaper deals are not claimed
  uint64_t max_object_bytes = 64ull << 30;    // larger deals are not claimed
  uint64_t max_upload_batch = (64ull << 20) + (1ull << 20);  // request body limit of a CAR batch
  bool claim = true;                          // claim open slots of new deals
  bool watch = true;                          // report other storers' missed proofs
  bool repair = true;                         // claim reopened slots
};

struct NodeConfig {
  std::filesystem::path data_dir = "node-data";
  std::string log_level = "info";   // trace|debug|info|warn|error
  std::string log_format = "text";  // text|json
  ChainConfig chain;
  KeyConfig key;
  ProviderConfig provider;
  GatewayConfig gateway;
  StorerConfig storer;
  // Things worth telling the operator that are not errors (a raw private key in the file).
  std::vector<std::string> warnings;

  // Parses TOML text. Relative paths resolve against base_dir (the config file's folder);
  // `source` names the text in error messages ("node.toml:12: ..."). Does not validate().
  static Result<NodeConfig> parse(std::string_view toml_text, const std::filesystem::path& base_dir,
                                  std::string_view source = "config");
  static Result<NodeConfig> load(const std::filesystem::path& file);

  // One scalar key by its dotted name ("provider.listen", "data_dir"), the value written as
  // on a command line: strings bare, booleans true|false, lists comma-separated. Relative
  // paths resolve against the current directory. provider.models cannot be overridden.
  Result<void> apply_override(std::string_view name, std::string_view value);
  // "key=value", as `--set` takes it.
  Result<void> apply_assignment(std::string_view assignment);
  // Applies DGRID_<KEY> for every known key, the dots written as underscores and upper-case
  // (DGRID_PROVIDER_LISTEN, DGRID_DATA_DIR). Other DGRID_ variables are ignored.
  using EnvLookup = std::function<const char*(const char*)>;
  Result<void> apply_env(const EnvLookup& getenv);

  // Cross-key checks once every source was applied: a service is enabled, enabled services
  // have what they need (a key, models, a deployment), the key is given exactly one way.
  Result<void> validate() const;

  // Every key apply_override accepts, in documentation order.
  static std::vector<std::string_view> keys();
};

// load(file), then the environment, then each `--set` assignment, then validate().
Result<NodeConfig> load_node_config(const std::filesystem::path& file,
                                    const std::vector<std::string>& assignments,
                                    const NodeConfig::EnvLookup& getenv);

// The chain a config points at: the RPC URL and the contract addresses, from
// chain.deployment (a devnet.json or a Deployment json).
struct ChainTarget {
  std::string rpc_url;
  eth::Deployment deployment;
};
Result<ChainTarget> resolve_chain(const ChainConfig& chain);

// Reads the signing key: the keystore (decrypted with the password file) or the raw key.
Result<crypto::PrivateKey> load_key(const KeyConfig& key);

// A byte size: a plain integer or an integer with a unit, "512MiB", "10 GiB", "1TB"
// (B, KiB, MiB, GiB, TiB; kB, MB, GB, TB are powers of 1000).
Result<uint64_t> parse_byte_size(std::string_view text);

// "0.001" -> floor(0.001 * 2^256), the ticket's win_prob field; "1" -> 2^256 - 1.
Result<u256> parse_probability(std::string_view text);

}  // namespace dgrid::node
