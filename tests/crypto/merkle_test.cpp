#include "crypto/merkle.hpp"

#include <gtest/gtest.h>

#include "crypto/keccak.hpp"

namespace dgrid::crypto {

namespace {

std::vector<Hash32> make_leaves(size_t n) {
  std::vector<Hash32> leaves;
  for (size_t i = 0; i < n; ++i) leaves.push_back(keccak256(std::string_view("leaf " + std::to_string(i))));
  return leaves;
}

// Independent reference: the recursive split at the largest power of two below n
// (RFC 6962 shape), which the level-by-level promotion rule must equal.
Hash32 reference_root(std::span<const Hash32> leaves) {
  if (leaves.empty()) return Hash32{};
  if (leaves.size() == 1) return leaves[0];
  size_t k = 1;
  while (k * 2 < leaves.size()) k *= 2;
  return merkle_node_hash(reference_root(leaves.first(k)), reference_root(leaves.subspan(k)));
}

}  // namespace

TEST(Merkle, SmallTreesByHand) {
  auto l = make_leaves(3);
  EXPECT_EQ(merkle_root({}), Hash32{});
  EXPECT_EQ(merkle_root(std::span(l).first(1)), l[0]);
  EXPECT_EQ(merkle_root(std::span(l).first(2)), keccak256(concat({l[0], l[1]})));
  // Three leaves: the third is promoted, not duplicated.
  EXPECT_EQ(merkle_root(l), keccak256(concat({keccak256(concat({l[0], l[1]})), l[2]})));
  EXPECT_EQ(merkle_node_hash(l[0], l[1]), keccak256(concat({l[0], l[1]})));
  EXPECT_NE(merkle_node_hash(l[0], l[1]), merkle_node_hash(l[1], l[0]));
}

TEST(Merkle, ProofsForManySizes) {
  for (size_t n : {0, 1, 2, 3, 5, 7, 8, 9, 33, 1000}) {
    auto leaves = make_leaves(n);
    MerkleTree tree(leaves);
    ASSERT_EQ(tree.leaf_count(), n);
    EXPECT_EQ(tree.root(), reference_root(leaves)) << n;
    EXPECT_EQ(merkle_root(leaves), tree.root()) << n;
    EXPECT_FALSE(tree.proof(n));
    for (uint64_t i = 0; i < n; ++i) {
      auto p = tree.proof(i);
      ASSERT_TRUE(p) << n << " " << i;
      EXPECT_EQ(p->siblings.size(), merkle_proof_length(i, n));
      EXPECT_TRUE(merkle_verify(tree.root(), leaves[i], *p)) << n << " " << i;
    }
  }
}

TEST(Merkle, TamperedProofsRejected) {
  for (size_t n : {2, 3, 5, 8, 1000}) {
    auto leaves = make_leaves(n);
    MerkleTree tree(leaves);
    for (uint64_t i : {uint64_t{0}, uint64_t{n / 2}, uint64_t{n - 1}}) {
      MerkleProof p = *tree.proof(i);
      const Hash32& leaf = leaves[i];
      Hash32 bad_leaf = leaf;
      bad_leaf[5] ^= 1;
      EXPECT_FALSE(merkle_verify(tree.root(), bad_leaf, p));
      Hash32 bad_root = tree.root();
      bad_root[31] ^= 0x80;
      EXPECT_FALSE(merkle_verify(bad_root, leaf, p));
      for (size_t k = 0; k < p.siblings.size(); ++k) {
        MerkleProof q = p;
        q.siblings[k][0] ^= 1;
        EXPECT_FALSE(merkle_verify(tree.root(), leaf, q)) << n << " " << i << " " << k;
      }
      // Wrong index, wrong count, truncated and extended proofs.
      EXPECT_FALSE(merkle_verify(tree.root(), leaf, (i + 1) % n, n, p.siblings));
      EXPECT_FALSE(merkle_verify(tree.root(), leaf, i, n, std::span(p.siblings).first(p.siblings.size() - 1)));
      auto longer = p.siblings;
      longer.push_back(Hash32{});
      EXPECT_FALSE(merkle_verify(tree.root(), leaf, i, n, longer));
      EXPECT_FALSE(merkle_verify(tree.root(), leaf, n, n, p.siblings));
      EXPECT_FALSE(merkle_verify(tree.root(), leaf, i, n + 1, p.siblings) &&
                   merkle_proof_length(i, n + 1) != p.siblings.size());
    }
  }
}

TEST(Merkle, InnerNodeCannotPassAsLeaf) {
  auto leaves = make_leaves(4);
  MerkleTree tree(leaves);
  // The left inner node with its sibling proves the root at height 1, but a verifier that
  // knows the leaf count demands two siblings for any index.
  Hash32 left = merkle_node_hash(leaves[0], leaves[1]);
  Hash32 right = merkle_node_hash(leaves[2], leaves[3]);
  std::vector<Hash32> short_proof{right};
  EXPECT_FALSE(merkle_verify(tree.root(), left, 0, 4, short_proof));
  EXPECT_TRUE(merkle_verify(tree.root(), left, 0, 2, short_proof));  // only with a lying count
}

TEST(Merkle, StreamingBuilderMatchesTree) {
  Bytes content(10 * 1024 + 300);
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<uint8_t>(i * 31 + (i >> 8));
  for (size_t seg : {size_t{1024}, size_t{100}, size_t{1}, size_t{4096}, size_t{20000}}) {
    for (size_t len : {size_t{0}, size_t{1}, size_t{1024}, size_t{2048}, content.size()}) {
      ByteView part = ByteView(content).first(len);
      MerkleTree tree = MerkleTree::from_content(part, seg);
      EXPECT_EQ(tree.leaf_count(), segment_count(len, seg));
      MerkleBuilder b(seg);
      // Irregular chunking crosses segment boundaries in every way.
      for (size_t off = 0, step = 1; off < len; off += step, step = step * 3 % 1777 + 1)
        b.update(part.subspan(off, std::min(step, len - off)));
      EXPECT_EQ(b.finish(), tree.root()) << seg << " " << len;
      EXPECT_EQ(b.leaf_count(), tree.leaf_count());
      EXPECT_EQ(b.finish(), tree.root());
    }
  }
}

TEST(Merkle, LastSegmentIsShortNotPadded) {
  Bytes content(1500, 0xab);
  MerkleTree tree = MerkleTree::from_content(content);
  ASSERT_EQ(tree.leaf_count(), 2u);
  EXPECT_EQ(tree.leaf_hash(1), keccak256(ByteView(content).subspan(1024)));
  EXPECT_EQ(segment_count(0), 0u);
  EXPECT_EQ(segment_count(1024), 1u);
  EXPECT_EQ(segment_count(1025), 2u);
}

}  // namespace dgrid::crypto

namespace dgrid::crypto {

// The vectors in docs/formats/merkle.md (computed there by the independent ethers script).
TEST(Merkle, DocumentedVectors) {
  const std::pair<size_t, const char*> leaf_vectors[] = {
      {0, "0x0000000000000000000000000000000000000000000000000000000000000000"},
      {1, "0x290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563"},
      {2, "0x891370df4fadf33f50e41f7c8a791e680c0655695ea3404385a909c8f5e13fb4"},
      {3, "0x3aabd27ff3c75e31b67c7ef24b425d5bc49713d79fe436839ed82d13fd5b7d0e"},
      {5, "0xc96cb43f0149b257acfbc3ebf2822b945c02a7874dccbd55312bd44589068e0a"},
      {8, "0xdf3f81e616575bdb5779d0604c7398e0a39acd93959c2eb0a48aabee5becc929"}};
  for (auto [n, root] : leaf_vectors) {
    std::vector<Hash32> leaves;
    for (size_t i = 0; i < n; ++i) {
      Hash32 word{};
      word[31] = static_cast<uint8_t>(i);
      leaves.push_back(keccak256(word));
    }
    EXPECT_EQ(to_hex(merkle_root(leaves)), root) << n;
  }
  const std::pair<size_t, const char*> file_vectors[] = {
      {1, "0xbc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a"},
      {1024, "0x8067fe24dad927632e32dcaf9b7958a5f301cfc4e37f419a08e059290be23370"},
      {1500, "0xdb3d0070ef8ef82ccdbd8ec8963d685c0a4ad44b37c20a14e5a246bf2b836348"},
      {5000, "0x459419c53700e22a88d325a577915f2a638b63991525dc127f4de7bb28cb96af"}};
  for (auto [size, root] : file_vectors) {
    Bytes content(size);
    for (size_t j = 0; j < size; ++j) content[j] = static_cast<uint8_t>(j % 251);
    EXPECT_EQ(to_hex(MerkleTree::from_content(content).root()), root) << size;
  }
  Bytes content(5000);
  for (size_t j = 0; j < content.size(); ++j) content[j] = static_cast<uint8_t>(j % 251);
  auto proof = MerkleTree::from_content(content).proof(0);
  ASSERT_TRUE(proof);
  ASSERT_EQ(proof->siblings.size(), 3u);
  EXPECT_EQ(to_hex(proof->siblings[0]), "0x6e673db15baabf24b538f76c90c6acb86a902d47308326efebce7acc3fa32cd6");
  EXPECT_EQ(to_hex(proof->siblings[2]), "0xbabd7ce263413a8036312988e4f474c6238d29d43c8b2c2b8bca84313b635637");
}

}  // namespace dgrid::crypto
