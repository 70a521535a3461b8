// UnixFS files in DAG-PB, the `unixfs-v1-2025` profile (DESIGN §9): CIDv1, sha2-256, raw
// leaves of 1 MiB, a balanced tree with at most 1024 links per node, a single-chunk file is
// its raw leaf itself, no mtime/mode. The same bytes give the same root CID as IPFS
// implementations with that profile (tests/interop/unixfs.mjs proves it against
// ipfs-unixfs-importer).
//
// DAG-PB and the UnixFS Data message are protobuf, written by hand here: DAG-PB's canonical
// form puts Links (field 2) before Data (field 1) and forbids unknown fields, which general
// protobuf serializers neither guarantee nor check. docs/formats/storage.md has the layout.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "store/cid.hpp"

namespace dgrid::store {

inline constexpr size_t kChunkSize = 1 << 20;     // unixfs-v1-2025: 1 MiB leaves
inline constexpr size_t kMaxLinks = 1024;         // unixfs-v1-2025: links per node
inline constexpr size_t kMaxBlockSize = 2 << 20;  // larger blocks are refused everywhere

// ------------------------------------------------------------------ DAG-PB

struct PbLink {
  Cid hash;
  std::optional<std::string> name;  // the importer writes "" (present, empty)
  std::optional<uint64_t> tsize;    // cumulative size of the linked DAG's blocks

  friend bool operator==(const PbLink&, const PbLink&) = default;
};

struct PbNode {
  std::vector<PbLink> links;
  std::optional<Bytes> data;

  friend bool operator==(const PbNode&, const PbNode&) = default;
};

// Canonical encoding: links in order, each Hash, Name, Tsize; then Data.
Bytes encode_pb(const PbNode& node);
// Strict decoding: field order as the spec requires, no unknown or repeated fields, CIDs
// valid, lengths within the input. Errc::malformed with what was wrong.
Result<PbNode> decode_pb(ByteView block);

// ------------------------------------------------------------------ UnixFS Data

enum class UnixFsType : uint64_t { raw = 0, directory = 1, file = 2, metadata = 3, symlink = 4, hamt_shard = 5 };

struct UnixFsData {
  UnixFsType type = UnixFsType::file;
  std::optional<Bytes> data;  // inline file bytes (older importers); absent in this profile
  std::optional<uint64_t> filesize;
  std::vector<uint64_t> blocksizes;  // content bytes under each link, in link order

  friend bool operator==(const UnixFsData&, const UnixFsData&) = default;
};

Bytes encode_unixfs(const UnixFsData& d);
// Reads Type, Data, filesize, blocksizes (packed or not); skips mode/mtime/hashType/fanout.
Result<UnixFsData> decode_unixfs(ByteView bytes);

// ------------------------------------------------------------------ importer

// chunk_size 1..kMaxBlockSize, max_links 2..16384; others make update()/finish() fail with
// Errc::invalid_argument.
struct ImportOptions {
  size_t chunk_size = kChunkSize;
  size_t max_links = kMaxLinks;
};

struct ImportResult {
  Cid root;
  uint64_t size = 0;       // file bytes
  uint64_t blocks = 0;     // blocks emitted (leaves + nodes)
  uint64_t dag_bytes = 0;  // sum of all block sizes (file bytes + DAG-PB overhead)
};

// Receives every block once, children before parents, leaves in file order. An error stops
// the import and is returned from update()/finish().
using BlockSink = std::function<Result<void>(const Cid& cid, ByteView block)>;
// Sees each raw leaf (chunk) in order with its index, e.g. to build segment roots alongside.
using ChunkObserver = std::function<void(uint64_t chunk_index, ByteView chunk)>;

// Streaming importer: memory is one chunk plus at most max_links links per tree level,
// whatever the file size. Not thread-safe.
class FileImporter {
 public:
  explicit FileImporter(BlockSink sink, ImportOptions options = {}, ChunkObserver on_chunk = {});
  Result<void> update(ByteView data);
  // Emits the last leaf and the parents; the file's root CID (for an empty file, the raw
  // CID of zero bytes, as the reference importer gives). The importer is done afterwards.
  Result<ImportResult> finish();

 private:
  Result<void> emit_leaf(ByteView chunk);
  // Appends a link to tree level `level`; a level that reaches max_links becomes a parent.
  Result<void> add_link(size_t level, PbLink link, uint64_t content_size);
  // Emits the parent of level `level`'s links (then empty) and returns its link.
  Result<std::pair<PbLink, uint64_t>> flush_level(size_t level);
  Result<void> failed(Error e);

  BlockSink sink_;
  ImportOptions opt_;
  ChunkObserver on_chunk_;
  Bytes buf_;  // the partial chunk
  struct Level {
    std::vector<PbLink> links;
    std::vector<uint64_t> sizes;  // content bytes under each link
  };
  std::vector<Level> levels_;  // levels_[0] holds links to leaves
  ImportResult res_;
  uint64_t chunks_ = 0;
  bool finished_ = false;
  std::optional<Error> error_;  // the first error; every later call returns it
};

// ------------------------------------------------------------------ reader

// Fetches one block by CID. Must return bytes whose hash matches the CID, or an error
// (a blockstore verifies on read; a network fetcher verifies before returning).
using BlockGetter = std::function<Result<Bytes>(const Cid& cid)>;

// Reads a UnixFS file (a dag-pb file node or a raw leaf) through a BlockGetter, verifying
// every block's hash itself (whatever the getter did; Verify::by_getter skips that second
// hash for getters known to verify, such as Blockstore::getter and the node's HTTP block
// getter: serving then costs one SHA-256 pass instead of two) and that the tree's sizes agree
// (blocksizes, filesize, leaf lengths), at most 32 levels deep. Directories, symlinks and
// HAMT shards are Errc::unsupported; a bad tree is Errc::malformed naming the block; the
// getter's own errors (e.g. not_found) come back unchanged. Memory: one block per tree level.
// Copyable; const methods may run concurrently if the getter allows it.
class FileReader {
 public:
  enum class Verify { every_block, by_getter };
  static Result<FileReader> open(BlockGetter get, const Cid& root, Verify verify = Verify::every_block);
  uint64_t size() const noexcept { return size_; }
  const Cid& root() const noexcept { return root_; }
  // Streams bytes [offset, offset + length) in order to `sink` (clamped to the file size).
  // `sink` returning false stops early (client gone) and read returns success.
  Result<void> read(uint64_t offset, uint64_t length, const std::function<bool(ByteView)>& sink) const;
  // Every CID of the DAG in depth-first pre-order (root first), the order of a CAR export:
  // visits each block once, verifying it; `visit` gets the CID and the block's bytes. It
  // remembers the CIDs visited (~100 bytes per distinct block); an error from `visit` stops
  // the walk and is returned as is.
  Result<void> walk(const std::function<Result<void>(const Cid&, ByteView)>& visit) const;

 private:
  FileReader(BlockGetter get, Cid root, uint64_t size, bool verify)
      : get_(std::move(get)), root_(root), size_(size), verify_(verify) {}
  BlockGetter get_;
  Cid root_;
  uint64_t size_ = 0;
  bool verify_ = true;
};

}  // namespace dgrid::store
