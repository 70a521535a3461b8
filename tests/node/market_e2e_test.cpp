// The compute marketplace end to end, in process: real provider nodes (node::Node from TOML
// configs, the real stories260K model, jurors on) and a real gateway on loopback HTTP, on a
// real anvil chain with dgrid's contracts. Faults: a cheating provider is spot-checked,
// disputed, judged by the other providers as jurors and slashed, with every balance moving
// as docs/economics.md §3 says; the chain's RPC going down does not stop a provider from
// serving on existing credit, and a winning ticket taken during the outage is redeemed once
// the chain is back.
#include <gtest/gtest.h>

#include "support/test_env.hpp"
#include <unistd.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/keccak.hpp"
#include "market/receipt.hpp"
#include "market/ticket_wire.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "node/auth.hpp"
#include "node/chain.hpp"
#include "node/config.hpp"
#include "node/gateway.hpp"
#include "node/metrics.hpp"
#include "node/node.hpp"
#include "node/state.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;
using eth::abi::Value;
using nlohmann::json;

using test::wait_for;

// On-chain Disputes.getDispute fields the test reads.
struct ChainDispute {
  crypto::Address challenger, provider;
  uint64_t commit_deadline = 0, reveal_deadline = 0, status = 0, outcome = 0;
  std::vector<crypto::Address> jurors;
};
enum : uint64_t { kAwaitingJurors = 1, kVoting = 2, kResolved = 3 };
enum : uint64_t { kProviderWins = 1, kChallengerWins = 2 };

class MarketE2ETest : public test::DgridChainTest {
 protected:
  static constexpr size_t kGatewayKey = 5;

  void SetUp() override {
    DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    model_ = test::shared_file("models/stories260K.gguf");
    if (model_.empty()) {
      if (test::shared_required()) FAIL() << "../shared/models/stories260K.gguf missing (required under .ci/run)";
      GTEST_SKIP() << "../shared/models/stories260K.gguf not found: skipping (repo-only checkout)";
    }
    std::string tmpl = (fs::temp_directory_path() / "dgrid_market_e2e_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "deployment.json") << deployment_.to_json().dump();
  }

  void TearDown() override {
    if (server_) server_->stop(std::chrono::milliseconds(100));
    if (gateway_) gateway_->stop();
    server_.reset();
    gateway_.reset();
    gw_state_.reset();
    nodes_.clear();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string chain_and_key(size_t key) {
    return "[chain]\nrpc = \"" + anvil_->rpc_url() + "\"\ndeployment = \"../deployment.json\"\npoll_interval_ms = 200\n" +
           "[key]\nprivate_key = \"" + to_hex(anvil_->dev_keys().at(key).secret()) + "\"\n";
  }

  // Provider settings for the dispute test: tickets have a tiny win probability and a large
  // face value (EV 100 base units each), so no ticket wins in practice and token balances
  // only move through the dispute.
  static constexpr const char* kQuietJuror = "face_value = \"100\"\nwin_prob = \"0.000001\"\njuror = true\n";

  // A provider serving stories260K as "stories"; `settings` adds [provider] keys.
  std::string provider_toml(size_t key, const std::string& settings) {
    return "data_dir = \"data\"\n" + chain_and_key(key) +
           "[provider]\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\ncapacity = 4\n" + settings +
           "[[provider.models]]\nname = \"stories\"\npath = \"" + model_.string() + "\"\nprice_input = \"1\"\nprice_output = \"2\"\n";
  }

  // Starts a provider node; nullptr (and a test failure) when it does not start.
  Node* start_provider(size_t key, const std::string& settings = kQuietJuror) {
    auto d = dir_ / ("provider" + std::to_string(key));
    fs::create_directories(d);
    std::ofstream(d / "node.toml") << provider_toml(key, settings);
    auto cfg = NodeConfig::load(d / "node.toml");
    if (!cfg) {
      ADD_FAILURE() << cfg.error().to_string();
      return nullptr;
    }
    configs_.push_back(std::make_unique<NodeConfig>(*cfg));  // kept for restarts
    auto n = Node::start(*cfg);
    if (!n) {
      ADD_FAILURE() << n.error().to_string();
      return nullptr;
    }
    nodes_.push_back(std::move(*n));
    return nodes_.back().get();
  }

  // The gateway from a parsed [gateway] config, driven by the test (no background threads)
  // and served on real loopback HTTP.
  void start_gateway(const std::string& extra = "") {
    auto d = dir_ / "gateway";
    fs::create_directories(d);
    std::string toml = "data_dir = \"data\"\n" + chain_and_key(kGatewayKey) +
                       "[gateway]\nlisten = \"127.0.0.1:0\"\napi_keys = []\nspot_check_rate = 1.0\ntop_up = \"0.0001\"\n" + extra;
    auto cfg = NodeConfig::parse(toml, d, "gateway.toml");
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    ASSERT_TRUE(cfg->validate()) << cfg->validate().error().to_string();
    auto target = resolve_chain(cfg->chain);
    ASSERT_TRUE(target) << target.error().to_string();
    auto key = load_key(cfg->key);
    ASSERT_TRUE(key) << key.error().to_string();
    auto chain = ChainContext::connect(target->rpc_url, target->deployment, *key);
    ASSERT_TRUE(chain) << chain.error().to_string();
    gw_chain_ = std::move(*chain);
    auto st = NodeState::open(cfg->data_dir);
    ASSERT_TRUE(st) << st.error().to_string();
    gw_state_ = std::move(*st);
    gw_metrics_ = std::make_unique<Registry>();
    GatewayOptions opt = gateway_options(*cfg);
    EXPECT_EQ(opt.spot_check_rate, 1.0);
    opt.start_threads = false;  // the test drives discovery and check passes
    opt.check_interval = std::chrono::milliseconds(1);
    auto g = Gateway::start(opt, *gw_chain_, *gw_state_, *gw_metrics_);
    ASSERT_TRUE(g) << g.error().to_string();
    gateway_ = std::move(*g);
    router_ = std::make_unique<net::Router>();
    gateway_->register_routes(*router_);
    auto s = net::HttpServer::start({}, router_->handler());
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    auto r = gateway_->discover_once();
    ASSERT_TRUE(r) << r.error().to_string();
  }

  json complete_via_gateway(const std::string& prompt, uint32_t max_tokens = 12) {
    net::ClientRequest rq;
    rq.method = "POST";
    rq.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/completions";
    rq.body = json{{"model", "stories"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}}.dump();
    auto r = http_.request(rq);
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }

  const eth::Contract& disputes() { return contracts_->disputes; }
  const crypto::Address& addr(size_t i) { return wallet(i).address(); }

  ChainDispute dispute(const u256& id) {
    ChainDispute d;
    auto r = disputes().call("getDispute", {Value::uint(id)});
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return d;
    const auto& f = *r->values.at(0).items();
    d.challenger = *f[0].as_address();
    d.provider = *f[1].as_address();
    d.commit_deadline = *f[8].as_u64();
    d.reveal_deadline = *f[9].as_u64();
    d.status = *f[10].as_u64();
    d.outcome = *f[11].as_u64();
    if (const auto* js = f[12].items()) {
      for (const auto& v : *js) d.jurors.push_back(*v.as_address());
    }
    return d;
  }

  // (commitment, revealed output hash) of a juror's vote; zero when absent.
  std::pair<Hash32, Hash32> vote(const u256& id, const crypto::Address& juror) {
    auto r = disputes().call("getVote", {Value::uint(id), Value::address(juror)});
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return {};
    const auto& f = *r->values.at(0).items();
    return {*f[0].as_fixed<32>(), *f[1].as_fixed<32>()};
  }

  u256 claimable(const crypto::Address& who) {
    auto r = disputes().call("claimable", {Value::address(who)});
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r->values.at(0).as_uint() : u256(0);
  }

  std::vector<eth::Event> events(std::string_view name) {
    auto r = disputes().query_events(name, deployment_.block, block());
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : std::vector<eth::Event>{};
  }

  // A counter or gauge from a node's /metrics (0 when absent).
  double metric(const std::string& base_url, std::string_view name) {
    net::ClientRequest rq;
    rq.url = base_url + "/metrics";
    auto r = http_.request(rq);
    if (!r || r->status != 200) return 0;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);) {
      if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 && line[name.size()] == ' ') {
        return std::stod(line.substr(name.size() + 1));
      }
    }
    return 0;
  }

  // Mines until the head is `target` (no-op when it is already there or past).
  void mine_to(uint64_t target) {
    uint64_t head = block();
    if (target > head) mine(target - head);
  }

  fs::path model_, dir_;
  std::vector<std::unique_ptr<NodeConfig>> configs_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<ChainContext> gw_chain_;
  std::unique_ptr<NodeState> gw_state_;
  std::unique_ptr<Registry> gw_metrics_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<net::Router> router_;
  std::unique_ptr<net::HttpServer> server_;
  net::HttpClient http_;
};

// A provider that cheats on every job serves a request through the gateway; the gateway's
// spot check re-executes it on an honest provider, confirms the mismatch with a third
// execution and opens a dispute; the two honest providers, drawn as jurors, re-execute,
// commit and reveal; the dispute resolves ChallengerWins, the cheater is slashed
// providerSlashAmount, and the challenger (bond back + 50% of the slash) and the majority
// jurors (25% of the slash, shared) claim their rewards. Honest providers are never disputed.
TEST_F(MarketE2ETest, CheaterIsSpotCheckedDisputedJudgedBySlashedAndRewardsAreClaimed) {
  constexpr size_t kCheater = 1, kHonestA = 2, kHonestB = 3;
  // The cheater is the only provider the gateway knows at first, so the request lands on it.
  start_provider(kCheater, std::string(kQuietJuror) + "cheat_rate = 1.0\n");
  ASSERT_FALSE(HasFailure());
  start_gateway();
  ASSERT_FALSE(HasFailure());
  json out = complete_via_gateway("Once upon a time");
  ASSERT_TRUE(out.is_object());
  ASSERT_EQ(out["dgrid_provider"], addr(kCheater).checksummed()) << out.dump();
  ASSERT_FALSE(out.contains("dgrid_receipt_error")) << out.dump();
  Hash32 job_id = *fixed_from_hex<32>(out["dgrid_receipt"]["job_id"].get<std::string>());
  auto job = gw_state_->job(job_id);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->spot_check, SpotCheck::pending);

  // Two honest providers (jurors too) join and are discovered.
  start_provider(kHonestA);
  start_provider(kHonestB);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(gateway_->discover_once());

  const u256 slash = params_.provider_slash, bond = params_.dispute_bond;
  const u256 cheater_stake = *registry().stake_of(addr(kCheater));
  const u256 honest_stake_a = *registry().stake_of(addr(kHonestA)), honest_stake_b = *registry().stake_of(addr(kHonestB));
  ASSERT_GE(cheater_stake, slash);
  const u256 gw_before = balance(kGatewayKey), a_before = balance(kHonestA), b_before = balance(kHonestB);

  // The check pass: re-execution on an honest provider disagrees, a third execution on the
  // other honest one confirms, and the dispute is opened with the bond.
  gateway_->check_once();
  job = gw_state_->job(job_id);
  ASSERT_TRUE(job && *job);
  ASSERT_EQ((*job)->spot_check, SpotCheck::mismatch);
  ASSERT_TRUE((*job)->dispute_id.has_value());
  const u256 id = *(*job)->dispute_id;
  EXPECT_EQ(balance(kGatewayKey), gw_before - bond);
  auto d = dispute(id);
  EXPECT_EQ(d.challenger, addr(kGatewayKey));
  EXPECT_EQ(d.provider, addr(kCheater));

  // Jurors are drawn once the selection block has passed (by the gateway's pass or a juror).
  ASSERT_TRUE(wait_for([&] {
    if (dispute(id).status == kVoting) return true;
    mine(1);
    gateway_->check_once();
    return dispute(id).status == kVoting;
  })) << "jurors were never drawn";
  d = dispute(id);
  std::set<crypto::Address> jurors(d.jurors.begin(), d.jurors.end());
  EXPECT_EQ(jurors, (std::set<crypto::Address>{addr(kHonestA), addr(kHonestB)}))
      << "the jury is every other staked provider of the model";

  // The jurors re-execute and commit within the commit window (nothing mines meanwhile
  // except their own transactions) ...
  ASSERT_TRUE(wait_for([&] {
    for (const auto& j : d.jurors) {
      if (vote(id, j).first == Hash32{}) return false;
    }
    return true;
  })) << "not every juror committed";
  ASSERT_LE(block(), d.commit_deadline);
  // ... reveal once it is over ...
  mine_to(d.commit_deadline + 1);
  ASSERT_TRUE(wait_for([&] {
    for (const auto& j : d.jurors) {
      if (vote(id, j).second == Hash32{}) return false;
    }
    return true;
  })) << "not every juror revealed";
  // ... both reveal the honest output, which is the challenger's hash, not the receipt's.
  auto rec = gw_state_->dispute(id);
  ASSERT_TRUE(rec && *rec);
  auto challenger_hash = fixed_from_hex<32>(json::parse((*rec)->json)["challenger_output_hash"].get<std::string>());
  ASSERT_TRUE(challenger_hash);
  for (const auto& j : d.jurors) EXPECT_EQ(vote(id, j).second, *challenger_hash);
  EXPECT_NE(*challenger_hash, *(*job)->output_hash);

  // After the reveal window the dispute is resolved (gateway or juror) and the gateway claims.
  mine_to(d.reveal_deadline + 1);
  ASSERT_TRUE(wait_for([&] {
    gateway_->check_once();
    auto r = gw_state_->dispute(id);
    return r && *r && !(*r)->open;
  })) << "the gateway's dispute never closed";
  rec = gw_state_->dispute(id);
  auto rj = json::parse((*rec)->json);
  EXPECT_EQ(rj["stage"], "closed") << rj.dump();
  EXPECT_EQ(rj["outcome"], "challenger_wins") << rj.dump();
  EXPECT_EQ(gateway_->stats()["disputes"]["won"], 1);

  // On chain: one DisputeResolved, ChallengerWins, the full slash.
  auto resolved = events("DisputeResolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(*resolved[0].values.get("disputeId")->as_uint(), id);
  EXPECT_EQ(*resolved[0].values.get("outcome")->as_u64(), kChallengerWins);
  EXPECT_EQ(*resolved[0].values.get("majorityHash")->as_fixed<32>(), *challenger_hash);
  EXPECT_EQ(*resolved[0].values.get("majorityVotes")->as_u64(), 2u);
  EXPECT_EQ(*resolved[0].values.get("providerSlashed")->as_uint(), slash);
  EXPECT_EQ(dispute(id).outcome, kChallengerWins);
  EXPECT_EQ(*registry().stake_of(addr(kCheater)), cheater_stake - slash);

  // docs/economics.md §3: the challenger gets its bond back plus 50% of the slash; the
  // majority jurors share 25% (the last 25% is burned). Everybody claims.
  const u256 challenger_reward = slash * 5'000 / 10'000;
  const u256 juror_pool = slash * 2'500 / 10'000;
  EXPECT_EQ(balance(kGatewayKey), gw_before + challenger_reward) << "bond back + 50% of the slash";
  EXPECT_EQ(claimable(addr(kGatewayKey)), 0);
  ASSERT_TRUE(wait_for([&] { return claimable(addr(kHonestA)) == 0 && claimable(addr(kHonestB)) == 0 &&
                                    balance(kHonestA) != a_before && balance(kHonestB) != b_before; }))
      << "the jurors did not claim their rewards";
  const u256 share = juror_pool / 2;  // two majority jurors, no dust (25 dUSD / 2)
  EXPECT_EQ(share * 2, juror_pool);
  EXPECT_EQ(balance(kHonestA), a_before + share);
  EXPECT_EQ(balance(kHonestB), b_before + share);
  u256 credited_to_gateway = 0;
  for (const auto& e : events("RewardCredited")) {
    auto who = *e.values.get("account")->as_address();
    u256 amount = *e.values.get("amount")->as_uint();
    if (who == addr(kGatewayKey)) {
      credited_to_gateway += amount;
    } else {
      EXPECT_TRUE(jurors.contains(who)) << who.checksummed();
      EXPECT_EQ(amount, share);
    }
  }
  EXPECT_EQ(credited_to_gateway, bond + challenger_reward);
  std::map<crypto::Address, u256> claimed;
  for (const auto& e : events("Claimed")) claimed[*e.values.get("account")->as_address()] += *e.values.get("amount")->as_uint();
  EXPECT_EQ(claimed[addr(kGatewayKey)], bond + challenger_reward);
  EXPECT_EQ(claimed[addr(kHonestA)], share);
  EXPECT_EQ(claimed[addr(kHonestB)], share);
  EXPECT_TRUE(events("JurorPenalized").empty()) << "both jurors revealed the majority hash";
  EXPECT_EQ(*registry().stake_of(addr(kHonestA)), honest_stake_a);
  EXPECT_EQ(*registry().stake_of(addr(kHonestB)), honest_stake_b);

  // The slashed cheater is no longer active; the gateway drops it and serves from the honest
  // providers, whose jobs all pass their spot checks.
  EXPECT_FALSE(*registry().is_active(addr(kCheater)));
  ASSERT_TRUE(gateway_->discover_once());
  std::vector<Hash32> honest_jobs;
  for (const char* prompt : {"The little dog", "One day, a girl", "Lily wanted"}) {
    json o = complete_via_gateway(prompt);
    ASSERT_TRUE(o.is_object());
    EXPECT_NE(o["dgrid_provider"], addr(kCheater).checksummed());
    honest_jobs.push_back(*fixed_from_hex<32>(o["dgrid_receipt"]["job_id"].get<std::string>()));
  }
  gateway_->check_once();
  for (const auto& h : honest_jobs) {
    auto j = gw_state_->job(h);
    ASSERT_TRUE(j && *j);
    EXPECT_EQ((*j)->spot_check, SpotCheck::match);
    EXPECT_FALSE((*j)->dispute_id.has_value());
  }
  // Honest providers were never disputed: the one dispute ever opened names the cheater.
  auto opened = events("DisputeOpened");
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(*opened[0].values.get("provider")->as_address(), addr(kCheater));
  auto stats = gateway_->stats();
  EXPECT_EQ(stats["disputes"]["opened"], 1) << stats.dump();
  EXPECT_EQ(stats["spot_checks"]["mismatches"], 1) << stats.dump();
}

// The chain's RPC goes down: a provider keeps serving on the credit it holds (completions
// answered with valid signed receipts), still accepts tickets from a sender whose deposit it
// checked before, and keeps a winning ticket taken during the outage pending through failed
// redemption passes and a restart; once the chain is back the ticket is redeemed.
TEST_F(MarketE2ETest, ChainOutageKeepsServingAndWinningTicketsWaitForRedemption) {
  constexpr size_t kProvider = 1, kSender = 2;
  const crypto::PrivateKey sender = anvil_->dev_keys()[kSender];  // a copy: anvil_ is replaced below
  ASSERT_TRUE(broker().fund(wallet(kSender), token(), dusd(100), dusd(10)));
  // Every ticket wins (face 1 dUSD); redemption passes run every 300 ms.
  Node* node = start_provider(kProvider, "face_value = \"1\"\nwin_prob = \"1\"\njuror = false\nredeem_interval_ms = 300\n");
  ASSERT_NE(node, nullptr);
  const std::string url = node->provider_url();
  const Hash32 domain = eth::dgrid_domain_separator(anvil_->chain_id(), deployment_.broker);
  market::TicketIssuer issuer(sender, domain);
  u256 nonce = 1;

  auto get = [&](const std::string& path) -> json {
    net::ClientRequest rq;
    rq.url = url + path;
    auto r = http_.request(rq);
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  };
  auto post = [&](const std::string& path, const std::string& body, bool auth) {
    net::ClientRequest rq;
    rq.method = "POST";
    rq.url = url + path;
    rq.body = body;
    if (auth) rq.headers.emplace_back("X-Dgrid-Auth", sign_request(sender, "POST", path, body));
    auto r = http_.request(rq);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : net::ClientResponse{};
  };
  auto credit = [&] { return u256(get("/dgrid/v1/credit?sender=" + sender.address().checksummed())["credit"].get<std::string>()); };
  auto send_winning_ticket = [&]() -> eth::SignedTicket {
    auto p = market::ticket_params_from_json(get("/dgrid/v1/info")["ticket_params"]);
    EXPECT_TRUE(p) << p.error().to_string();
    auto t = issuer.issue(*p, u256(1), nonce);
    EXPECT_TRUE(t && t->size() == 1u);
    auto r = post("/dgrid/v1/credit", json{{"tickets", {market::ticket_to_json((*t)[0])}}}.dump(), false);
    EXPECT_EQ(r.status, 200) << r.body;
    return (*t)[0];
  };
  auto used = [&](const eth::SignedTicket& t) {
    auto u = broker().is_used(eth::ticket_digest(t.ticket, domain));
    return u && *u;
  };

  // Before the outage: a winning ticket is credited and redeemed as usual.
  const u256 provider_before = balance(kProvider);
  auto t1 = send_winning_ticket();
  ASSERT_TRUE(wait_for([&] { return used(t1) && metric(url, "dgrid_provider_tickets_redeemed_total") == 1; }))
      << "the first winning ticket was never redeemed";
  EXPECT_EQ(balance(kProvider), provider_before + t1.ticket.face_value);
  // win_prob "1" is 2^256 - 1: a ticket's EV is one base unit short of its face value.
  const u256 ev = market::ticket_ev(t1.ticket.face_value, t1.ticket.win_prob);
  const u256 credit_before = credit();
  EXPECT_EQ(credit_before, ev);

  // The chain goes away (its state kept, to bring it back on the same port later).
  auto dumped = rpc_->call("anvil_dumpState", json::array());
  ASSERT_TRUE(dumped) << dumped.error().to_string();
  const std::string state_blob = dumped->get<std::string>();
  const std::string rpc_url = anvil_->rpc_url();
  const uint16_t port = static_cast<uint16_t>(std::stoi(rpc_url.substr(rpc_url.rfind(':') + 1)));
  anvil_->stop();
  ASSERT_FALSE(rpc_->block_number()) << "the chain should be unreachable now";

  // A second winning ticket is accepted on the sender's deposit as last seen, and stays
  // pending: every redemption pass fails while the RPC is down.
  auto t2 = send_winning_ticket();
  EXPECT_EQ(credit(), credit_before + ev);

  // Serving continues on the credit held: paid completions with valid signed receipts.
  u256 spent = 0;
  for (const char* prompt : {"Once upon a time", "The cat sat"}) {
    const std::string body = json{{"model", "stories"}, {"prompt", prompt}, {"max_tokens", 8}, {"temperature", 0}, {"seed", 5}}.dump();
    auto r = post("/v1/completions", body, true);
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    auto sr = market::receipt_from_json(j["dgrid_receipt"]);
    ASSERT_TRUE(sr) << sr.error().to_string();
    EXPECT_TRUE(market::verify_receipt_signature(*sr));
    EXPECT_EQ(sr->receipt.provider, addr(kProvider));
    EXPECT_EQ(sr->verifying_contract, deployment_.disputes);
    EXPECT_EQ(get("/dgrid/v1/receipts/" + to_hex(sr->receipt.job_id)), j["dgrid_receipt"]);
    spent += sr->receipt.cost;
  }
  const u256 credit_during = credit();
  EXPECT_EQ(credit_during, credit_before + ev - spent);

  // Stopped mid-outage, the node's state still holds the winning ticket as pending.
  nodes_.clear();
  {
    auto st = NodeState::open(configs_.back()->data_dir);
    ASSERT_TRUE(st) << st.error().to_string();
    auto counts = (*st)->ticket_counts();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->redeemed, 1u);
    EXPECT_EQ(counts->pending, 1u) << "the ticket won during the outage was dropped";
    EXPECT_EQ(counts->failed, 0u);
    auto pending = (*st)->pending_tickets(8);
    ASSERT_TRUE(pending);
    ASSERT_EQ(pending->size(), 1u);
    auto stored = market::ticket_from_json(json::parse((*pending)[0].json)["ticket"]);
    ASSERT_TRUE(stored) << stored.error().to_string();
    EXPECT_EQ(eth::ticket_digest(stored->ticket, domain), eth::ticket_digest(t2.ticket, domain));
    std::cout << "pending ticket after the outage: " << (*pending)[0].attempts << " failed redemption attempt(s)\n";
    EXPECT_EQ(*(*st)->credit(sender.address()), credit_during);
  }

  // The chain comes back (same port, same state); the restarted node redeems the ticket.
  eth::AnvilOptions ao;
  ao.port = port;
  auto back = eth::Anvil::start(ao);
  ASSERT_TRUE(back) << back.error().to_string();
  anvil_ = std::move(*back);
  ASSERT_EQ(anvil_->rpc_url(), rpc_url);
  auto loaded = rpc_->call("anvil_loadState", json::array({state_blob}));
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_FALSE(used(t2));
  auto n = Node::start(*configs_.back());
  ASSERT_TRUE(n) << n.error().to_string();
  nodes_.push_back(std::move(*n));
  ASSERT_TRUE(wait_for([&] { return used(t2) && metric(nodes_.back()->provider_url(), "dgrid_provider_tickets_redeemed_total") == 1; }))
      << "the ticket won during the outage was never redeemed";
  EXPECT_EQ(balance(kProvider), provider_before + t1.ticket.face_value + t2.ticket.face_value);
  // The credit survived the stop and the restart.
  net::ClientRequest rq;
  rq.url = nodes_.back()->provider_url() + "/dgrid/v1/credit?sender=" + sender.address().checksummed();
  auto c = http_.request(rq);
  ASSERT_TRUE(c && c->status == 200);
  EXPECT_EQ(u256(json::parse(c->body)["credit"].get<std::string>()), credit_during);
}

// A winning ticket the provider holds as pending turns out to be redeemed on chain already
// (its own earlier transaction went through but the confirmation was lost: the RPC died
// after sending, or the process was killed before recording it; simulated here by
// submitting the ticket from another account, which the TicketBroker allows). The provider
// records it as redeemed instead of resending it, which reverts with TicketAlreadyUsed,
// on every pass until the ticket expires.
TEST_F(MarketE2ETest, AWinningTicketRedeemedByAnUnconfirmedAttemptIsRecordedNotRetriedForever) {
  constexpr size_t kProvider = 1, kSender = 2, kSubmitter = 4;
  const crypto::PrivateKey sender = anvil_->dev_keys()[kSender];
  ASSERT_TRUE(broker().fund(wallet(kSender), token(), dusd(100), dusd(10)));
  // Every ticket wins; no redemption pass before the node is stopped.
  Node* node = start_provider(kProvider, "face_value = \"1\"\nwin_prob = \"1\"\njuror = false\nredeem_interval_ms = 600000\n");
  ASSERT_NE(node, nullptr);
  const Hash32 domain = eth::dgrid_domain_separator(anvil_->chain_id(), deployment_.broker);
  net::ClientRequest info_rq;
  info_rq.url = node->provider_url() + "/dgrid/v1/info";
  auto info = http_.request(info_rq);
  ASSERT_TRUE(info && info->status == 200);
  auto params = market::ticket_params_from_json(json::parse(info->body)["ticket_params"]);
  ASSERT_TRUE(params) << params.error().to_string();
  u256 nonce = 1;
  auto t = market::TicketIssuer(sender, domain).issue(*params, u256(1), nonce);
  ASSERT_TRUE(t && t->size() == 1u);
  net::ClientRequest rq;
  rq.method = "POST";
  rq.url = node->provider_url() + "/dgrid/v1/credit";
  rq.body = json{{"tickets", {market::ticket_to_json((*t)[0])}}}.dump();
  auto posted = http_.request(rq);
  ASSERT_TRUE(posted && posted->status == 200) << (posted ? posted->body : posted.error().to_string());
  nodes_.clear();

  // The ticket is submitted on chain with the recipient rand the provider stored.
  eth::SignedTicket stored;
  {
    auto st = NodeState::open(configs_.back()->data_dir);
    ASSERT_TRUE(st) << st.error().to_string();
    auto pending = (*st)->pending_tickets(8);
    ASSERT_TRUE(pending && pending->size() == 1u);
    auto j = json::parse((*pending)[0].json);
    auto parsed = market::ticket_from_json(j["ticket"]);
    ASSERT_TRUE(parsed) << parsed.error().to_string();
    stored = *parsed;
    stored.recipient_rand = u256(j["recipient_rand"].get<std::string>());
  }
  const u256 before = balance(kProvider);
  auto redeemed = broker().redeem(wallet(kSubmitter), stored);
  ASSERT_TRUE(redeemed) << redeemed.error().to_string();
  EXPECT_EQ(balance(kProvider), before + stored.ticket.face_value);

  // The restarted provider's passes find it used on chain and record it as redeemed.
  NodeConfig cfg = *configs_.back();
  ASSERT_TRUE(cfg.apply_override("provider.redeem_interval_ms", "200"));
  auto n = Node::start(cfg);
  ASSERT_TRUE(n) << n.error().to_string();
  nodes_.push_back(std::move(*n));
  ASSERT_TRUE(wait_for([&] { return metric(nodes_.back()->provider_url(), "dgrid_provider_tickets_redeemed_total") == 1; }))
      << "the provider never recorded the ticket as redeemed";
  nodes_.clear();
  auto st = NodeState::open(cfg.data_dir);
  ASSERT_TRUE(st) << st.error().to_string();
  auto counts = (*st)->ticket_counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->redeemed, 1u);
  EXPECT_EQ(counts->pending, 0u);
  EXPECT_EQ(counts->failed, 0u);
  EXPECT_EQ(balance(kProvider), before + stored.ticket.face_value) << "paid once";
}

}  // namespace
}  // namespace dgrid::node
