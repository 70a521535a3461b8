// Helpers shared by the UnixFS tests: the deterministic byte stream that tests/interop/unixfs.mjs
// generates too, and an in-memory block map that counts fetches.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "store/unixfs.hpp"

namespace dgrid::store::test {

// xorshift32 words, little-endian: word i is the state after i+1 steps from `seed`. Any split
// of the stream into pieces gives the same bytes.
class Xorshift {
 public:
  explicit Xorshift(uint32_t seed) : s_(seed) {}
  void fill(uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (have_ == 0) {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 17;
        s_ ^= s_ << 5;
        word_ = s_;
        have_ = 4;
      }
      out[i] = static_cast<uint8_t>(word_);
      word_ >>= 8;
      --have_;
    }
  }
  Bytes bytes(size_t n) {
    Bytes b(n);
    fill(b.data(), n);
    return b;
  }

 private:
  uint32_t s_;
  uint32_t word_ = 0;
  int have_ = 0;
};

// Blocks in emission order plus a map for a BlockGetter that counts what it serves.
struct MemBlocks {
  std::vector<std::pair<Cid, Bytes>> order;
  std::map<Cid, Bytes> map;
  mutable std::map<Cid, int> fetched;

  BlockSink sink() {
    return [this](const Cid& cid, ByteView block) -> Result<void> {
      order.emplace_back(cid, Bytes(block.begin(), block.end()));
      map[cid] = Bytes(block.begin(), block.end());
      return {};
    };
  }
  BlockGetter getter() const {
    return [this](const Cid& cid) -> Result<Bytes> {
      auto it = map.find(cid);
      if (it == map.end()) return fail(Errc::not_found, "block " + cid.to_string() + " not found");
      ++fetched[cid];
      return it->second;
    };
  }
  int fetch_count() const {
    int n = 0;
    for (auto& [c, k] : fetched) n += k;
    return n;
  }
};

// Imports `data` in pieces of `piece` bytes.
inline ImportResult import_bytes(MemBlocks& mem, ByteView data, ImportOptions opt = {}, size_t piece = 1 << 16) {
  FileImporter imp(mem.sink(), opt);
  for (size_t off = 0; off < data.size(); off += piece) {
    auto r = imp.update(data.subspan(off, std::min(piece, data.size() - off)));
    if (!r) throw Exception(r.error());
  }
  return unwrap(imp.finish());
}

}  // namespace dgrid::store::test
