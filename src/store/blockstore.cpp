// On-disk layout (docs/formats/storage.md):
//   DIR/blocks/<hex of the digest's first byte>/<CIDv1 text>   one complete, verified block
//   DIR/pins/<CIDv1 text>                                      a complete object (its CID inside)
//   DIR/tmp/<random>                                           a write in progress (flock held)
//   DIR/corrupt/<CIDv1 text>.<random>                          blocks that failed verification
// CIDv0 names are stored as their CIDv1 (same digest, dag-pb), so both forms find one file.
//
// A write goes to tmp/ and is renamed into blocks/: a block file is complete or absent
// whatever instant the process dies at. Durability is batched: pin() and sync() run one
// syncfs() over the store's filesystem before an object becomes visible (blockstore.hpp). A writer holds an
// flock on its temporary file, so open() removes only files whose writer is gone (another
// Blockstore on the same directory may be writing).
#include "store/blockstore.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>

namespace dgrid::store {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

bool is_disk_full(int err) { return err == ENOSPC || err == EDQUOT; }

// 16 random hex characters for temporary and quarantine names.
std::string random_name() {
  uint8_t raw[8];
  size_t got = 0;
  while (got < sizeof(raw)) {
    ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
    else if (errno != EINTR) break;  // cannot happen for 8 bytes after boot; fall back below
  }
  if (got < sizeof(raw)) {
    static std::atomic<uint64_t> counter{0};
    uint64_t v = (static_cast<uint64_t>(getpid()) << 32) ^ ++counter;
    std::memcpy(raw, &v, sizeof(raw));
  }
  return to_hex(ByteView(raw, sizeof(raw)), /*prefix=*/false);
}

// Closes the descriptor when the scope ends.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

int write_all(int fd, ByteView data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return 0;
}

int fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

// A block or pin being written: created in tmp/ with an flock held (open() of the store
// skips files whose writer is alive), written, fsynced when asked, then committed by a rename.
// The descriptor stays open, and the lock held, until the rename; a TempFile that was not
// committed removes its file.
class TempFile {
 public:
  struct Failure {
    int err = 0;
    const char* step = "";
  };

  // Creates and fills the file; on failure nothing is left behind.
  static Failure write(const fs::path& tmp_dir, ByteView data, bool sync, std::unique_ptr<TempFile>* out) {
    auto t = std::unique_ptr<TempFile>(new TempFile(tmp_dir / random_name()));
    t->fd_ = ::open(t->path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (t->fd_ < 0) return {errno, "creating a temporary file for"};
    t->created_ = true;
    (void)::flock(t->fd_, LOCK_EX | LOCK_NB);
    if (int err = write_all(t->fd_, data)) return {err, "writing"};
    if (sync && ::fsync(t->fd_) != 0) return {errno, "fsync of"};
    *out = std::move(t);
    return {};
  }

  // Renames the file to dest (replacing nothing that matters: callers check first).
  Failure commit(const fs::path& dest) {
    if (::rename(path_.c_str(), dest.c_str()) != 0) return {errno, "renaming into place"};
    created_ = false;
    return {};
  }

  ~TempFile() {
    if (created_) ::unlink(path_.c_str());
    if (fd_ >= 0) ::close(fd_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

 private:
  explicit TempFile(fs::path p) : path_(std::move(p)) {}
  fs::path path_;
  int fd_ = -1;
  bool created_ = false;
};

Result<void> make_dir(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return fail(Errc::io, "cannot create " + p.string() + ": " + ec.message());
  return {};
}

}  // namespace

struct Blockstore::Impl {
  fs::path dir, blocks, pins, tmp, corrupt;
  BlockstoreOptions opt;
  // Guards the accounting and the exists-check + rename of a put, so concurrent puts of one
  // block count it once and the capacity limit holds for concurrent writers.
  mutable std::mutex mu;
  mutable uint64_t used = 0;      // bytes of block files in blocks/
  uint64_t reserved = 0;          // bytes of puts between the capacity check and the rename

  static std::string name_of(const Cid& cid) { return cid.to_v1().to_string(); }
  fs::path shard_of(const Cid& cid) const {
    return blocks / to_hex(ByteView(cid.digest().data(), 1), /*prefix=*/false);
  }
  fs::path path_of(const Cid& cid) const { return shard_of(cid) / name_of(cid); }
  fs::path pin_path(const Cid& cid) const { return pins / name_of(cid); }

  TempFile::Failure ensure_shard(const fs::path& shard) const {
    if (::mkdir(shard.c_str(), 0755) == 0) {
      if (opt.fsync) (void)fsync_dir(blocks);
      return {};
    }
    if (errno == EEXIST) return {};
    return {errno, "creating the shard directory for"};
  }

  Error write_error(const TempFile::Failure& f, const std::string& what) const {
    if (is_disk_full(f.err))
      return Error(Errc::failed_precondition,
                   "storage full: no space left on device (" + std::string(f.step) + " " + what + " in " + dir.string() + ")");
    return Error(Errc::io, std::string(f.step) + " " + what + " in " + dir.string() + ": " + errno_text(f.err));
  }

  // Moves a block that failed verification out of blocks/ (so has() is false and a fresh
  // copy can be stored) and stops counting it.
  // `read` is the stat of the descriptor the bad bytes were read from: if the name now points
  // at another file (a good copy put there meanwhile), that file is left alone.
  std::string quarantine(const Cid& cid, const fs::path& p, uint64_t size, const struct stat& read) const {
    fs::path dest = corrupt / (name_of(cid) + "." + random_name());
    std::lock_guard lock(mu);
    struct stat now;
    if (::stat(p.c_str(), &now) != 0) return "already moved aside";
    if (now.st_ino != read.st_ino || now.st_dev != read.st_dev) return "already replaced by a good copy";
    if (::rename(p.c_str(), dest.c_str()) == 0) {
      used -= std::min(used, size);
      return "moved to " + dest.string();
    }
    if (errno == ENOENT) return "already moved aside";
    // Could not move it (e.g. permissions): delete it instead, so it is never served.
    if (::unlink(p.c_str()) == 0) {
      used -= std::min(used, size);
      return "deleted";
    }
    return "could not be moved aside: " + errno_text(errno);
  }
};

Blockstore::Blockstore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Blockstore::~Blockstore() = default;

Result<std::unique_ptr<Blockstore>> Blockstore::open(const fs::path& dir, BlockstoreOptions o) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->blocks = dir / "blocks";
  impl->pins = dir / "pins";
  impl->tmp = dir / "tmp";
  impl->corrupt = dir / "corrupt";
  impl->opt = o;
  for (const fs::path* p : {&impl->blocks, &impl->pins, &impl->tmp, &impl->corrupt})
    if (auto r = make_dir(*p); !r) return std::unexpected(r.error().context("blockstore"));

  std::error_code ec;
  // Temporary files of writers that died: no flock held on them any more.
  for (fs::directory_iterator it(impl->tmp, ec), end; !ec && it != end; it.increment(ec)) {
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      ::unlink(it->path().c_str());
      continue;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(it->path().c_str());
    ::close(fd);
  }
  if (ec) return fail(Errc::io, "blockstore: cannot list " + impl->tmp.string() + ": " + ec.message());

  for (fs::directory_iterator shard(impl->blocks, ec), end; !ec && shard != end; shard.increment(ec)) {
    if (!shard->is_directory(ec)) continue;
    for (fs::directory_iterator it(shard->path(), ec); !ec && it != end; it.increment(ec)) {
      auto size = it->is_regular_file(ec) ? it->file_size(ec) : 0;
      if (!ec) impl->used += size;
    }
  }
  if (ec) return fail(Errc::io, "blockstore: cannot scan " + impl->blocks.string() + ": " + ec.message());
  return std::unique_ptr<Blockstore>(new Blockstore(std::move(impl)));
}

Result<void> Blockstore::put(const Cid& cid, ByteView block) { return put_block(cid, block, /*verify=*/true); }

Result<void> Blockstore::put_trusted(const Cid& cid, ByteView block) { return put_block(cid, block, /*verify=*/false); }

Result<void> Blockstore::put_block(const Cid& cid, ByteView block, bool verify) {
  Impl& s = *impl_;
  if (!cid.valid()) return fail(Errc::invalid_argument, "put: invalid CID");
  if (block.size() > kMaxBlockSize)
    return fail(Errc::invalid_argument, "block " + cid.to_string() + " is " + std::to_string(block.size()) +
                                            " bytes, over the " + std::to_string(kMaxBlockSize) + "-byte limit");
  if (verify && !cid.matches(block))
    return fail(Errc::malformed, "block does not match its CID " + cid.to_string() + " (sha2-256 of the " +
                                     std::to_string(block.size()) + " bytes differs)");
  fs::path dest = s.path_of(cid);
  {
    std::lock_guard lock(s.mu);
    struct stat st;
    if (::stat(dest.c_str(), &st) == 0) return {};  // idempotent: the same bytes are there
    if (s.opt.capacity_bytes != 0 && s.used + s.reserved + block.size() > s.opt.capacity_bytes)
      return fail(Errc::failed_precondition,
                  "storage full: block " + cid.to_string() + " (" + std::to_string(block.size()) +
                      " bytes) would exceed the capacity of " + std::to_string(s.opt.capacity_bytes) + " bytes (" +
                      std::to_string(s.used) + " used)");
    s.reserved += block.size();
  }
  std::unique_ptr<TempFile> tmp;
  TempFile::Failure wf = s.ensure_shard(dest.parent_path());
  if (wf.err == 0) wf = TempFile::write(s.tmp, block, /*sync=*/false, &tmp);
  {
    std::lock_guard lock(s.mu);
    s.reserved -= block.size();
    if (wf.err == 0) {
      struct stat st;
      if (::stat(dest.c_str(), &st) == 0) return {};  // a concurrent put of the same block landed
      wf = tmp->commit(dest);
      if (wf.err == 0) s.used += block.size();
    }
  }
  if (wf.err == 0) return {};
  return std::unexpected(s.write_error(wf, "block " + cid.to_string()));
}

Result<Bytes> Blockstore::get(const Cid& cid) const {
  const Impl& s = *impl_;
  fs::path p = s.path_of(cid);
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) {
    if (errno == ENOENT) return fail(Errc::not_found, "block " + cid.to_string() + " not found");
    return fail(Errc::io, "cannot open block " + cid.to_string() + ": " + errno_text(errno));
  }
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) return fail(Errc::io, "cannot stat block " + cid.to_string() + ": " + errno_text(errno));
  auto size = static_cast<uint64_t>(st.st_size);
  Bytes data;
  bool fits = size <= kMaxBlockSize;
  if (fits) {
    data.resize(size);
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::read(fd.fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(Errc::io, "cannot read block " + cid.to_string() + ": " + errno_text(errno));
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    data.resize(got);
  }
  if (fits && cid.matches(data)) return data;
  std::string what = s.quarantine(cid, p, size, st);
  return fail(Errc::malformed, "block " + cid.to_string() + " is corrupt on disk (" + what + ")");
}

bool Blockstore::has(const Cid& cid) const {
  struct stat st;
  return ::stat(impl_->path_of(cid).c_str(), &st) == 0;
}

Result<void> Blockstore::remove(const Cid& cid) {
  Impl& s = *impl_;
  fs::path p = s.path_of(cid);
  std::lock_guard lock(s.mu);
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return fail(Errc::not_found, "block " + cid.to_string() + " not found");
  if (::unlink(p.c_str()) != 0)
    return fail(Errc::io, "cannot remove block " + cid.to_string() + ": " + errno_text(errno));
  s.used -= std::min(s.used, static_cast<uint64_t>(st.st_size));
  if (s.opt.fsync) (void)fsync_dir(p.parent_path());
  return {};
}

BlockGetter Blockstore::getter() const {
  return [this](const Cid& cid) { return get(cid); };
}

// Walks the whole DAG through FileReader, which reads and verifies every block and checks
// that the tree's sizes agree: pinning re-reads the object once (about a SHA-256 pass over the
// file). put() already verified each block, but a pin is the promise that the object is
// complete and readable, so it is checked rather than assumed.
Result<void> Blockstore::pin(const Cid& root) {
  auto reader = FileReader::open(getter(), root, FileReader::Verify::by_getter);
  if (!reader) return std::unexpected(reader.error().context("pin " + root.to_string()));
  auto walked = reader->walk([](const Cid&, ByteView) -> Result<void> { return {}; });
  if (!walked) return std::unexpected(walked.error().context("pin " + root.to_string()));
  return write_pin(root);
}

Result<void> Blockstore::sync() {
  Impl& s = *impl_;
  if (!s.opt.fsync) return {};
  int fd = ::open(s.blocks.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io, "blockstore: cannot open " + s.blocks.string() + ": " + errno_text(errno));
  const int rc = ::syncfs(fd) == 0 ? 0 : errno;
  ::close(fd);
  if (rc != 0) return fail(Errc::io, "blockstore: syncing " + s.dir.string() + " failed: " + errno_text(rc));
  return {};
}

Result<void> Blockstore::write_pin(const Cid& root) {
  Impl& s = *impl_;
  if (auto r = sync(); !r) return std::unexpected(r.error().context("pin " + root.to_string()));
  std::string text = Impl::name_of(root) + "\n";
  std::unique_ptr<TempFile> tmp;
  TempFile::Failure wf = TempFile::write(s.tmp, as_bytes(text), s.opt.fsync, &tmp);
  if (wf.err == 0) wf = tmp->commit(s.pin_path(root));
  if (wf.err == 0 && s.opt.fsync) {
    if (int err = fsync_dir(s.pins)) wf = {err, "fsync of the directory of"};
  }
  if (wf.err == 0) return {};
  return std::unexpected(s.write_error(wf, "pin " + root.to_string()));
}

Result<void> Blockstore::unpin(const Cid& root) {
  fs::path p = impl_->pin_path(root);
  if (::unlink(p.c_str()) != 0) {
    if (errno == ENOENT) return {};  // idempotent, like the pin it undoes
    return fail(Errc::io, "cannot unpin " + root.to_string() + ": " + errno_text(errno));
  }
  if (impl_->opt.fsync) (void)fsync_dir(impl_->pins);
  return {};
}

bool Blockstore::pinned(const Cid& root) const {
  struct stat st;
  return ::stat(impl_->pin_path(root).c_str(), &st) == 0;
}

std::vector<Cid> Blockstore::pins() const {
  std::vector<Cid> out;
  std::error_code ec;
  for (fs::directory_iterator it(impl_->pins, ec), end; !ec && it != end; it.increment(ec)) {
    // Names that are not CIDs (editor leftovers, foreign files) are not pins.
    if (auto cid = Cid::parse(it->path().filename().string())) out.push_back(*cid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t Blockstore::used_bytes() const noexcept {
  std::lock_guard lock(impl_->mu);
  return impl_->used;
}

const fs::path& Blockstore::dir() const noexcept { return impl_->dir; }

}  // namespace dgrid::store
