// DAG-PB and UnixFS Data as hand-written protobuf (see unixfs.hpp for why not a generator).
// Decoders are strict and total: every input gives a value or an error naming the field.
#include "store/unixfs.hpp"

#include <limits>

namespace dgrid::store {

namespace {

enum WireType : uint64_t { kVarint = 0, kLen = 2 };

void put_key(Bytes& out, uint64_t field, WireType wt) { put_uvarint(out, (field << 3) | wt); }

void put_len(Bytes& out, uint64_t field, ByteView bytes) {
  put_key(out, field, kLen);
  put_uvarint(out, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// Protobuf varints: up to 10 bytes for 64 bits (multiformats varints stop at 9). Minimal
// encoding required: a block has one spelling, and every encoder we interoperate with writes
// the minimal one.
class PbReader {
 public:
  explicit PbReader(ByteView in) : in_(in) {}
  bool done() const noexcept { return pos_ == in_.size(); }

  Result<uint64_t> varint(std::string_view what) {
    uint64_t v = 0;
    for (size_t i = 0; i < 10; ++i) {
      if (pos_ >= in_.size()) return fail(Errc::malformed, std::string(what) + " varint truncated");
      const uint8_t b = in_[pos_++];
      if (i == 9 && b > 1) return fail(Errc::malformed, std::string(what) + " varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) {
        if (b == 0 && i > 0) return fail(Errc::malformed, std::string(what) + " varint not minimally encoded");
        return v;
      }
    }
    return fail(Errc::malformed, std::string(what) + " varint longer than 10 bytes");
  }

  // The field number and wire type of the next key.
  Result<std::pair<uint64_t, uint64_t>> key() {
    auto k = varint("field key");
    if (!k) return std::unexpected(k.error());
    if ((*k >> 3) == 0) return fail(Errc::malformed, "field number 0");
    return std::pair{*k >> 3, *k & 7};
  }

  Result<ByteView> bytes(std::string_view what) {
    auto len = varint(std::string(what) + " length");
    if (!len) return std::unexpected(len.error());
    if (*len > in_.size() - pos_)
      return fail(Errc::malformed, std::string(what) + " length " + std::to_string(*len) + " exceeds the " +
                                       std::to_string(in_.size() - pos_) + " bytes left");
    ByteView out = in_.subspan(pos_, static_cast<size_t>(*len));
    pos_ += static_cast<size_t>(*len);
    return out;
  }

 private:
  ByteView in_;
  size_t pos_ = 0;
};

std::string wire_name(uint64_t wt) {
  switch (wt) {
    case 0: return "varint";
    case 1: return "fixed64";
    case 2: return "length-delimited";
    case 5: return "fixed32";
    default: return "wire type " + std::to_string(wt);
  }
}

Result<void> expect_wire(uint64_t got, uint64_t want, std::string_view field) {
  if (got == want) return {};
  return fail(Errc::malformed, std::string(field) + " has wire type " + wire_name(got) + ", expected " + wire_name(want));
}

Result<PbLink> decode_link(ByteView bytes) {
  PbReader r(bytes);
  PbLink link;
  bool has_hash = false;
  while (!r.done()) {
    auto k = r.key();
    if (!k) return std::unexpected(k.error());
    auto [field, wt] = *k;
    if (field == 1) {
      if (auto w = expect_wire(wt, kLen, "Hash"); !w) return std::unexpected(w.error());
      if (has_hash) return fail(Errc::malformed, "duplicate Hash");
      if (link.name || link.tsize) return fail(Errc::malformed, "Hash after Name or Tsize");
      auto b = r.bytes("Hash");
      if (!b) return std::unexpected(b.error());
      auto cid = Cid::from_bytes(*b);
      if (!cid) return std::unexpected(cid.error().context("Hash"));
      link.hash = *cid;
      has_hash = true;
    } else if (field == 2) {
      if (auto w = expect_wire(wt, kLen, "Name"); !w) return std::unexpected(w.error());
      if (link.name) return fail(Errc::malformed, "duplicate Name");
      if (link.tsize) return fail(Errc::malformed, "Name after Tsize");
      auto b = r.bytes("Name");
      if (!b) return std::unexpected(b.error());
      link.name = std::string(as_chars(*b));
    } else if (field == 3) {
      if (auto w = expect_wire(wt, kVarint, "Tsize"); !w) return std::unexpected(w.error());
      if (link.tsize) return fail(Errc::malformed, "duplicate Tsize");
      auto v = r.varint("Tsize");
      if (!v) return std::unexpected(v.error());
      link.tsize = *v;
    } else {
      return fail(Errc::malformed, "unknown field " + std::to_string(field));
    }
  }
  if (!has_hash) return fail(Errc::malformed, "missing Hash");
  return link;
}

}  // namespace

// ------------------------------------------------------------------ DAG-PB

Bytes encode_pb(const PbNode& node) {
  Bytes out;
  Bytes link_bytes;
  for (const auto& link : node.links) {
    link_bytes.clear();
    put_len(link_bytes, 1, link.hash.bytes());
    if (link.name) put_len(link_bytes, 2, as_bytes(*link.name));
    if (link.tsize) {
      put_key(link_bytes, 3, kVarint);
      put_uvarint(link_bytes, *link.tsize);
    }
    put_len(out, 2, link_bytes);
  }
  if (node.data) put_len(out, 1, *node.data);
  return out;
}

Result<PbNode> decode_pb(ByteView block) {
  PbReader r(block);
  PbNode node;
  while (!r.done()) {
    auto k = r.key();
    if (!k) return std::unexpected(k.error().context("dag-pb"));
    auto [field, wt] = *k;
    if (field == 2) {
      const std::string where = "dag-pb: link " + std::to_string(node.links.size());
      if (auto w = expect_wire(wt, kLen, "Links"); !w) return std::unexpected(w.error().context(where));
      if (node.data) return fail(Errc::malformed, where + ": Links after Data (DAG-PB puts Links first)");
      auto b = r.bytes("link");
      if (!b) return std::unexpected(b.error().context(where));
      auto link = decode_link(*b);
      if (!link) return std::unexpected(link.error().context(where));
      node.links.push_back(std::move(*link));
    } else if (field == 1) {
      if (auto w = expect_wire(wt, kLen, "Data"); !w) return std::unexpected(w.error().context("dag-pb"));
      if (node.data) return fail(Errc::malformed, "dag-pb: duplicate Data");
      auto b = r.bytes("Data");
      if (!b) return std::unexpected(b.error().context("dag-pb"));
      node.data = Bytes(b->begin(), b->end());
    } else {
      return fail(Errc::malformed, "dag-pb: unknown field " + std::to_string(field));
    }
  }
  return node;
}

// ------------------------------------------------------------------ UnixFS Data

Bytes encode_unixfs(const UnixFsData& d) {
  Bytes out;
  put_key(out, 1, kVarint);
  put_uvarint(out, static_cast<uint64_t>(d.type));
  if (d.data) put_len(out, 2, *d.data);
  if (d.filesize) {
    put_key(out, 3, kVarint);
    put_uvarint(out, *d.filesize);
  }
  // Unpacked, one key per value, as ipfs-unixfs writes them (proto2 `repeated uint64`).
  for (uint64_t s : d.blocksizes) {
    put_key(out, 4, kVarint);
    put_uvarint(out, s);
  }
  return out;
}

Result<UnixFsData> decode_unixfs(ByteView bytes) {
  PbReader r(bytes);
  UnixFsData d;
  bool has_type = false;
  bool seen[9] = {};
  while (!r.done()) {
    auto k = r.key();
    if (!k) return std::unexpected(k.error().context("unixfs"));
    auto [field, wt] = *k;
    if (field > 8) return fail(Errc::malformed, "unixfs: unknown field " + std::to_string(field));
    if (field != 4 && seen[field]) return fail(Errc::malformed, "unixfs: duplicate field " + std::to_string(field));
    seen[field] = true;
    Result<void> ok;
    switch (field) {
      case 1: {
        ok = expect_wire(wt, kVarint, "Type");
        if (!ok) break;
        auto v = r.varint("Type");
        if (!v) return std::unexpected(v.error().context("unixfs"));
        if (*v > static_cast<uint64_t>(UnixFsType::hamt_shard))
          return fail(Errc::malformed, "unixfs: unknown Type " + std::to_string(*v));
        d.type = static_cast<UnixFsType>(*v);
        has_type = true;
        break;
      }
      case 2: {
        ok = expect_wire(wt, kLen, "Data");
        if (!ok) break;
        auto b = r.bytes("Data");
        if (!b) return std::unexpected(b.error().context("unixfs"));
        d.data = Bytes(b->begin(), b->end());
        break;
      }
      case 3: {
        ok = expect_wire(wt, kVarint, "filesize");
        if (!ok) break;
        auto v = r.varint("filesize");
        if (!v) return std::unexpected(v.error().context("unixfs"));
        d.filesize = *v;
        break;
      }
      case 4: {
        const std::string where = "blocksizes[" + std::to_string(d.blocksizes.size()) + "]";
        if (wt == kVarint) {
          auto v = r.varint(where);
          if (!v) return std::unexpected(v.error().context("unixfs"));
          d.blocksizes.push_back(*v);
        } else if (wt == kLen) {  // packed
          auto b = r.bytes("packed blocksizes");
          if (!b) return std::unexpected(b.error().context("unixfs"));
          PbReader packed(*b);
          while (!packed.done()) {
            auto v = packed.varint("blocksizes[" + std::to_string(d.blocksizes.size()) + "]");
            if (!v) return std::unexpected(v.error().context("unixfs"));
            d.blocksizes.push_back(*v);
          }
        } else {
          ok = expect_wire(wt, kVarint, "blocksizes");
        }
        break;
      }
      case 5:
      case 6:
      case 7: {  // hashType, fanout, mode: read and dropped
        static constexpr const char* names[] = {"hashType", "fanout", "mode"};
        ok = expect_wire(wt, kVarint, names[field - 5]);
        if (!ok) break;
        auto v = r.varint(names[field - 5]);
        if (!v) return std::unexpected(v.error().context("unixfs"));
        break;
      }
      case 8: {  // mtime: dropped
        ok = expect_wire(wt, kLen, "mtime");
        if (!ok) break;
        auto b = r.bytes("mtime");
        if (!b) return std::unexpected(b.error().context("unixfs"));
        break;
      }
      default:
        return fail(Errc::internal, "unixfs: unreachable field");
    }
    if (!ok) return std::unexpected(ok.error().context("unixfs"));
  }
  if (!has_type) return fail(Errc::malformed, "unixfs: missing Type");
  return d;
}

}  // namespace dgrid::store
