// CAR v1 (Content Addressable aRchive): varint(len) DAG-CBOR header {roots: [CID], version: 1},
// then sections varint(len) CID block. The header is written and read with nlohmann's CBOR
// (CIDs as tag 42 over 0x00 + binary CID). Every block read from a CAR is verified against
// its CID; malformed input is Errc::malformed naming the offset and what was wrong.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <ostream>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "store/blockstore.hpp"
#include "store/cid.hpp"

namespace dgrid::store {

Bytes encode_car_header(const std::vector<Cid>& roots);
Bytes encode_car_section(const Cid& cid, ByteView block);

// Writes a CAR to a byte sink (a file, an HTTP chunked stream). The sink returns false to stop.
class CarWriter {
 public:
  using Sink = std::function<bool(ByteView)>;
  CarWriter(Sink sink, const std::vector<Cid>& roots);  // writes the header
  bool add(const Cid& cid, ByteView block);             // false once the sink refused
  uint64_t bytes_written() const noexcept { return written_; }

 private:
  Sink sink_;
  uint64_t written_ = 0;
  bool ok_ = true;
};

// Incremental CAR reader over a stream or an in-memory buffer; blocks are verified.
class CarReader {
 public:
  static Result<CarReader> open(std::istream& in);
  const std::vector<Cid>& roots() const noexcept { return roots_; }
  // The next block, std::nullopt at a clean end of input.
  struct Block {
    Cid cid;
    Bytes data;
  };
  Result<std::optional<Block>> next();
  uint64_t offset() const noexcept { return offset_; }

 private:
  CarReader(std::istream& in, std::vector<Cid> roots, uint64_t offset) : in_(&in), roots_(std::move(roots)), offset_(offset) {}
  std::istream* in_;
  std::vector<Cid> roots_;
  uint64_t offset_ = 0;
};

// DAG of `root` from the blockstore, depth-first pre-order (FileReader::walk), as one CAR.
Result<uint64_t> export_car(const Blockstore& bs, const Cid& root, const CarWriter::Sink& sink);

struct CarImport {
  std::vector<Cid> roots;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  std::vector<Cid> pinned;  // roots whose DAG is now complete (pinned)
};
// Verifies and stores every block, then pins each root whose DAG is complete. A bad block
// stops the import with an error; blocks already stored stay (content-addressed, harmless)
// but nothing is pinned.
Result<CarImport> import_car(Blockstore& bs, std::istream& in);

}  // namespace dgrid::store
