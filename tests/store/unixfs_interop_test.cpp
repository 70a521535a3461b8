// The importer against ipfs-unixfs-importer 17 (tests/interop/unixfs.mjs): the same bytes give
// the same root CID and the same blocks, on the unixfs-v1-2025 profile at the sizes where the
// layout changes (0, 1 byte, around 1 MiB, above 1024 chunks) and, with small chunks and few
// links, on trees of every shape up to four levels.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "store/unixfs.hpp"
#include "store/unixfs_fixtures.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::store {
namespace {

using nlohmann::json;

struct Case {
  uint64_t size;
  uint32_t seed;
  size_t chunk = kChunkSize;
  size_t links = kMaxLinks;
  bool blocks = true;    // compare every block, not only the root
  bool profile = false;  // JS side: { profile: "unixfs-v1-2025" } instead of explicit options
};

struct Imported {
  std::string root;
  std::map<std::string, std::string> nodes;  // dag-pb CID -> hex bytes
  std::vector<std::string> leaves;           // raw leaf CIDs, sorted
  uint64_t block_count = 0;
};

// Streams the case's bytes through FileImporter in pieces that straddle chunk boundaries.
Imported import_cpp(const Case& c) {
  Imported out;
  FileImporter imp(
      [&](const Cid& cid, ByteView block) -> Result<void> {
        ++out.block_count;
        if (!c.blocks) return {};
        if (cid.codec() == Codec::raw)
          out.leaves.push_back(cid.to_string());
        else
          out.nodes[cid.to_string()] = to_hex(block, false);
        return {};
      },
      ImportOptions{c.chunk, c.links});
  test::Xorshift gen(c.seed);
  Bytes piece(100'003);
  for (uint64_t left = c.size; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, piece.size()));
    gen.fill(piece.data(), n);
    unwrap(imp.update(ByteView(piece).first(n)));
    left -= n;
  }
  const ImportResult r = unwrap(imp.finish());
  EXPECT_EQ(r.size, c.size);
  EXPECT_EQ(r.blocks, out.block_count);
  out.root = r.root.to_string();
  std::sort(out.leaves.begin(), out.leaves.end());
  return out;
}

std::vector<Imported> import_js(const std::vector<Case>& cases) {
  json req = {{"cases", json::array()}};
  for (const Case& c : cases)
    req["cases"].push_back({{"size", c.size}, {"seed", c.seed}, {"chunk_size", c.chunk}, {"max_links", c.links},
                            {"blocks", c.blocks}, {"profile", c.profile}});
  auto r = dgrid::test::run_node_script("unixfs.mjs", {}, req.dump());
  EXPECT_EQ(r.exit_code, 0) << "node tests/interop/unixfs.mjs failed: " << r.out.substr(0, 2000);
  std::vector<Imported> out;
  if (r.exit_code != 0) return out;
  const json res = json::parse(r.out);
  EXPECT_TRUE(res.contains("results")) << r.out.substr(0, 2000);
  for (const json& j : res.at("results")) {
    Imported im;
    im.root = j.at("root");
    for (auto& [k, v] : j.at("blocks").items()) im.nodes[k] = v;
    im.leaves = j.at("leaves").get<std::vector<std::string>>();
    std::sort(im.leaves.begin(), im.leaves.end());
    im.block_count = j.at("block_count");
    out.push_back(std::move(im));
  }
  return out;
}

std::string describe(const Case& c) {
  return "size " + std::to_string(c.size) + ", chunk " + std::to_string(c.chunk) + ", links " + std::to_string(c.links) +
         (c.profile ? ", JS profile option" : "");
}

void expect_same(const std::vector<Case>& cases) {
  const auto js = import_js(cases);
  ASSERT_EQ(js.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Imported cpp = import_cpp(cases[i]);
    EXPECT_EQ(cpp.root, js[i].root) << describe(cases[i]);
    EXPECT_EQ(cpp.block_count, js[i].block_count) << describe(cases[i]);
    if (!cases[i].blocks) continue;
    EXPECT_EQ(cpp.leaves, js[i].leaves) << describe(cases[i]);
    EXPECT_EQ(cpp.nodes, js[i].nodes) << describe(cases[i]);
  }
}

constexpr uint64_t MiB = 1 << 20;

TEST(UnixFsInterop, ProfileSizes) {
  DGRID_INTEROP_OR_SKIP();
  std::vector<Case> cases;
  uint32_t seed = 1;
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, MiB - 1, MiB, MiB + 1, 2 * MiB, 3 * MiB + MiB / 2,
                        5 * MiB + 12345})
    cases.push_back({.size = size, .seed = seed++});
  // The importer's own profile switch gives the same as the explicit options.
  cases.push_back({.size = 2 * MiB + 5, .seed = 99, .profile = true});
  cases.push_back({.size = 1, .seed = 98, .profile = true});
  expect_same(cases);
}

TEST(UnixFsInterop, MoreThan1024ChunksOnTheRealProfile) {
  DGRID_INTEROP_OR_SKIP();
  // 1026 leaves: a full parent of 1024, a parent of the last two, and a root over both. The
  // bytes are generated on each side (no 1 GiB file): only CIDs cross the pipe.
  expect_same({{.size = 1025 * MiB + 17, .seed = 2025, .blocks = false}});
}

TEST(UnixFsInterop, EveryShapeWithSmallChunks) {
  DGRID_INTEROP_OR_SKIP();
  std::vector<Case> cases;
  uint32_t seed = 1000;
  // 4 links of 1 KiB chunks: the layout's edges (full, one over, one under) at 1-4 levels.
  for (uint64_t chunks : {1, 2, 3, 4, 5, 6, 15, 16, 17, 20, 63, 64, 65, 66, 80, 255, 256, 257})
    for (int64_t delta : {-1, 0, 1, 517})
      if (static_cast<int64_t>(chunks * 1024) + delta >= 0)
        cases.push_back({.size = chunks * 1024 + static_cast<uint64_t>(delta), .seed = seed++, .chunk = 1024, .links = 4});
  // Odd parameters: 3 links (non-power-of-two fan-out), 2 links (deepest trees), and 256-byte
  // chunks with the real 1024 links to pass 1024 leaves cheaply.
  for (uint64_t size : {0, 1, 999, 1000, 1001, 2999, 3000, 3001, 9000, 27000, 27001, 81001})
    cases.push_back({.size = size, .seed = seed++, .chunk = 1000, .links = 3});
  for (uint64_t size : {2049, 4096, 4097, 33000})
    cases.push_back({.size = size, .seed = seed++, .chunk = 512, .links = 2});
  for (uint64_t size : {1024 * 256, 1024 * 256 + 1, 1025 * 256 + 7, 4096 * 256 + 100})
    cases.push_back({.size = size, .seed = seed++, .chunk = 256, .links = 1024});
  expect_same(cases);
}

}  // namespace
}  // namespace dgrid::store
