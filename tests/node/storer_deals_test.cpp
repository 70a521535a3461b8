// The storer's deal keeper on a real anvil with explicitly mined blocks, each storer a real
// Storer (blockstore in a TempDir, trustless-gateway HTTP on loopback, registered in the
// ProviderRegistry with its URL so peers discover it) whose DealKeeper the test polls:
// claims after an upload or a fetch from another storer, proofs every epoch paid as
// docs/economics.md §4 says, a storer that lost its data reported, slashed and repaired by a
// third, a corrupt block re-fetched within the epoch, a lying segment root never claimed,
// and a keeper recreated over the same state that keeps proving.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>

#include "node/chain.hpp"
#include "node/metrics.hpp"
#include "node/state.hpp"
#include "node/store_client.hpp"
#include "node/storer.hpp"
#include "node/storer_deals.hpp"
#include "store/segments.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;

constexpr u256 kPpb = 1'000'000'000;

// A running storer: state, chain connection, Storer with its HTTP listener. Its keeper is
// driven by the test (Storer::start is never called).
struct StorerNode {
  test::TempDir dir{"dgrid-storer"};
  std::unique_ptr<Registry> metrics;
  std::unique_ptr<NodeState> state;
  std::unique_ptr<ChainContext> chain;
  std::unique_ptr<Storer> storer;
  net::Router router;
  std::unique_ptr<net::HttpServer> server;
  std::string url;

  DealKeeper& keeper() { return storer->deals(); }
  store::Blockstore& bs() { return storer->blockstore(); }
  fs::path store_dir() const { return dir.path() / "store"; }
  Address address() const { return chain->address(); }
  double metric(const std::string& name) {
    return keeper().status_json()["metrics"][name].get<double>();
  }
};

Bytes random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

}  // namespace

class StorerDealsTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kClient = 1;

  void SetUp() override {
    test::DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    epoch_ = *contracts_->storage.epoch_length();
    ppb_ = *contracts_->storage.payout_rate_ppb();
  }

  const eth::StorageMarketClient& market() { return contracts_->storage; }

  // Opens the state, connects and starts the HTTP side; registers and stakes the first time.
  void open_node(StorerNode& n, size_t wallet_index, bool register_on_chain = true,
                 const std::function<void(NodeConfig&)>& configure = {}) {
    NodeConfig cfg;
    cfg.data_dir = n.dir.path();
    cfg.storer.enabled = true;
    cfg.chain.poll_interval = std::chrono::milliseconds(0);
    if (configure) configure(cfg);
    n.metrics = std::make_unique<Registry>();
    auto st = NodeState::open(n.dir.path());
    ASSERT_TRUE(st) << st.error().to_string();
    n.state = std::move(*st);
    auto c = ChainContext::connect(anvil_->rpc_url(), deployment_, anvil_->dev_keys().at(wallet_index));
    ASSERT_TRUE(c) << c.error().to_string();
    n.chain = std::move(*c);
    auto s = Storer::create(*n.chain, *n.state, *n.metrics, cfg);
    ASSERT_TRUE(s) << s.error().to_string();
    n.storer = std::move(*s);
    n.router = net::Router();
    n.storer->add_routes(n.router);
    net::ServerOptions so;
    so.max_body_bytes = cfg.storer.max_upload_batch;
    auto server = net::HttpServer::start(so, n.router.handler());
    ASSERT_TRUE(server) << server.error().to_string();
    n.server = std::move(*server);
    n.url = "http://127.0.0.1:" + std::to_string(n.server->port());
    if (!register_on_chain) return;
    const nlohmann::json meta = {{"storage", n.url}};
    auto r = registry().register_provider(wallet(wallet_index), n.url, meta.dump());
    ASSERT_TRUE(r) << r.error().to_string();
    auto k = registry().stake(wallet(wallet_index), token(), *registry().min_stake());
    ASSERT_TRUE(k) << k.error().to_string();
  }

  // Closes everything but the data directory (a process that stopped).
  static void close_node(StorerNode& n) {
    if (n.server) n.server->stop();
    n.server.reset();
    n.storer.reset();
    n.chain.reset();
    n.state.reset();
    n.metrics.reset();
  }

  struct Content {
    fs::path file;
    store::ContentSummary summary;
  };
  Content make_content(const test::TempDir& where, const std::string& name, size_t size, uint64_t seed) {
    Content c;
    Bytes b = random_bytes(size, seed);
    c.file = where.path() / name;
    std::ofstream(c.file, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    auto s = store::summarize_file(c.file);
    EXPECT_TRUE(s) << s.error().to_string();
    if (s) c.summary = std::move(*s);
    return c;
  }

  uint64_t open_deal(const Content& c, uint32_t replicas, const u256& endowment, std::optional<Hash32> root = {}) {
    auto d = market().open_deal(wallet(kClient), token(), c.summary.cid.bytes(), root.value_or(c.summary.segment_root),
                                c.summary.size, replicas, endowment);
    EXPECT_TRUE(d) << d.error().to_string();
    return d ? d->deal_id : 0;
  }

  void upload(const Content& c, StorerNode& to) {
    auto r = upload_file(c.file, c.summary.cid, to.url, anvil_->dev_keys().at(kClient));
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_TRUE(to.bs().pinned(c.summary.cid));
  }

  static void poll(StorerNode& n) {
    auto r = n.keeper().poll_once();
    ASSERT_TRUE(r) << r.error().to_string();
  }

  void mine_to(uint64_t target) {
    uint64_t now = block();
    ASSERT_LE(now, target) << "already past block " << target;
    if (target > now) mine(target - now);
  }
  // Mines to the second block of `epoch`: its start block's hash (the challenge seed) exists.
  void enter_epoch(uint64_t epoch) { mine_to(epoch * epoch_ + 1); }
  // The start of the next epoch, so that the claims that follow share one epoch (and so
  // their first due epoch).
  void next_epoch() { enter_epoch(block() / epoch_ + 1); }

  eth::StorageSlot slot(uint64_t deal, uint32_t i) {
    auto s = market().get_slot(deal, i);
    EXPECT_TRUE(s) << s.error().to_string();
    return s ? *s : eth::StorageSlot{};
  }

  template <class T>
  std::vector<T> events_since(uint64_t from) {
    auto logs = rpc_->logs({{deployment_.storage}, {}, from, block()});
    EXPECT_TRUE(logs) << logs.error().to_string();
    std::vector<T> out;
    if (!logs) return out;
    auto evs = market().decode(*logs);
    EXPECT_TRUE(evs) << evs.error().to_string();
    if (!evs) return out;
    for (const auto& e : *evs)
      if (const auto* t = std::get_if<T>(&e.data)) out.push_back(*t);
    return out;
  }

  uint64_t epoch_ = 0;
  u256 ppb_ = 0;
};

TEST_F(StorerDealsTest, TwoStorersClaimAndProveEveryEpoch) {
  StorerNode a, b;
  open_node(a, 2);
  open_node(b, 3);
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", (5u << 19) + 1234, 1);  // 2.5 MiB: three leaves and a root
  const uint64_t deal = open_deal(c, 2, dusd(1000));
  ASSERT_EQ(deal, 1u);

  // A has the upload and claims at once; B fetches it from A's HTTP API, checks the root, claims.
  upload(c, a);
  EXPECT_FALSE(b.bs().pinned(c.summary.cid));
  next_epoch();
  poll(a);
  poll(b);
  ASSERT_TRUE(b.bs().pinned(c.summary.cid)) << "B fetched the content from A";
  const auto s0 = slot(deal, 0), s1 = slot(deal, 1);
  EXPECT_EQ(s0.storer, a.address());
  EXPECT_EQ(s1.storer, b.address());
  EXPECT_EQ(a.metric("claims"), 1);
  EXPECT_EQ(b.metric("claims"), 1);
  EXPECT_TRUE(fs::exists(a.store_dir() / "index" / (c.summary.cid.to_string() + ".dgsi")));
  EXPECT_TRUE(fs::exists(b.store_dir() / "index" / (c.summary.cid.to_string() + ".dgsi")));
  // Polling again claims nothing more (one slot per storer and deal).
  poll(a);
  poll(b);
  EXPECT_EQ(a.metric("claims"), 1);
  EXPECT_EQ(b.metric("claims"), 1);

  // Three epochs of proofs; each pays pool * payoutRatePpb / 1e9 of that slot's pool.
  const uint64_t start = s0.next_epoch;
  ASSERT_EQ(s1.next_epoch, start);
  const uint64_t from = block();
  const u256 a0 = balance(2), b0 = balance(3);
  u256 pool_a = s0.pool, pool_b = s1.pool, paid_a = 0, paid_b = 0;
  for (uint64_t e = start; e < start + 3; ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e));
    enter_epoch(e);
    poll(a);
    poll(b);
    poll(a);  // nothing is sent twice in one epoch
    poll(b);
    EXPECT_EQ(slot(deal, 0).next_epoch, e + 1);
    EXPECT_EQ(slot(deal, 1).next_epoch, e + 1);
    const u256 pa = pool_a * ppb_ / kPpb, pb = pool_b * ppb_ / kPpb;
    pool_a -= pa, pool_b -= pb, paid_a += pa, paid_b += pb;
  }
  const auto proven = events_since<eth::StorageProvenEvent>(from);
  ASSERT_EQ(proven.size(), 6u);
  for (const auto& p : proven) EXPECT_TRUE(p.storer == a.address() || p.storer == b.address());
  EXPECT_EQ(balance(2), a0 + paid_a);
  EXPECT_EQ(balance(3), b0 + paid_b);
  EXPECT_EQ(slot(deal, 0).pool, pool_a);
  EXPECT_EQ(a.metric("proofs_sent"), 3);
  EXPECT_EQ(b.metric("proofs_sent"), 3);
  EXPECT_EQ(a.metric("proofs_failed"), 0);

  // Each proof is recorded (epoch, index, payment, transaction) and shows in the status.
  auto recorded = a.state->storage_proofs(deal, 0, 10);
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 3u);
  EXPECT_EQ((*recorded)[0].epoch, start + 2);
  for (const auto& r : *recorded) {
    bool on_chain = false;
    for (const auto& p : proven)
      on_chain = on_chain || (p.storer == a.address() && p.epoch == r.epoch && p.segment_index == r.segment_index &&
                              p.payment == r.payment);
    EXPECT_TRUE(on_chain) << "epoch " << r.epoch;
  }
  const auto status = a.keeper().status_json();
  ASSERT_EQ(status["slots"].size(), 1u) << status.dump();
  EXPECT_EQ(status["slots"][0]["deal"], deal);
  EXPECT_EQ(status["slots"][0]["paid"], to_dec(paid_a));
  EXPECT_EQ(status["slots"][0]["last_proofs"].size(), 3u);
  EXPECT_EQ(status["metrics"]["slots_held"], 1);
  EXPECT_EQ(status["metrics"]["bytes_held"], c.summary.size);
}

TEST_F(StorerDealsTest, LostDataIsReportedSlashedAndRepairedByAThirdStorer) {
  StorerNode a, b, c3;
  open_node(a, 2);
  open_node(b, 3);
  open_node(c3, 4);
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", (3u << 20) - 77, 2);
  const uint64_t deal = open_deal(c, 2, dusd(2000));
  upload(c, a);
  next_epoch();
  poll(a);
  poll(b);
  poll(c3);  // no open slot left for C
  ASSERT_EQ(slot(deal, 0).storer, a.address());
  ASSERT_EQ(slot(deal, 1).storer, b.address());
  EXPECT_EQ(c3.metric("claims"), 0);
  const uint64_t start = slot(deal, 0).next_epoch;
  enter_epoch(start);
  poll(a);
  poll(b);
  poll(c3);
  ASSERT_EQ(slot(deal, 1).next_epoch, start + 1);

  // B loses its data and stops: its listener is gone and its blockstore deleted.
  const auto b_slot = slot(deal, 1);
  const Address b_addr = b.address();
  close_node(b);
  fs::remove_all(b.store_dir());

  // Epoch start+1 passes without B's proof; in start+2 the watchers report it. A reports
  // first (its pass proves, then watches); C's report loses the race harmlessly.
  enter_epoch(start + 1);
  poll(a);
  poll(c3);
  EXPECT_EQ(slot(deal, 1).storer, b_addr) << "not missed yet: the epoch is still on";
  enter_epoch(start + 2);
  const uint64_t from = block();
  const u256 a_before = balance(2);
  poll(a);
  const auto missed = events_since<eth::StorageProofMissedEvent>(from);
  ASSERT_EQ(missed.size(), 1u);
  EXPECT_EQ(missed[0].storer, b_addr);
  EXPECT_EQ(missed[0].epoch, start + 1);
  EXPECT_EQ(missed[0].reporter, a.address());
  EXPECT_EQ(missed[0].collateral_slashed, b_slot.collateral);
  EXPECT_EQ(missed[0].reporter_reward, b_slot.collateral * params_.reporter_reward_bps / 10'000);
  const auto a_proofs = events_since<eth::StorageProvenEvent>(from);
  ASSERT_EQ(a_proofs.size(), 1u);
  EXPECT_EQ(balance(2), a_before + a_proofs[0].payment + missed[0].reporter_reward);
  EXPECT_EQ(a.metric("reports"), 1);
  const auto reopened = events_since<eth::SlotReopenedEvent>(from);
  ASSERT_EQ(reopened.size(), 1u);
  EXPECT_EQ(reopened[0].slot, 1u);

  // C repairs: it fetches from the remaining replica (B's URL is still listed but dead),
  // checks the root, claims the reopened slot and proves from its first due epoch on.
  poll(c3);
  EXPECT_EQ(c3.metric("reports"), 0);
  ASSERT_TRUE(c3.bs().pinned(c.summary.cid));
  const auto repaired = slot(deal, 1);
  ASSERT_EQ(repaired.storer, c3.address());
  EXPECT_EQ(c3.metric("repairs"), 1);
  const uint64_t from2 = block();
  for (uint64_t e = start + 3; e < repaired.next_epoch + 2; ++e) {
    enter_epoch(e);
    poll(a);
    poll(c3);
  }
  const auto after = events_since<eth::StorageProvenEvent>(from2);
  size_t by_c = 0;
  for (const auto& p : after) by_c += p.storer == c3.address();
  EXPECT_EQ(by_c, 2u);
  EXPECT_EQ(slot(deal, 1).next_epoch, repaired.next_epoch + 2);
  EXPECT_EQ(slot(deal, 0).storer, a.address()) << "A proved every epoch meanwhile";
  EXPECT_EQ(events_since<eth::StorageProofMissedEvent>(from).size(), 1u) << "only B was ever slashed";
}

TEST_F(StorerDealsTest, CorruptBlockIsFetchedAgainAndTheProofLandsInTheSameEpoch) {
  StorerNode a, b;
  open_node(a, 2);
  open_node(b, 3);
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", (2u << 20) + 5000, 3);
  const uint64_t deal = open_deal(c, 2, dusd(1000));
  upload(c, a);
  next_epoch();
  poll(a);
  poll(b);
  ASSERT_EQ(slot(deal, 1).storer, b.address());
  ASSERT_EQ(slot(deal, 0).next_epoch, slot(deal, 1).next_epoch);
  const uint64_t start = slot(deal, 1).next_epoch;

  // Flip a byte in every block file B holds: whatever segment is challenged, its block is bad.
  size_t corrupted = 0;
  for (const auto& e : fs::recursive_directory_iterator(b.store_dir() / "blocks")) {
    if (!e.is_regular_file()) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    char ch = 0;
    f.seekg(0);
    f.get(ch);
    f.seekp(0);
    f.put(static_cast<char>(ch ^ 0x5a));
    ++corrupted;
  }
  ASSERT_GE(corrupted, 4u);

  enter_epoch(start);
  const uint64_t from = block();
  poll(b);
  poll(a);
  const auto proven = events_since<eth::StorageProvenEvent>(from);
  ASSERT_EQ(proven.size(), 2u);
  EXPECT_EQ(proven[0].storer, b.address());
  EXPECT_EQ(proven[0].epoch, start) << "the proof landed in the challenged epoch";
  EXPECT_EQ(b.metric("proof_refetches"), 1);
  EXPECT_EQ(b.metric("proofs_failed"), 0);
  EXPECT_TRUE(b.bs().pinned(c.summary.cid)) << "pinned again after the re-fetch";
  EXPECT_FALSE(fs::is_empty(b.store_dir() / "corrupt")) << "the bad block was quarantined";
  // The healed copy serves the next epoch without another fetch.
  enter_epoch(start + 1);
  poll(b);
  poll(a);
  EXPECT_EQ(slot(deal, 1).next_epoch, start + 2);
  EXPECT_EQ(slot(deal, 0).next_epoch, start + 2);
  EXPECT_EQ(b.metric("proof_refetches"), 1);
}

TEST_F(StorerDealsTest, DealWhoseSegmentRootDoesNotMatchIsNeverClaimed) {
  StorerNode a, b;
  open_node(a, 2);
  open_node(b, 3);
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", (1u << 20) + 3000, 4);
  const Content other = make_content(files, "other.bin", c.summary.size, 5);
  ASSERT_NE(c.summary.segment_root, other.summary.segment_root);

  // A honest one-replica deal puts the content on A (which A claims); then a deal for the
  // same CID declaring another file's root (same size).
  const uint64_t honest = open_deal(c, 1, dusd(100));
  upload(c, a);
  poll(a);
  ASSERT_EQ(slot(honest, 0).storer, a.address());
  const uint64_t lying = open_deal(c, 2, dusd(1000), other.summary.segment_root);

  // A has the bytes, B fetches them from A: both find the root wrong and never claim, while
  // A keeps proving its honest deal.
  const uint64_t start = slot(honest, 0).next_epoch;
  for (uint64_t e = start; e < start + 3; ++e) {
    enter_epoch(e);
    poll(a);
    poll(b);
  }
  EXPECT_TRUE(slot(lying, 0).open());
  EXPECT_TRUE(slot(lying, 1).open());
  EXPECT_FALSE(*market().is_storing(lying, a.address()));
  EXPECT_FALSE(*market().is_storing(lying, b.address()));
  for (StorerNode* n : {&a, &b}) {
    auto d = n->state->storage_deal(lying);
    ASSERT_TRUE(d && *d);
    ASSERT_TRUE((*d)->rejected.has_value());
    EXPECT_NE((*d)->rejected->find("does not match the deal"), std::string::npos) << *(*d)->rejected;
    EXPECT_EQ(n->metric("deals_rejected"), 1) << "checked once, then never again";
    EXPECT_EQ(n->metric("claims"), n == &a ? 1 : 0);
  }
  EXPECT_TRUE(a.bs().pinned(c.summary.cid)) << "A keeps the content of its honest deal";
  EXPECT_FALSE(b.bs().pinned(c.summary.cid)) << "B drops what it fetched for nothing";
  EXPECT_EQ(slot(honest, 0).storer, a.address());
  EXPECT_EQ(slot(honest, 0).next_epoch, start + 3);
}

TEST_F(StorerDealsTest, KeeperRecreatedOverTheSameStateKeepsProving) {
  StorerNode a;
  open_node(a, 2);
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", 700'000, 6);  // one raw leaf
  const uint64_t deal = open_deal(c, 1, dusd(500));
  upload(c, a);
  poll(a);
  const uint64_t start = slot(deal, 0).next_epoch;
  ASSERT_GT(start, 0u);
  enter_epoch(start);
  poll(a);
  ASSERT_EQ(slot(deal, 0).next_epoch, start + 1);

  // Restart: everything closed, the segment index file lost too; the same data directory.
  close_node(a);
  fs::remove_all(a.store_dir() / "index");
  open_node(a, 2, /*register_on_chain=*/false);
  if (HasFatalFailure()) return;
  for (uint64_t e = start + 1; e < start + 3; ++e) {
    enter_epoch(e);
    poll(a);
    EXPECT_EQ(slot(deal, 0).next_epoch, e + 1);
  }
  auto recorded = a.state->storage_proofs(deal, 0, 10);
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 3u) << "proofs from before and after the restart";
  EXPECT_EQ((*recorded)[2].epoch, start);
  EXPECT_EQ((*recorded)[0].epoch, start + 2);
  EXPECT_EQ(a.metric("claims"), 0) << "no second claim after the restart";
}

TEST_F(StorerDealsTest, PolicyLeavesDealsThatAreTooLargeTooCheapOrDoNotFit) {
  StorerNode up, small, picky, full;
  open_node(up, 2);
  open_node(small, 3, true, [](NodeConfig& c) { c.storer.max_object_bytes = 1u << 20; });
  // 300 dUSD over 3 replicas of 2 MiB offers 51,200 dUSD per replica per GiB.
  open_node(picky, 4, true, [](NodeConfig& c) { c.storer.min_endowment_per_gib = dusd(60'000); });
  open_node(full, 5, true, [](NodeConfig& c) { c.storer.capacity_bytes = 1u << 20; });
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", 2u << 20, 7);
  const uint64_t deal = open_deal(c, 3, dusd(300));
  upload(c, up);
  next_epoch();
  for (StorerNode* n : {&up, &small, &picky, &full}) poll(*n);
  EXPECT_EQ(slot(deal, 0).storer, up.address());
  EXPECT_TRUE(slot(deal, 1).open());
  EXPECT_TRUE(slot(deal, 2).open());
  for (StorerNode* n : {&small, &picky, &full}) {
    EXPECT_EQ(n->metric("claims"), 0);
    EXPECT_FALSE(n->bs().pinned(c.summary.cid)) << "nothing fetched for a deal it does not want";
    auto d = n->state->storage_deal(deal);
    ASSERT_TRUE(d && *d);
    EXPECT_FALSE((*d)->rejected) << "a policy refusal is not permanent (the options may change)";
  }
}

TEST_F(StorerDealsTest, BackgroundLoopsClaimOnUploadAndProveEachEpoch) {
  StorerNode a;
  open_node(a, 2, true, [](NodeConfig& c) { c.chain.poll_interval = std::chrono::milliseconds(50); });
  if (HasFatalFailure()) return;
  test::TempDir files;
  const Content c = make_content(files, "data.bin", 1500, 8);
  const uint64_t deal = open_deal(c, 1, dusd(100));
  ASSERT_TRUE(a.storer->start(a.url));
  // The upload's pin wakes the claim loop; the keeper's own transactions mine blocks here.
  upload(c, a);
  ASSERT_TRUE(test::wait_for([&] { return slot(deal, 0).storer == a.address(); })) << "claimed";
  const uint64_t start = slot(deal, 0).next_epoch;
  for (uint64_t e = start; e < start + 2; ++e) {
    if (block() < e * epoch_ + 1) mine_to(e * epoch_ + 1);
    ASSERT_TRUE(test::wait_for([&] { return slot(deal, 0).next_epoch == e + 1; })) << "epoch " << e;
  }
  a.storer->stop();
  EXPECT_EQ(a.metric("proofs_sent"), 2);
  EXPECT_EQ(a.metric("slots_held"), 1);
}

}  // namespace dgrid::node
