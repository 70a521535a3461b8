// The storer service end to end: real storer nodes (Node::start with [storer]) on loopback
// HTTP over a real anvil chain with dgrid's contracts; a client wallet opens StorageMarket
// deals directly, uploads real multi-chunk files with upload_file, and reads them back
// through the trustless-gateway API (Range, HEAD, raw blocks, CAR). Also: who may upload,
// what a pin checks, blocks on disk corrupted under a serving storer, and fetch_dag against
// dead and lying sources.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <random>
#include <sstream>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "node/auth.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "node/store_client.hpp"
#include "store/car.hpp"
#include "store/segments.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::wait_for;

constexpr uint64_t kMiB = 1 << 20;
// Four 1 MiB chunks, the last one partial: a real two-level DAG.
constexpr uint64_t kFileSize = 3 * kMiB + 123'457;

std::string random_bytes(uint64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string_view view(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

class StorerTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kStorer = 1, kClient = 2, kStranger = 3, kStorer2 = 4;

  void SetUp() override {
    DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::ofstream(dir_.path() / "deployment.json") << deployment_.to_json().dump();
    file_ = dir_.path() / "content.bin";
    content_ = random_bytes(kFileSize, 7);
    std::ofstream(file_, std::ios::binary) << content_;
    auto s = store::summarize_file(file_);
    ASSERT_TRUE(s) << s.error().to_string();
    summary_ = *s;
  }
  void TearDown() override { nodes_.clear(); }

  const crypto::PrivateKey& key(size_t i) { return anvil_->dev_keys().at(i); }

  std::string config_text(size_t key_index, const std::string& data_dir, const std::string& extra = "") {
    return "data_dir = \"" + data_dir + "\"\n[chain]\nrpc = \"" + anvil_->rpc_url() +
           "\"\ndeployment = \"deployment.json\"\npoll_interval_ms = 200\n[key]\nprivate_key = \"" +
           to_hex(key(key_index).secret()) + "\"\n[storer]\nlisten = \"127.0.0.1:0\"\nclaim = false\nwatch = false\n" +
           "repair = false\n" + extra;
  }

  Node& start_node(size_t key_index, const std::string& name, const std::string& extra = "") {
    fs::path cfg_file = dir_.path() / (name + ".toml");
    std::ofstream(cfg_file) << config_text(key_index, name, extra);
    auto cfg = NodeConfig::load(cfg_file);
    EXPECT_TRUE(cfg) << cfg.error().to_string();
    auto v = cfg->validate();
    EXPECT_TRUE(v) << v.error().to_string();
    auto n = Node::start(*cfg);
    EXPECT_TRUE(n) << n.error().to_string();
    nodes_.push_back(std::move(*n));
    return *nodes_.back();
  }

  // The client opens a deal for `summary` (its declared segment root and size, which a
  // lying client may change).
  uint64_t open_deal(const Hash32& segment_root, uint64_t size, uint32_t replicas = 1) {
    auto d = contracts_->storage.open_deal(wallet(kClient), token(), summary_.cid.bytes(), segment_root, size, replicas,
                                           dusd(10));
    EXPECT_TRUE(d) << d.error().to_string();
    return d ? d->deal_id : 0;
  }

  Result<net::ClientResponse> get(const std::string& url, net::Headers headers = {}, std::string method = "GET") {
    net::ClientRequest rq;
    rq.method = std::move(method);
    rq.url = url;
    rq.headers = std::move(headers);
    return http_.request(rq);
  }

  Result<net::ClientResponse> post(const std::string& base, const std::string& target, const std::string& body,
                                   const crypto::PrivateKey* signer) {
    net::ClientRequest rq;
    rq.method = "POST";
    rq.url = base + target;
    rq.body = body;
    rq.content_type = "application/vnd.ipld.car";
    if (signer) rq.headers.push_back({"X-Dgrid-Auth", sign_request(*signer, "POST", target, body)});
    return http_.request(rq);
  }

  double metric(const std::string& base_url, std::string_view name) {
    auto r = get(base_url + "/metrics");
    if (!r || r->status != 200) return -1;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);)
      if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 && line[name.size()] == ' ')
        return std::stod(line.substr(name.size() + 1));
    return -1;
  }

  // Every block of the file, in the importer's order, and the whole DAG as one CAR.
  std::vector<std::pair<store::Cid, Bytes>> blocks() {
    std::vector<std::pair<store::Cid, Bytes>> out;
    store::FileImporter imp([&](const store::Cid& c, ByteView b) -> Result<void> {
      out.emplace_back(c, Bytes(b.begin(), b.end()));
      return {};
    });
    EXPECT_TRUE(imp.update(as_bytes(content_)));
    auto r = imp.finish();
    EXPECT_TRUE(r);
    EXPECT_EQ(r->root, summary_.cid);
    return out;
  }

  std::string car_of(const std::vector<std::pair<store::Cid, Bytes>>& bs) {
    std::string car(view(store::encode_car_header({summary_.cid})));
    for (const auto& [c, b] : bs) car += view(store::encode_car_section(c, b));
    return car;
  }

  std::string status_message(const net::ClientResponse& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("message", "") + " [" + j["error"].value("code", "") + "]" : r.body;
  }

  TempDir dir_{"dgrid-storer-test"};
  fs::path file_;
  std::string content_;
  store::ContentSummary summary_;
  std::vector<std::unique_ptr<Node>> nodes_;
  net::HttpClient http_;
};

TEST_F(StorerTest, StorerOnlyNodeRegistersStakesAndAdvertisesItsStorageUrl) {
  Node& n = start_node(kStorer, "s1");
  ASSERT_FALSE(n.storer_url().empty());
  EXPECT_TRUE(n.provider_url().empty());
  auto p = registry().provider(wallet(kStorer).address());
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_TRUE(p->registered);
  EXPECT_TRUE(p->active) << "a storer must be an active provider to claim slots";
  EXPECT_EQ(p->stake, dusd(100));
  EXPECT_EQ(p->uri, n.storer_url());
  auto meta = nlohmann::json::parse(p->metadata);
  EXPECT_EQ(meta["storage"], n.storer_url());
  EXPECT_TRUE(meta["models"].empty());

  auto found = discover_storers(*rpc_, deployment_);
  ASSERT_TRUE(found) << found.error().to_string();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].address, wallet(kStorer).address());
  EXPECT_EQ((*found)[0].url, n.storer_url());

  auto ep = nlohmann::json::parse(read_all(dir_.path() / "s1" / "endpoints.json"));
  EXPECT_EQ(ep["storer_url"], n.storer_url());
  auto info = get(n.storer_url() + "/dgrid/v1/store/info");
  ASSERT_TRUE(info);
  ASSERT_EQ(info->status, 200);
  auto j = nlohmann::json::parse(info->body);
  EXPECT_EQ(j["address"], wallet(kStorer).address().checksummed());
  EXPECT_EQ(j["objects"], 0);
  auto deals = get(n.storer_url() + "/dgrid/v1/store/deals");
  ASSERT_TRUE(deals);
  EXPECT_EQ(deals->status, 200) << deals->body;
}

TEST_F(StorerTest, AProviderWithAStorerRegistersOnceWithBothUrls) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  Node& n = start_node(kStorer, "both",
                       "[provider]\nlisten = \"127.0.0.1:0\"\nstake = \"150\"\njuror = false\n[[provider.models]]\n"
                       "name = \"stories\"\npath = \"" + model.string() + "\"\n");
  ASSERT_FALSE(n.provider_url().empty());
  ASSERT_FALSE(n.storer_url().empty());
  auto p = registry().provider(wallet(kStorer).address());
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->uri, n.provider_url());
  EXPECT_EQ(p->stake, dusd(150));
  EXPECT_EQ(p->models.size(), 1u);
  auto meta = nlohmann::json::parse(p->metadata);
  EXPECT_EQ(meta["storage"], n.storer_url());
  EXPECT_EQ(meta["models"], nlohmann::json::array({"stories"}));
  // One registration, never rewritten.
  auto events = registry().contract().query_events("", deployment_.block, block());
  ASSERT_TRUE(events) << events.error().to_string();
  size_t registered = 0, updated = 0;
  for (const auto& e : *events) {
    registered += e.name == "ProviderRegistered";
    updated += e.name == "ProviderUpdated";
  }
  EXPECT_EQ(registered, 1u);
  EXPECT_EQ(updated, 0u);
  auto found = discover_storers(*rpc_, deployment_);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].url, n.storer_url());
}

TEST_F(StorerTest, DiscoveryIgnoresProvidersWithoutStorageAndInactiveOnes) {
  start_node(kStorer, "s1");
  // Registered but not staked (inactive), and registered + staked without a storer.
  ASSERT_TRUE(registry().register_provider(wallet(kStranger), "http://127.0.0.1:1", R"({"storage":"http://127.0.0.1:2"})"));
  ASSERT_TRUE(registry().register_provider(wallet(kStorer2), "http://127.0.0.1:3", R"({"models":["m"]})"));
  ASSERT_TRUE(registry().stake(wallet(kStorer2), token(), dusd(100)));
  auto found = discover_storers(*rpc_, deployment_);
  ASSERT_TRUE(found) << found.error().to_string();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].address, wallet(kStorer).address());
}

TEST_F(StorerTest, UploadThenServeTheFileWithRangesHeadRawBlocksAndCar) {
  Node& n = start_node(kStorer, "s1");
  const std::string base = n.storer_url();
  const std::string path = base + "/ipfs/" + summary_.cid.to_string();
  open_deal(summary_.segment_root, summary_.size);

  std::vector<std::pair<uint64_t, uint64_t>> seen;
  auto up = upload_file(file_, summary_.cid, base, key(kClient), [&](uint64_t d, uint64_t t) { seen.emplace_back(d, t); });
  ASSERT_TRUE(up) << up.error().to_string();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), std::make_pair(kFileSize, kFileSize));
  EXPECT_TRUE(fs::exists(dir_.path() / "s1" / "store" / "index" / (summary_.cid.to_string() + ".dgsi")));
  EXPECT_EQ(metric(base, "dgrid_storer_pins_total"), 1);
  EXPECT_GE(metric(base, "dgrid_storer_uploaded_bytes_total"), static_cast<double>(kFileSize));

  // The whole file.
  auto full = get(path);
  ASSERT_TRUE(full) << full.error().to_string();
  ASSERT_EQ(full->status, 200) << full->body.substr(0, 300);
  EXPECT_EQ(full->body, content_);
  EXPECT_EQ(full->header("content-length"), std::to_string(kFileSize));
  EXPECT_EQ(full->header("accept-ranges"), "bytes");
  EXPECT_EQ(full->header("etag"), "\"" + summary_.cid.to_string() + "\"");
  EXPECT_EQ(full->header("cache-control"), "public, max-age=29030400, immutable");
  EXPECT_EQ(full->header("x-ipfs-path"), "/ipfs/" + summary_.cid.to_string());
  EXPECT_EQ(full->header("content-type"), "application/octet-stream");

  // Ranges: first byte, middle, suffix, across a chunk boundary, open-ended.
  struct Case {
    std::string range;
    uint64_t first, len;
  };
  for (const Case& c : {Case{"bytes=0-0", 0, 1}, Case{"bytes=1500000-1500099", 1'500'000, 100},
                        Case{"bytes=-1000", kFileSize - 1000, 1000}, Case{"bytes=1048570-1048585", kMiB - 6, 16},
                        Case{"bytes=3000000-", 3'000'000, kFileSize - 3'000'000},
                        Case{"bytes=5-99999999999", 5, kFileSize - 5}}) {
    auto r = get(path, {{"Range", c.range}});
    ASSERT_TRUE(r) << c.range;
    ASSERT_EQ(r->status, 206) << c.range << ": " << r->body.substr(0, 200);
    EXPECT_EQ(r->body, content_.substr(c.first, c.len)) << c.range;
    EXPECT_EQ(r->header("content-range"), "bytes " + std::to_string(c.first) + "-" + std::to_string(c.first + c.len - 1) +
                                              "/" + std::to_string(kFileSize))
        << c.range;
    EXPECT_EQ(r->header("content-length"), std::to_string(c.len));
  }
  for (const std::string& past : {"bytes=" + std::to_string(kFileSize) + "-", std::string("bytes=-0")}) {
    auto r = get(path, {{"Range", past}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 416) << past;
    EXPECT_EQ(r->header("content-range"), "bytes */" + std::to_string(kFileSize));
  }
  // Several ranges are not served as multipart: the whole file comes back (RFC 9110 allows it).
  auto multi = get(path, {{"Range", "bytes=0-1,5-6"}});
  ASSERT_TRUE(multi);
  EXPECT_EQ(multi->status, 200);
  EXPECT_EQ(multi->body.size(), kFileSize);

  // HEAD: the GET head, no body; the connection stays usable.
  auto head = get(path, {}, "HEAD");
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), std::to_string(kFileSize));
  EXPECT_TRUE(head->body.empty());
  auto after = get(path, {{"Range", "bytes=0-3"}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, content_.substr(0, 4));
  auto etag = get(path, {{"If-None-Match", "\"" + summary_.cid.to_string() + "\""}});
  ASSERT_TRUE(etag);
  EXPECT_EQ(etag->status, 304);

  // A raw leaf, by query and by Accept.
  const auto leaf = store::Cid::of(store::Codec::raw, as_bytes(std::string_view(content_).substr(kMiB, kMiB)));
  for (const auto& [suffix, hdrs] : std::vector<std::pair<std::string, net::Headers>>{
           {"?format=raw", {}}, {"", {{"Accept", "application/vnd.ipld.raw"}}}}) {
    auto raw = get(base + "/ipfs/" + leaf.to_string() + suffix, hdrs);
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->status, 200) << raw->body.substr(0, 200);
    EXPECT_EQ(raw->header("content-type"), "application/vnd.ipld.raw");
    EXPECT_EQ(raw->body, content_.substr(kMiB, kMiB));
  }

  // The CAR imports into a fresh blockstore and gives back the same root and bytes.
  auto car = get(path + "?format=car");
  ASSERT_TRUE(car);
  ASSERT_EQ(car->status, 200);
  EXPECT_EQ(car->header("content-type"), "application/vnd.ipld.car; version=1");
  TempDir other("dgrid-storer-car");
  auto bs = store::Blockstore::open(other.path(), {.capacity_bytes = 0, .fsync = false});
  ASSERT_TRUE(bs);
  std::istringstream in(car->body);
  auto imported = store::import_car(**bs, in);
  ASSERT_TRUE(imported) << imported.error().to_string();
  ASSERT_EQ(imported->roots.size(), 1u);
  EXPECT_EQ(imported->roots[0], summary_.cid);
  EXPECT_EQ(imported->pinned, std::vector<store::Cid>{summary_.cid});
  auto reader = store::FileReader::open((*bs)->getter(), summary_.cid);
  ASSERT_TRUE(reader);
  std::string back;
  ASSERT_TRUE(reader->read(0, reader->size(), [&](ByteView b) {
    back.append(view(b));
    return true;
  }));
  EXPECT_EQ(back, content_);

  // Bad and unknown CIDs.
  auto bad = get(base + "/ipfs/bafyNOT-A-CID");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(status_message(*bad).find("malformed CID 'bafyNOT-A-CID'"), std::string::npos) << status_message(*bad);
  const auto unknown = store::Cid::of(store::Codec::raw, as_bytes(std::string_view("not stored anywhere")));
  for (std::string_view suffix : {"", "?format=raw", "?format=car"}) {
    auto r = get(base + "/ipfs/" + unknown.to_string() + std::string(suffix));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << suffix;
  }
  auto fmt = get(path + "?format=tar");
  ASSERT_TRUE(fmt);
  EXPECT_EQ(fmt->status, 400);
  EXPECT_GT(metric(base, "dgrid_storer_served_bytes_total"), static_cast<double>(2 * kFileSize));

  // Uploading again: the storer already holds it pinned, so only the pin call is made.
  double uploaded = metric(base, "dgrid_storer_uploaded_bytes_total");
  ASSERT_TRUE(upload_file(file_, summary_.cid, base, key(kClient)));
  EXPECT_EQ(metric(base, "dgrid_storer_uploaded_bytes_total"), uploaded);
  EXPECT_EQ(metric(base, "dgrid_storer_pins_total"), 2);
}

TEST_F(StorerTest, OnlyTheDealsClientMayUploadAndBlocksWithoutAPinAreNeverServed) {
  Node& n = start_node(kStorer, "s1");
  const std::string base = n.storer_url();
  const std::string target = "/dgrid/v1/store/blocks?root=" + summary_.cid.to_string();
  const auto all = blocks();
  const std::string car = car_of(all);

  auto none = post(base, target, car, nullptr);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401) << none->body;
  net::ClientRequest rq;
  rq.method = "POST";
  rq.url = base + target;
  rq.body = car;
  rq.headers = {{"X-Dgrid-Auth", "12345.abc.0x1234"}};
  auto malformed = http_.request(rq);
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 401) << malformed->body;

  open_deal(summary_.segment_root, summary_.size);
  // Signed over another target (another root): the signature does not cover this request,
  // so it recovers some other account, which has no deal.
  rq.headers = {{"X-Dgrid-Auth", sign_request(key(kClient), "POST", "/dgrid/v1/store/blocks?root=bafkother", car)}};
  auto wrong = http_.request(rq);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403) << wrong->body;
  EXPECT_EQ(wrong->body.find(wallet(kClient).address().checksummed()), std::string::npos) << wrong->body;

  // Wait until the storer has seen the deal (the client retries this itself).
  ASSERT_TRUE(wait_for([&] {
    auto r = post(base, target, car_of({all.front()}), &key(kClient));
    return r && r->status == 200;
  }));
  auto stranger = post(base, target, car, &key(kStranger));
  ASSERT_TRUE(stranger);
  EXPECT_EQ(stranger->status, 403);
  EXPECT_NE(status_message(*stranger).find("open the deal first"), std::string::npos) << status_message(*stranger);
  auto stranger_pin = post(base, "/dgrid/v1/store/pins/" + summary_.cid.to_string(), "", &key(kStranger));
  ASSERT_TRUE(stranger_pin);
  EXPECT_EQ(stranger_pin->status, 403);

  // Every block but the last (the root node): stored, yet no object is visible.
  std::vector<std::pair<store::Cid, Bytes>> most(all.begin(), all.end() - 1);
  auto r = post(base, target, car_of(most), &key(kClient));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["blocks"], most.size());
  auto unpinned = get(base + "/ipfs/" + summary_.cid.to_string());
  ASSERT_TRUE(unpinned);
  EXPECT_EQ(unpinned->status, 404);
  auto unpinned_head = get(base + "/ipfs/" + summary_.cid.to_string(), {}, "HEAD");
  ASSERT_TRUE(unpinned_head);
  EXPECT_EQ(unpinned_head->status, 404);
  auto incomplete = post(base, "/dgrid/v1/store/pins/" + summary_.cid.to_string(), "", &key(kClient));
  ASSERT_TRUE(incomplete);
  EXPECT_EQ(incomplete->status, 409);
  EXPECT_NE(status_message(*incomplete).find(summary_.cid.to_string()), std::string::npos) << status_message(*incomplete);

  // A CAR with a block whose bytes do not match its CID is refused.
  std::vector<std::pair<store::Cid, Bytes>> tampered = {all.back()};
  tampered[0].second.back() ^= 1;
  auto bad = post(base, target, car_of(tampered), &key(kClient));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  auto garbage = post(base, target, "definitely not a CAR", &key(kClient));
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);

  // upload_file sends the rest and pins.
  ASSERT_TRUE(upload_file(file_, summary_.cid, base, key(kClient)));
  auto full = get(base + "/ipfs/" + summary_.cid.to_string());
  ASSERT_TRUE(full);
  EXPECT_EQ(full->body, content_);
}

TEST_F(StorerTest, AClientLyingAboutTheContentGetsNeitherAPinNorUnboundedUploads) {
  Node& n = start_node(kStorer, "s1");
  const std::string base = n.storer_url();
  Hash32 wrong_root = summary_.segment_root;
  wrong_root[5] ^= 0xff;
  open_deal(wrong_root, summary_.size);
  auto up = upload_file(file_, summary_.cid, base, key(kClient));
  ASSERT_FALSE(up);
  EXPECT_NE(up.error().message.find("does not match deal"), std::string::npos) << up.error().message;
  EXPECT_NE(up.error().message.find("422"), std::string::npos) << up.error().message;
  auto r = get(base + "/ipfs/" + summary_.cid.to_string());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << "the refused pin must be removed";
  EXPECT_EQ(metric(base, "dgrid_storer_pin_rejected_total"), 1);

  // A deal (another client's) declaring far fewer bytes than the DAG: uploads stop at its
  // size plus slack.
  Node& m = start_node(kStorer2, "s2");
  const uint64_t small = 4096;
  auto d = contracts_->storage.open_deal(wallet(kStranger), token(), summary_.cid.bytes(), summary_.segment_root, small,
                                         1, dusd(1));
  ASSERT_TRUE(d) << d.error().to_string();
  auto over = upload_file(file_, summary_.cid, m.storer_url(), key(kStranger));
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("413"), std::string::npos) << over.error().message;
  EXPECT_LE(metric(m.storer_url(), "dgrid_storer_uploaded_bytes_total"), static_cast<double>(small + small / 1000 + kMiB));
}

// A tiny DAG can claim an enormous file by linking one leaf many times (~300 KB of blocks
// here for 8.6 TiB). The pin must compare the root's size with the deal before reading
// anything, instead of hashing terabytes while every other upload waits.
TEST_F(StorerTest, ADagRepeatingOneLeafCannotMakeTheStorerHashTerabytes) {
  Node& n = start_node(kStorer, "s1");
  const std::string base = n.storer_url();
  const Bytes leaf(kMiB, 0x5a);
  const store::Cid leaf_cid = store::Cid::of(store::Codec::raw, leaf);
  auto parent_of = [](const store::Cid& child, uint64_t child_size, size_t copies) {
    store::PbNode node;
    store::UnixFsData data;
    data.filesize = child_size * copies;
    for (size_t i = 0; i < copies; ++i) {
      node.links.push_back({child, std::string(), child_size});
      data.blocksizes.push_back(child_size);
    }
    node.data = store::encode_unixfs(data);
    return store::encode_pb(node);
  };
  const Bytes mid = parent_of(leaf_cid, kMiB, 3000);
  const store::Cid mid_cid = store::Cid::of(store::Codec::dag_pb, mid);
  const Bytes root = parent_of(mid_cid, 3000 * kMiB, 3000);
  const store::Cid root_cid = store::Cid::of(store::Codec::dag_pb, root);

  // The deal claims 2 MiB, so the ~1.3 MB of blocks fit its upload allowance.
  Hash32 any_root{};
  any_root[0] = 1;
  auto d = contracts_->storage.open_deal(wallet(kClient), token(), root_cid.bytes(), any_root, 2 * kMiB, 1, dusd(1));
  ASSERT_TRUE(d) << d.error().to_string();
  std::string car(view(store::encode_car_header({root_cid})));
  for (const auto& [c, b] : std::vector<std::pair<store::Cid, Bytes>>{{root_cid, root}, {mid_cid, mid}, {leaf_cid, leaf}})
    car += view(store::encode_car_section(c, b));
  auto up = post(base, "/dgrid/v1/store/blocks?root=" + root_cid.to_string(), car, &key(kClient));
  ASSERT_TRUE(up) << up.error().to_string();
  ASSERT_EQ(up->status, 200) << status_message(*up);

  auto pin = post(base, "/dgrid/v1/store/pins/" + root_cid.to_string(), "", &key(kClient));
  ASSERT_TRUE(pin) << pin.error().to_string();
  EXPECT_EQ(pin->status, 422) << status_message(*pin);
  EXPECT_NE(status_message(*pin).find("but the deal is for 2097152"), std::string::npos) << status_message(*pin);
  auto r = get(base + "/ipfs/" + root_cid.to_string(), {}, "HEAD");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << "the refused object must not stay pinned";
}

TEST_F(StorerTest, ACorruptBlockStopsTheResponseAndIsRepairedFromAPeer) {
  Node& a = start_node(kStorer, "s1");
  Node& b = start_node(kStorer2, "s2");
  open_deal(summary_.segment_root, summary_.size, /*replicas=*/2);
  ASSERT_TRUE(upload_file(file_, summary_.cid, a.storer_url(), key(kClient)));
  ASSERT_TRUE(upload_file(file_, summary_.cid, b.storer_url(), key(kClient)));

  // Flip one byte of the second leaf on A's disk.
  const auto leaf = store::Cid::of(store::Codec::raw, as_bytes(std::string_view(content_).substr(kMiB, kMiB)));
  fs::path block = dir_.path() / "s1" / "store" / "blocks" / to_hex(ByteView(leaf.digest().data(), 1), false) / leaf.to_string();
  ASSERT_TRUE(fs::exists(block)) << block;
  fs::permissions(block, fs::perms::owner_write, fs::perm_options::add);
  std::string bytes = read_all(block);
  bytes[1000] ^= 0x55;
  std::ofstream(block, std::ios::binary | std::ios::trunc) << bytes;

  // The client never receives a complete, wrong body: the response stops short.
  auto r = get(a.storer_url() + "/ipfs/" + summary_.cid.to_string());
  EXPECT_TRUE(!r || r->body != content_) << "a corrupt block must not be served as a complete response";
  if (r) {
    EXPECT_LT(r->body.size(), kFileSize);
  }
  EXPECT_GE(metric(a.storer_url(), "dgrid_storer_corrupt_blocks_total"), 1);

  // A fetches the object again from B (its peer in the registry) and serves it whole.
  ASSERT_TRUE(wait_for([&] { return metric(a.storer_url(), "dgrid_storer_read_repairs_total") == 1; }));
  auto again = get(a.storer_url() + "/ipfs/" + summary_.cid.to_string());
  ASSERT_TRUE(again) << again.error().to_string();
  ASSERT_EQ(again->status, 200);
  EXPECT_EQ(again->body, content_);
}

// ------------------------------------------------------------------ fetch_dag

class StoreClientTest : public StorerTest {
 protected:
  // A tiny gateway that serves a fixed CAR for the content (whatever it holds).
  std::unique_ptr<net::HttpServer> serve_car(std::string car, std::string* url) {
    router_ = std::make_unique<net::Router>();
    auto size = kFileSize;
    auto handler = [car = std::move(car), size](net::Request& q, net::ResponseWriter& w) {
      if (q.method == "HEAD") {
        w.begin_sized(200, "application/octet-stream", {}, size);
        w.end();
        return;
      }
      w.send(net::Response{200, "application/vnd.ipld.car; version=1", {}, car});
    };
    router_->add("GET", "/ipfs/{cid}", handler);
    router_->add("HEAD", "/ipfs/{cid}", handler);
    auto s = net::HttpServer::start({}, router_->handler());
    EXPECT_TRUE(s);
    *url = "http://127.0.0.1:" + std::to_string((*s)->port());
    return std::move(*s);
  }

  std::unique_ptr<store::Blockstore> fresh_store() {
    auto bs = store::Blockstore::open(local_.path() / std::to_string(stores_++), {.capacity_bytes = 0, .fsync = false});
    EXPECT_TRUE(bs);
    return std::move(*bs);
  }

  std::string content_of(store::Blockstore& bs) {
    auto reader = store::FileReader::open(bs.getter(), summary_.cid);
    if (!reader) return "";
    std::string out;
    (void)reader->read(0, reader->size(), [&](ByteView b) {
      out.append(view(b));
      return true;
    });
    return out;
  }

  // The storer that really holds the content.
  std::string good_storer() {
    Node& n = start_node(kStorer, "s1");
    open_deal(summary_.segment_root, summary_.size);
    auto up = upload_file(file_, summary_.cid, n.storer_url(), key(kClient));
    EXPECT_TRUE(up) << up.error().to_string();
    return n.storer_url();
  }

  TempDir local_{"dgrid-fetch"};
  int stores_ = 0;
  std::unique_ptr<net::Router> router_;
};

TEST_F(StoreClientTest, FetchDagFallsBackPastADeadSource) {
  const std::string good = good_storer();
  std::string dead;
  {
    net::Router r;
    auto s = net::HttpServer::start({}, r.handler());
    ASSERT_TRUE(s);
    dead = "http://127.0.0.1:" + std::to_string((*s)->port());
  }  // stopped: its port now refuses connections
  auto bs = fresh_store();
  uint64_t last_done = 0, last_total = 0;
  auto r = fetch_dag(*bs, summary_.cid, {dead, good}, [&](uint64_t d, uint64_t t) { last_done = d, last_total = t; });
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(bs->pinned(summary_.cid));
  EXPECT_EQ(content_of(*bs), content_);
  EXPECT_EQ(last_done, kFileSize);
  EXPECT_EQ(last_total, kFileSize);
  // Pinned already: nothing to fetch, even with no source at all.
  EXPECT_TRUE(fetch_dag(*bs, summary_.cid, {}));

  auto none = fetch_dag(*fresh_store(), summary_.cid, {dead});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::unavailable);
  EXPECT_NE(none.error().message.find(dead), std::string::npos) << none.error().message;
}

TEST_F(StoreClientTest, FetchDagRejectsATamperedCarAndUsesTheNextSource) {
  const std::string good = good_storer();
  const auto all = blocks();
  std::string car = car_of(all);
  // Flip the last byte of the second leaf's section.
  std::string section(view(store::encode_car_section(all[1].first, all[1].second)));
  auto at = car.find(section);
  ASSERT_NE(at, std::string::npos);
  car[at + section.size() - 1] ^= 1;
  std::string liar;
  auto server = serve_car(car, &liar);

  auto alone = fetch_dag(*fresh_store(), summary_.cid, {liar});
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().message.find(liar), std::string::npos) << alone.error().message;

  auto bs = fresh_store();
  auto r = fetch_dag(*bs, summary_.cid, {liar, good});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(content_of(*bs), content_);
}

TEST_F(StoreClientTest, FetchDagRefusesBlocksOutsideTheDag) {
  const std::string good = good_storer();
  const auto all = blocks();
  // The root node first (as a DAG walk gives it), then a block with a valid hash that no
  // node of this DAG links.
  std::vector<std::pair<store::Cid, Bytes>> evil = {all.back()};
  std::string junk = random_bytes(100'000, 99);
  evil.emplace_back(store::Cid::of(store::Codec::raw, as_bytes(junk)), Bytes(junk.begin(), junk.end()));
  std::string liar;
  auto server = serve_car(car_of(evil), &liar);
  auto bs = fresh_store();
  auto alone = fetch_dag(*bs, summary_.cid, {liar});
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().message.find("not part of the DAG"), std::string::npos) << alone.error().message;
  EXPECT_FALSE(bs->has(evil[1].first)) << "an unrelated block must not be stored";
  EXPECT_FALSE(bs->pinned(summary_.cid));
  ASSERT_TRUE(fetch_dag(*bs, summary_.cid, {liar, good}));
  EXPECT_EQ(content_of(*bs), content_);
}

TEST_F(StoreClientTest, UploadToADeadStorerIsAClearError) {
  auto r = upload_file(file_, summary_.cid, "http://127.0.0.1:1", key(kClient));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("127.0.0.1:1"), std::string::npos) << r.error().message;
  auto missing = upload_file(dir_.path() / "no-such-file", summary_.cid, "http://127.0.0.1:1", key(kClient));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::io);
}

}  // namespace
}  // namespace dgrid::node
