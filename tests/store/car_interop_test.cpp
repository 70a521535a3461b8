// CAR interop with the independent @ipld/car (tests/interop/car.mjs): a CAR exported by dgrid
// is read by @ipld/car with the same roots, blocks, bytes and order (each block's hash checked
// on the JS side), and a CAR that @ipld/car writes from ipfs-unixfs-importer's import of a
// byte stream is imported by dgrid, verified, pinned, and read back as that stream.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "store/car.hpp"
#include "store/unixfs_fixtures.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::store {
namespace {

namespace fs = std::filesystem;

bool ipld_car_available() {
  std::error_code ec;
  return fs::exists(fs::path(DGRID_TOOLS_DIR) / "@ipld" / "car", ec);
}

#define CAR_INTEROP_OR_SKIP()                                                                    \
  DGRID_INTEROP_OR_SKIP();                                                                       \
  if (!ipld_car_available()) {                                                                   \
    if (::dgrid::test::shared_required()) FAIL() << "tools/node_modules/@ipld/car missing: run scripts/setup"; \
    GTEST_SKIP() << "tools/node_modules/@ipld/car missing: run scripts/setup";                   \
  }

struct Case {
  uint64_t size;
  uint32_t seed;
  size_t chunk_size = kChunkSize;
  size_t max_links = kMaxLinks;
};
// Empty, one byte, one full leaf, a partial tail, and deep trees from small chunks.
const Case kCases[] = {
    {0, 1}, {1, 2}, {kChunkSize, 3}, {2 * kChunkSize + 12345, 4}, {50000, 5, 1024, 3}, {70001, 6, 4096, 11}};

ImportOptions options_of(const Case& c) { return {.chunk_size = c.chunk_size, .max_links = c.max_links}; }

TEST(CarInterop, OurCarIsReadByIpldCar) {
  CAR_INTEROP_OR_SKIP();
  ::dgrid::test::TempDir dir("dgrid_car_interop");
  auto bs = unwrap(Blockstore::open(dir.path() / "s", {.capacity_bytes = 0, .fsync = false}));
  for (const Case& c : kCases) {
    Bytes data = test::Xorshift(c.seed).bytes(c.size);
    FileImporter imp([&](const Cid& cid, ByteView b) { return bs->put(cid, b); }, options_of(c));
    ASSERT_TRUE(imp.update(data));
    Cid root = unwrap(imp.finish()).root;
    std::string car;
    std::vector<std::pair<Cid, Bytes>> ours;
    auto reader = unwrap(FileReader::open(bs->getter(), root));
    ASSERT_TRUE(reader.walk([&](const Cid& cid, ByteView b) -> Result<void> {
      ours.emplace_back(cid, Bytes(b.begin(), b.end()));
      return {};
    }));
    ASSERT_TRUE(export_car(*bs, root, [&](ByteView part) {
      car.append(as_chars(part));
      return true;
    }));

    auto r = ::dgrid::test::run_node_script("car.mjs", {"read"}, car);
    ASSERT_EQ(r.exit_code, 0) << "car.mjs read failed for size " << c.size;
    auto got = nlohmann::json::parse(r.out);
    ASSERT_EQ(got["roots"].size(), 1u);
    EXPECT_EQ(got["roots"][0], root.to_string()) << c.size;
    ASSERT_EQ(got["blocks"].size(), ours.size()) << c.size;
    for (size_t i = 0; i < ours.size(); ++i) {
      const auto& b = got["blocks"][i];
      EXPECT_EQ(b["cid"], ours[i].first.to_string()) << c.size << " block " << i;
      EXPECT_EQ(b["hex"], to_hex(ours[i].second, /*prefix=*/false)) << c.size << " block " << i;
      EXPECT_EQ(b["hash_ok"], true) << c.size << " block " << i;
    }
  }
}

TEST(CarInterop, IpldCarIsImportedByUs) {
  CAR_INTEROP_OR_SKIP();
  ::dgrid::test::TempDir dir("dgrid_car_interop");
  for (const Case& c : kCases) {
    nlohmann::json req = {{"size", c.size}, {"seed", c.seed}};
    if (c.chunk_size != kChunkSize) req.update({{"chunk_size", c.chunk_size}, {"max_links", c.max_links}});
    auto r = ::dgrid::test::run_node_script("car.mjs", {"write"}, req.dump());
    ASSERT_EQ(r.exit_code, 0) << "car.mjs write failed for size " << c.size;

    // What dgrid's own importer makes of the same bytes.
    Bytes data = test::Xorshift(c.seed).bytes(c.size);
    FileImporter probe([](const Cid&, ByteView) -> Result<void> { return {}; }, options_of(c));
    ASSERT_TRUE(probe.update(data));
    ImportResult want = unwrap(probe.finish());

    auto bs = unwrap(Blockstore::open(dir.path() / ("s" + std::to_string(c.size)), {.capacity_bytes = 0, .fsync = false}));
    std::istringstream in(r.out);
    auto imported = import_car(*bs, in);
    ASSERT_TRUE(imported) << imported.error().to_string();
    EXPECT_EQ(imported->roots, std::vector<Cid>{want.root}) << c.size;
    EXPECT_EQ(imported->pinned, std::vector<Cid>{want.root}) << c.size;
    EXPECT_EQ(imported->blocks, want.blocks) << c.size;
    EXPECT_TRUE(bs->pinned(want.root));
    Bytes back;
    auto reader = unwrap(FileReader::open(bs->getter(), want.root));
    ASSERT_TRUE(reader.read(0, c.size, [&](ByteView part) {
      back.insert(back.end(), part.begin(), part.end());
      return true;
    }));
    EXPECT_EQ(back, data) << c.size;
  }
}

}  // namespace
}  // namespace dgrid::store
