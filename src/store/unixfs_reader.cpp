// Reading UnixFS files through a BlockGetter. This layer verifies every block itself (one
// SHA-256 per block, even when the getter is a blockstore that already did), so a getter
// that breaks its contract cannot feed wrong bytes to a reader, and checks the tree's sizes:
// a node's filesize equals its inline data plus its blocksizes, each child's content length
// equals the blocksize its parent gives it, and the tree is at most kMaxDepth levels deep.
#include <unordered_map>

#include "store/unixfs.hpp"

namespace dgrid::store {

namespace {

// unixfs-v1-2025 trees are 3 levels for a petabyte; trickle DAGs from other importers grow
// deeper, but nothing legitimate comes near this.
constexpr size_t kMaxDepth = 32;

// One verified block of a file: a raw leaf, or a dag-pb file node with its children.
struct FileNode {
  Bytes block;
  bool raw = false;
  Bytes inline_data;  // dag-pb: UnixFS Data bytes (before the children's content)
  std::vector<Cid> children;
  std::vector<uint64_t> child_sizes;
  uint64_t size = 0;  // content bytes under this block
};

std::string codec_text(Codec c) {
  switch (c) {
    case Codec::raw: return "raw";
    case Codec::dag_pb: return "dag-pb";
    case Codec::dag_cbor: return "dag-cbor";
  }
  return "codec " + std::to_string(static_cast<uint64_t>(c));
}

std::string type_text(UnixFsType t) {
  switch (t) {
    case UnixFsType::raw: return "raw";
    case UnixFsType::directory: return "directory";
    case UnixFsType::file: return "file";
    case UnixFsType::metadata: return "metadata";
    case UnixFsType::symlink: return "symlink";
    case UnixFsType::hamt_shard: return "HAMT-sharded directory";
  }
  return "unknown";
}

Result<FileNode> load(const BlockGetter& get, const Cid& cid, size_t depth, bool verify) {
  const std::string where = "unixfs: block " + cid.to_string();
  if (depth > kMaxDepth) return fail(Errc::malformed, where + " is deeper than " + std::to_string(kMaxDepth) + " levels");
  if (cid.codec() != Codec::raw && cid.codec() != Codec::dag_pb)
    return fail(Errc::unsupported, where + ": codec " + codec_text(cid.codec()) + " is not a UnixFS file block");
  auto got = get(cid);
  if (!got) return std::unexpected(got.error());
  FileNode n;
  n.block = std::move(*got);
  if (n.block.size() > kMaxBlockSize)
    return fail(Errc::malformed, where + ": " + std::to_string(n.block.size()) + " bytes, over the " +
                                     std::to_string(kMaxBlockSize) + "-byte block limit");
  if (verify && !cid.matches(n.block)) return fail(Errc::malformed, where + ": bytes do not match the CID");
  if (cid.codec() == Codec::raw) {
    n.raw = true;
    n.size = n.block.size();
    return n;
  }
  auto pb = decode_pb(n.block);
  if (!pb) return std::unexpected(pb.error().context(where));
  if (!pb->data) return fail(Errc::malformed, where + ": dag-pb node without UnixFS Data");
  auto fs = decode_unixfs(*pb->data);
  if (!fs) return std::unexpected(fs.error().context(where));
  if (fs->type != UnixFsType::file && fs->type != UnixFsType::raw)
    return fail(Errc::unsupported, where + ": UnixFS " + type_text(fs->type) + " is not supported (files only)");
  if (fs->blocksizes.size() != pb->links.size())
    return fail(Errc::malformed, where + ": " + std::to_string(pb->links.size()) + " links but " +
                                     std::to_string(fs->blocksizes.size()) + " blocksizes");
  uint64_t total = fs->data ? fs->data->size() : 0;
  for (size_t i = 0; i < pb->links.size(); ++i) {
    const Cid& child = pb->links[i].hash;
    if (child.codec() != Codec::raw && child.codec() != Codec::dag_pb)
      return fail(Errc::malformed, where + ": link " + std::to_string(i) + " has codec " + codec_text(child.codec()) +
                                       " (a file links only raw and dag-pb blocks)");
    if (fs->blocksizes[i] > UINT64_MAX - total) return fail(Errc::malformed, where + ": blocksizes overflow 64 bits");
    total += fs->blocksizes[i];
    n.children.push_back(child);
  }
  if (fs->filesize && *fs->filesize != total)
    return fail(Errc::malformed, where + ": filesize " + std::to_string(*fs->filesize) + " but data and blocksizes add up to " +
                                     std::to_string(total));
  n.size = total;
  n.child_sizes = std::move(fs->blocksizes);
  if (fs->data) n.inline_data = std::move(*fs->data);
  return n;
}

Result<void> check_size(const FileNode& n, const Cid& cid, uint64_t expected) {
  if (n.size == expected) return {};
  return fail(Errc::malformed, "unixfs: block " + cid.to_string() + " holds " + std::to_string(n.size) +
                                   " bytes of content, its parent says " + std::to_string(expected));
}

struct RangeReader {
  const BlockGetter& get;
  bool verify;
  const std::function<bool(ByteView)>& sink;
  bool stopped = false;

  // Sends content bytes [begin, end) of the subtree at `cid` (which holds `expected` bytes).
  Result<void> read(const Cid& cid, uint64_t expected, uint64_t begin, uint64_t end, size_t depth) {
    auto n = load(get, cid, depth, verify);
    if (!n) return std::unexpected(n.error());
    if (auto r = check_size(*n, cid, expected); !r) return r;
    if (n->raw) {
      stopped = !sink(ByteView(n->block).subspan(begin, end - begin));
      return {};
    }
    n->block = Bytes();  // only the decoded links are needed below: one block per level
    uint64_t pos = 0;
    auto overlap = [&](uint64_t len) { return pos < end && pos + len > begin; };
    if (!n->inline_data.empty() && overlap(n->inline_data.size())) {
      const uint64_t b = std::max(begin, pos) - pos, e = std::min(end, pos + n->inline_data.size()) - pos;
      if (!sink(ByteView(n->inline_data).subspan(b, e - b))) {
        stopped = true;
        return {};
      }
    }
    pos += n->inline_data.size();
    for (size_t i = 0; i < n->children.size() && pos < end; ++i) {
      const uint64_t len = n->child_sizes[i];
      if (overlap(len)) {
        const uint64_t b = std::max(begin, pos) - pos, e = std::min(end, pos + len) - pos;
        if (auto r = read(n->children[i], len, b, e, depth + 1); !r) return r;
        if (stopped) return {};
      }
      pos += len;
    }
    return {};
  }
};

struct Walker {
  const BlockGetter& get;
  bool verify;
  const std::function<Result<void>(const Cid&, ByteView)>& visit;
  std::unordered_map<Cid, uint64_t> seen;  // content size of each visited subtree

  Result<void> walk(const Cid& cid, uint64_t expected, size_t depth) {
    if (auto it = seen.find(cid); it != seen.end()) {
      if (it->second == expected) return {};
      return fail(Errc::malformed, "unixfs: block " + cid.to_string() + " appears with content sizes " +
                                       std::to_string(it->second) + " and " + std::to_string(expected));
    }
    auto n = load(get, cid, depth, verify);
    if (!n) return std::unexpected(n.error());
    if (auto r = check_size(*n, cid, expected); !r) return r;
    if (auto r = visit(cid, n->block); !r) return r;
    seen.emplace(cid, n->size);
    n->block = Bytes();
    for (size_t i = 0; i < n->children.size(); ++i)
      if (auto r = walk(n->children[i], n->child_sizes[i], depth + 1); !r) return r;
    return {};
  }
};

}  // namespace

Result<FileReader> FileReader::open(BlockGetter get, const Cid& root, Verify verify) {
  if (!get) return fail(Errc::invalid_argument, "unixfs: no block getter");
  if (!root.valid()) return fail(Errc::invalid_argument, "unixfs: invalid root CID");
  const bool v = verify == Verify::every_block;
  auto n = load(get, root, 0, v);
  if (!n) return std::unexpected(n.error());
  return FileReader(std::move(get), root, n->size, v);
}

Result<void> FileReader::read(uint64_t offset, uint64_t length, const std::function<bool(ByteView)>& sink) const {
  if (offset >= size_ || length == 0) return {};
  const uint64_t end = offset + std::min(length, size_ - offset);
  RangeReader r{get_, verify_, sink};
  return r.read(root_, size_, offset, end, 0);
}

Result<void> FileReader::walk(const std::function<Result<void>(const Cid&, ByteView)>& visit) const {
  Walker w{get_, verify_, visit, {}};
  return w.walk(root_, size_, 0);
}

}  // namespace dgrid::store
