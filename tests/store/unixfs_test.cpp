// DAG-PB and UnixFS codecs, the streaming importer and the verifying reader, on real blocks in
// memory. tests/store/unixfs_interop_test.cpp compares the importer with ipfs-unixfs-importer.
#include "store/unixfs.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "crypto/sha256.hpp"
#include "store/unixfs_fixtures.hpp"

namespace dgrid::store {
namespace {

using test::import_bytes;
using test::MemBlocks;
using test::Xorshift;

Bytes hx(std::string_view s) { return unwrap(from_hex(s)); }

const ImportOptions kSmall{.chunk_size = 1024, .max_links = 4};

// ---------------------------------------------------------------- DAG-PB

TEST(DagPb, EncodesLinksBeforeData) {
  const Cid leaf = Cid::of(Codec::raw, as_bytes("abc"));
  PbNode n;
  n.links.push_back({leaf, std::string(), 3});
  n.data = hx("080218032003");
  const Bytes b = encode_pb(n);
  EXPECT_EQ(to_hex(b, false), "122a0a24" + to_hex(leaf.bytes(), false) + "12001803" + "0a06080218032003");
  EXPECT_EQ(unwrap(decode_pb(b)), n);
}

TEST(DagPb, RoundTripsOptionalFields) {
  PbNode n;
  n.links.push_back({Cid::v0(crypto::sha256(as_bytes("a"))), std::nullopt, std::nullopt});
  n.links.push_back({Cid::of(Codec::dag_pb, as_bytes("b")), std::string("name \xff"), uint64_t{1} << 62});
  n.links.push_back({Cid::of(Codec::raw, as_bytes("c")), std::string(), std::nullopt});
  EXPECT_EQ(unwrap(decode_pb(encode_pb(n))), n);
  n.data = Bytes();
  EXPECT_EQ(unwrap(decode_pb(encode_pb(n))), n);
  EXPECT_EQ(unwrap(decode_pb({})), PbNode{});  // the empty node is valid DAG-PB
}

TEST(DagPb, RejectsMalformed) {
  const std::string cid = "0a24" + to_hex(Cid::of(Codec::raw, as_bytes("x")).bytes(), false);  // Hash field
  const std::string link = "122a" + cid + "1200" + "1800";                                   // a whole link
  const std::pair<std::string, std::string> cases[] = {
      {"80", "dag-pb: field key varint truncated"},
      {"02", "dag-pb: field number 0"},
      {"1800", "dag-pb: unknown field 3"},
      {"0800", "dag-pb: Data has wire type varint, expected length-delimited"},
      {"1000", "dag-pb: link 0: Links has wire type varint"},
      {"0a00" + link, "dag-pb: link 0: Links after Data"},
      {"0a000a00", "dag-pb: duplicate Data"},
      {"0a05aa", "dag-pb: Data length 5 exceeds the 1 bytes left"},
      {"0a8000", "dag-pb: Data length varint not minimally encoded"},
      {"1200", "dag-pb: link 0: missing Hash"},
      {"1204" "0a020155", "dag-pb: link 0: Hash: cid: multihash code varint truncated"},
      {link + "122a" + cid + "1200" + "1880", "dag-pb: link 1: Tsize varint truncated"},
      {link + "122b" + cid + "1200" + "188000", "dag-pb: link 1: Tsize varint not minimally encoded"},
      {"122c" + cid + "1200" + "1800" + "1800", "dag-pb: link 0: duplicate Tsize"},
      {"122a" + cid + "1800" + "1200", "dag-pb: link 0: Name after Tsize"},
      {std::string("122a") + "1200" + cid + "1800", "dag-pb: link 0: Hash after Name or Tsize"},
      {"124c" + cid + cid, "dag-pb: link 0: duplicate Hash"},
      {"122a" + cid + "2000" + "1800", "dag-pb: link 0: unknown field 4"},
      {"1228" + cid + "1000", "dag-pb: link 0: Name has wire type varint"},
      {"1227" + cid + "80", "dag-pb: link 0: field key varint truncated"},
      {"1201", "dag-pb: link 0: link length 1 exceeds the 0 bytes left"},
      {"12ffffffffffffffffff01", "dag-pb: link 0: link length"},
      {"12ffffffffffffffffff02", "dag-pb: link 0: link length varint overflows 64 bits"},
  };
  for (const auto& [h, says] : cases) {
    auto r = decode_pb(hx(h));
    ASSERT_FALSE(r) << h;
    EXPECT_EQ(r.error().code, Errc::malformed) << h;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << h << "\n got: " << r.error().message;
  }
}

// ---------------------------------------------------------------- UnixFS Data

TEST(UnixFsData, EncodesAsIpfsUnixfs) {
  UnixFsData d;
  d.filesize = 2048;
  d.blocksizes = {1024, 1024};
  EXPECT_EQ(to_hex(encode_unixfs(d), false), "0802188010208008208008");
  EXPECT_EQ(unwrap(decode_unixfs(encode_unixfs(d))), d);
  UnixFsData dir;
  dir.type = UnixFsType::directory;
  EXPECT_EQ(to_hex(encode_unixfs(dir), false), "0801");
  UnixFsData inl;
  inl.data = Bytes{'h', 'i'};
  inl.filesize = 2;
  EXPECT_EQ(unwrap(decode_unixfs(encode_unixfs(inl))), inl);
}

TEST(UnixFsData, ReadsPackedBlocksizesAndSkipsMetadata) {
  // Type=file, blocksizes packed [1, 300], hashType, fanout, mode 0644, mtime {secs: 5}.
  auto ok = decode_unixfs(hx("0802" "2203" "01ac02" "2822" "308002" "38a403" "42020805"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->blocksizes, (std::vector<uint64_t>{1, 300}));
  EXPECT_FALSE(ok->filesize);
  // Packed and unpacked values may mix; order is kept.
  EXPECT_EQ(unwrap(decode_unixfs(hx("0802" "2007" "220208" "09" "2001"))).blocksizes,
            (std::vector<uint64_t>{7, 8, 9, 1}));
}

TEST(UnixFsData, RejectsMalformed) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "unixfs: missing Type"},
      {"1800", "unixfs: missing Type"},
      {"0806", "unixfs: unknown Type 6"},
      {"08021800" "1800", "unixfs: duplicate field 3"},
      {"08020802", "unixfs: duplicate field 1"},
      {"0802" "4800", "unixfs: unknown field 9"},
      {"0a00", "unixfs: Type has wire type length-delimited, expected varint"},
      {"0802" "1a00", "unixfs: filesize has wire type"},
      {"0802" "2580000000", "unixfs: blocksizes has wire type fixed32"},
      {"0802" "2202" "0180", "unixfs: blocksizes[1] varint truncated"},
      {"0802" "20", "unixfs: blocksizes[0] varint truncated"},
      {"0802" "1205" "00", "unixfs: Data length 5 exceeds"},
      {"0802" "3a00", "unixfs: mode has wire type"},
      {"0802" "4205", "unixfs: mtime length 5 exceeds"},
      {"0802" "188000", "unixfs: filesize varint not minimally encoded"},
  };
  for (const auto& [h, says] : cases) {
    auto r = decode_unixfs(hx(h));
    ASSERT_FALSE(r) << h;
    EXPECT_EQ(r.error().code, Errc::malformed) << h;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << h << "\n got: " << r.error().message;
  }
}

// ---------------------------------------------------------------- importer

TEST(Importer, EmptyFileIsTheEmptyRawBlock) {
  MemBlocks mem;
  const ImportResult r = import_bytes(mem, {});
  EXPECT_EQ(r.root.to_string(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  EXPECT_EQ(r.size, 0u);
  EXPECT_EQ(r.blocks, 1u);
  EXPECT_EQ(r.dag_bytes, 0u);
  ASSERT_EQ(mem.order.size(), 1u);
  EXPECT_TRUE(mem.order[0].second.empty());
}

TEST(Importer, OneChunkFileIsItsRawLeaf) {
  for (size_t n : {size_t{1}, size_t{1000}, size_t{1024}}) {
    MemBlocks mem;
    const Bytes data = Xorshift(3).bytes(n);
    const ImportResult r = import_bytes(mem, data, kSmall, 7);
    EXPECT_EQ(r.root, Cid::of(Codec::raw, data)) << n;
    EXPECT_EQ(r.blocks, 1u);
    EXPECT_EQ(r.dag_bytes, n);
  }
}

TEST(Importer, KnownVectorFromIpfsUnixfsImporter) {
  // ipfs-unixfs-importer 17.1.1, chunk 1024, 4 links, raw leaves, CIDv1, of the 3000-byte
  // xorshift stream from seed 7 (the interop test regenerates such vectors on many sizes).
  MemBlocks mem;
  const ImportResult r = import_bytes(mem, Xorshift(7).bytes(3000), kSmall, 999);
  EXPECT_EQ(r.root.to_string(), "bafybeib7qdul2tj624nm53z3druhhs2m22d4uree3cnphbfmspj4e4yy5y");
  EXPECT_EQ(to_hex(mem.map.at(r.root), false),
            "122b0a240155122010cdb5d2ece70c0f50c6369b4445151680ff9bdd3c639433c0826f0c12c798101200188008"
            "122b0a2401551220ae97db18d3df961a8ef3a654422b638ba18cce6df15dc2e598598fede4e0a5681200188008"
            "122b0a2401551220c8119a8e058e5044d1d2e09f9e3a4947530efc7c01c9ebeb1b320a85a4c5683a120018b807"
            "0a0e080218b81720800820800820b807");
  EXPECT_EQ(r.blocks, 4u);
}

// Every block's links point at blocks emitted before it; leaves come in file order.
void expect_children_first(const MemBlocks& mem, ByteView data, size_t chunk) {
  std::set<Cid> seen;
  std::vector<Cid> leaves;
  for (const auto& [cid, block] : mem.order) {
    if (cid.codec() == Codec::raw) {
      leaves.push_back(cid);
    } else {
      for (const auto& l : unwrap(decode_pb(block)).links) EXPECT_TRUE(seen.count(l.hash)) << "parent before child";
    }
    seen.insert(cid);
  }
  ASSERT_EQ(leaves.size(), std::max<size_t>(1, (data.size() + chunk - 1) / chunk));
  for (size_t i = 0; i < leaves.size(); ++i) {
    const size_t off = i * chunk;
    EXPECT_EQ(leaves[i], Cid::of(Codec::raw, data.subspan(off, std::min(chunk, data.size() - off)))) << i;
  }
}

TEST(Importer, ChildrenBeforeParentsAndSizesAddUp) {
  for (size_t n : {1025u, 4096u, 4097u, 16 * 1024u, 16 * 1024u + 1, 70 * 1024u + 3}) {
    MemBlocks mem;
    const Bytes data = Xorshift(static_cast<uint32_t>(n)).bytes(n);
    const ImportResult r = import_bytes(mem, data, kSmall, 333);
    expect_children_first(mem, data, kSmall.chunk_size);
    EXPECT_EQ(mem.order.back().first, r.root) << "root is emitted last";
    EXPECT_EQ(r.size, n);
    EXPECT_EQ(r.blocks, mem.order.size());
    uint64_t dag = 0;
    for (auto& [c, b] : mem.order) dag += b.size();
    EXPECT_EQ(r.dag_bytes, dag);
    // Each parent: filesize = sum(blocksizes), Tsize = the linked DAG's bytes.
    std::map<Cid, uint64_t> tsize, content;
    for (auto& [cid, block] : mem.order) {
      if (cid.codec() == Codec::raw) {
        tsize[cid] = content[cid] = block.size();
        continue;
      }
      const PbNode node = unwrap(decode_pb(block));
      const UnixFsData fs = unwrap(decode_unixfs(*node.data));
      EXPECT_EQ(fs.type, UnixFsType::file);
      EXPECT_FALSE(fs.data);
      ASSERT_EQ(fs.blocksizes.size(), node.links.size());
      EXPECT_LE(node.links.size(), kSmall.max_links);
      uint64_t t = block.size(), c = 0;
      for (size_t i = 0; i < node.links.size(); ++i) {
        EXPECT_EQ(node.links[i].name, std::string());
        EXPECT_EQ(node.links[i].tsize, tsize.at(node.links[i].hash));
        EXPECT_EQ(fs.blocksizes[i], content.at(node.links[i].hash));
        t += *node.links[i].tsize;
        c += fs.blocksizes[i];
      }
      EXPECT_EQ(fs.filesize, c);
      tsize[cid] = t;
      content[cid] = c;
    }
    EXPECT_EQ(content.at(r.root), n);
    EXPECT_EQ(tsize.at(r.root), r.dag_bytes);
  }
}

size_t depth_of(const MemBlocks& mem, const Cid& c) {
  if (c.codec() == Codec::raw) return 0;
  return 1 + depth_of(mem, unwrap(decode_pb(mem.map.at(c))).links.at(0).hash);
}

TEST(Importer, BalancedLayoutShapes) {
  struct Shape {
    size_t chunks;
    size_t root_links;
    size_t depth;
  };
  // 4 links: 2 chunks -> one parent; 4 -> one full parent; 5 -> [4], [1] under a root; 16 ->
  // four full parents under a root; 17 -> depth 3 with lone-child parents on the right edge.
  for (Shape s : {Shape{2, 2, 1}, Shape{4, 4, 1}, Shape{5, 2, 2}, Shape{16, 4, 2}, Shape{17, 2, 3}, Shape{64, 4, 3},
                  Shape{65, 2, 4}}) {
    MemBlocks mem;
    const ImportResult r = import_bytes(mem, Xorshift(1).bytes(s.chunks * 1024), kSmall, 4096);
    const PbNode root = unwrap(decode_pb(mem.map.at(r.root)));
    EXPECT_EQ(root.links.size(), s.root_links) << s.chunks;
    EXPECT_EQ(depth_of(mem, r.root), s.depth) << s.chunks;
  }
  // 5 chunks: the fifth leaf sits alone under a one-link parent, as the reference builds it.
  MemBlocks mem;
  const ImportResult r = import_bytes(mem, Xorshift(1).bytes(5 * 1024), kSmall);
  const PbNode root = unwrap(decode_pb(mem.map.at(r.root)));
  EXPECT_EQ(unwrap(decode_pb(mem.map.at(root.links[1].hash))).links.size(), 1u);
}

TEST(Importer, PieceSizesDoNotMatter) {
  const Bytes data = Xorshift(9).bytes(9 * 1024 + 17);
  MemBlocks a, b, c;
  const Cid ra = import_bytes(a, data, kSmall, 1).root;
  const Cid rb = import_bytes(b, data, kSmall, 1023).root;
  const Cid rc = import_bytes(c, data, kSmall, data.size()).root;
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(ra, rc);
  EXPECT_EQ(a.order, c.order);
}

TEST(Importer, ObserverSeesEveryChunkInOrder) {
  const Bytes data = Xorshift(2).bytes(5000);
  std::vector<std::pair<uint64_t, Bytes>> seen;
  MemBlocks mem;
  FileImporter imp(mem.sink(), kSmall, [&](uint64_t i, ByteView c) { seen.emplace_back(i, Bytes(c.begin(), c.end())); });
  ASSERT_TRUE(imp.update(data));
  ASSERT_TRUE(imp.finish());
  ASSERT_EQ(seen.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[i].first, i);
    EXPECT_EQ(seen[i].second, Bytes(data.begin() + static_cast<long>(i * 1024),
                                    data.begin() + static_cast<long>(std::min<size_t>(5000, (i + 1) * 1024))));
  }
}

TEST(Importer, DefaultProfileOnTwoChunks) {
  // 1 MiB + 1: two raw leaves under one parent with blocksizes [1048576, 1].
  const Bytes data = Xorshift(5).bytes(kChunkSize + 1);
  MemBlocks mem;
  const ImportResult r = import_bytes(mem, data, {}, 100000);
  ASSERT_EQ(r.blocks, 3u);
  const UnixFsData fs = unwrap(decode_unixfs(*unwrap(decode_pb(mem.map.at(r.root))).data));
  EXPECT_EQ(fs.blocksizes, (std::vector<uint64_t>{kChunkSize, 1}));
  EXPECT_EQ(fs.filesize, kChunkSize + 1);
  EXPECT_EQ(r.root.version(), 1);
  EXPECT_EQ(r.root.codec(), Codec::dag_pb);
}

TEST(Importer, RejectsBadOptionsAndMisuse) {
  MemBlocks mem;
  for (ImportOptions o : {ImportOptions{0, kMaxLinks}, ImportOptions{kMaxBlockSize + 1, kMaxLinks},
                          ImportOptions{kChunkSize, 1}, ImportOptions{kChunkSize, 1 << 20}}) {
    FileImporter imp(mem.sink(), o);
    auto u = imp.update(as_bytes("x"));
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, Errc::invalid_argument);
    EXPECT_FALSE(imp.finish());
  }
  EXPECT_EQ(FileImporter(BlockSink{}).finish().error().code, Errc::invalid_argument);
  FileImporter imp(mem.sink(), kSmall);
  ASSERT_TRUE(imp.finish());
  EXPECT_EQ(imp.update(as_bytes("x")).error().code, Errc::failed_precondition);
  EXPECT_EQ(imp.finish().error().code, Errc::failed_precondition);
}

TEST(Importer, SinkErrorStopsTheImport) {
  int calls = 0;
  FileImporter imp(
      [&](const Cid&, ByteView) -> Result<void> {
        if (++calls == 3) return fail(Errc::io, "disk full");
        return {};
      },
      kSmall);
  auto r = imp.update(Xorshift(1).bytes(10 * 1024));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(imp.update(as_bytes("more")).error().message, "disk full");
  EXPECT_EQ(imp.finish().error().message, "disk full");
  EXPECT_EQ(calls, 3);
}

// ---------------------------------------------------------------- reader

Bytes read_all(const FileReader& f, uint64_t off = 0, uint64_t len = UINT64_MAX) {
  Bytes out;
  auto r = f.read(off, len, [&](ByteView b) {
    out.insert(out.end(), b.begin(), b.end());
    return true;
  });
  if (!r) throw Exception(r.error());
  return out;
}

TEST(Reader, ReadsBackWhatWasImported) {
  for (size_t n : {0u, 1u, 1024u, 1025u, 5000u, 17 * 1024u, 65 * 1024u + 5}) {
    MemBlocks mem;
    const Bytes data = Xorshift(static_cast<uint32_t>(n + 1)).bytes(n);
    const Cid root = import_bytes(mem, data, kSmall).root;
    auto f = FileReader::open(mem.getter(), root);
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ(f->size(), n);
    EXPECT_EQ(f->root(), root);
    EXPECT_EQ(read_all(*f), data) << n;
  }
}

TEST(Reader, RangesFetchOnlyCoveringBlocks) {
  MemBlocks mem;
  const Bytes data = Xorshift(11).bytes(65 * 1024 + 5);  // 66 chunks, 4 levels of parents
  const Cid root = import_bytes(mem, data, kSmall).root;
  const FileReader f = unwrap(FileReader::open(mem.getter(), root));
  std::mt19937_64 rng(3);
  for (int i = 0; i < 300; ++i) {
    const uint64_t off = rng() % (data.size() + 10), len = rng() % 5000;
    mem.fetched.clear();
    const Bytes got = read_all(f, off, len);
    const uint64_t b = std::min<uint64_t>(off, data.size()), e = std::min<uint64_t>(data.size(), off + len);
    ASSERT_EQ(got, Bytes(data.begin() + static_cast<long>(b), data.begin() + static_cast<long>(e))) << off << "+" << len;
    // The leaves fetched are exactly the chunks the range touches.
    std::set<Cid> want;
    for (uint64_t c = b / 1024; e > b && c * 1024 < e; ++c)
      want.insert(Cid::of(Codec::raw, ByteView(data).subspan(c * 1024, std::min<uint64_t>(1024, data.size() - c * 1024))));
    std::set<Cid> leaves;
    for (auto& [cid, k] : mem.fetched) {
      EXPECT_EQ(k, 1) << "fetched twice";
      if (cid.codec() == Codec::raw) leaves.insert(cid);
    }
    EXPECT_EQ(leaves, want);
  }
  // One byte deep inside: the root, three parents, one leaf.
  mem.fetched.clear();
  EXPECT_EQ(read_all(f, 40000, 1).size(), 1u);
  EXPECT_EQ(mem.fetch_count(), 5);
}

TEST(Reader, SinkCanStopEarly) {
  MemBlocks mem;
  const Cid root = import_bytes(mem, Xorshift(4).bytes(20 * 1024), kSmall).root;
  const FileReader f = unwrap(FileReader::open(mem.getter(), root));
  int calls = 0;
  mem.fetched.clear();
  ASSERT_TRUE(f.read(0, UINT64_MAX, [&](ByteView) { return ++calls < 3; }));
  EXPECT_EQ(calls, 3);
  int leaves = 0;
  for (auto& [cid, k] : mem.fetched) leaves += cid.codec() == Codec::raw;
  EXPECT_EQ(leaves, 3);
}

TEST(Reader, WalksPreOrderOncePerBlock) {
  MemBlocks mem;
  // Zero bytes: every full chunk is the same leaf; parents of four equal leaves repeat too.
  const Bytes zeros(20 * 1024 + 3, 0);
  const ImportResult r = import_bytes(mem, zeros, kSmall);
  const FileReader f = unwrap(FileReader::open(mem.getter(), r.root));
  std::vector<Cid> visited;
  ASSERT_TRUE(f.walk([&](const Cid& c, ByteView b) -> Result<void> {
    EXPECT_TRUE(c.matches(b));
    visited.push_back(c);
    return {};
  }));
  EXPECT_EQ(visited.front(), r.root);
  EXPECT_EQ(std::set<Cid>(visited.begin(), visited.end()).size(), visited.size());
  EXPECT_EQ(visited.size(), mem.map.size());  // every distinct block, once
  // Pre-order: each block is visited after its parent.
  std::set<Cid> before;
  for (const Cid& c : visited) {
    if (c.codec() == Codec::dag_pb)
      for (auto& l : unwrap(decode_pb(mem.map.at(c))).links)
        if (!before.count(l.hash)) {
          EXPECT_GT(std::find(visited.begin(), visited.end(), l.hash) - visited.begin(),
                    std::find(visited.begin(), visited.end(), c) - visited.begin());
        }
    before.insert(c);
  }
  // An error from visit stops the walk and comes back unchanged.
  int n = 0;
  auto stop = f.walk([&](const Cid&, ByteView) -> Result<void> {
    if (++n == 2) return fail(Errc::io, "sink closed");
    return {};
  });
  EXPECT_EQ(stop.error().message, "sink closed");
}

TEST(Reader, ReadsCidV0NodeWithInlineData) {
  MemBlocks mem;
  const Bytes block = concat({hx("0a120802120c"), as_bytes("hello world\n"), hx("180c")});
  const Cid v0 = unwrap(Cid::parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"));
  mem.map[v0] = block;
  const FileReader f = unwrap(FileReader::open(mem.getter(), v0));
  EXPECT_EQ(f.size(), 12u);
  EXPECT_EQ(as_chars(read_all(f)), "hello world\n");
  EXPECT_EQ(as_chars(read_all(f, 6, 5)), "world");
}

// A file node over the given children, each (cid, claimed content size).
Bytes file_node(const std::vector<std::pair<Cid, uint64_t>>& kids, std::optional<uint64_t> filesize = std::nullopt,
                UnixFsType type = UnixFsType::file) {
  UnixFsData fs;
  fs.type = type;
  PbNode n;
  uint64_t sum = 0;
  for (auto& [c, s] : kids) {
    n.links.push_back({c, std::string(), s});
    fs.blocksizes.push_back(s);
    sum += s;
  }
  fs.filesize = filesize ? *filesize : sum;
  n.data = encode_unixfs(fs);
  return encode_pb(n);
}

Cid put(MemBlocks& mem, Codec codec, const Bytes& block) {
  const Cid c = Cid::of(codec, block);
  mem.map[c] = block;
  return c;
}

Error open_and_read_error(const MemBlocks& mem, const Cid& root) {
  auto f = FileReader::open(mem.getter(), root);
  if (!f) return f.error();
  auto r = f->read(0, UINT64_MAX, [](ByteView) { return true; });
  if (r) return Error{Errc::internal, "no error"};
  return r.error();
}

void expect_error(const MemBlocks& mem, const Cid& root, Errc code, std::string_view says) {
  const Error e = open_and_read_error(mem, root);
  EXPECT_EQ(e.code, code) << e.to_string();
  EXPECT_NE(e.message.find(says), std::string::npos) << e.to_string();
}

TEST(Reader, RejectsInconsistentTrees) {
  MemBlocks mem;
  const Cid leaf = put(mem, Codec::raw, Bytes(100, 7));
  // blocksize says 101, the leaf has 100
  expect_error(mem, put(mem, Codec::dag_pb, file_node({{leaf, 101}, {leaf, 100}})), Errc::malformed,
               "holds 100 bytes of content, its parent says 101");
  // filesize disagrees with the blocksizes
  expect_error(mem, put(mem, Codec::dag_pb, file_node({{leaf, 100}}, 99)), Errc::malformed,
               "filesize 99 but data and blocksizes add up to 100");
  // more links than blocksizes
  {
    PbNode n;
    n.links = {{leaf, std::string(), 100}, {leaf, std::string(), 100}};
    UnixFsData fs;
    fs.filesize = 100;
    fs.blocksizes = {100};
    n.data = encode_unixfs(fs);
    expect_error(mem, put(mem, Codec::dag_pb, encode_pb(n)), Errc::malformed, "2 links but 1 blocksizes");
  }
  // dag-pb without Data
  expect_error(mem, put(mem, Codec::dag_pb, encode_pb(PbNode{})), Errc::malformed, "without UnixFS Data");
  // garbage dag-pb names the block and the field
  expect_error(mem, put(mem, Codec::dag_pb, hx("1800")), Errc::malformed, "dag-pb: unknown field 3");
  // a link to dag-cbor
  expect_error(mem, put(mem, Codec::dag_pb, file_node({{Cid::of(Codec::dag_cbor, as_bytes("x")), 1}})), Errc::malformed,
               "link 0 has codec dag-cbor");
  // blocksizes overflowing
  expect_error(mem, put(mem, Codec::dag_pb, file_node({{leaf, UINT64_MAX}, {leaf, 2}}, 1)), Errc::malformed,
               "overflow");
}

TEST(Reader, RejectsWhatIsNotAFile) {
  MemBlocks mem;
  expect_error(mem, put(mem, Codec::dag_pb, hx("0a020801")), Errc::unsupported, "UnixFS directory is not supported");
  expect_error(mem, put(mem, Codec::dag_pb, file_node({}, 0, UnixFsType::hamt_shard)), Errc::unsupported,
               "HAMT-sharded directory");
  expect_error(mem, put(mem, Codec::dag_pb, file_node({}, 0, UnixFsType::symlink)), Errc::unsupported, "symlink");
  expect_error(mem, put(mem, Codec::dag_cbor, Bytes{0xa0}), Errc::unsupported, "codec dag-cbor is not a UnixFS file block");
  EXPECT_EQ(FileReader::open(mem.getter(), Cid()).error().code, Errc::invalid_argument);
  EXPECT_EQ(FileReader::open(BlockGetter{}, Cid::of(Codec::raw, {})).error().code, Errc::invalid_argument);
}

TEST(Reader, RejectsTamperedAndOversizedBlocks) {
  MemBlocks mem;
  const Cid leaf = put(mem, Codec::raw, Bytes(100, 7));
  const Cid root = put(mem, Codec::dag_pb, file_node({{leaf, 100}, {leaf, 100}}));
  mem.map[leaf][50] ^= 1;  // a getter that breaks its contract
  expect_error(mem, root, Errc::malformed, "bytes do not match the CID");
  // missing block: the getter's not_found comes through
  expect_error(mem, Cid::of(Codec::raw, as_bytes("absent")), Errc::not_found, "not found");
  const Cid big = put(mem, Codec::raw, Bytes(kMaxBlockSize + 1));
  expect_error(mem, big, Errc::malformed, "over the 2097152-byte block limit");
}

TEST(Reader, RejectsAbsurdDepth) {
  MemBlocks mem;
  Cid c = put(mem, Codec::raw, Bytes{1, 2, 3});
  for (int i = 0; i < 40; ++i) c = put(mem, Codec::dag_pb, file_node({{c, 3}}));
  expect_error(mem, c, Errc::malformed, "deeper than 32 levels");
  // 30 levels is fine
  Cid d = put(mem, Codec::raw, Bytes{4});
  for (int i = 0; i < 30; ++i) d = put(mem, Codec::dag_pb, file_node({{d, 1}}));
  EXPECT_EQ(read_all(unwrap(FileReader::open(mem.getter(), d))), Bytes{4});
}

}  // namespace
}  // namespace dgrid::store
