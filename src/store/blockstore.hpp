// Blocks on local disk, one file per block under DIR/blocks/<2 hex>/<cid>; complete objects
// ("pins") recorded under DIR/pins/. Crash-safe: a block is written to a temporary file and
// renamed into place, so whatever instant the process dies at, a block file is absent or
// complete; an object is visible (pinned) only after every block of its DAG is stored and the
// store's filesystem was synced (syncfs), then the pin file itself is fsynced. Durability is
// thus batched per object rather than paid per 1 MiB block: after a power failure a block
// written since the last pin/sync may be torn, which the verification on read detects (it is
// not part of any pinned object, or is fetched again like any corrupt block).
// Every read verifies the block against its CID; a corrupt block is moved to DIR/corrupt/ and
// reported as Errc::malformed ("block <cid> is corrupt on disk"), so the caller can fetch it
// again from another replica. Thread-safe: concurrent put/get of any blocks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "store/cid.hpp"
#include "store/unixfs.hpp"

namespace dgrid::store {

struct BlockstoreOptions {
  // Refuse writes that would take the stored bytes past this (0: no limit). Errc::failed_precondition
  // "storage full: ..." and nothing is written.
  uint64_t capacity_bytes = 0;
  bool fsync = true;  // sync at pin()/sync(); tests and benches may turn it off; the node never does
};

class Blockstore {
 public:
  // Creates DIR if needed; removes temporary files left by a crash.
  static Result<std::unique_ptr<Blockstore>> open(const std::filesystem::path& dir, BlockstoreOptions o = {});

  // Verifies sha256(block) against cid first (Errc::malformed on mismatch, nothing written).
  // Idempotent. A full disk (ENOSPC/EDQUOT) or the capacity limit is a clear error and leaves
  // no partial file.
  Result<void> put(const Cid& cid, ByteView block);
  // put() without the second hash, for blocks whose CID the caller has just computed from
  // exactly these bytes in this process (FileImporter output, a block CarReader verified).
  Result<void> put_trusted(const Cid& cid, ByteView block);
  // Makes every block written so far durable (one syncfs of the store's filesystem). pin()
  // does this first.
  Result<void> sync();
  // Errc::not_found when absent; Errc::malformed when the bytes on disk fail verification
  // (the file is moved aside first).
  Result<Bytes> get(const Cid& cid) const;
  bool has(const Cid& cid) const;
  Result<void> remove(const Cid& cid);
  // The block getter for FileReader (reads verified blocks from this store).
  BlockGetter getter() const;

  // Marks `root` as a complete object after checking that every block of its DAG is present
  // and valid (Errc::not_found naming the first missing block otherwise).
  Result<void> pin(const Cid& root);
  Result<void> unpin(const Cid& root);  // succeeds when `root` is not pinned (idempotent)
  bool pinned(const Cid& root) const;
  std::vector<Cid> pins() const;  // sorted, in CIDv1 form (a v0 root is recorded as its v1)

  uint64_t used_bytes() const noexcept;  // bytes of stored blocks
  const std::filesystem::path& dir() const noexcept;

  ~Blockstore();

 private:
  struct Impl;
  explicit Blockstore(std::unique_ptr<Impl> impl);
  Result<void> put_block(const Cid& cid, ByteView block, bool verify);
  Result<void> write_pin(const Cid& root);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgrid::store
