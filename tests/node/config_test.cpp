// NodeConfig: the documented example parses, every bad input names file, line and key,
// overrides from --set and the environment, cross-key validation, and the helpers.
#include "node/config.hpp"

#include <gtest/gtest.h>

#include "support/test_env.hpp"
#include <unistd.h>

#include <fstream>
#include <map>

#include "crypto/keystore.hpp"
#include "eth/devnet.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

constexpr const char* kDevKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

// The example from docs/formats/node-config.md (keep the two in step).
const std::string kFull = R"(
data_dir = "./node-data"
log_level = "debug"
log_format = "json"

[chain]
rpc = "http://127.0.0.1:9545"
deployment = "../.devnet/devnet.json"
confirmations = 2
poll_interval_ms = 250

[key]
keystore = "key.json"
password_file = "pw"

[provider]
enabled = true
listen = "127.0.0.1:8001"
public_url = "http://provider.example:8001"
stake = "100"
threads = 2
capacity = 4
face_value = "1"
win_prob = "0.001"
ticket_expiry_blocks = 50
redeem_interval_ms = 2000
juror = true
cheat_rate = 0.0
latency_ms = 0

[[provider.models]]
name = "stories260k"
path = "../shared/models/stories260K.gguf"
price_input = "0.5"
price_output = "1.5"
context = 0

[gateway]
enabled = false
listen = "127.0.0.1:0"
api_keys = ["sk-dgrid-one", "sk-dgrid-two"]
spot_check_rate = 0.05
verify_model_dir = ""
deposit = "1000"
reserve = "100"
top_up = "0.05"
discovery_interval_ms = 2000
max_request_bytes = 1048576
default_max_tokens = 128
)";

Result<NodeConfig> parse(const std::string& text) { return NodeConfig::parse(text, "/etc/dgrid", "node.toml"); }

// Asserts parsing fails with a message containing every needle.
void expect_error(const std::string& text, std::initializer_list<std::string_view> needles) {
  auto c = parse(text);
  ASSERT_FALSE(c) << "accepted:\n" << text;
  for (auto n : needles) EXPECT_NE(c.error().message.find(n), std::string::npos) << c.error().message;
}

TEST(ConfigTest, FullExampleParses) {
  auto c = parse(kFull);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->data_dir, fs::path("/etc/dgrid/node-data"));
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->log_format, "json");
  EXPECT_EQ(c->chain.rpc, "http://127.0.0.1:9545");
  EXPECT_EQ(c->chain.deployment, fs::path("/etc/.devnet/devnet.json"));
  EXPECT_EQ(c->chain.confirmations, 2u);
  EXPECT_EQ(c->chain.poll_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(c->key.keystore, fs::path("/etc/dgrid/key.json"));
  EXPECT_EQ(c->key.password_file, fs::path("/etc/dgrid/pw"));
  EXPECT_TRUE(c->provider.enabled);
  EXPECT_EQ(c->provider.listen.host, "127.0.0.1");
  EXPECT_EQ(c->provider.listen.port, 8001);
  EXPECT_EQ(c->provider.public_url, "http://provider.example:8001");
  EXPECT_EQ(c->provider.stake, u256(100'000'000));
  EXPECT_EQ(c->provider.threads, 2u);
  EXPECT_EQ(c->provider.face_value, u256(1'000'000));
  EXPECT_EQ(c->provider.win_prob, *parse_probability("0.001"));
  ASSERT_EQ(c->provider.models.size(), 1u);
  EXPECT_EQ(c->provider.models[0].name, "stories260k");
  EXPECT_EQ(c->provider.models[0].path, fs::path("/etc/shared/models/stories260K.gguf"));
  EXPECT_EQ(c->provider.models[0].price_input, u256(500'000));
  EXPECT_EQ(c->provider.models[0].price_output, u256(1'500'000));
  EXPECT_FALSE(c->gateway.enabled) << "enabled = false wins over the table's presence";
  EXPECT_EQ(c->gateway.api_keys, (std::vector<std::string>{"sk-dgrid-one", "sk-dgrid-two"}));
  EXPECT_TRUE(c->gateway.verify_model_dir.empty());
  EXPECT_EQ(c->gateway.deposit, u256(1'000'000'000));
  EXPECT_EQ(c->gateway.top_up, u256(50'000));
  EXPECT_TRUE(c->warnings.empty());
  EXPECT_TRUE(c->validate()) << c->validate().error().to_string();
}

TEST(ConfigTest, DefaultsAndSectionPresenceEnables) {
  auto c = parse("[gateway]\n");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->gateway.enabled);
  EXPECT_FALSE(c->provider.enabled);
  EXPECT_EQ(c->data_dir, fs::path("/etc/dgrid/node-data"));
  EXPECT_EQ(c->log_level, "info");
  EXPECT_FALSE(c->chain.rpc);
  EXPECT_EQ(c->gateway.spot_check_rate, 0.05);
  EXPECT_EQ(c->gateway.default_max_tokens, 128u);
  EXPECT_EQ(c->gateway.max_request_bytes, 1u << 20);
}

TEST(ConfigTest, UnknownKeysAreRejectedWithSuggestions) {
  expect_error("[provider]\ncapacty = 4\n", {"node.toml:2:", "unknown key provider.capacty", "did you mean capacity?"});
  expect_error("log_levle = \"info\"\n", {"node.toml:1:", "unknown key log_levle", "did you mean log_level?"});
  expect_error("[providr]\n", {"unknown key providr", "did you mean provider?"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\npath = \"m\"\nprice_inptu = \"1\"\n",
               {"node.toml:5:", "provider.models[0].price_inptu", "did you mean price_input?"});
  expect_error("[chain]\nzzzzzzzz = 1\n", {"unknown key chain.zzzzzzzz"});
}

TEST(ConfigTest, WrongTypesNameKeyAndLine) {
  expect_error("\n[provider]\nthreads = \"4\"\n", {"node.toml:3:", "provider.threads", "expected an integer, got a string"});
  expect_error("[provider]\njuror = 1\n", {"provider.juror", "expected true or false"});
  expect_error("[provider]\nlisten = 8001\n", {"provider.listen", "expected a string, got an integer"});
  expect_error("chain = 5\n", {"expected a table [chain]"});
  expect_error("[gateway]\napi_keys = \"sk\"\n", {"gateway.api_keys", "expected an array"});
  expect_error("[gateway]\napi_keys = [\"a\", 2]\n", {"gateway.api_keys", "item 2"});
  expect_error("[provider]\nmodels = 3\n", {"expected [[provider.models]]"});
  expect_error("[provider]\nthreads = -1\n", {"provider.threads", "negative"});
  expect_error("[provider]\nthreads = 0\n", {"provider.threads", "between 1 and 1024"});
  expect_error("log_level = \"loud\"\n", {"log_level", "trace|debug|info|warn|error", "'loud'"});
  expect_error("[gateway]\nspot_check_rate = 1.5\n", {"gateway.spot_check_rate", "between 0 and 1"});
}

TEST(ConfigTest, BadAmountsAndProbabilities) {
  expect_error("[provider]\nstake = \"1.2345678\"\n", {"node.toml:2:", "provider.stake", "bad amount '1.2345678'", "6 decimals"});
  expect_error("[provider]\nstake = \"-5\"\n", {"provider.stake", "bad amount"});
  expect_error("[provider]\nstake = \"lots\"\n", {"provider.stake", "bad amount 'lots'"});
  expect_error("[provider]\nstake = 1.5\n", {"provider.stake", "write amounts as strings"});
  expect_error("[provider]\nwin_prob = 0.001\n", {"provider.win_prob", "as a string"});
  expect_error("[provider]\nwin_prob = \"1.5\"\n", {"provider.win_prob", "greater than 1"});
  expect_error("[provider]\nwin_prob = \"0\"\n", {"provider.win_prob", "never wins"});
  expect_error("[provider]\nwin_prob = \"1e-3\"\n", {"provider.win_prob", "not a decimal"});
  auto whole = parse("[provider]\nstake = 250\n");
  ASSERT_TRUE(whole) << whole.error().to_string();
  EXPECT_EQ(whole->provider.stake, u256(250'000'000)) << "an integer amount is whole dUSD";
}

TEST(ConfigTest, ModelTablesAreChecked) {
  expect_error("[provider]\n[[provider.models]]\npath = \"m\"\n", {"provider.models[0]", "missing name"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\n", {"missing path"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\npath = \"m\"\n[[provider.models]]\nname = \"a\"\npath = \"n\"\n",
               {"provider.models[1]", "duplicate model name 'a'"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\npath = \"m\"\ncontext = -1\n", {"context"});
}

TEST(ConfigTest, ModelsByContentId) {
  const std::string cid = "bafybeih24igyjrodvbs4vv4xxcr573hlqu7yxnmxfjfowtazt47cqszc5i";
  auto c = parse("[provider]\nmodel_sources = [\"http://127.0.0.1:9\"]\n[[provider.models]]\nname = \"a\"\ncid = \"" + cid + "\"\n");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_EQ(c->provider.models.size(), 1u);
  EXPECT_EQ(c->provider.models[0].cid, cid);
  EXPECT_TRUE(c->provider.models[0].path.empty());
  EXPECT_EQ(c->provider.model_sources, std::vector<std::string>{"http://127.0.0.1:9"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\ncid = \"bafyNOT\"\n", {"provider.models[0].cid", "not a content id"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\npath = \"m\"\ncid = \"" + cid + "\"\n", {"either path or cid"});
  expect_error("[provider]\n[[provider.models]]\nname = \"a\"\n", {"missing path", "or cid"});
}

TEST(ConfigTest, TomlSyntaxErrorsHaveALine) {
  expect_error("a = 1\n[provider\n", {"node.toml:2:"});
  expect_error("[provider]\nthreads = 1\nthreads = 2\n", {"node.toml:3:"});
}

TEST(ConfigTest, PrivateKeyInFileWarns) {
  auto c = parse(std::string("[key]\nprivate_key = \"") + kDevKey + "\"\n");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("node.toml:2"), std::string::npos);
  EXPECT_NE(c->warnings[0].find("clear text"), std::string::npos);
}

TEST(ConfigTest, OverridesTakeCommandLineText) {
  auto c = parse(kFull);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->apply_override("provider.listen", "127.0.0.1:8002"));
  EXPECT_EQ(c->provider.listen.port, 8002);
  ASSERT_TRUE(c->apply_assignment("gateway.enabled=true"));
  EXPECT_TRUE(c->gateway.enabled);
  ASSERT_TRUE(c->apply_assignment("gateway.api_keys=a,b"));
  EXPECT_EQ(c->gateway.api_keys, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(c->apply_assignment("gateway.api_keys="));
  EXPECT_TRUE(c->gateway.api_keys.empty());
  ASSERT_TRUE(c->apply_assignment("provider.stake=12.5"));
  EXPECT_EQ(c->provider.stake, u256(12'500'000));
  ASSERT_TRUE(c->apply_assignment("provider.cheat_rate=0.25"));
  EXPECT_EQ(c->provider.cheat_rate, 0.25);
  ASSERT_TRUE(c->apply_assignment("data_dir=/var/lib/dgrid"));
  EXPECT_EQ(c->data_dir, fs::path("/var/lib/dgrid"));
  ASSERT_TRUE(c->apply_assignment("data_dir=rel"));
  EXPECT_EQ(c->data_dir, fs::current_path() / "rel") << "override paths are relative to the working directory";
  ASSERT_TRUE(c->apply_assignment("provider.public_url=http://a=b"));
  EXPECT_EQ(c->provider.public_url, "http://a=b") << "only the first = separates";

  auto bad = c->apply_assignment("provider.stak=1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown key provider.stak"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("did you mean provider.stake"), std::string::npos) << bad.error().message;
  bad = c->apply_assignment("provider.threads=many");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--set: provider.threads: expected a non-negative integer, got 'many'"),
            std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(c->apply_assignment("provider.juror=yes"));
  EXPECT_FALSE(c->apply_assignment("noequals"));
  EXPECT_FALSE(c->apply_assignment("gateway.listen=nohostport"));
  EXPECT_FALSE(c->apply_assignment("gateway.api_keys=a,,b"));
  auto models = c->apply_assignment("provider.models=x");
  ASSERT_FALSE(models);
  EXPECT_NE(models.error().message.find("cannot be overridden"), std::string::npos);
}

TEST(ConfigTest, EnvironmentOverrides) {
  auto c = parse(kFull);
  ASSERT_TRUE(c);
  std::map<std::string, std::string> env = {{"DGRID_PROVIDER_LISTEN", "0.0.0.0:9000"},
                                            {"DGRID_CHAIN_POLL_INTERVAL_MS", "100"},
                                            {"DGRID_LOG_LEVEL", "warn"},
                                            {"DGRID_SHARED_DIR", "/ignored"}};
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ASSERT_TRUE(c->apply_env(lookup));
  EXPECT_EQ(c->provider.listen.to_string(), "0.0.0.0:9000");
  EXPECT_EQ(c->chain.poll_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(c->log_level, "warn");
  env["DGRID_PROVIDER_CAPACITY"] = "0";
  auto bad = c->apply_env(lookup);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("DGRID_PROVIDER_CAPACITY"), std::string::npos) << bad.error().message;
}

TEST(ConfigTest, ValidateCrossKeyRules) {
  auto base = std::string("[chain]\ndeployment = \"d.json\"\n[key]\nprivate_key = \"") + kDevKey + "\"\n";
  auto check = [&](const std::string& extra, std::string_view needle) {
    auto c = parse(base + extra);
    ASSERT_TRUE(c) << c.error().to_string();
    auto v = c->validate();
    if (needle.empty()) {
      EXPECT_TRUE(v) << v.error().to_string();
    } else {
      ASSERT_FALSE(v) << "accepted: " << extra;
      EXPECT_NE(v.error().message.find(needle), std::string::npos) << v.error().message;
    }
  };
  check("", "nothing to run");
  check("[gateway]\n", "");
  check("[provider]\n", "serves no model");
  check("[provider]\nwin_prob = \"0x0\"\n[[provider.models]]\nname = \"m\"\npath = \"m.gguf\"\n", "win_prob must be above 0");
  check("[provider]\nwin_prob = \"0.01\"\n[[provider.models]]\nname = \"m\"\npath = \"m.gguf\"\n", "");
  check("[provider]\nwin_prob = \"0.01\"\nlisten = \"127.0.0.1:7000\"\n[[provider.models]]\nname = \"m\"\npath = "
        "\"m.gguf\"\n[gateway]\nlisten = \"127.0.0.1:7000\"\n",
        "same address");

  auto none = parse("[gateway]\n[chain]\ndeployment = \"d\"\n");
  EXPECT_NE(none->validate().error().message.find("signing key is required"), std::string::npos);
  auto both = parse(base + "[gateway]\n");
  ASSERT_TRUE(both->apply_override("key.keystore", "k.json"));
  EXPECT_NE(both->validate().error().message.find("not both"), std::string::npos);
  auto nopw = parse("[gateway]\n[chain]\ndeployment = \"d\"\n[key]\nkeystore = \"k.json\"\n");
  EXPECT_NE(nopw->validate().error().message.find("password_file"), std::string::npos);
  auto badkey = parse("[gateway]\n[chain]\ndeployment = \"d\"\n[key]\nprivate_key = \"0x12\"\n");
  EXPECT_NE(badkey->validate().error().message.find("key.private_key"), std::string::npos);
  auto nodeploy = parse(std::string("[gateway]\n[key]\nprivate_key = \"") + kDevKey + "\"\n");
  EXPECT_NE(nodeploy->validate().error().message.find("chain.deployment is required"), std::string::npos);
}

TEST(ConfigTest, LoadFromFileResolvesPathsAndAppliesEverything) {
  TempDir dir;
  auto file = dir.write("node.toml", std::string("[chain]\ndeployment = \"dep.json\"\n[key]\nprivate_key = \"") +
                                         kDevKey + "\"\n[gateway]\nlisten = \"127.0.0.1:1\"\n");
  std::map<std::string, std::string> env = {{"DGRID_GATEWAY_LISTEN", "127.0.0.1:2"}};
  auto lookup = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto c = load_node_config(file, {"gateway.listen=127.0.0.1:3"}, lookup);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->gateway.listen.port, 3) << "flags win over the environment, which wins over the file";
  EXPECT_EQ(c->chain.deployment, dir.path() / "dep.json");
  EXPECT_EQ(c->data_dir, dir.path() / "node-data");

  auto missing = NodeConfig::load(dir.path() / "nope.toml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.toml"), std::string::npos);
  auto bad = dir.write("bad.toml", "[gateway]\nlisten = 3\n");
  auto r = NodeConfig::load(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("bad.toml:2:"), std::string::npos) << r.error().message;
}

TEST(ConfigTest, ListenAddresses) {
  auto a = parse_listen("localhost:0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 0);
  auto v6 = parse_listen("[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:8080");
  for (auto bad : {"", "8001", ":8001", "host:", "host:65536", "host:-1", "::1:80", "[::1]80", "h:8x"}) {
    auto r = parse_listen(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("bad listen address"), std::string::npos);
  }
}

TEST(ConfigTest, ProbabilityToTicketField) {
  const u256 max = ~u256(0);
  EXPECT_EQ(*parse_probability("1"), max);
  EXPECT_EQ(*parse_probability("1.000"), max);
  EXPECT_EQ(*parse_probability("0.5"), u256(1) << 255);
  EXPECT_EQ(*parse_probability("0.25"), u256(1) << 254);
  // floor(2^256 / 1000)
  EXPECT_EQ(*parse_probability("0.001"), (u256(1) << 255) / 500);
  EXPECT_EQ(*parse_probability("0x10"), 16);
  for (auto bad : {"", ".5", "5.", "0.5.1", "-0.1", "abc", "2"}) EXPECT_FALSE(parse_probability(bad)) << bad;
}

TEST(ConfigTest, ResolveChainFromDevnetOrDeployment) {
  TempDir dir;
  eth::Deployment d;
  d.chain_id = 31337;
  d.block = 3;
  d.token.bytes.fill(1);
  d.registry.bytes.fill(2);
  d.broker.bytes.fill(3);
  d.disputes.bytes.fill(4);
  d.storage.bytes.fill(5);
  ChainConfig chain;
  chain.deployment = dir.write("dep.json", d.to_json().dump());
  auto t = resolve_chain(chain);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->rpc_url, "http://127.0.0.1:8545");
  EXPECT_EQ(t->deployment.registry, d.registry);
  EXPECT_EQ(t->deployment.block, 3u);

  eth::DevnetInfo info;
  info.rpc_url = "http://127.0.0.1:4444";
  info.chain_id = 31337;
  info.contracts = d;
  chain.deployment = dir.write("devnet.json", info.to_json().dump());
  t = resolve_chain(chain);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->rpc_url, "http://127.0.0.1:4444") << "a devnet says where its RPC is";
  chain.rpc = "http://10.0.0.1:8545";
  EXPECT_EQ(resolve_chain(chain)->rpc_url, "http://10.0.0.1:8545") << "an explicit chain.rpc wins";

  chain.deployment = dir.write("junk.json", "{not json");
  auto junk = resolve_chain(chain);
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message.find("junk.json"), std::string::npos);
  chain.deployment = dir.path() / "absent.json";
  EXPECT_FALSE(resolve_chain(chain));
}

TEST(ConfigTest, LoadKeyFromKeystoreOrHex) {
  TempDir dir;
  auto key = crypto::PrivateKey::from_hex(kDevKey);
  ASSERT_TRUE(key);
  auto ks = crypto::encrypt_keystore(*key, "secret", crypto::kScryptLight);
  ASSERT_TRUE(ks);
  KeyConfig kc;
  kc.keystore = dir.write("key.json", ks->dump());
  kc.password_file = dir.write("pw", "secret\n");
  auto loaded = load_key(kc);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->address(), key->address());
  kc.password_file = dir.write("pw2", "wrong\n");
  auto wrong = load_key(kc);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("key.keystore"), std::string::npos);
  KeyConfig hex;
  hex.private_key = kDevKey;
  EXPECT_EQ(load_key(hex)->address(), key->address());
}

}  // namespace
}  // namespace dgrid::node
