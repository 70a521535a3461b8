// Binary keccak Merkle trees over fixed-size file segments, as StorageMarket verifies them.
// The exact definition (and the Solidity verifier) is docs/formats/merkle.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/bytes.hpp"

namespace dgrid::crypto {

// Segment size for storage deals: every segment but the last is exactly this long.
inline constexpr size_t kSegmentSize = 1024;

// keccak256(segment bytes).
Hash32 merkle_leaf_hash(ByteView segment) noexcept;
// keccak256(left || right), in position order (never sorted).
Hash32 merkle_node_hash(const Hash32& left, const Hash32& right) noexcept;

// Number of segments of a file of `size` bytes: ceil(size / segment_size); 0 for an empty file.
uint64_t segment_count(uint64_t size, size_t segment_size = kSegmentSize) noexcept;

// Root over leaf hashes. Zero leaves give the all-zero hash; one leaf gives that leaf hash;
// an odd node at the end of a level is promoted unchanged to the next level.
Hash32 merkle_root(std::span<const Hash32> leaf_hashes) noexcept;

// Sibling hashes from the leaf level upward; a level where the node is promoted contributes
// none, so the length depends on (index, leaf_count) — see merkle_proof_length.
struct MerkleProof {
  uint64_t index = 0;
  uint64_t leaf_count = 0;
  std::vector<Hash32> siblings;
};

// The exact number of siblings a valid proof for (index, leaf_count) has.
size_t merkle_proof_length(uint64_t index, uint64_t leaf_count) noexcept;

// True when `proof` leads from leaf_hash at `index` to root. Rejects index >= leaf_count and
// proofs of the wrong length (so an inner node can never pass as a leaf).
bool merkle_verify(const Hash32& root, const Hash32& leaf_hash, uint64_t index, uint64_t leaf_count,
                   std::span<const Hash32> proof) noexcept;
inline bool merkle_verify(const Hash32& root, const Hash32& leaf_hash, const MerkleProof& proof) noexcept {
  return merkle_verify(root, leaf_hash, proof.index, proof.leaf_count, proof.siblings);
}

// All levels of a tree, kept for answering many proofs (a storer answers one per epoch).
// Memory: about 2 * 32 bytes per leaf. Immutable after build; safe for concurrent const use.
class MerkleTree {
 public:
  explicit MerkleTree(std::vector<Hash32> leaf_hashes);
  // Hashes the segments of `content` (kSegmentSize unless given) and builds the tree.
  static MerkleTree from_content(ByteView content, size_t segment_size = kSegmentSize);

  const Hash32& root() const noexcept { return root_; }
  uint64_t leaf_count() const noexcept { return levels_.empty() ? 0 : levels_[0].size(); }
  const Hash32& leaf_hash(uint64_t index) const { return levels_.at(0).at(index); }
  // invalid_argument when index >= leaf_count().
  Result<MerkleProof> proof(uint64_t index) const;

 private:
  std::vector<std::vector<Hash32>> levels_;  // levels_[0] = leaf hashes; empty for zero leaves
  Hash32 root_{};
};

// Streaming root computation: O(log n) memory however large the file. Feed bytes with
// update() (split into segments internally) or whole leaf hashes with add_leaf_hash(), not
// both. Not thread-safe.
class MerkleBuilder {
 public:
  explicit MerkleBuilder(size_t segment_size = kSegmentSize) noexcept;

  void update(ByteView data) noexcept;
  void add_leaf_hash(const Hash32& leaf) noexcept;
  // Hashes a trailing partial segment, then folds the pending subtrees. The builder is
  // finished afterwards; further calls give the same root.
  Hash32 finish() noexcept;
  uint64_t leaf_count() const noexcept { return leaf_count_; }

 private:
  struct Pending {
    unsigned height;  // the subtree holds 2^height leaves
    Hash32 hash;
  };
  void push(const Hash32& leaf) noexcept;

  size_t segment_size_;
  Bytes segment_;  // a partial segment waiting for more bytes
  std::vector<Pending> stack_;  // perfect subtrees, heights strictly decreasing
  uint64_t leaf_count_ = 0;
  bool finished_ = false;
  Hash32 root_{};
};

}  // namespace dgrid::crypto
