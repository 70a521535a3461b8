#include "store/segments.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "store/keccak_lanes.hpp"

namespace dgrid::store {

namespace {

uint64_t chunk_count(uint64_t size) { return size / kChunkSize + (size % kChunkSize != 0 ? 1 : 0); }

// Siblings for leaf `index` among `leaves`, bottom-up, computed with the RFC 6962 split that
// docs/formats/merkle.md shows equals the promote-odd tree: the root of n > 1 leaves is
// node(root(first k), root(rest)) with k the largest power of two below n. Memory stays
// O(log n) (merkle_root streams), where a MerkleTree would keep every level of the roots.
void upper_proof(std::span<const Hash32> leaves, uint64_t index, std::vector<Hash32>& out) {
  if (leaves.size() <= 1) return;
  size_t k = 1;
  while (k * 2 < leaves.size()) k *= 2;
  if (index < k) {
    upper_proof(leaves.first(k), index, out);
    out.push_back(crypto::merkle_root(leaves.subspan(k)));
  } else {
    upper_proof(leaves.subspan(k), index - k, out);
    out.push_back(crypto::merkle_root(leaves.first(k)));
  }
}

void put_be(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_be(ByteView in, size_t off, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | in[off + static_cast<size_t>(i)];
  return v;
}

constexpr uint8_t kIndexMagic[4] = {'D', 'G', 'S', 'I'};
constexpr uint32_t kIndexVersion = 1;
constexpr size_t kIndexHeader = 4 + 4 + 8 + 8;  // magic, version, size, count

// Hashes a level's pairs (adjacent Hash32s are 64 contiguous bytes) many at a time; an odd
// last node is promoted unchanged, as docs/formats/merkle.md defines.
void next_level(const std::vector<Hash32>& level, std::vector<Hash32>& up) {
  size_t pairs = level.size() / 2;
  up.resize(pairs + level.size() % 2);
  std::vector<const uint8_t*> msgs(pairs);
  for (size_t i = 0; i < pairs; ++i) msgs[i] = level[2 * i].data();
  detail::keccak256_lanes(msgs.data(), 2 * sizeof(Hash32), pairs, up.data());
  if (level.size() % 2 == 1) up.back() = level.back();
}

// The segment hashes of a chunk (or of any bytes): full segments many at a time, a partial
// last one alone.
std::vector<Hash32> segment_hashes(ByteView chunk) {
  size_t full = chunk.size() / crypto::kSegmentSize;
  std::vector<Hash32> leaves(crypto::segment_count(chunk.size()));
  std::vector<const uint8_t*> msgs(full);
  for (size_t i = 0; i < full; ++i) msgs[i] = chunk.data() + i * crypto::kSegmentSize;
  detail::keccak256_lanes(msgs.data(), crypto::kSegmentSize, full, leaves.data());
  if (leaves.size() > full) leaves.back() = crypto::merkle_leaf_hash(chunk.subspan(full * crypto::kSegmentSize));
  return leaves;
}

// The root of a chunk's subtree; equal to crypto::MerkleBuilder over the same bytes.
Hash32 chunk_root(ByteView chunk) {
  std::vector<Hash32> level = segment_hashes(chunk), up;
  if (level.empty()) return Hash32{};
  while (level.size() > 1) {
    next_level(level, up);
    level.swap(up);
  }
  return level[0];
}

// Root and sibling path of segment `index` within a chunk, from the chunk's bytes.
Hash32 chunk_path(ByteView chunk, uint64_t index, std::vector<Hash32>& siblings) {
  std::vector<Hash32> level = segment_hashes(chunk), up;
  for (uint64_t i = index; level.size() > 1; i /= 2) {
    if (i % 2 == 1) siblings.push_back(level[i - 1]);
    else if (i + 1 < level.size()) siblings.push_back(level[i + 1]);
    next_level(level, up);
    level.swap(up);
  }
  return level[0];
}

}  // namespace

// ------------------------------------------------------------------ SegmentIndex

SegmentIndex::SegmentIndex(uint64_t size, std::vector<Hash32> chunk_roots)
    : size_(size), chunk_roots_(std::move(chunk_roots)) {}

uint64_t SegmentIndex::segment_count() const noexcept { return crypto::segment_count(size_); }

// Every full chunk is a perfect subtree of 1024 leaves, and the last (partial) chunk's
// subtree reduces to one node that the promote-odd rule carries up unchanged, so the file's
// root is the Merkle root over the chunk roots.
Hash32 SegmentIndex::root() const { return crypto::merkle_root(chunk_roots_); }

Result<crypto::MerkleProof> SegmentIndex::prove(uint64_t index, ByteView chunk) const {
  uint64_t count = segment_count();
  if (index >= count)
    return fail(Errc::invalid_argument, "segment " + std::to_string(index) + " out of range (" + std::to_string(count) +
                                            " segments)");
  if (chunk_roots_.size() != chunk_count(size_))
    return fail(Errc::malformed, "segment index holds " + std::to_string(chunk_roots_.size()) + " chunk roots, a file of " +
                                     std::to_string(size_) + " bytes has " + std::to_string(chunk_count(size_)));
  uint64_t c = index / kSegmentsPerChunk;
  uint64_t expected = std::min<uint64_t>(kChunkSize, size_ - c * kChunkSize);
  if (chunk.size() != expected)
    return fail(Errc::invalid_argument, "chunk " + std::to_string(c) + " should hold " + std::to_string(expected) +
                                            " bytes, got " + std::to_string(chunk.size()));
  // The lower levels come from the chunk itself; checking its root against the index catches
  // data that changed on disk before a wrong proof is sent (and slashed).
  crypto::MerkleProof p{index, count, {}};
  if (chunk_path(chunk, index % kSegmentsPerChunk, p.siblings) != chunk_roots_[c])
    return fail(Errc::malformed, "chunk " + std::to_string(c) + " does not match the segment index (data changed)");
  upper_proof(chunk_roots_, c, p.siblings);
  return p;
}

// Layout (big-endian): "DGSI" | u32 version (1) | u64 file size | u64 count | count x 32-byte
// chunk roots. count must be ceil(size / 1 MiB).
Bytes SegmentIndex::serialize() const {
  Bytes out(std::begin(kIndexMagic), std::end(kIndexMagic));
  out.reserve(kIndexHeader + 32 * chunk_roots_.size());
  put_be(out, kIndexVersion, 4);
  put_be(out, size_, 8);
  put_be(out, chunk_roots_.size(), 8);
  for (const Hash32& h : chunk_roots_) out.insert(out.end(), h.begin(), h.end());
  return out;
}

Result<SegmentIndex> SegmentIndex::deserialize(ByteView bytes) {
  if (bytes.size() < kIndexHeader)
    return fail(Errc::malformed, "segment index: " + std::to_string(bytes.size()) + " bytes, shorter than its header");
  if (!std::equal(std::begin(kIndexMagic), std::end(kIndexMagic), bytes.begin()))
    return fail(Errc::malformed, "segment index: bad magic (not a DGSI file)");
  uint64_t version = get_be(bytes, 4, 4);
  if (version != kIndexVersion)
    return fail(Errc::unsupported, "segment index: version " + std::to_string(version) + " (this build reads 1)");
  uint64_t size = get_be(bytes, 8, 8);
  uint64_t count = get_be(bytes, 16, 8);
  if (count != chunk_count(size))
    return fail(Errc::malformed, "segment index: " + std::to_string(count) + " chunk roots for " + std::to_string(size) +
                                     " bytes (expected " + std::to_string(chunk_count(size)) + ")");
  if ((bytes.size() - kIndexHeader) / 32 != count || (bytes.size() - kIndexHeader) % 32 != 0)
    return fail(Errc::malformed, "segment index: " + std::to_string(bytes.size() - kIndexHeader) + " bytes of roots, expected " +
                                     std::to_string(count) + " x 32");
  std::vector<Hash32> roots(count);
  for (uint64_t i = 0; i < count; ++i)
    std::memcpy(roots[i].data(), bytes.data() + kIndexHeader + 32 * i, 32);
  return SegmentIndex(size, std::move(roots));
}

// ------------------------------------------------------------------ SegmentHasher

void SegmentHasher::update(ByteView data) {
  size_ += data.size();
  while (!data.empty()) {
    size_t take = std::min(data.size(), kChunkSize - chunk_.size());
    chunk_.insert(chunk_.end(), data.begin(), data.begin() + static_cast<long>(take));
    data = data.subspan(take);
    if (chunk_.size() == kChunkSize) {
      roots_.push_back(chunk_root(chunk_));
      chunk_.clear();
    }
  }
}

SegmentIndex SegmentHasher::finish() {
  if (!chunk_.empty()) roots_.push_back(chunk_root(chunk_));
  SegmentIndex out(size_, std::move(roots_));
  chunk_.clear();
  size_ = 0;
  roots_.clear();
  return out;
}

// ------------------------------------------------------------------ summarize_file

namespace {

// Chunk roots computed off the reading thread: the reader hands over whole 1 MiB chunks
// (aligned to chunk boundaries, so each job is one chunk root) and the worker hashes their
// segments. A fixed pool of buffers bounds memory; when every buffer is waiting for keccak,
// the reader hashes a queued chunk itself instead of sleeping, so two cores share the keccak
// work (the larger part of ingest) rather than the reader idling behind the worker.
class ChunkRootPool {
 public:
  ChunkRootPool(size_t buffers, bool worker) {
    for (size_t i = 0; i < buffers; ++i) free_.push_back(std::make_unique<Bytes>(kChunkSize));
    if (worker) thread_ = std::thread([this] { run(); });
  }
  ~ChunkRootPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  ChunkRootPool(const ChunkRootPool&) = delete;
  ChunkRootPool& operator=(const ChunkRootPool&) = delete;

  // A free buffer; hashes queued chunks on this thread while none is free.
  std::unique_ptr<Bytes> acquire() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (!free_.empty()) {
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
      if (!jobs_.empty()) {
        run_one(lock);
        continue;
      }
      cv_.wait(lock);
    }
  }

  void submit(uint64_t index, std::unique_ptr<Bytes> chunk, size_t len) {
    {
      std::lock_guard lock(mu_);
      if (roots_.size() <= index) roots_.resize(index + 1);
      jobs_.push_back(Job{index, std::move(chunk), len});
    }
    cv_.notify_all();
  }

  // Waits for (and helps with) every submitted chunk; the roots in chunk order.
  std::vector<Hash32> finish() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (!jobs_.empty()) {
        run_one(lock);
        continue;
      }
      if (busy_ == 0) break;
      cv_.wait(lock);
    }
    return std::move(roots_);
  }

 private:
  struct Job {
    uint64_t index;
    std::unique_ptr<Bytes> buf;
    size_t len;
  };

  // Takes the first job, hashes it unlocked, stores the root and frees the buffer.
  void run_one(std::unique_lock<std::mutex>& lock) {
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    ++busy_;
    lock.unlock();
    Hash32 root = chunk_root(ByteView(job.buf->data(), job.len));
    lock.lock();
    roots_[job.index] = root;
    free_.push_back(std::move(job.buf));
    --busy_;
    cv_.notify_all();
  }

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      run_one(lock);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Bytes>> free_;
  std::deque<Job> jobs_;
  std::vector<Hash32> roots_;
  size_t busy_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// Calls the caller's sink from one thread of its own, in the order blocks were emitted, so
// storing (a Blockstore put: verify, write, fsync) overlaps with reading and hashing. At most
// kMaxQueued blocks wait (copies), so memory stays a few MiB. The first error stops it; later
// blocks are dropped and the error comes back from the next push() and from finish().
class OrderedSinkThread {
 public:
  explicit OrderedSinkThread(const BlockSink& sink) : sink_(sink), thread_([this] { run(); }) {}
  ~OrderedSinkThread() { (void)finish(); }
  OrderedSinkThread(const OrderedSinkThread&) = delete;
  OrderedSinkThread& operator=(const OrderedSinkThread&) = delete;

  Result<void> push(const Cid& cid, ByteView block) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return queue_.size() < kMaxQueued || error_; });
    if (error_) return std::unexpected(*error_);
    queue_.push_back({cid, Bytes(block.begin(), block.end())});
    ready_.notify_one();
    return {};
  }

  // Waits until every queued block went to the sink; the first error, if any.
  Result<void> finish() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
    if (error_) return std::unexpected(*error_);
    return {};
  }

 private:
  static constexpr size_t kMaxQueued = 4;

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      ready_.wait(lock, [&] { return !queue_.empty() || closed_; });
      if (queue_.empty()) return;
      auto item = std::move(queue_.front());
      queue_.pop_front();
      space_.notify_one();
      if (error_) continue;
      lock.unlock();
      auto r = sink_(item.first, item.second);
      lock.lock();
      if (!r) {
        error_ = r.error();
        space_.notify_all();
      }
    }
  }

  const BlockSink& sink_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<std::pair<Cid, Bytes>> queue_;
  std::optional<Error> error_;
  bool closed_ = false;
  std::thread thread_;
};

// Fills buf from fd until it is full or the file ends; the byte count, or -errno.
ssize_t read_full(int fd, uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

Result<ContentSummary> summarize_file(const std::filesystem::path& file, const BlockSink& sink,
                                      const std::function<void(uint64_t, uint64_t)>& progress) {
  unsigned hw = std::thread::hardware_concurrency();
  return summarize_file(file, sink, progress, hw > 1 ? 2u : 1u);
}

Result<ContentSummary> summarize_file(const std::filesystem::path& file, const BlockSink& sink,
                                      const std::function<void(uint64_t, uint64_t)>& progress, unsigned threads) {
  auto sys_error = [&](const char* what) {
    return fail(errno == ENOENT ? Errc::not_found : Errc::io,
                std::string(what) + " " + file.string() + ": " + std::error_code(errno, std::generic_category()).message());
  };
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("cannot open");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("cannot stat");
  if (!S_ISREG(st.st_mode)) return fail(Errc::invalid_argument, file.string() + " is not a regular file");
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  uint64_t total = static_cast<uint64_t>(st.st_size);

  // With more than one thread the sink runs on a thread of its own (in order, one call at a
  // time), overlapping the store's writes and fsyncs with reading and hashing.
  std::optional<OrderedSinkThread> writer;
  if (sink && threads > 1) writer.emplace(sink);
  BlockSink to = [&](const Cid& cid, ByteView block) -> Result<void> {
    if (writer) return writer->push(cid, block);
    if (sink) return sink(cid, block);
    return {};
  };
  FileImporter importer(std::move(to));
  // Four buffers: enough to keep the reader ahead of the worker without growing with the file.
  ChunkRootPool pool(4, /*worker=*/threads > 1);
  uint64_t done = 0;
  for (uint64_t index = 0;; ++index) {
    auto buf = pool.acquire();
    ssize_t n = read_full(fd, buf->data(), kChunkSize);
    if (n < 0) {
      errno = static_cast<int>(-n);
      return sys_error("cannot read");
    }
    if (n == 0) break;
    ByteView chunk(buf->data(), static_cast<size_t>(n));
    if (auto r = importer.update(chunk); !r) return std::unexpected(r.error().context(file.string()));
    done += static_cast<uint64_t>(n);
    pool.submit(index, std::move(buf), static_cast<size_t>(n));
    if (progress) progress(done, total);
    if (static_cast<size_t>(n) < kChunkSize) break;
  }
  auto imported = importer.finish();
  if (!imported) return std::unexpected(imported.error().context(file.string()));
  if (writer) {
    if (auto r = writer->finish(); !r) return std::unexpected(r.error().context(file.string()));
  }
  if (done != total)
    return fail(Errc::io, file.string() + " changed size while it was read (" + std::to_string(total) + " bytes at the start, " +
                              std::to_string(done) + " read)");
  ContentSummary out;
  out.index = SegmentIndex(done, pool.finish());
  out.cid = imported->root;
  out.segment_root = out.index.root();
  out.size = imported->size;
  out.blocks = imported->blocks;
  out.dag_bytes = imported->dag_bytes;
  return out;
}

// ------------------------------------------------------------------ prove_segment

Result<SegmentProof> prove_segment(const FileReader& reader, const SegmentIndex& index, uint64_t segment_index) {
  if (reader.size() != index.size())
    return fail(Errc::invalid_argument, "segment index is for " + std::to_string(index.size()) + " bytes, the file " +
                                            reader.root().to_string() + " has " + std::to_string(reader.size()));
  if (segment_index >= index.segment_count())
    return fail(Errc::invalid_argument, "segment " + std::to_string(segment_index) + " out of range (" +
                                            std::to_string(index.segment_count()) + " segments)");
  uint64_t c = segment_index / kSegmentsPerChunk;
  uint64_t start = c * kChunkSize;
  Bytes chunk;
  chunk.reserve(static_cast<size_t>(std::min<uint64_t>(kChunkSize, index.size() - start)));
  auto r = reader.read(start, kChunkSize, [&](ByteView part) {
    chunk.insert(chunk.end(), part.begin(), part.end());
    return true;
  });
  if (!r) return std::unexpected(r.error().context("proof of segment " + std::to_string(segment_index)));
  auto proof = index.prove(segment_index, chunk);
  if (!proof) return std::unexpected(proof.error().context(reader.root().to_string()));
  SegmentProof out;
  out.index = segment_index;
  size_t off = static_cast<size_t>(segment_index % kSegmentsPerChunk) * crypto::kSegmentSize;
  size_t len = std::min<size_t>(crypto::kSegmentSize, chunk.size() - off);
  out.segment.assign(chunk.begin() + static_cast<long>(off), chunk.begin() + static_cast<long>(off + len));
  out.proof = std::move(*proof);
  return out;
}

}  // namespace dgrid::store
