// Segment index, chunked proofs and summarize_file against the full in-memory MerkleTree
// (crypto/merkle, itself checked against an independent implementation) and FileImporter.
#include "store/segments.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "crypto/keccak.hpp"
#include "store/blockstore.hpp"
#include "support/test_env.hpp"

namespace dgrid::store {
namespace {

constexpr uint64_t kMiB = 1 << 20;

Bytes random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng() >> 24);
  return out;
}

// Feeds `data` in random-sized pieces (so chunk and segment boundaries fall mid-piece).
SegmentIndex index_of(ByteView data, uint64_t seed) {
  std::mt19937_64 rng(seed);
  SegmentHasher h;
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), 1 + rng() % 300000);
    h.update(data.first(n));
    data = data.subspan(n);
  }
  return h.finish();
}

ByteView chunk_of(ByteView data, uint64_t segment) {
  uint64_t start = segment / kSegmentsPerChunk * kChunkSize;
  return data.subspan(start, std::min<uint64_t>(kChunkSize, data.size() - start));
}

std::filesystem::path write_file(const std::filesystem::path& p, ByteView data) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), static_cast<long>(data.size()));
  return p;
}

// 0, 1, around one segment, around one chunk, several chunks with odd counts and partial tails.
const uint64_t kSizes[] = {0,        1,           1023,           1024,          1025,
                           5000,     64 * 1024 + 3, kMiB - 1,     kMiB,          kMiB + 1,
                           2 * kMiB, 3 * kMiB - 7,  3 * kMiB + 5, 5 * kMiB + 777, 7 * kMiB + 1024 * 3 + 1};

TEST(SegmentIndex, RootEqualsFullMerkleTree) {
  for (uint64_t size : kSizes) {
    Bytes data = random_bytes(size, size);
    SegmentIndex idx = index_of(data, size + 1);
    crypto::MerkleTree full = crypto::MerkleTree::from_content(data);
    EXPECT_EQ(idx.size(), size);
    EXPECT_EQ(idx.segment_count(), full.leaf_count()) << size;
    EXPECT_EQ(idx.chunk_roots().size(), (size + kMiB - 1) / kMiB) << size;
    EXPECT_EQ(idx.root(), full.root()) << size;
  }
  EXPECT_EQ(SegmentIndex().root(), Hash32{});
}

TEST(SegmentIndex, EveryProofOfSmallFilesMatchesTheFullTree) {
  for (uint64_t size : {uint64_t{1}, uint64_t{1023}, uint64_t{1024}, uint64_t{1025}, uint64_t{5000},
                        uint64_t{64 * 1024 + 3}, uint64_t{300 * 1024 + 1}}) {
    Bytes data = random_bytes(size, size * 3);
    SegmentIndex idx = index_of(data, size);
    crypto::MerkleTree full = crypto::MerkleTree::from_content(data);
    for (uint64_t i = 0; i < idx.segment_count(); ++i) {
      auto p = idx.prove(i, chunk_of(data, i));
      ASSERT_TRUE(p) << size << " " << i << ": " << p.error().to_string();
      auto want = full.proof(i);
      ASSERT_TRUE(want);
      EXPECT_EQ(p->index, i);
      EXPECT_EQ(p->leaf_count, full.leaf_count());
      EXPECT_EQ(p->siblings, want->siblings) << size << " " << i;
      EXPECT_TRUE(crypto::merkle_verify(idx.root(), full.leaf_hash(i), *p)) << size << " " << i;
    }
  }
}

TEST(SegmentIndex, ProofsOfMultiChunkFilesVerify) {
  std::mt19937_64 rng(7);
  for (uint64_t size : kSizes) {
    if (size <= kMiB - 1) continue;
    Bytes data = random_bytes(size, size ^ 0x55);
    SegmentIndex idx = index_of(data, size);
    crypto::MerkleTree full = crypto::MerkleTree::from_content(data);
    uint64_t n = idx.segment_count();
    // Both ends, both sides of every chunk boundary, and random segments.
    std::vector<uint64_t> picks = {0, n - 1};
    for (uint64_t b = kSegmentsPerChunk; b < n; b += kSegmentsPerChunk) picks.insert(picks.end(), {b - 1, b});
    for (int k = 0; k < 24; ++k) picks.push_back(rng() % n);
    for (uint64_t i : picks) {
      auto p = idx.prove(i, chunk_of(data, i));
      ASSERT_TRUE(p) << size << " " << i << ": " << p.error().to_string();
      EXPECT_EQ(p->siblings, full.proof(i)->siblings) << size << " " << i;
      EXPECT_EQ(p->siblings.size(), crypto::merkle_proof_length(i, n));
      EXPECT_TRUE(crypto::merkle_verify(idx.root(), full.leaf_hash(i), *p)) << size << " " << i;
      // The proof is for this index only.
      if (n > 1) {
        EXPECT_FALSE(crypto::merkle_verify(idx.root(), full.leaf_hash(i), (i + 1) % n, n, p->siblings));
      }
    }
  }
}

TEST(SegmentIndex, ProveRejectsBadInput) {
  Bytes data = random_bytes(2 * kMiB + 100, 1);
  SegmentIndex idx = index_of(data, 1);
  uint64_t n = idx.segment_count();
  auto out_of_range = idx.prove(n, chunk_of(data, n - 1));
  ASSERT_FALSE(out_of_range);
  EXPECT_EQ(out_of_range.error().code, Errc::invalid_argument);
  EXPECT_NE(out_of_range.error().message.find("out of range"), std::string::npos);

  // The wrong chunk's length, and the right length with different bytes.
  auto wrong_len = idx.prove(n - 1, chunk_of(data, 0));
  ASSERT_FALSE(wrong_len);
  EXPECT_NE(wrong_len.error().message.find("should hold 100 bytes"), std::string::npos);
  Bytes changed(chunk_of(data, 5).begin(), chunk_of(data, 5).end());
  changed[12345] ^= 1;
  auto tampered = idx.prove(5, changed);
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().code, Errc::malformed);
  EXPECT_NE(tampered.error().message.find("does not match the segment index"), std::string::npos);

  // An index whose roots do not fit its size.
  SegmentIndex inconsistent(data.size(), {idx.chunk_roots()[0]});
  EXPECT_EQ(inconsistent.prove(0, chunk_of(data, 0)).error().code, Errc::malformed);
}

TEST(SegmentIndex, SerializeRoundTripsAndRejectsDamage) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, 3 * kMiB + 5}) {
    SegmentIndex idx = index_of(random_bytes(size, 2), 3);
    Bytes s = idx.serialize();
    EXPECT_EQ(s.size(), 24 + 32 * idx.chunk_roots().size());
    auto back = SegmentIndex::deserialize(s);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(back->size(), size);
    EXPECT_EQ(back->chunk_roots(), idx.chunk_roots());
    EXPECT_EQ(back->root(), idx.root());
  }
  Bytes s = index_of(random_bytes(3 * kMiB + 5, 2), 3).serialize();
  auto expect_bad = [](Bytes b, std::string_view what) {
    auto r = SegmentIndex::deserialize(b);
    ASSERT_FALSE(r) << what;
    EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
  };
  Bytes bad = s;
  bad[0] = 'X';
  expect_bad(bad, "bad magic");
  bad = s;
  bad[7] = 2;
  expect_bad(bad, "version 2");
  bad = s;
  bad[23] = 5;  // count 5 for a 4-chunk size
  expect_bad(bad, "5 chunk roots");
  bad = s;
  bad[13] = 0x70;  // size 7 MiB + 5: 8 chunks, but 4 roots follow
  expect_bad(bad, "4 chunk roots for 7340037 bytes");
  bad = s;
  bad.pop_back();
  expect_bad(bad, "bytes of roots");
  bad = s;
  bad.push_back(0);
  expect_bad(bad, "bytes of roots");
  expect_bad(Bytes(s.begin(), s.begin() + 10), "shorter than its header");
}

// Content-defined expectations for summarize_file: the CID of FileImporter over the same
// bytes, the MerkleTree root, the blocks it would store.
struct Expected {
  ImportResult imported;
  std::vector<std::pair<Cid, Bytes>> blocks;
  Hash32 segment_root{};
};
Expected expect_for(ByteView data) {
  Expected e;
  FileImporter imp([&](const Cid& c, ByteView b) -> Result<void> {
    e.blocks.emplace_back(c, Bytes(b.begin(), b.end()));
    return {};
  });
  // A split unlike summarize_file's 1 MiB reads.
  for (size_t off = 0; off < data.size(); off += 77777) EXPECT_TRUE(imp.update(data.subspan(off, std::min<size_t>(77777, data.size() - off))));
  e.imported = unwrap(imp.finish());
  e.segment_root = crypto::MerkleTree::from_content(data).root();
  return e;
}

TEST(SummarizeFile, MatchesImporterAndMerkleTree) {
  test::TempDir dir("dgrid_segments");
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1025}, kMiB, kMiB + 1, 3 * kMiB + 5, 5 * kMiB - 1}) {
    Bytes data = random_bytes(size, size + 11);
    auto path = write_file(dir.path() / ("f" + std::to_string(size)), data);
    Expected want = expect_for(data);
    for (unsigned threads : {1u, 2u}) {
      std::vector<std::pair<Cid, Bytes>> got_blocks;
      std::vector<uint64_t> progress;
      auto sum = summarize_file(
          path,
          [&](const Cid& c, ByteView b) -> Result<void> {
            got_blocks.emplace_back(c, Bytes(b.begin(), b.end()));
            return {};
          },
          [&](uint64_t done, uint64_t total) {
            EXPECT_EQ(total, size);
            progress.push_back(done);
          },
          threads);
      ASSERT_TRUE(sum) << sum.error().to_string();
      EXPECT_EQ(sum->cid, want.imported.root) << size;
      EXPECT_EQ(sum->size, size);
      EXPECT_EQ(sum->blocks, want.imported.blocks);
      EXPECT_EQ(sum->dag_bytes, want.imported.dag_bytes);
      EXPECT_EQ(sum->segment_root, want.segment_root) << size << " threads " << threads;
      EXPECT_EQ(sum->index.root(), want.segment_root);
      EXPECT_EQ(sum->index.size(), size);
      EXPECT_EQ(got_blocks, want.blocks);
      if (size > 0) {
        ASSERT_FALSE(progress.empty());
        EXPECT_EQ(progress.back(), size);
        EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
      }
    }
    // The 3-argument form (thread count chosen by the machine) agrees.
    auto plain = summarize_file(path);
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->cid, want.imported.root);
    EXPECT_EQ(plain->segment_root, want.segment_root);
  }
}

TEST(SummarizeFile, ErrorsAreClear) {
  test::TempDir dir("dgrid_segments");
  auto missing = summarize_file(dir.path() / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
  auto directory = summarize_file(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code, Errc::invalid_argument);
  // A sink error stops the summary and comes back unchanged, whichever thread calls the sink;
  // no block after the failing one reaches it.
  auto path = write_file(dir.path() / "f", random_bytes(9 * kMiB, 4));
  for (unsigned threads : {1u, 2u}) {
    int calls = 0;
    auto stopped = summarize_file(
        path,
        [&](const Cid&, ByteView) -> Result<void> {
          if (++calls == 2) return fail(Errc::failed_precondition, "storage full: test");
          return {};
        },
        {}, threads);
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.error().code, Errc::failed_precondition);
    EXPECT_NE(stopped.error().message.find("storage full: test"), std::string::npos);
    EXPECT_EQ(calls, 2) << threads;
  }
}

// ASan keeps freed memory in quarantine, so peak RSS says nothing about the code there.
#if defined(__SANITIZE_ADDRESS__)
#define DGRID_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DGRID_TEST_ASAN 1
#endif
#endif

uint64_t peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

TEST(SummarizeFile, MemoryDoesNotGrowWithTheFile) {
#ifdef DGRID_TEST_ASAN
  GTEST_SKIP() << "under ASan freed memory stays resident (quarantine): peak RSS is not the code's";
#endif
  test::TempDir dir("dgrid_segments");
  constexpr uint64_t kSize = 96 * kMiB;
  auto path = dir.path() / "big";
  {
    std::ofstream out(path, std::ios::binary);
    Bytes piece = random_bytes(kMiB, 9);
    for (uint64_t i = 0; i < kSize / kMiB; ++i) {
      piece[0] = static_cast<uint8_t>(i);
      out.write(reinterpret_cast<const char*>(piece.data()), static_cast<long>(piece.size()));
    }
  }
  // "5" resets the peak RSS counter (proc(5)); without it the peak of earlier tests counts.
  if (!std::ofstream("/proc/self/clear_refs").write("5", 1)) GTEST_SKIP() << "cannot reset VmHWM here";
  uint64_t before = peak_rss_kib();
  uint64_t blocks = 0;
  auto sum = summarize_file(path, [&](const Cid&, ByteView) -> Result<void> {
    ++blocks;
    return {};
  });
  ASSERT_TRUE(sum) << sum.error().to_string();
  uint64_t grown_kib = peak_rss_kib() - before;
  EXPECT_EQ(sum->size, kSize);
  EXPECT_EQ(blocks, 96u + 1u);
  // A few 1 MiB buffers and the importer's chunk; the file is 96 MiB.
  EXPECT_LT(grown_kib, 24u * 1024u) << "summarize_file grew the peak RSS by " << grown_kib << " KiB";
}

TEST(ProveSegment, ThroughFileReaderOverABlockstore) {
  test::TempDir dir("dgrid_segments");
  auto bs = unwrap(Blockstore::open(dir.path() / "store", {.capacity_bytes = 0, .fsync = false}));
  for (uint64_t size : {uint64_t{1}, uint64_t{4097}, kMiB, 3 * kMiB + 517}) {
    Bytes data = random_bytes(size, size * 7);
    auto path = write_file(dir.path() / "f", data);
    auto sum = summarize_file(path, [&](const Cid& c, ByteView b) { return bs->put(c, b); });
    ASSERT_TRUE(sum) << sum.error().to_string();
    auto reader = FileReader::open(bs->getter(), sum->cid);
    ASSERT_TRUE(reader) << reader.error().to_string();
    uint64_t n = sum->index.segment_count();
    std::mt19937_64 rng(size);
    std::vector<uint64_t> picks = {0, n - 1, rng() % n, rng() % n, rng() % n};
    if (n > kSegmentsPerChunk) picks.insert(picks.end(), {kSegmentsPerChunk - 1, kSegmentsPerChunk});
    for (uint64_t i : picks) {
      auto p = prove_segment(*reader, sum->index, i);
      ASSERT_TRUE(p) << p.error().to_string();
      uint64_t off = i * crypto::kSegmentSize;
      Bytes want(data.begin() + static_cast<long>(off),
                 data.begin() + static_cast<long>(std::min<uint64_t>(size, off + crypto::kSegmentSize)));
      EXPECT_EQ(p->segment, want) << size << " " << i;
      EXPECT_EQ(p->index, i);
      EXPECT_TRUE(crypto::merkle_verify(sum->segment_root, crypto::merkle_leaf_hash(p->segment), p->proof)) << size << " " << i;
    }
    auto out_of_range = prove_segment(*reader, sum->index, n);
    ASSERT_FALSE(out_of_range);
    EXPECT_EQ(out_of_range.error().code, Errc::invalid_argument);
    SegmentIndex other(size + 1, sum->index.chunk_roots());
    auto mismatch = prove_segment(*reader, other, 0);
    ASSERT_FALSE(mismatch);
    EXPECT_NE(mismatch.error().message.find("segment index is for"), std::string::npos);
  }
}

TEST(ProveSegment, CorruptChunkOnDiskIsAnErrorNotAWrongProof) {
  test::TempDir dir("dgrid_segments");
  auto bs = unwrap(Blockstore::open(dir.path() / "store", {.capacity_bytes = 0, .fsync = false}));
  Bytes data = random_bytes(2 * kMiB + 10, 5);
  auto path = write_file(dir.path() / "f", data);
  std::vector<Cid> leaves;
  auto sum = unwrap(summarize_file(path, [&](const Cid& c, ByteView b) {
    if (c.codec() == Codec::raw) leaves.push_back(c);
    return bs->put(c, b);
  }));
  ASSERT_EQ(leaves.size(), 3u);
  // Flip one byte of the second leaf's file.
  std::filesystem::path leaf_file;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path() / "store" / "blocks"))
    if (e.path().filename() == leaves[1].to_string()) leaf_file = e.path();
  ASSERT_FALSE(leaf_file.empty());
  {
    std::fstream f(leaf_file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\xff' ^ static_cast<char>(data[kMiB + 100]));
  }
  auto reader = unwrap(FileReader::open(bs->getter(), sum.cid));
  EXPECT_TRUE(prove_segment(reader, sum.index, 3));  // first chunk is intact
  auto bad = prove_segment(reader, sum.index, kSegmentsPerChunk + 2);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::malformed);
  EXPECT_NE(bad.error().message.find("corrupt on disk"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace dgrid::store
