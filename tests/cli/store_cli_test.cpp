// `dgrid store` driven through the real binary as a user would: the CID of a file (no
// network), `put` against two real `dgrid node` storers on a devnet (quote, deal, upload, both
// replicas claimed, one by fetching from the other), `get` back byte for byte, proofs landing
// epoch after epoch in `status`, `export` to CAR and `import` into a local store, bad input;
// and a provider node that names its model by CID, fetches it from the storers and serves it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "eth/rpc.hpp"
#include "net/http_client.hpp"
#include "store/segments.hpp"
#include "support/dgrid_cli.hpp"
#include "support/test_env.hpp"

namespace dgrid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::read_file;
using test::wait_for;

// Devnet account indices (docs/formats/devnet.md).
constexpr size_t kProvider1 = 1, kUser = 5, kStorer1 = 6, kStorer2 = 7;

class StoreCliTest : public test::DgridCliTest {
 protected:
  fs::path write_file(const std::string& name, size_t size, uint64_t seed) {
    fs::path p = dir_ / name;
    std::mt19937_64 rng(seed);
    std::ofstream out(p, std::ios::binary);
    std::vector<uint64_t> buf(4096);
    size_t left = size;
    while (left > 0) {
      for (auto& w : buf) w = rng();
      size_t n = std::min(left, buf.size() * 8);
      out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
      left -= n;
    }
    return p;
  }

  fs::path storer_config(const std::string& name, size_t account) {
    fs::path d = dir_ / name;
    fs::create_directories(d);
    write(d / "node.toml", "data_dir = \"data\"\n[chain]\ndeployment = \"" + (devnet_dir() / "devnet.json").string() +
                               "\"\npoll_interval_ms = 100\n[key]\nprivate_key = \"" + devnet_.accounts.at(account).private_key +
                               "\"\n[provider]\nenabled = false\nstake = \"100\"\n[storer]\nlisten = \"127.0.0.1:0\"\n");
    return d / "node.toml";
  }

  // Mines one block at a time (the devnet automines transactions only) until `done`.
  bool mine_until(const std::function<bool()>& done, int max_blocks) {
    auto rpc = eth::RpcClient::connect(devnet_.rpc_url);
    if (!rpc) return false;
    for (int i = 0; i < max_blocks; ++i) {
      if (done()) return true;
      if (!(*rpc)->call("anvil_mine", json::array({"0x1"}))) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
    }
    return done();
  }

  std::string user_key() { return devnet_.accounts.at(kUser).private_key; }
};

TEST_F(StoreCliTest, CidNeedsNoNetworkAndRejectsBadInput) {
  fs::path f = write_file("data.bin", 3 * 1024 * 1024 + 123, 7);
  auto r = dgrid({"store", "cid", f.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto lib = store::summarize_file(f);
  ASSERT_TRUE(lib) << lib.error().to_string();
  EXPECT_EQ(r.out, lib->cid.to_string() + "\n");

  auto j = dgrid({"store", "cid", "--json", f.string()});
  ASSERT_EQ(j.exit_code, 0);
  auto doc = json::parse(j.out);
  EXPECT_EQ(doc["cid"], lib->cid.to_string());
  EXPECT_EQ(doc["size"], 3 * 1024 * 1024 + 123);
  EXPECT_EQ(doc["segment_root"], to_hex(lib->segment_root));
  EXPECT_EQ(doc["blocks"], 5);  // 4 leaves + the root

  auto missing = dgrid_all({"store", "cid", (dir_ / "nope").string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
  auto bad = dgrid_all({"store", "get", "bafyNOTACID", "--storer", "http://127.0.0.1:9"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("is not a CID"), std::string::npos) << bad.out;
  auto dead = dgrid_all({"store", "get", lib->cid.to_string(), "--storer", "http://127.0.0.1:9", "-o", (dir_ / "x").string()});
  EXPECT_NE(dead.exit_code, 0);
  EXPECT_NE(dead.out.find("not available"), std::string::npos) << dead.out;
  EXPECT_FALSE(fs::exists(dir_ / "x"));  // no partial file
  auto quote = dgrid({"store", "put", f.string(), "--quote", "--replicas", "3", "--json"});
  ASSERT_EQ(quote.exit_code, 0) << quote.out;
  // 24 dUSD per GiB per replica (0.24 / 0.01), rounded up per replica.
  EXPECT_EQ(json::parse(quote.out)["quote"]["per_gib_per_replica"], "24");
}

TEST_F(StoreCliTest, PutGetStatusExportImportAndModelsByCid) {
  if (!start_devnet()) GTEST_SKIP() << "anvil missing";
  pid_t s1 = -1, s2 = -1;
  json e1 = start_node(storer_config("storer-1", kStorer1), {}, s1);
  json e2 = start_node(storer_config("storer-2", kStorer2), {}, s2);
  ASSERT_FALSE(e1.is_null());
  ASSERT_FALSE(e2.is_null());
  const std::string url1 = e1.value("storer_url", ""), url2 = e2.value("storer_url", "");
  ASSERT_FALSE(url1.empty()) << e1.dump();

  // put: 3.5 MiB, two replicas; the upload goes to one storer, the other fetches from it.
  fs::path f = write_file("dataset.bin", 3 * 1024 * 1024 + 512 * 1024, 42);
  auto put = dgrid({"store", "put", f.string(), "--replicas", "2", "--devnet", devnet_dir().string(), "--private-key", user_key(),
                    "--wait", "90", "--json"});
  ASSERT_EQ(put.exit_code, 0) << put.out;
  auto pj = json::parse(put.out);
  const std::string cid = pj["cid"];
  EXPECT_EQ(pj["claimed"], 2) << pj.dump(2);
  std::set<std::string> storers;
  for (const auto& s : pj["slots"]) storers.insert(s["storer"].get<std::string>());
  EXPECT_EQ(storers.size(), 2u);

  // get from the network (discovered on chain), byte for byte.
  fs::path back = dir_ / "back.bin";
  auto get = dgrid({"store", "get", cid, "-o", back.string(), "--devnet", devnet_dir().string()});
  ASSERT_EQ(get.exit_code, 0) << get.out;
  EXPECT_EQ(read_file(back), read_file(f));

  // status: proofs land epoch after epoch and are paid.
  auto status = [&] {
    auto r = dgrid({"store", "status", cid, "--devnet", devnet_dir().string(), "--json"});
    return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json();
  };
  auto proven_everywhere = [&] {
    auto s = status();
    if (!s.is_object() || s["deals"].empty()) return false;
    for (const auto& sl : s["deals"][0]["slots"])
      if (sl["proofs"].get<uint64_t>() < 2) return false;
    return true;
  };
  ASSERT_TRUE(mine_until(proven_everywhere, 140)) << status().dump(2);
  auto st = status();
  EXPECT_EQ(st["deals"].size(), 1u);
  for (const auto& sl : st["deals"][0]["slots"]) {
    EXPECT_EQ(sl["missed"], 0) << st.dump(2);
    EXPECT_NE(sl["paid"], "0") << st.dump(2);
  }
  auto text = dgrid({"store", "status", cid, "--devnet", devnet_dir().string()});
  EXPECT_NE(text.out.find("proofs"), std::string::npos) << text.out;

  // export from the storers to a CAR, import it into a local store, export it again locally.
  fs::path car = dir_ / "dataset.car", local = dir_ / "local-store";
  auto ex = dgrid({"store", "export", cid, "-o", car.string(), "--devnet", devnet_dir().string()});
  ASSERT_EQ(ex.exit_code, 0) << ex.out;
  auto im = dgrid({"store", "import", car.string(), "--store", local.string(), "--json"});
  ASSERT_EQ(im.exit_code, 0) << im.out;
  EXPECT_EQ(json::parse(im.out)["pinned"], json::array({cid}));
  fs::path car2 = dir_ / "again.car";
  auto ex2 = dgrid({"store", "export", cid, "-o", car2.string(), "--store", local.string()});
  ASSERT_EQ(ex2.exit_code, 0) << ex2.out;
  EXPECT_EQ(read_file(car2), read_file(car));
  // A corrupted CAR changes nothing in the store and says what was wrong.
  std::string bytes = read_file(car);
  bytes[bytes.size() - 100] ^= 0x01;
  write(dir_ / "bad.car", bytes);
  auto bad = dgrid_all({"store", "import", (dir_ / "bad.car").string(), "--store", (dir_ / "other").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("bad.car"), std::string::npos) << bad.out;

  // A provider whose model is named by CID fetches it from the storers before serving.
  fs::path model = test::shared_file("models/stories260K.gguf");
  if (!fs::exists(model)) {
    if (test::shared_required()) FAIL() << "the real model is missing under ../shared";
    GTEST_SKIP() << "../shared/models/stories260K.gguf missing: skipping the models-by-CID part";
  }
  auto mput = dgrid({"store", "put", model.string(), "--replicas", "1", "--devnet", devnet_dir().string(), "--private-key",
                     user_key(), "--json"});
  ASSERT_EQ(mput.exit_code, 0) << mput.out;
  const std::string model_cid = json::parse(mput.out)["cid"];
  fs::path pd = dir_ / "provider";
  fs::create_directories(pd);
  write(pd / "node.toml", "data_dir = \"data\"\n[chain]\ndeployment = \"" + (devnet_dir() / "devnet.json").string() +
                              "\"\npoll_interval_ms = 200\n[key]\nprivate_key = \"" + devnet_.accounts.at(kProvider1).private_key +
                              "\"\n[provider]\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\njuror = false\n"
                              "[[provider.models]]\nname = \"stories\"\ncid = \"" + model_cid +
                              "\"\nprice_input = \"1\"\nprice_output = \"2\"\n");
  pid_t p = -1;
  json ep = start_node(pd / "node.toml", {}, p);
  ASSERT_FALSE(ep.is_null());
  EXPECT_EQ(read_file(pd / "data" / "models" / model_cid), read_file(model));
  net::HttpClient http;
  net::ClientRequest rq;
  rq.url = ep.value("provider_url", "") + "/v1/models";
  auto models = http.request(rq);
  ASSERT_TRUE(models) << models.error().to_string();
  EXPECT_NE(models->body.find("\"stories\""), std::string::npos) << models->body;
  EXPECT_NE(read_file(pd / "node.log").find("verified against " + model_cid), std::string::npos);
}

}  // namespace
}  // namespace dgrid
