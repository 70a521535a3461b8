// Storage-deal commitments over a file (DESIGN §9, docs/formats/merkle.md): the keccak segment
// Merkle root over 1024-byte segments that StorageMarket verifies proofs against, computed in
// the same pass as the UnixFS CID.
//
// A storer answers one challenge per epoch with segment i and its Merkle path. Keeping every
// level of the tree costs ~64 bytes per KiB; instead a SegmentIndex keeps only the roots of
// each 1 MiB chunk's subtree (1024 segments: the chunk boundaries of the unixfs-v1-2025 leaves
// are segment boundaries), 32 bytes per MiB (32 KiB per GiB). A proof re-hashes the one chunk
// holding segment i for the lower 10 levels and takes the upper levels from the chunk roots.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "crypto/merkle.hpp"
#include "store/cid.hpp"
#include "store/unixfs.hpp"

namespace dgrid::store {

static_assert(kChunkSize % crypto::kSegmentSize == 0);
inline constexpr size_t kSegmentsPerChunk = kChunkSize / crypto::kSegmentSize;

class SegmentIndex {
 public:
  SegmentIndex() = default;
  SegmentIndex(uint64_t size, std::vector<Hash32> chunk_roots);
  uint64_t size() const noexcept { return size_; }
  uint64_t segment_count() const noexcept;
  const std::vector<Hash32>& chunk_roots() const noexcept { return chunk_roots_; }
  Hash32 root() const;  // the deal's segment root (all-zero for an empty file)

  // Proof for segment `index` given the bytes of the chunk holding it (chunk index / 1024).
  Result<crypto::MerkleProof> prove(uint64_t index, ByteView chunk) const;

  // File form: "DGSI" magic, version, size, count, roots; checked on load.
  Bytes serialize() const;
  static Result<SegmentIndex> deserialize(ByteView bytes);

 private:
  uint64_t size_ = 0;
  std::vector<Hash32> chunk_roots_;
};

// Feed the file's bytes (any split); gives the SegmentIndex. Memory: one chunk (1 MiB), whose
// segments are hashed together (several per SIMD permutation). Not thread-safe.
class SegmentHasher {
 public:
  void update(ByteView data);
  SegmentIndex finish();

 private:
  Bytes chunk_;  // the current chunk's bytes so far
  uint64_t size_ = 0;
  std::vector<Hash32> roots_;
};

// Everything a client needs to open a deal, from one read of the file.
struct ContentSummary {
  Cid cid;
  Hash32 segment_root{};
  uint64_t size = 0;
  uint64_t blocks = 0;
  uint64_t dag_bytes = 0;
  SegmentIndex index;
};
// Reads the file once (progress(bytes_done, total) after each read), emits blocks to `sink`
// when given, and computes CID + segment root. Memory is constant in the file size (the
// index is 32 bytes per MiB).
Result<ContentSummary> summarize_file(const std::filesystem::path& file, const BlockSink& sink = {},
                                      const std::function<void(uint64_t, uint64_t)>& progress = {});
// The same with the work spread over `threads` threads. 1: everything on the caller's
// thread. 2: keccak segment hashing on a worker beside it, and `sink` called from a thread of
// its own (in emission order, one call at a time, concurrently with `progress` on the caller's
// thread), so a Blockstore's writes and fsyncs overlap the hashing. Everything the sink did is
// visible to the caller when this returns. The form above uses 2 when the machine has 2 cores.
Result<ContentSummary> summarize_file(const std::filesystem::path& file, const BlockSink& sink,
                                      const std::function<void(uint64_t, uint64_t)>& progress, unsigned threads);

// A segment and its proof for (index), read from a stored file through `reader`.
struct SegmentProof {
  uint64_t index = 0;
  Bytes segment;
  crypto::MerkleProof proof;
};
Result<SegmentProof> prove_segment(const FileReader& reader, const SegmentIndex& index, uint64_t segment_index);

}  // namespace dgrid::store
