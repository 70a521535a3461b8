#include "crypto/merkle.hpp"

#include <algorithm>
#include <cstring>

#include "crypto/keccak.hpp"

namespace dgrid::crypto {

Hash32 merkle_leaf_hash(ByteView segment) noexcept { return keccak256(segment); }

Hash32 merkle_node_hash(const Hash32& left, const Hash32& right) noexcept {
  uint8_t buf[64];
  std::memcpy(buf, left.data(), 32);
  std::memcpy(buf + 32, right.data(), 32);
  return keccak256(ByteView(buf, 64));
}

uint64_t segment_count(uint64_t size, size_t segment_size) noexcept {
  if (segment_size == 0) return 0;
  return size / segment_size + (size % segment_size != 0 ? 1 : 0);
}

namespace {

std::vector<Hash32> next_level(const std::vector<Hash32>& level) {
  std::vector<Hash32> up;
  up.reserve((level.size() + 1) / 2);
  for (size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(merkle_node_hash(level[i], level[i + 1]));
  if (level.size() % 2 == 1) up.push_back(level.back());  // odd node promoted unchanged
  return up;
}

}  // namespace

Hash32 merkle_root(std::span<const Hash32> leaf_hashes) noexcept {
  // The streaming fold computes the same tree without materializing the levels.
  MerkleBuilder b;
  for (const Hash32& h : leaf_hashes) b.add_leaf_hash(h);
  return b.finish();
}

size_t merkle_proof_length(uint64_t index, uint64_t leaf_count) noexcept {
  if (index >= leaf_count) return 0;
  size_t len = 0;
  for (uint64_t i = index, n = leaf_count; n > 1; i /= 2, n = (n + 1) / 2)
    if (i % 2 == 1 || i + 1 < n) ++len;
  return len;
}

bool merkle_verify(const Hash32& root, const Hash32& leaf_hash, uint64_t index, uint64_t leaf_count,
                   std::span<const Hash32> proof) noexcept {
  if (index >= leaf_count) return false;
  Hash32 h = leaf_hash;
  size_t k = 0;
  for (uint64_t i = index, n = leaf_count; n > 1; i /= 2, n = (n + 1) / 2) {
    if (i % 2 == 1) {
      if (k >= proof.size()) return false;
      h = merkle_node_hash(proof[k++], h);
    } else if (i + 1 < n) {
      if (k >= proof.size()) return false;
      h = merkle_node_hash(h, proof[k++]);
    }
  }
  return k == proof.size() && h == root;
}

MerkleTree::MerkleTree(std::vector<Hash32> leaf_hashes) {
  if (leaf_hashes.empty()) return;
  levels_.push_back(std::move(leaf_hashes));
  while (levels_.back().size() > 1) levels_.push_back(next_level(levels_.back()));
  root_ = levels_.back()[0];
}

MerkleTree MerkleTree::from_content(ByteView content, size_t segment_size) {
  std::vector<Hash32> leaves;
  if (segment_size == 0) return MerkleTree(std::move(leaves));
  leaves.reserve(segment_count(content.size(), segment_size));
  for (size_t off = 0; off < content.size(); off += segment_size)
    leaves.push_back(merkle_leaf_hash(content.subspan(off, std::min(segment_size, content.size() - off))));
  return MerkleTree(std::move(leaves));
}

Result<MerkleProof> MerkleTree::proof(uint64_t index) const {
  if (index >= leaf_count())
    return fail(Errc::invalid_argument, "merkle proof index " + std::to_string(index) + " out of range (" +
                                            std::to_string(leaf_count()) + " leaves)");
  MerkleProof p{index, leaf_count(), {}};
  uint64_t i = index;
  for (size_t level = 0; level + 1 < levels_.size(); ++level, i /= 2) {
    const auto& nodes = levels_[level];
    if (i % 2 == 1) p.siblings.push_back(nodes[i - 1]);
    else if (i + 1 < nodes.size()) p.siblings.push_back(nodes[i + 1]);
  }
  return p;
}

MerkleBuilder::MerkleBuilder(size_t segment_size) noexcept : segment_size_(segment_size == 0 ? 1 : segment_size) {}

void MerkleBuilder::update(ByteView data) noexcept {
  if (finished_) return;
  if (!segment_.empty()) {
    size_t take = std::min(data.size(), segment_size_ - segment_.size());
    segment_.insert(segment_.end(), data.begin(), data.begin() + static_cast<long>(take));
    data = data.subspan(take);
    if (segment_.size() < segment_size_) return;
    push(merkle_leaf_hash(segment_));
    segment_.clear();
  }
  for (; data.size() >= segment_size_; data = data.subspan(segment_size_))
    push(merkle_leaf_hash(data.first(segment_size_)));
  segment_.assign(data.begin(), data.end());
}

void MerkleBuilder::add_leaf_hash(const Hash32& leaf) noexcept {
  if (!finished_) push(leaf);
}

void MerkleBuilder::push(const Hash32& leaf) noexcept {
  ++leaf_count_;
  Pending cur{0, leaf};
  // Merge equal-height neighbours: the stack then mirrors the binary digits of leaf_count_.
  while (!stack_.empty() && stack_.back().height == cur.height) {
    cur = Pending{cur.height + 1, merkle_node_hash(stack_.back().hash, cur.hash)};
    stack_.pop_back();
  }
  stack_.push_back(cur);
}

Hash32 MerkleBuilder::finish() noexcept {
  if (finished_) return root_;
  if (!segment_.empty()) {
    push(merkle_leaf_hash(segment_));
    segment_.clear();
  }
  finished_ = true;
  if (stack_.empty()) return root_;  // zero leaves: all-zero root
  // Folding the perfect subtrees right to left equals the level-by-level construction with
  // promotion: a promoted node is exactly a smaller subtree waiting at the right edge.
  Hash32 h = stack_.back().hash;
  for (size_t i = stack_.size() - 1; i-- > 0;) h = merkle_node_hash(stack_[i].hash, h);
  root_ = h;
  stack_.clear();
  return root_;
}

}  // namespace dgrid::crypto
