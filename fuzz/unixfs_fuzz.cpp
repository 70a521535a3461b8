// DAG-PB, UnixFS and FileReader fuzzer.
// Properties: nothing crashes; every error says something; decode_pb accepts only canonical
// DAG-PB (re-encoding gives the input back); decode_unixfs output survives an encode/decode
// round trip. Then the input is read as blocks, each a uvarint length and that many bytes;
// the first block is a dag-pb file root, and the getter serves any block by its raw or
// dag-pb CID, so seeds with real links reach the reader's tree checks: a read that succeeds
// returns exactly the requested bytes, and walk() visits the root first and no CID twice.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "store/unixfs.hpp"

namespace {

using namespace dgrid;
using namespace dgrid::store;

void check_error(const Error& e) {
  if (e.message.empty()) std::abort();
}

void fuzz_reader(ByteView in) {
  std::map<Cid, Bytes> blocks;
  Cid root;
  bool first = true;
  while (!in.empty() && blocks.size() < 64) {
    auto len = read_uvarint(in);
    if (!len || len->first > in.size() - len->second) break;
    const ByteView block = in.subspan(len->second, static_cast<size_t>(len->first));
    in = in.subspan(len->second + static_cast<size_t>(len->first));
    const Cid pb = Cid::of(Codec::dag_pb, block);
    if (first) root = pb;
    first = false;
    blocks[pb] = Bytes(block.begin(), block.end());
    blocks[Cid::of(Codec::raw, block)] = Bytes(block.begin(), block.end());
  }
  if (first) return;
  BlockGetter get = [&](const Cid& c) -> Result<Bytes> {
    auto it = blocks.find(c);
    if (it == blocks.end()) return fail(Errc::not_found, "absent");
    return it->second;
  };
  auto f = FileReader::open(get, root);
  if (!f) return check_error(f.error());
  // Repeated links can make a few kilobytes describe gigabytes: read a bounded window.
  constexpr uint64_t kWindow = 1 << 16;
  for (uint64_t offset : {uint64_t{0}, f->size() / 2, f->size() > 3 ? f->size() - 3 : 0}) {
    uint64_t got = 0;
    auto r = f->read(offset, kWindow, [&](ByteView b) {
      got += b.size();
      return true;
    });
    if (!r) {
      check_error(r.error());
      continue;
    }
    const uint64_t want = offset >= f->size() ? 0 : std::min(kWindow, f->size() - offset);
    if (got != want) std::abort();
  }
  std::set<Cid> seen;
  size_t visits = 0;
  auto w = f->walk([&](const Cid& c, ByteView b) -> Result<void> {
    if (visits++ == 0 && c != root) std::abort();
    if (!seen.insert(c).second || !c.matches(b)) std::abort();
    return {};
  });
  if (!w) check_error(w.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in(data, size);
  if (auto node = decode_pb(in)) {
    const Bytes again = encode_pb(*node);
    if (again.size() != size || (size && std::memcmp(again.data(), data, size) != 0)) std::abort();
  } else {
    check_error(node.error());
  }
  if (auto d = decode_unixfs(in)) {
    auto back = decode_unixfs(encode_unixfs(*d));
    if (!back || *back != *d) std::abort();
  } else {
    check_error(d.error());
  }
  fuzz_reader(in);
  return 0;
}
