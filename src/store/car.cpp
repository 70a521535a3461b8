// CAR v1 (docs/formats/storage.md). The header is written with nlohmann's CBOR encoder and
// read by hand (the reasons are at decode_header); sections are varint-framed CID + block.
#include "store/car.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <string>

namespace dgrid::store {

namespace {

// The longest binary CID we accept: CIDv1 varint(1) varint(codec, up to 9 bytes) 0x12 0x20
// and 32 digest bytes. A section is a CID and a block, so it can be no longer than this plus
// kMaxBlockSize.
constexpr uint64_t kMaxCidSize = 1 + 9 + 2 + 32;
constexpr uint64_t kMaxSectionSize = kMaxBlockSize + kMaxCidSize;
// Room for tens of thousands of roots; a larger header is refused before it is read.
constexpr uint64_t kMaxHeaderSize = 1 << 20;
constexpr size_t kMaxVarintBytes = 9;

std::string at(uint64_t offset) { return "CAR at offset " + std::to_string(offset) + ": "; }

// ------------------------------------------------------------------ header decoding
//
// Read by hand rather than with nlohmann::json::from_cbor: from_cbor recurses once per nesting
// level with no limit (a header of nested arrays, well under kMaxHeaderSize, overflows the
// stack: a crash on untrusted input), keeps the last of duplicate map keys without a word, and
// accepts indefinite lengths and non-minimal integers that DAG-CBOR forbids; its SAX entry
// point, which could stop early, cannot be given the tag handler that tag 42 needs. The header
// has one fixed shape, {"roots": [tag 42 bytes ...], "version": uint}, so a reader of exactly
// that strict DAG-CBOR subset is short and cannot recurse.

class CborHeaderReader {
 public:
  CborHeaderReader(ByteView in, uint64_t base) : in_(in), base_(base) {}

  struct Head {
    int major = 0;
    uint64_t value = 0;
  };

  Result<Head> head(const char* what) {
    uint64_t where = base_ + pos_;
    if (pos_ >= in_.size()) return fail(Errc::malformed, at(where) + "header ends inside " + std::string(what));
    uint8_t b = in_[pos_++];
    Head h{b >> 5, b & 0x1fu};
    if (h.value < 24) return h;
    if (h.value == 31)
      return fail(Errc::malformed, at(where) + "indefinite-length item in the header (" + what +
                                       "): DAG-CBOR requires definite lengths");
    if (h.value > 27) return fail(Errc::malformed, at(where) + "reserved CBOR additional info in the header (" + what + ")");
    size_t n = size_t{1} << (h.value - 24);
    if (in_.size() - pos_ < n) return fail(Errc::malformed, at(where) + "header ends inside " + std::string(what));
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | in_[pos_++];
    // DAG-CBOR: every integer and length in its shortest form.
    uint64_t min = n == 1 ? 24 : (uint64_t{1} << (8 * n / 2));
    if (v < min) return fail(Errc::malformed, at(where) + "non-minimal CBOR integer in the header (" + what + ")");
    h.value = v;
    return h;
  }

  Result<ByteView> take(uint64_t n, const char* what) {
    if (n > in_.size() - pos_)
      return fail(Errc::malformed, at(base_ + pos_) + std::string(what) + " of " + std::to_string(n) +
                                       " bytes runs past the end of the header");
    ByteView v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
  }

  uint64_t offset() const { return base_ + pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  ByteView in_;
  uint64_t base_;
  size_t pos_ = 0;
};

constexpr int kUint = 0, kBytes = 2, kText = 3, kArray = 4, kMap = 5, kTag = 6;

Result<std::vector<Cid>> read_roots(CborHeaderReader& r) {
  uint64_t where = r.offset();
  auto arr = r.head("roots");
  if (!arr) return std::unexpected(arr.error());
  if (arr->major != kArray) return fail(Errc::malformed, at(where) + "header roots is not an array");
  std::vector<Cid> roots;
  for (uint64_t i = 0; i < arr->value; ++i) {
    where = r.offset();
    auto tag = r.head("a root CID");
    if (!tag) return std::unexpected(tag.error());
    if (tag->major != kTag || tag->value != 42)
      return fail(Errc::malformed, at(where) + "header root " + std::to_string(i) + " is not a CID (CBOR tag 42)");
    auto bytes = r.head("a root CID");
    if (!bytes) return std::unexpected(bytes.error());
    if (bytes->major != kBytes)
      return fail(Errc::malformed, at(where) + "header root " + std::to_string(i) + ": tag 42 over a non-byte-string");
    auto raw = r.take(bytes->value, "root CID");
    if (!raw) return std::unexpected(raw.error());
    if (raw->empty() || (*raw)[0] != 0x00)
      return fail(Errc::malformed, at(where) + "header root " + std::to_string(i) +
                                       ": CID bytes must start with the 0x00 multibase prefix");
    auto cid = Cid::from_bytes(raw->subspan(1));
    if (!cid) return std::unexpected(cid.error().context(at(where) + "header root " + std::to_string(i)));
    roots.push_back(*cid);
  }
  return roots;
}

Result<std::vector<Cid>> decode_header(ByteView h, uint64_t base) {
  CborHeaderReader r(h, base);
  auto map = r.head("the header map");
  if (!map) return std::unexpected(map.error());
  if (map->major != kMap) return fail(Errc::malformed, at(base) + "header is not a CBOR map");
  std::optional<std::vector<Cid>> roots;
  std::optional<uint64_t> version;
  for (uint64_t i = 0; i < map->value; ++i) {
    uint64_t where = r.offset();
    auto key = r.head("a header key");
    if (!key) return std::unexpected(key.error());
    if (key->major != kText) return fail(Errc::malformed, at(where) + "header key is not a text string");
    auto name = r.take(key->value, "header key");
    if (!name) return std::unexpected(name.error());
    std::string_view k = as_chars(*name);
    if (k == "version") {
      if (version) return fail(Errc::malformed, at(where) + "duplicate header key \"version\"");
      where = r.offset();
      auto v = r.head("version");
      if (!v) return std::unexpected(v.error());
      if (v->major != kUint) return fail(Errc::malformed, at(where) + "header version is not an unsigned integer");
      version = v->value;
    } else if (k == "roots") {
      if (roots) return fail(Errc::malformed, at(where) + "duplicate header key \"roots\"");
      auto rs = read_roots(r);
      if (!rs) return std::unexpected(rs.error());
      roots = std::move(*rs);
    } else {
      std::string shown(k.substr(0, 32));
      std::replace_if(shown.begin(), shown.end(), [](char c) { return c < 0x20 || c > 0x7e; }, '?');
      return fail(Errc::malformed, at(where) + "unexpected header key \"" + shown + "\" (a CARv1 header has roots and version)");
    }
  }
  if (!r.done())
    return fail(Errc::malformed, at(r.offset()) + "trailing bytes after the header map (within the header length)");
  if (!version) return fail(Errc::malformed, at(base) + "header has no version");
  if (*version != 1)
    return fail(Errc::malformed, at(base) + "CAR version " + std::to_string(*version) + " is not supported (CARv1 only)");
  if (!roots) return fail(Errc::malformed, at(base) + "header has no roots");
  return std::move(*roots);
}

// ------------------------------------------------------------------ stream reading

// Reads exactly n bytes (or fewer at the end of the stream); returns how many were read.
size_t read_some(std::istream& in, uint8_t* out, size_t n) {
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n));
  return static_cast<size_t>(in.gcount());
}

// A varint from the stream: nullopt at a clean end of input (no byte at all).
Result<std::optional<uint64_t>> read_stream_varint(std::istream& in, uint64_t offset, const char* what) {
  std::array<uint8_t, kMaxVarintBytes> buf{};
  size_t n = 0;
  for (;;) {
    int c = in.get();
    if (c == std::char_traits<char>::eof()) {
      if (n == 0) return std::optional<uint64_t>{};
      return fail(Errc::malformed, at(offset) + "input ends inside the " + std::string(what) + " length varint");
    }
    buf[n++] = static_cast<uint8_t>(c);
    if ((c & 0x80) == 0) break;
    if (n == buf.size())
      return fail(Errc::malformed, at(offset) + "the " + std::string(what) + " length varint is longer than 9 bytes");
  }
  auto v = read_uvarint(ByteView(buf.data(), n));
  if (!v) return std::unexpected(v.error().context(at(offset) + std::string(what) + " length"));
  return std::optional<uint64_t>(v->first);
}

}  // namespace

// ------------------------------------------------------------------ writing

Bytes encode_car_header(const std::vector<Cid>& roots) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Cid& c : roots) {
    Bytes b{0x00};  // DAG-CBOR CIDs carry the identity multibase prefix
    Bytes raw = c.bytes();
    b.insert(b.end(), raw.begin(), raw.end());
    arr.push_back(nlohmann::json::binary(std::move(b), 42));
  }
  // nlohmann's object is a std::map: keys come out "roots", "version", which is also
  // DAG-CBOR's length-first order; binary with subtype 42 is written as tag 42 (0xd8 0x2a).
  nlohmann::json header = {{"roots", std::move(arr)}, {"version", 1u}};
  Bytes cbor = nlohmann::json::to_cbor(header);
  Bytes out;
  put_uvarint(out, cbor.size());
  out.insert(out.end(), cbor.begin(), cbor.end());
  return out;
}

namespace {
Bytes section_prefix(const Cid& cid, size_t block_size) {
  Bytes c = cid.bytes();
  Bytes out;
  put_uvarint(out, c.size() + block_size);
  out.insert(out.end(), c.begin(), c.end());
  return out;
}
}  // namespace

Bytes encode_car_section(const Cid& cid, ByteView block) {
  Bytes out = section_prefix(cid, block.size());
  out.insert(out.end(), block.begin(), block.end());
  return out;
}

CarWriter::CarWriter(Sink sink, const std::vector<Cid>& roots) : sink_(std::move(sink)) {
  Bytes h = encode_car_header(roots);
  ok_ = sink_(h);
  if (ok_) written_ += h.size();
}

bool CarWriter::add(const Cid& cid, ByteView block) {
  if (!ok_) return false;
  // Two writes rather than one copy of a block of up to 2 MiB.
  Bytes prefix = section_prefix(cid, block.size());
  ok_ = sink_(prefix);
  if (!ok_) return false;
  written_ += prefix.size();
  ok_ = sink_(block);
  if (ok_) written_ += block.size();
  return ok_;
}

// ------------------------------------------------------------------ reading

Result<CarReader> CarReader::open(std::istream& in) {
  auto len = read_stream_varint(in, 0, "header");
  if (!len) return std::unexpected(len.error());
  if (!*len) return fail(Errc::malformed, "not a CAR: the input is empty");
  uint64_t n = **len;
  Bytes prefix;
  put_uvarint(prefix, n);
  uint64_t base = prefix.size();
  if (n == 0) return fail(Errc::malformed, at(0) + "header length is 0");
  if (n > kMaxHeaderSize)
    return fail(Errc::malformed, at(0) + "header length " + std::to_string(n) + " exceeds the " +
                                     std::to_string(kMaxHeaderSize) + "-byte limit");
  Bytes h(n);
  size_t got = read_some(in, h.data(), h.size());
  if (got < n)
    return fail(Errc::malformed, at(base) + "truncated header: " + std::to_string(n) + " bytes declared, " +
                                     std::to_string(got) + " present");
  auto roots = decode_header(h, base);
  if (!roots) return std::unexpected(roots.error());
  return CarReader(in, std::move(*roots), base + n);
}

Result<std::optional<CarReader::Block>> CarReader::next() {
  uint64_t start = offset_;
  auto len = read_stream_varint(*in_, start, "section");
  if (!len) return std::unexpected(len.error());
  if (!*len) return std::optional<Block>{};
  uint64_t n = **len;
  Bytes lenbuf;
  put_uvarint(lenbuf, n);
  uint64_t body = start + lenbuf.size();
  if (n == 0) return fail(Errc::malformed, at(start) + "section length is 0");
  if (n > kMaxSectionSize)
    return fail(Errc::malformed, at(start) + "section length " + std::to_string(n) + " exceeds the " +
                                     std::to_string(kMaxSectionSize) + "-byte limit (block limit + CID)");
  Bytes sec(n);
  size_t got = read_some(*in_, sec.data(), sec.size());
  if (got < n)
    return fail(Errc::malformed, at(start) + "truncated section: " + std::to_string(n) + " bytes declared, " +
                                     std::to_string(got) + " present");
  auto cid = Cid::read_prefix(sec);
  if (!cid) return std::unexpected(cid.error().context(at(body) + "section CID"));
  size_t cid_len = cid->second;
  if (sec.size() - cid_len > kMaxBlockSize)
    return fail(Errc::malformed, at(body) + "block " + cid->first.to_string() + " is over the " +
                                     std::to_string(kMaxBlockSize) + "-byte limit");
  ByteView block(sec.data() + cid_len, sec.size() - cid_len);
  if (!cid->first.matches(block))
    return fail(Errc::malformed, at(start) + "block does not match its CID " + cid->first.to_string());
  offset_ = body + n;
  Block out{cid->first, Bytes(block.begin(), block.end())};
  return std::optional<Block>(std::move(out));
}

// ------------------------------------------------------------------ blockstore

Result<uint64_t> export_car(const Blockstore& bs, const Cid& root, const CarWriter::Sink& sink) {
  auto reader = FileReader::open(bs.getter(), root, FileReader::Verify::by_getter);
  if (!reader) return std::unexpected(reader.error().context("CAR export of " + root.to_string()));
  CarWriter w(sink, {root});
  if (w.bytes_written() == 0)
    return fail(Errc::io, "CAR export of " + root.to_string() + ": the output refused the header");
  auto walked = reader->walk([&](const Cid& cid, ByteView block) -> Result<void> {
    if (!w.add(cid, block))
      return fail(Errc::io, "the output refused the CAR after " + std::to_string(w.bytes_written()) + " bytes");
    return {};
  });
  if (!walked) return std::unexpected(walked.error().context("CAR export of " + root.to_string()));
  return w.bytes_written();
}

Result<CarImport> import_car(Blockstore& bs, std::istream& in) {
  auto reader = CarReader::open(in);
  if (!reader) return std::unexpected(reader.error().context("CAR import"));
  CarImport res;
  res.roots = reader->roots();
  for (;;) {
    uint64_t where = reader->offset();
    auto block = reader->next();
    if (!block) return std::unexpected(block.error().context("CAR import"));
    if (!*block) break;
    // CarReader::next() hashed the block against its CID already.
    if (auto put = bs.put_trusted((*block)->cid, (*block)->data); !put)
      return std::unexpected(put.error().context("CAR import: block at offset " + std::to_string(where)));
    ++res.blocks;
    res.bytes += (*block)->data.size();
  }
  for (const Cid& root : res.roots) {
    auto pinned = bs.pin(root);
    if (pinned) {
      res.pinned.push_back(root);
      continue;
    }
    // An incomplete DAG (or a root that is not a UnixFS file) is simply not pinned; a store
    // that cannot read or write is an error.
    Errc code = pinned.error().code;
    if (code == Errc::io || code == Errc::failed_precondition || code == Errc::internal)
      return std::unexpected(pinned.error().context("CAR import"));
  }
  return res;
}

}  // namespace dgrid::store
