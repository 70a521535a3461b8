// The streaming UnixFS importer: fixed-size raw leaves under a balanced tree, built the way
// ipfs-unixfs-importer's `balanced` layout builds it (tests/interop/unixfs.mjs checks).
//
// The reference groups the leaves into batches of max_links and reduces each batch to a
// parent, then repeats on the parents until one node is left. Done level by level as blocks
// arrive, a level that fills up becomes a parent at once, and finish() closes the partial
// batches bottom-up. Two consequences match the reference exactly: a lone trailing leaf (or
// parent) still gets a parent of its own with one link, and a file of one chunk is that
// chunk's raw leaf (reduceSingleLeafToSelf).
#include <algorithm>

#include "store/unixfs.hpp"

namespace dgrid::store {

namespace {

// A parent link costs at most ~50 bytes (CID 36, Tsize, keys) plus its blocksize varint, so
// this many links keep every parent node far below kMaxBlockSize.
constexpr size_t kMaxImportLinks = 16384;

}  // namespace

FileImporter::FileImporter(BlockSink sink, ImportOptions options, ChunkObserver on_chunk)
    : sink_(std::move(sink)), opt_(options), on_chunk_(std::move(on_chunk)) {
  if (!sink_)
    error_ = Error{Errc::invalid_argument, "unixfs importer: no block sink"};
  else if (opt_.chunk_size == 0 || opt_.chunk_size > kMaxBlockSize)
    error_ = Error{Errc::invalid_argument, "unixfs importer: chunk size " + std::to_string(opt_.chunk_size) +
                                               " outside 1.." + std::to_string(kMaxBlockSize)};
  else if (opt_.max_links < 2 || opt_.max_links > kMaxImportLinks)
    error_ = Error{Errc::invalid_argument, "unixfs importer: max links " + std::to_string(opt_.max_links) +
                                               " outside 2.." + std::to_string(kMaxImportLinks)};
}

Result<void> FileImporter::failed(Error e) {
  error_ = e;
  return std::unexpected(std::move(e));
}

Result<void> FileImporter::update(ByteView data) {
  if (error_) return std::unexpected(*error_);
  if (finished_) return fail(Errc::failed_precondition, "unixfs importer: update after finish");
  while (!data.empty()) {
    if (buf_.empty() && data.size() >= opt_.chunk_size) {
      // A whole chunk in the caller's buffer: no copy.
      if (auto r = emit_leaf(data.first(opt_.chunk_size)); !r) return r;
      data = data.subspan(opt_.chunk_size);
      continue;
    }
    if (buf_.capacity() < opt_.chunk_size) buf_.reserve(opt_.chunk_size);
    const size_t take = std::min(opt_.chunk_size - buf_.size(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
    data = data.subspan(take);
    if (buf_.size() == opt_.chunk_size) {
      if (auto r = emit_leaf(buf_); !r) return r;
      buf_.clear();
    }
  }
  return {};
}

Result<void> FileImporter::emit_leaf(ByteView chunk) {
  const Cid cid = Cid::of(Codec::raw, chunk);
  if (auto r = sink_(cid, chunk); !r) return failed(r.error());
  if (on_chunk_) on_chunk_(chunks_, chunk);
  ++chunks_;
  ++res_.blocks;
  res_.size += chunk.size();
  res_.dag_bytes += chunk.size();
  return add_link(0, PbLink{cid, std::string(), chunk.size()}, chunk.size());
}

Result<void> FileImporter::add_link(size_t level, PbLink link, uint64_t content_size) {
  if (levels_.size() <= level) levels_.resize(level + 1);
  levels_[level].links.push_back(std::move(link));
  levels_[level].sizes.push_back(content_size);
  if (levels_[level].links.size() < opt_.max_links) return {};
  auto parent = flush_level(level);
  if (!parent) return std::unexpected(parent.error());
  return add_link(level + 1, std::move(parent->first), parent->second);
}

Result<std::pair<PbLink, uint64_t>> FileImporter::flush_level(size_t level) {
  Level& lv = levels_[level];
  UnixFsData fs;
  fs.type = UnixFsType::file;
  uint64_t content = 0;
  uint64_t tsize = 0;
  for (size_t i = 0; i < lv.links.size(); ++i) {
    content += lv.sizes[i];
    tsize += lv.links[i].tsize.value_or(0);
  }
  fs.filesize = content;
  fs.blocksizes = std::move(lv.sizes);
  PbNode node;
  node.links = std::move(lv.links);
  node.data = encode_unixfs(fs);
  lv.links.clear();
  lv.sizes.clear();
  const Bytes block = encode_pb(node);
  const Cid cid = Cid::of(Codec::dag_pb, block);
  if (auto r = sink_(cid, block); !r) {
    error_ = r.error();
    return std::unexpected(r.error());
  }
  ++res_.blocks;
  res_.dag_bytes += block.size();
  return std::pair{PbLink{cid, std::string(), tsize + block.size()}, content};
}

Result<ImportResult> FileImporter::finish() {
  if (error_) return std::unexpected(*error_);
  if (finished_) return fail(Errc::failed_precondition, "unixfs importer: finish called twice");
  finished_ = true;
  // The reference chunker yields one empty chunk for an empty file, stored as a raw block.
  if (!buf_.empty() || chunks_ == 0) {
    if (auto r = emit_leaf(buf_); !r) return std::unexpected(r.error());
    buf_.clear();
  }
  if (chunks_ == 1) {
    res_.root = levels_[0].links[0].hash;
    return res_;
  }
  for (size_t level = 0; level < levels_.size(); ++level) {
    const bool higher = std::any_of(levels_.begin() + static_cast<ptrdiff_t>(level) + 1, levels_.end(),
                                    [](const Level& l) { return !l.links.empty(); });
    if (!higher && levels_[level].links.size() == 1) {
      res_.root = levels_[level].links[0].hash;
      return res_;
    }
    if (levels_[level].links.empty()) continue;
    auto parent = flush_level(level);
    if (!parent) return std::unexpected(parent.error());
    if (levels_.size() <= level + 1) levels_.resize(level + 2);
    // Not add_link: a level this fills is closed by the next iteration all the same.
    levels_[level + 1].links.push_back(std::move(parent->first));
    levels_[level + 1].sizes.push_back(parent->second);
  }
  error_ = Error{Errc::internal, "unixfs importer: no root after closing every level"};
  return std::unexpected(*error_);
}

}  // namespace dgrid::store
