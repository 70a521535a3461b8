// Drives the real dgrid binary the way a user would.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eth/rpc.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid {

namespace fs = std::filesystem;
using nlohmann::json;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dgrid-cli-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write(dir_ / "pw.txt", "correct horse\n");
    write(dir_ / "wrong.txt", "battery staple\n");
  }
  void TearDown() override {
    test::run_process({DGRID_BINARY, "devnet", "down", "--dir", (dir_ / "devnet").string()});
    fs::remove_all(dir_);
  }
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  test::ProcessResult dgrid(std::vector<std::string> args) {
    args.insert(args.begin(), DGRID_BINARY);
    return test::run_process(args);
  }
  fs::path dir_;
};

TEST_F(CliTest, HelpEverywhere) {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"wallet", "--help"}, {"wallet", "sign", "--help"},
                                                          {"devnet", "up", "--help"}, {"chain", "deploy", "--help"}}) {
    auto r = dgrid(args);
    EXPECT_EQ(r.exit_code, 0) << args.back();
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  EXPECT_NE(dgrid({"no-such-command"}).exit_code, 0);
}

TEST_F(CliTest, WalletLifecycle) {
  std::string ks = (dir_ / "me.json").string(), pw = (dir_ / "pw.txt").string();
  auto created = dgrid({"wallet", "new", "--keystore", ks, "--password-file", pw, "--light-kdf", "--json"});
  ASSERT_EQ(created.exit_code, 0);
  std::string address = json::parse(created.out)["address"];
  EXPECT_NE(dgrid({"wallet", "new", "--keystore", ks, "--password-file", pw, "--light-kdf"}).exit_code, 0)
      << "must refuse to overwrite a key";

  auto addr = dgrid({"wallet", "address", "--keystore", ks});
  EXPECT_EQ(addr.exit_code, 0);
  EXPECT_EQ(addr.out, address + "\n");

  auto sig = dgrid({"wallet", "sign", "--keystore", ks, "--password-file", pw, "hello dgrid"});
  ASSERT_EQ(sig.exit_code, 0);
  std::string signature = sig.out.substr(0, sig.out.find('\n'));
  EXPECT_EQ(signature.size(), 132u);
  EXPECT_EQ(dgrid({"wallet", "verify", "--address", address, "--message", "hello dgrid", "--signature", signature}).exit_code, 0);
  EXPECT_EQ(dgrid({"wallet", "verify", "--address", address, "--message", "hello dgrid!", "--signature", signature}).exit_code, 1);

  EXPECT_NE(dgrid({"wallet", "sign", "no key given"}).exit_code, 0);
  auto wrong = dgrid({"wallet", "sign", "--keystore", ks, "--password-file", (dir_ / "wrong.txt").string(), "x"});
  EXPECT_NE(wrong.exit_code, 0);

  write(dir_ / "typed.json", R"({
    "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
              "Job": [{"name": "id", "type": "bytes32"}, {"name": "tokens", "type": "uint64"}]},
    "primaryType": "Job", "domain": {"name": "dgrid", "chainId": 31337},
    "message": {"id": "0x0000000000000000000000000000000000000000000000000000000000000001", "tokens": 42}})");
  auto typed = dgrid({"wallet", "sign-typed-data", "--keystore", ks, "--password-file", pw, (dir_ / "typed.json").string(), "--json"});
  ASSERT_EQ(typed.exit_code, 0);
  auto tj = json::parse(typed.out);
  EXPECT_EQ(dgrid({"wallet", "verify", "--address", address, "--typed-data", (dir_ / "typed.json").string(), "--signature",
                   tj["signature"]}).exit_code, 0);
  write(dir_ / "bad.json", R"({"types": {}, "primaryType": "Nope", "domain": {}, "message": {}})");
  EXPECT_NE(dgrid({"wallet", "sign-typed-data", "--keystore", ks, "--password-file", pw, (dir_ / "bad.json").string()}).exit_code, 0);
}

TEST_F(CliTest, WrongPasswordSaysSo) {
  std::string ks = (dir_ / "me.json").string();
  ASSERT_EQ(dgrid({"wallet", "new", "--keystore", ks, "--password-file", (dir_ / "pw.txt").string(), "--light-kdf"}).exit_code, 0);
  std::vector<std::string> argv = {DGRID_BINARY, "wallet", "sign", "--keystore", ks, "--password-file", (dir_ / "wrong.txt").string(), "x"};
  auto r = test::run_process({"sh", "-c", "\"$0\" \"$@\" 2>&1", argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7]});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("wrong password"), std::string::npos) << r.out;
}

TEST_F(CliTest, DevnetUpBalanceDown) {
  if (test::anvil_binary().empty()) {
    if (test::shared_required()) FAIL() << "anvil missing";
    GTEST_SKIP() << "anvil not installed";
  }
  std::string dn = (dir_ / "devnet").string();
  auto up = dgrid({"devnet", "up", "--dir", dn, "--detach", "--json"});
  ASSERT_EQ(up.exit_code, 0) << up.out;
  auto info = json::parse(up.out);
  EXPECT_EQ(info["chain_id"], 31337);
  ASSERT_EQ(info["accounts"].size(), 10u);
  EXPECT_TRUE(fs::exists(fs::path(dn) / "devnet.json"));
  EXPECT_NE(dgrid({"devnet", "up", "--dir", dn, "--detach"}).exit_code, 0) << "a second devnet in the same dir is refused";

  std::string user = info["accounts"][5]["address"];
  auto bal = dgrid({"wallet", "balance", user, "--devnet-dir", dn, "--json"});
  ASSERT_EQ(bal.exit_code, 0) << bal.out;
  EXPECT_EQ(json::parse(bal.out)["token_balance"], "1000000000000");

  // Deploy a second set of contracts to the same chain, paying in the devnet's token.
  std::string key = info["accounts"][9]["private_key"];
  auto dep = dgrid({"chain", "deploy", "--rpc", info["rpc_url"], "--private-key", key, "--token",
                    info["contracts"]["token"], "--out", (dir_ / "deployment.json").string(), "--json"});
  ASSERT_EQ(dep.exit_code, 0) << dep.out;
  auto dj = json::parse(dep.out);
  EXPECT_EQ(dj["token"], info["contracts"]["token"]);
  EXPECT_NE(dj["ticket_broker"], info["contracts"]["ticket_broker"]);
  EXPECT_EQ(json::parse(std::ifstream(dir_ / "deployment.json")), dj);
  auto rpc = eth::RpcClient::connect(info["rpc_url"].get<std::string>());
  ASSERT_TRUE(rpc);
  for (const char* c : {"provider_registry", "ticket_broker", "disputes", "storage_market"})
    EXPECT_FALSE((*rpc)->code(*crypto::parse_address(dj[c].get<std::string>()))->empty()) << c;
  // Bad input changes nothing: an unreachable RPC, a malformed key.
  EXPECT_NE(dgrid({"chain", "deploy", "--rpc", "http://127.0.0.1:1", "--private-key", key}).exit_code, 0);
  EXPECT_NE(dgrid({"chain", "deploy", "--rpc", info["rpc_url"], "--private-key", "0x1234"}).exit_code, 0);

  ASSERT_EQ(dgrid({"devnet", "down", "--dir", dn}).exit_code, 0);
  EXPECT_NE(dgrid({"devnet", "down", "--dir", dn}).exit_code, 0) << "already stopped";
  EXPECT_NE(dgrid({"wallet", "balance", user, "--devnet-dir", dn}).exit_code, 0) << "chain is down";
}

}  // namespace dgrid
