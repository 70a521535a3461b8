// CAR v1: the header's exact DAG-CBOR bytes, export/import through real blockstores, and
// every kind of malformed input named by the brief (bad varints, section lengths, CID/block
// mismatch, versions, missing roots, trailing header bytes, truncation at every offset).
#include "store/car.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "support/test_env.hpp"

namespace dgrid::store {
namespace {

Bytes random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng() >> 24);
  return out;
}
Bytes hx(std::string_view s) { return unwrap(from_hex(s)); }
std::string str(ByteView b) { return std::string(as_chars(b)); }

struct Parsed {
  std::vector<Cid> roots;
  std::vector<CarReader::Block> blocks;
};
Result<Parsed> parse(const std::string& car) {
  std::istringstream in(car);
  auto r = CarReader::open(in);
  if (!r) return std::unexpected(r.error());
  Parsed p{r->roots(), {}};
  for (;;) {
    auto b = r->next();
    if (!b) return std::unexpected(b.error());
    if (!*b) return p;
    p.blocks.push_back(std::move(**b));
  }
}

// The error of reading `car`, which must fail.
Error parse_error(const std::string& car) {
  auto p = parse(car);
  EXPECT_FALSE(p) << "accepted a malformed CAR of " << car.size() << " bytes";
  return p ? Error{} : p.error();
}

void expect_rejected(const std::string& car, std::string_view says) {
  Error e = parse_error(car);
  EXPECT_EQ(e.code, Errc::malformed) << e.message;
  EXPECT_NE(e.message.find(says), std::string::npos) << "error \"" << e.message << "\" lacks \"" << says << "\"";
}

// A raw header: varint(len) + the given CBOR bytes.
std::string header(ByteView cbor) {
  Bytes out;
  put_uvarint(out, cbor.size());
  out.insert(out.end(), cbor.begin(), cbor.end());
  return str(out);
}

const Bytes kBlock = {'h', 'e', 'l', 'l', 'o', ' ', 'C', 'A', 'R'};

TEST(Car, HeaderIsCanonicalDagCbor) {
  Cid root = Cid::of(Codec::raw, kBlock);
  Bytes h = encode_car_header({root});
  // a2 (map of 2) 65 "roots" 81 (array of 1) d8 2a (tag 42) 58 25 (37 bytes) 00 <CID>
  // 67 "version" 01, preceded by its length varint.
  Bytes cbor = concat({hx("a265726f6f747381d82a582500"), root.bytes(), hx("6776657273696f6e01")});
  Bytes want;
  put_uvarint(want, cbor.size());
  want.insert(want.end(), cbor.begin(), cbor.end());
  EXPECT_EQ(to_hex(h), to_hex(want));
  // The same bytes as nlohmann's own CBOR for the same document (the header comment's claim).
  Bytes tagged{0x00};
  Bytes rb = root.bytes();
  tagged.insert(tagged.end(), rb.begin(), rb.end());
  nlohmann::json doc = {{"version", 1}, {"roots", {nlohmann::json::binary(tagged, 42)}}};
  EXPECT_EQ(to_hex(ByteView(h).subspan(1)), to_hex(nlohmann::json::to_cbor(doc)));
  // And nlohmann reads ours back with the tag kept.
  auto back = nlohmann::json::from_cbor(ByteView(h).subspan(1), true, true, nlohmann::json::cbor_tag_handler_t::store);
  EXPECT_EQ(back["version"], 1);
  EXPECT_EQ(back["roots"][0].get_binary().subtype(), 42u);

  Bytes sec = encode_car_section(root, kBlock);
  Bytes want_sec;
  put_uvarint(want_sec, root.bytes().size() + kBlock.size());
  want_sec = concat({want_sec, root.bytes(), kBlock});
  EXPECT_EQ(sec, want_sec);
}

TEST(Car, WriterAndReaderRoundTrip) {
  std::string out;
  std::vector<std::pair<Cid, Bytes>> blocks;
  for (int i = 0; i < 5; ++i) {
    Bytes b = random_bytes(static_cast<size_t>(i) * 1000 + 1, static_cast<uint64_t>(i));
    blocks.emplace_back(Cid::of(i % 2 ? Codec::dag_pb : Codec::raw, b), b);
  }
  // Also a CIDv0 block, which CARs from older tools carry.
  Bytes v0block = encode_pb(PbNode{{}, hx("0801")});
  blocks.emplace_back(Cid::v0(Cid::of(Codec::dag_pb, v0block).digest()), v0block);
  std::vector<Cid> roots = {blocks[0].first, blocks[5].first};
  CarWriter w([&](ByteView b) { out += str(b); return true; }, roots);
  for (auto& [c, b] : blocks) EXPECT_TRUE(w.add(c, b));
  EXPECT_EQ(w.bytes_written(), out.size());
  auto p = parse(out);
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->roots, roots);
  EXPECT_EQ(p->roots[1].version(), 0);
  ASSERT_EQ(p->blocks.size(), blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(p->blocks[i].cid, blocks[i].first);
    EXPECT_EQ(p->blocks[i].data, blocks[i].second);
  }
  // No roots at all is a valid (if useless) header.
  auto empty = parse(str(encode_car_header({})));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->roots.empty());
}

TEST(Car, WriterStopsWhenTheSinkRefuses) {
  int calls = 0;
  CarWriter w([&](ByteView) { return ++calls < 3; }, {Cid::of(Codec::raw, kBlock)});
  EXPECT_TRUE(w.bytes_written() > 0);
  EXPECT_FALSE(w.add(Cid::of(Codec::raw, kBlock), kBlock));  // prefix accepted, block refused
  EXPECT_FALSE(w.add(Cid::of(Codec::raw, kBlock), kBlock));
  EXPECT_EQ(calls, 3);
}

TEST(Car, ExportAndImportThroughBlockstores) {
  test::TempDir dir("dgrid_car");
  auto a = unwrap(Blockstore::open(dir.path() / "a", {.capacity_bytes = 0, .fsync = false}));
  auto b = unwrap(Blockstore::open(dir.path() / "b", {.capacity_bytes = 0, .fsync = false}));
  // A deep DAG from a little data; repeated chunks make repeated CIDs (exported once).
  Bytes data = random_bytes(60000, 9);
  std::copy(data.begin(), data.begin() + 4096, data.begin() + 8192);
  FileImporter imp([&](const Cid& c, ByteView blk) { return a->put(c, blk); }, {.chunk_size = 4096, .max_links = 3});
  ASSERT_TRUE(imp.update(data));
  ImportResult res = unwrap(imp.finish());

  std::string car;
  auto n = export_car(*a, res.root, [&](ByteView part) { car += str(part); return true; });
  ASSERT_TRUE(n) << n.error().to_string();
  EXPECT_EQ(*n, car.size());
  auto p = parse(car);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->roots, std::vector<Cid>{res.root});
  // Depth-first pre-order from the root, each block once.
  std::vector<Cid> order;
  auto reader = unwrap(FileReader::open(a->getter(), res.root));
  ASSERT_TRUE(reader.walk([&](const Cid& c, ByteView) -> Result<void> {
    order.push_back(c);
    return {};
  }));
  ASSERT_EQ(p->blocks.size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(p->blocks[i].cid, order[i]);
  EXPECT_EQ(p->blocks[0].cid, res.root);
  EXPECT_LT(p->blocks.size(), res.blocks);  // the repeated leaf is sent once

  std::istringstream in(car);
  auto imported = import_car(*b, in);
  ASSERT_TRUE(imported) << imported.error().to_string();
  EXPECT_EQ(imported->roots, std::vector<Cid>{res.root});
  EXPECT_EQ(imported->pinned, std::vector<Cid>{res.root});
  EXPECT_EQ(imported->blocks, order.size());
  EXPECT_TRUE(b->pinned(res.root));
  Bytes back;
  ASSERT_TRUE(unwrap(FileReader::open(b->getter(), res.root)).read(0, data.size(), [&](ByteView part) {
    back.insert(back.end(), part.begin(), part.end());
    return true;
  }));
  EXPECT_EQ(back, data);

  // An output that stops is an error, not a short CAR passed off as complete.
  size_t budget = car.size() / 2;
  auto stopped = export_car(*a, res.root, [&](ByteView part) {
    if (part.size() > budget) return false;
    budget -= part.size();
    return true;
  });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, Errc::io);
  auto missing = export_car(*a, Cid::of(Codec::raw, kBlock), [](ByteView) { return true; });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST(Car, ImportOfAnIncompleteDagStoresBlocksButPinsNothing) {
  test::TempDir dir("dgrid_car");
  auto a = unwrap(Blockstore::open(dir.path() / "a", {.capacity_bytes = 0, .fsync = false}));
  auto b = unwrap(Blockstore::open(dir.path() / "b", {.capacity_bytes = 0, .fsync = false}));
  Bytes data = random_bytes(20000, 10);
  FileImporter imp([&](const Cid& c, ByteView blk) { return a->put(c, blk); }, {.chunk_size = 4096, .max_links = 8});
  ASSERT_TRUE(imp.update(data));
  Cid root = unwrap(imp.finish()).root;
  std::string car;
  ASSERT_TRUE(export_car(*a, root, [&](ByteView part) { car += str(part); return true; }));
  // Drop the last section (a leaf).
  auto p = unwrap(parse(car));
  std::string cut = str(encode_car_header({root}));
  for (size_t i = 0; i + 1 < p.blocks.size(); ++i) cut += str(encode_car_section(p.blocks[i].cid, p.blocks[i].data));
  std::istringstream in(cut);
  auto r = import_car(*b, in);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->blocks, p.blocks.size() - 1);
  EXPECT_TRUE(r->pinned.empty());
  EXPECT_FALSE(b->pinned(root));
  EXPECT_TRUE(b->has(root));
}

TEST(Car, ImportStopsAtABadBlockAndPinsNothing) {
  test::TempDir dir("dgrid_car");
  auto bs = unwrap(Blockstore::open(dir.path() / "s", {.capacity_bytes = 0, .fsync = false}));
  Cid good = Cid::of(Codec::raw, kBlock);
  Bytes other = random_bytes(10, 1);
  std::string car = str(encode_car_header({good})) + str(encode_car_section(good, kBlock)) +
                    str(encode_car_section(good, other));  // claims `good`, carries other bytes
  std::istringstream in(car);
  auto r = import_car(*bs, in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::malformed);
  EXPECT_NE(r.error().message.find("does not match its CID"), std::string::npos) << r.error().message;
  EXPECT_TRUE(bs->has(good));  // stored before the bad one: harmless, content-addressed
  EXPECT_FALSE(bs->pinned(good));
}

TEST(Car, ImportReportsAFullStore) {
  test::TempDir dir("dgrid_car");
  auto bs = unwrap(Blockstore::open(dir.path() / "s", {.capacity_bytes = 100, .fsync = false}));
  Bytes big = random_bytes(1000, 3);
  std::string car = str(encode_car_header({})) + str(encode_car_section(Cid::of(Codec::raw, big), big));
  std::istringstream in(car);
  auto r = import_car(*bs, in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::failed_precondition);
  EXPECT_NE(r.error().message.find("storage full"), std::string::npos);
}

TEST(Car, RejectsMalformedHeaders) {
  Cid root = Cid::of(Codec::raw, kBlock);
  Bytes cidb = concat({hx("00"), root.bytes()});
  Bytes tagged = concat({hx("d82a5825"), cidb});
  expect_rejected("", "empty");
  expect_rejected(str(hx("80")), "ends inside the header length varint");
  expect_rejected(str(hx("8000")), "not minimally encoded");
  expect_rejected(str(hx("ffffffffffffffffff01")), "longer than 9 bytes");
  expect_rejected(str(hx("00")), "header length is 0");
  expect_rejected(str(hx("8080808010")), "exceeds");  // 2^32: refused before reading
  expect_rejected(str(hx("0aa265")), "truncated header: 10 bytes declared, 2 present");
  // {version: 2, roots: [...]} and a CARv2 pragma {version: 2}.
  expect_rejected(header(concat({hx("a265726f6f747381"), tagged, hx("6776657273696f6e02")})),
                  "CAR version 2 is not supported");
  expect_rejected(header(hx("a16776657273696f6e02")), "CAR version 2 is not supported");
  expect_rejected(header(hx("a16776657273696f6e01")), "header has no roots");
  expect_rejected(header(concat({hx("a165726f6f747381"), tagged})), "header has no version");
  // Trailing garbage inside the declared header length.
  expect_rejected(header(concat({hx("a265726f6f747381"), tagged, hx("6776657273696f6e0100")})),
                  "trailing bytes after the header map");
  expect_rejected(header(hx("8201")), "header is not a CBOR map");
  expect_rejected(header(hx("a265726f6f7473016776657273696f6e01")), "roots is not an array");
  expect_rejected(header(concat({hx("a265726f6f747381"), hx("5825"), cidb, hx("6776657273696f6e01")})),
                  "not a CID (CBOR tag 42)");
  expect_rejected(header(concat({hx("a265726f6f747381d82b5825"), cidb, hx("6776657273696f6e01")})),
                  "not a CID (CBOR tag 42)");
  expect_rejected(header(concat({hx("a265726f6f747381d82a5824"), root.bytes(), hx("6776657273696f6e01")})),
                  "0x00 multibase prefix");
  expect_rejected(header(concat({hx("a265726f6f747381d82a6125"), hx("6776657273696f6e01")})), "non-byte-string");
  expect_rejected(header(hx("a265726f6f747381d82a5825")), "runs past the end of the header");
  expect_rejected(header(concat({hx("a265726f6f74739f"), tagged, hx("ff6776657273696f6e01")})), "indefinite-length");
  expect_rejected(header(hx("bf6776657273696f6e01ff")), "indefinite-length");
  expect_rejected(header(hx("a26776657273696f6e016776657273696f6e01")), "duplicate header key \"version\"");
  expect_rejected(header(hx("a36776657273696f6e0165726f6f74738063666f6f01")), "unexpected header key \"foo\"");
  expect_rejected(header(hx("a26776657273696f6e1801")), "non-minimal CBOR integer");
  expect_rejected(header(hx("a1f66776")), "header key is not a text string");
  expect_rejected(header(hx("a16776657273696f6ef5")), "version is not an unsigned integer");
  // Deep nesting is refused at the first level, whatever its depth (no recursion).
  expect_rejected(header(Bytes(100000, 0x81)), "header is not a CBOR map");
  expect_rejected(header(concat({hx("a165726f6f7473"), Bytes(50000, 0x81)})), "not a CID");
  // A root CID with a hash we cannot verify.
  Bytes sha512 = concat({hx("0001551340"), Bytes(64, 1)});
  Error e = parse_error(header(concat({hx("a265726f6f747381d82a5845"), sha512, hx("6776657273696f6e01")})));
  EXPECT_NE(e.message.find("header root 0"), std::string::npos) << e.message;
}

TEST(Car, RejectsMalformedSections) {
  Cid cid = Cid::of(Codec::raw, kBlock);
  std::string h = str(encode_car_header({cid}));
  std::string off = std::to_string(h.size());
  expect_rejected(h + str(hx("00")), "CAR at offset " + off + ": section length is 0");
  expect_rejected(h + str(hx("80")), "ends inside the section length varint");
  expect_rejected(h + str(hx("8000")), "not minimally encoded");
  // kMaxBlockSize + longest CID + 1.
  Bytes len;
  put_uvarint(len, kMaxBlockSize + 44 + 1);
  expect_rejected(h + str(len), "exceeds");
  put_uvarint(len = {}, 100);
  expect_rejected(h + str(len) + std::string(10, 'x'), "truncated section: 100 bytes declared, 10 present");
  // The CID's bytes differ from the block's hash.
  Bytes wrong = kBlock;
  wrong[0] ^= 1;
  std::string bad = h + str(encode_car_section(cid, kBlock)) + str(encode_car_section(cid, wrong));
  Error e = parse_error(bad);
  EXPECT_NE(e.message.find("block does not match its CID " + cid.to_string()), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("offset " + std::to_string(h.size() + encode_car_section(cid, kBlock).size())),
            std::string::npos)
      << e.message;
  // A CID that does not parse, and one with an unsupported hash.
  put_uvarint(len = {}, 3);
  expect_rejected(h + str(len) + str(hx("01ff00")), "section CID");
  Bytes sha1 = concat({hx("01551114"), Bytes(20, 0), kBlock});
  put_uvarint(len = {}, sha1.size());
  Error unsupported = parse_error(h + str(len) + str(sha1));
  EXPECT_NE(unsupported.message.find("section CID"), std::string::npos) << unsupported.message;
  // A section holding only a CID and no block: a block of zero bytes, which must then hash right.
  Bytes empty_block_cid = Cid::of(Codec::raw, {}).bytes();
  put_uvarint(len = {}, empty_block_cid.size());
  auto ok = parse(h + str(len) + str(empty_block_cid));
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(ok->blocks[0].data.empty());
}

TEST(Car, EveryTruncationIsAnErrorOrACleanShorterCar) {
  std::vector<std::pair<Cid, Bytes>> blocks;
  for (int i = 0; i < 4; ++i) {
    Bytes b = random_bytes(static_cast<size_t>(40 + i * 30), static_cast<uint64_t>(i) + 50);
    blocks.emplace_back(Cid::of(Codec::raw, b), b);
  }
  std::string car = str(encode_car_header({blocks[0].first}));
  std::vector<size_t> boundaries = {car.size()};
  for (auto& [c, b] : blocks) {
    car += str(encode_car_section(c, b));
    boundaries.push_back(car.size());
  }
  for (size_t cut = 0; cut < car.size(); ++cut) {
    auto p = parse(car.substr(0, cut));
    auto at = std::find(boundaries.begin(), boundaries.end(), cut);
    if (at == boundaries.end()) {
      ASSERT_FALSE(p) << "a CAR cut at " << cut << " was accepted";
      EXPECT_EQ(p.error().code, Errc::malformed);
    } else {
      ASSERT_TRUE(p) << cut << ": " << p.error().to_string();
      EXPECT_EQ(p->blocks.size(), static_cast<size_t>(at - boundaries.begin()));
    }
  }
}

}  // namespace
}  // namespace dgrid::store
