// The marketplace commands driven through the real dgrid binary, as an operator would:
// `dgrid node` killed with SIGKILL and restarted (nothing acknowledged is lost), `dgrid
// verify` on a real response (offline, on chain, by re-execution, tampered, malformed),
// `dgrid route explain` against a running gateway, help texts and config errors, and
// `dgrid demo --once` on a fresh machine (synthetic model). Chains come from
// `dgrid devnet up --detach`; clients sign tickets and requests with the library.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "eth/bindings.hpp"
#include "eth/devnet.hpp"
#include "eth/nonce_manager.hpp"
#include "eth/rpc.hpp"
#include "eth/wallet.hpp"
#include "market/receipt.hpp"
#include "market/ticket_wire.hpp"
#include "net/http_client.hpp"
#include "node/auth.hpp"
#include "support/dgrid_cli.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

extern char** environ;

namespace dgrid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::wait_for;

using test::read_file;

class NodeCliTest : public test::DgridCliTest {
 protected:
  // A node config for account `account` serving the real model; `provider_extra` and
  // `rest` add keys to [provider] and after it.
  fs::path write_config(const std::string& name, size_t account, const fs::path& model, const std::string& provider_extra,
                        const std::string& rest = "") {
    fs::path d = dir_ / name;
    fs::create_directories(d);
    write(d / "node.toml", "data_dir = \"data\"\n[chain]\ndeployment = \"" + (devnet_dir() / "devnet.json").string() +
                               "\"\npoll_interval_ms = 200\n[key]\nprivate_key = \"" + devnet_.accounts.at(account).private_key +
                               "\"\n[provider]\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\njuror = false\n" + provider_extra +
                               "[[provider.models]]\nname = \"stories\"\npath = \"" + model.string() +
                               "\"\nprice_input = \"1\"\nprice_output = \"2\"\n" + rest);
    return d / "node.toml";
  }

  // The sender's side: a funded TicketBroker deposit, tickets and signed requests.
  struct Client {
    explicit Client(crypto::PrivateKey k) : key(std::move(k)) {}
    std::unique_ptr<eth::RpcClient> rpc;
    std::unique_ptr<eth::NonceManager> nonces;
    std::unique_ptr<eth::Wallet> wallet;
    std::unique_ptr<eth::DgridContracts> contracts;
    std::unique_ptr<market::TicketIssuer> issuer;
    crypto::PrivateKey key;
    u256 nonce = 1;
    Hash32 domain{};
  };
  std::unique_ptr<Client> client(size_t account) {
    auto c = std::make_unique<Client>(key(account));
    auto rpc = eth::RpcClient::connect(devnet_.rpc_url);
    EXPECT_TRUE(rpc) << rpc.error().to_string();
    if (!rpc) return nullptr;
    c->rpc = std::move(*rpc);
    c->nonces = std::make_unique<eth::NonceManager>(*c->rpc);
    c->wallet = std::make_unique<eth::Wallet>(*c->rpc, *c->nonces, c->key, devnet_.chain_id);
    auto k = eth::DgridContracts::at(*c->rpc, devnet_.contracts);
    EXPECT_TRUE(k) << k.error().to_string();
    if (!k) return nullptr;
    c->contracts = std::make_unique<eth::DgridContracts>(*k);
    c->domain = eth::dgrid_domain_separator(devnet_.chain_id, devnet_.contracts.broker);
    c->issuer = std::make_unique<market::TicketIssuer>(c->key, c->domain);
    auto f = c->contracts->broker.fund(*c->wallet, c->contracts->token, u256(100'000'000), u256(10'000'000));
    EXPECT_TRUE(f) << f.error().to_string();
    return c;
  }

  net::ClientResponse http_get(const std::string& url) {
    net::ClientRequest rq;
    rq.url = url;
    auto r = http_.request(rq);
    EXPECT_TRUE(r) << url << ": " << r.error().to_string();
    return r ? *r : net::ClientResponse{};
  }
  net::ClientResponse http_post(const std::string& base, const std::string& path, const std::string& body,
                                const crypto::PrivateKey* signer) {
    net::ClientRequest rq;
    rq.method = "POST";
    rq.url = base + path;
    rq.body = body;
    if (signer) rq.headers.emplace_back("X-Dgrid-Auth", node::sign_request(*signer, "POST", path, body));
    auto r = http_.request(rq);
    EXPECT_TRUE(r) << path << ": " << r.error().to_string();
    return r ? *r : net::ClientResponse{};
  }

  // Credits one ticket of the provider's face value (win_prob 1: it wins) at `url`.
  std::optional<eth::SignedTicket> send_ticket(Client& c, const std::string& url) {
    auto info = json::parse(http_get(url + "/dgrid/v1/info").body, nullptr, false);
    auto p = market::ticket_params_from_json(info["ticket_params"]);
    EXPECT_TRUE(p) << p.error().to_string();
    if (!p) return std::nullopt;
    auto t = c.issuer->issue(*p, u256(1), c.nonce);
    EXPECT_TRUE(t && t->size() == 1u);
    if (!t || t->empty()) return std::nullopt;
    auto r = http_post(url, "/dgrid/v1/credit", json{{"tickets", {market::ticket_to_json((*t)[0])}}}.dump(), nullptr);
    EXPECT_EQ(r.status, 200) << r.body;
    return (*t)[0];
  }

  json paid_completion(Client& c, const std::string& url, const std::string& prompt) {
    std::string body = json{{"model", "stories"}, {"prompt", prompt}, {"max_tokens", 10}, {"temperature", 0}, {"seed", 11}}.dump();
    auto r = http_post(url, "/v1/completions", body, &c.key);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  u256 credit_of(const std::string& url, const crypto::Address& who) {
    auto j = json::parse(http_get(url + "/dgrid/v1/credit?sender=" + who.checksummed()).body, nullptr, false);
    return j.is_object() && j.contains("credit") ? u256(j["credit"].get<std::string>()) : u256(0);
  }

  net::HttpClient http_;
};

#define NEED_DEVNET()                          \
  if (!start_devnet()) {                       \
    if (HasFailure()) return;                  \
    GTEST_SKIP() << "anvil not installed";     \
  }

TEST_F(NodeCliTest, HelpTexts) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"node", "--help"}, {"verify", "--help"}, {"route", "explain", "--help"}, {"demo", "--help"}}) {
    auto r = dgrid(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  EXPECT_NE(dgrid({"node", "--help"}).out.find("--config"), std::string::npos);
  EXPECT_NE(dgrid({"verify", "--help"}).out.find("--reexecute"), std::string::npos);
  EXPECT_NE(dgrid({"route", "explain", "--help"}).out.find("--gateway"), std::string::npos);
  EXPECT_NE(dgrid({"demo", "--help"}).out.find("--once"), std::string::npos);
}

TEST_F(NodeCliTest, NodeConfigWithAnUnknownKeyNamesTheKeyAndLine) {
  write(dir_ / "bad.toml",
        "data_dir = \"data\"\n"
        "[chain]\n"
        "deployment = \"devnet.json\"\n"
        "[key]\n"
        "private_key = \"0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\"\n"
        "[provider]\n"
        "capacty = 4\n");
  auto r = dgrid_all({"node", "--config", (dir_ / "bad.toml").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("bad.toml:7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("capacty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("capacity"), std::string::npos) << "a suggestion: " << r.out;
  // A bad --set names the key too; a missing file is refused.
  write(dir_ / "ok.toml", "[provider]\n");
  auto s = dgrid_all({"node", "--config", (dir_ / "ok.toml").string(), "--set", "provider.nope=1"});
  EXPECT_NE(s.exit_code, 0);
  EXPECT_NE(s.out.find("provider.nope"), std::string::npos) << s.out;
  EXPECT_NE(dgrid_all({"node", "--config", (dir_ / "missing.toml").string()}).exit_code, 0);
}

// SIGKILL of a provider holding credit, a receipt and an unredeemed winning ticket; the
// restarted process serves the same credit and receipt and redeems the ticket.
TEST_F(NodeCliTest, KillNineAndRestartLosesNoCreditReceiptOrWinningTicket) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  NEED_DEVNET();
  auto c = client(2);
  ASSERT_TRUE(c);
  // Every ticket wins; nothing is redeemed before the kill (10-minute redemption interval).
  fs::path cfg = write_config("provider", 1, model, "face_value = \"1\"\nwin_prob = \"1\"\nredeem_interval_ms = 600000\n");
  pid_t pid = -1;
  json ep = start_node(cfg, {}, pid);
  ASSERT_FALSE(ep.is_null());
  const std::string url = ep["provider_url"];
  const auto provider = *crypto::parse_address(ep["address"].get<std::string>());
  const u256 balance_before = *c->contracts->token.balance_of(provider);

  auto ticket = send_ticket(*c, url);
  ASSERT_TRUE(ticket);
  json out = paid_completion(*c, url, "Once upon a time");
  ASSERT_TRUE(out.contains("dgrid_receipt")) << out.dump();
  const std::string job_id = out["dgrid_receipt"]["job_id"];
  const u256 credit_before = credit_of(url, c->key.address());
  EXPECT_EQ(credit_before, market::ticket_ev(ticket->ticket.face_value, ticket->ticket.win_prob) -
                               u256(out["dgrid_receipt"]["cost"].get<std::string>()));
  auto receipt_before = http_get(url + "/dgrid/v1/receipts/" + job_id);
  ASSERT_EQ(receipt_before.status, 200) << receipt_before.body;
  const Hash32 digest = eth::ticket_digest(ticket->ticket, c->domain);
  EXPECT_FALSE(*c->contracts->broker.is_used(digest));

  stop_child(pid, SIGKILL);

  ep = start_node(cfg, {"provider.redeem_interval_ms=200"}, pid);
  ASSERT_FALSE(ep.is_null());
  const std::string url2 = ep["provider_url"];
  EXPECT_EQ(credit_of(url2, c->key.address()), credit_before);
  auto receipt_after = http_get(url2 + "/dgrid/v1/receipts/" + job_id);
  ASSERT_EQ(receipt_after.status, 200) << receipt_after.body;
  EXPECT_EQ(receipt_after.body, receipt_before.body);
  EXPECT_EQ(json::parse(receipt_after.body), out["dgrid_receipt"]);
  ASSERT_TRUE(wait_for([&] {
    auto u = c->contracts->broker.is_used(digest);
    return u && *u;
  })) << "the winning ticket was not redeemed after the restart; log:\n" << read_file(cfg.parent_path() / "node.log");
  EXPECT_EQ(*c->contracts->token.balance_of(provider), balance_before + ticket->ticket.face_value);
  // A replay of the ticket is still refused after the restart.
  auto replay = http_post(url2, "/dgrid/v1/credit", json{{"tickets", {market::ticket_to_json(*ticket)}}}.dump(), nullptr);
  EXPECT_EQ(replay.status, 402) << replay.body;
  stop_child(pid, SIGTERM);
}

TEST_F(NodeCliTest, VerifyARealReceiptOfflineOnChainByReexecutionAndTampered) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  NEED_DEVNET();
  auto c = client(2);
  ASSERT_TRUE(c);
  fs::path cfg = write_config("provider", 1, model, "face_value = \"1\"\nwin_prob = \"0.5\"\n");
  pid_t pid = -1;
  json ep = start_node(cfg, {}, pid);
  ASSERT_FALSE(ep.is_null());
  const std::string url = ep["provider_url"];
  ASSERT_TRUE(send_ticket(*c, url));
  json out = paid_completion(*c, url, "The little dog");
  ASSERT_TRUE(out.contains("dgrid_receipt")) << out.dump();
  stop_child(pid, SIGTERM);  // verification needs no provider
  const fs::path resp = dir_ / "response.json";
  write(resp, out.dump(2));

  auto offline = dgrid({"verify", resp.string()});
  EXPECT_EQ(offline.exit_code, 0) << offline.out;
  EXPECT_NE(offline.out.find("VALID"), std::string::npos) << offline.out;
  EXPECT_EQ(offline.out.find("INVALID"), std::string::npos) << offline.out;

  auto chain = dgrid({"verify", resp.string(), "--devnet", devnet_dir().string(), "--json"});
  ASSERT_EQ(chain.exit_code, 0) << chain.out;
  auto cj = json::parse(chain.out);
  EXPECT_EQ(cj["valid"], true);
  EXPECT_EQ(cj["job_id"], out["dgrid_receipt"]["job_id"]);
  std::set<std::string> names;
  for (const auto& ch : cj["checks"]) {
    names.insert(ch["check"]);
    EXPECT_TRUE(ch["ok"].get<bool>()) << ch.dump();
  }
  EXPECT_EQ(names, (std::set<std::string>{"signature", "deployment", "registered", "model declared"}));

  auto re = dgrid({"verify", resp.string(), "--reexecute", "--model", model.string(), "--json"});
  ASSERT_EQ(re.exit_code, 0) << re.out;
  auto rj = json::parse(re.out);
  EXPECT_EQ(rj["valid"], true) << rj.dump(2);
  bool output_checked = false;
  for (const auto& ch : rj["checks"]) {
    if (ch["check"] == "output hash") {
      output_checked = true;
      EXPECT_TRUE(ch["ok"].get<bool>()) << ch.dump();
    }
  }
  EXPECT_TRUE(output_checked) << rj.dump(2);
  // The bare receipt (as GET /dgrid/v1/receipts serves it) verifies too.
  write(dir_ / "receipt.json", out["dgrid_receipt"].dump());
  EXPECT_EQ(dgrid({"verify", (dir_ / "receipt.json").string()}).exit_code, 0);

  // Tampering with what the provider signed breaks the signature check.
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"output_hash", "0x" + std::string(64, '7')}, {"cost", "1"}}) {
    json bad = out;
    if (bad["dgrid_receipt"][field] == value) bad["dgrid_receipt"][field] = "2";
    else bad["dgrid_receipt"][field] = value;
    write(dir_ / "tampered.json", bad.dump());
    auto t = dgrid({"verify", (dir_ / "tampered.json").string()});
    EXPECT_NE(t.exit_code, 0) << field << ": " << t.out;
    EXPECT_NE(t.out.find("INVALID"), std::string::npos) << field << ": " << t.out;
    auto tj = dgrid({"verify", (dir_ / "tampered.json").string(), "--json"});
    EXPECT_NE(tj.exit_code, 0);
    auto parsed = json::parse(tj.out, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << tj.out;
    EXPECT_EQ(parsed["valid"], false);
  }
  // A receipt whose claimed output the model does not reproduce fails re-execution even if
  // the signature were fine: the re-execution check names the output hash.
  {
    json bad = out;
    bad["dgrid_receipt"]["output_hash"] = "0x" + std::string(64, '7');
    write(dir_ / "tampered.json", bad.dump());
    auto t = dgrid({"verify", (dir_ / "tampered.json").string(), "--reexecute", "--model", model.string(), "--json"});
    EXPECT_NE(t.exit_code, 0);
    auto tj = json::parse(t.out, nullptr, false);
    ASSERT_TRUE(tj.is_object()) << t.out;
    for (const auto& ch : tj["checks"]) {
      if (ch["check"] == "output hash" || ch["check"] == "signature") {
        EXPECT_FALSE(ch["ok"].get<bool>()) << ch.dump();
      }
    }
  }

  // Malformed input: a clear error, non-zero exit.
  write(dir_ / "broken.json", "{\"dgrid_receipt\": {");
  auto m = dgrid_all({"verify", (dir_ / "broken.json").string()});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.out.find("is not JSON"), std::string::npos) << m.out;
  write(dir_ / "notreceipt.json", "{\"hello\": 1}");
  auto n = dgrid_all({"verify", (dir_ / "notreceipt.json").string()});
  EXPECT_NE(n.exit_code, 0);
  EXPECT_NE(n.out.find("notreceipt.json"), std::string::npos) << n.out;
}

TEST_F(NodeCliTest, RouteExplainListsTheGatewaysCandidates) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  NEED_DEVNET();
  // Two providers, one of which also runs the gateway.
  fs::path p1 = write_config("provider1", 1, model, "");
  fs::path gw = write_config("gateway", 2, model, "",
                             "[gateway]\nlisten = \"127.0.0.1:0\"\napi_keys = [\"sk-test\"]\ndiscovery_interval_ms = 200\n");
  pid_t pid1 = -1, pid2 = -1;
  json e1 = start_node(p1, {}, pid1);
  ASSERT_FALSE(e1.is_null());
  json e2 = start_node(gw, {}, pid2);
  ASSERT_FALSE(e2.is_null());
  const std::string gateway = e2["gateway_url"];
  ASSERT_FALSE(gateway.empty());
  std::set<std::string> want = {e1["address"].get<std::string>(), e2["address"].get<std::string>()};
  json last;
  ASSERT_TRUE(wait_for([&] {
    auto r = dgrid({"route", "explain", "--gateway", gateway, "--model", "stories", "--api-key", "sk-test", "--json"});
    if (r.exit_code != 0) return false;
    last = json::parse(r.out, nullptr, false);
    if (!last.is_object() || !last["candidates"].is_array()) return false;
    std::set<std::string> seen;
    for (const auto& cnd : last["candidates"]) seen.insert(cnd.value("address", ""));
    return seen == want;
  })) << last.dump(2);
  EXPECT_FALSE(last["chosen"].is_null()) << last.dump(2);
  for (const auto& cnd : last["candidates"]) EXPECT_TRUE(cnd["eligible"].get<bool>()) << cnd.dump();
  // The text form lists both too; an unknown model is an error.
  auto text = dgrid({"route", "explain", "--gateway", gateway, "--model", "stories", "--api-key", "sk-test"});
  EXPECT_EQ(text.exit_code, 0);
  for (const auto& a : want) EXPECT_NE(text.out.find(a), std::string::npos) << text.out;
  EXPECT_NE(dgrid({"route", "explain", "--gateway", gateway, "--model", "nope", "--api-key", "sk-test"}).exit_code, 0);
  stop_child(pid2, SIGTERM);
  stop_child(pid1, SIGTERM);
}

// A real provider process killed with SIGKILL while it holds a streamed request and has not
// sent a token yet: the gateway retries on the other provider and the user sees a normal,
// complete stream.
TEST_F(NodeCliTest, ProviderKilledBeforeItsFirstTokenIsRetriedElsewhere) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  NEED_DEVNET();
  // The slow provider sleeps 5 s before each job (DEMO ONLY latency_ms): time to kill it.
  fs::path slow_cfg = write_config("slow", 1, model, "latency_ms = 5000\n");
  fs::path gw_cfg = write_config("gateway", 2, model, "",
                                 "[gateway]\nlisten = \"127.0.0.1:0\"\napi_keys = []\nspot_check_rate = 0\n"
                                 "discovery_interval_ms = 200\n");
  pid_t slow_pid = -1, gw_pid = -1;
  json slow = start_node(slow_cfg, {}, slow_pid);
  ASSERT_FALSE(slow.is_null());
  json gw = start_node(gw_cfg, {}, gw_pid);
  ASSERT_FALSE(gw.is_null());
  const std::string gateway = gw["gateway_url"];
  ASSERT_TRUE(wait_for([&] {
    auto j = json::parse(http_get(gateway + "/v1/models").body, nullptr, false);
    return j.is_object() && j["data"].is_array() && j["data"].size() == 1 && j["data"][0]["dgrid"]["providers"] == 2;
  })) << "the gateway did not discover both providers";

  // Requests until one is routed to the slow provider first (routing picks at random among
  // the best); that one it loses mid-request.
  bool killed = false;
  for (int attempt = 0; attempt < 12 && !killed; ++attempt) {
    net::ClientResponse resp;
    std::atomic<bool> done{false};
    std::thread user([&] {
      net::ClientRequest rq;
      rq.method = "POST";
      rq.url = gateway + "/v1/completions";
      rq.body = json{{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 8}, {"stream", true}}.dump();
      rq.timeout = std::chrono::seconds(60);
      auto r = net::HttpClient().request(rq);
      EXPECT_TRUE(r) << r.error().to_string();
      if (r) resp = *r;
      done = true;
    });
    // Either the slow provider takes the job (in flight there) or the request completes.
    wait_for([&] {
      auto info = json::parse(http_get(slow["provider_url"].get<std::string>() + "/dgrid/v1/info").body, nullptr, false);
      if (info.is_object() && info.value("in_flight", 0) > 0) {
        stop_child(slow_pid, SIGKILL);
        killed = true;
        return true;
      }
      return done.load();
    });
    user.join();
    ASSERT_EQ(resp.status, 200) << resp.body;
    std::vector<std::string> events;
    std::istringstream lines(resp.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("data: ", 0) == 0) events.push_back(line.substr(6));
    }
    ASSERT_GE(events.size(), 3u) << resp.body;
    EXPECT_EQ(events.back(), "[DONE]") << resp.body;
    auto last = json::parse(events[events.size() - 2], nullptr, false);
    ASSERT_TRUE(last.contains("dgrid_receipt")) << resp.body;
    EXPECT_EQ(last["dgrid_provider"], gw["address"]) << "the survivor served it";
    for (const auto& e : events) EXPECT_EQ(e.find("\"error\""), std::string::npos) << e;
  }
  ASSERT_TRUE(killed) << "no request was routed to the slow provider first in 12 tries";
  auto stats = json::parse(http_get(gateway + "/dgrid/v1/stats").body, nullptr, false);
  EXPECT_GE(stats["failovers"].get<int>(), 1) << stats.dump(2);
  EXPECT_EQ(stats["requests_failed"], 0) << stats.dump(2);
  stop_child(gw_pid, SIGTERM);
}

// What `make demo` runs on a fresh machine: no --model, so a synthetic model is generated.
TEST_F(NodeCliTest, DemoOnceWithTheSyntheticModel) {
  if (test::anvil_binary().empty()) {
    if (test::shared_required()) FAIL() << "anvil missing: run scripts/setup";
    GTEST_SKIP() << "anvil not installed";
  }
  auto r = dgrid({"demo", "--once", "--json", "--requests", "12", "--dir", (dir_ / "demo").string(), "--port", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The summary is the last JSON document on stdout.
  auto start = r.out.rfind("\n{");
  auto j = json::parse(start == std::string::npos ? r.out : r.out.substr(start + 1), nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["synthetic_model"], true) << j.dump(2);
  EXPECT_EQ(j["requests"], 12) << j.dump(2);
  EXPECT_EQ(j["failed"], 0) << j.dump(2);
}

}  // namespace
}  // namespace dgrid
