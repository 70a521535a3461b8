#include "eth/rlp.hpp"

#include <algorithm>

namespace dgrid::eth::rlp {

namespace {

size_t be_length(uint64_t v) noexcept {
  size_t n = 0;
  while (v != 0) {
    ++n;
    v >>= 8;
  }
  return n;
}

void append_be(Bytes& out, uint64_t v, size_t n) noexcept {
  for (size_t i = n; i-- > 0;) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::string at(size_t offset) { return " at offset " + std::to_string(offset); }

std::unexpected<Error> malformed(std::string msg) { return fail(Errc::malformed, "RLP: " + std::move(msg)); }

}  // namespace

// ---------------------------------------------------------------------------------------
// Encoding

size_t header_size(size_t payload_len) noexcept {
  return payload_len < 56 ? 1 : 1 + be_length(payload_len);
}

void encode_header(Bytes& out, bool list, size_t payload_len) noexcept {
  const uint8_t base = list ? 0xc0 : 0x80;
  if (payload_len < 56) {
    out.push_back(static_cast<uint8_t>(base + payload_len));
  } else {
    size_t n = be_length(payload_len);
    out.push_back(static_cast<uint8_t>(base + 55 + n));
    append_be(out, payload_len, n);
  }
}

void encode(Bytes& out, ByteView bytes) noexcept {
  if (bytes.size() == 1 && bytes[0] < 0x80) {
    out.push_back(bytes[0]);
    return;
  }
  encode_header(out, /*list=*/false, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void encode(Bytes& out, uint64_t v) noexcept {
  if (v != 0 && v < 0x80) {
    out.push_back(static_cast<uint8_t>(v));
    return;
  }
  size_t n = be_length(v);
  out.push_back(static_cast<uint8_t>(0x80 + n));
  append_be(out, v, n);
}

void encode(Bytes& out, const u256& v) noexcept {
  if (v <= std::numeric_limits<uint64_t>::max()) {
    encode(out, static_cast<uint64_t>(v));
    return;
  }
  Hash32 be = to_be32(v);
  auto first = std::find_if(be.begin(), be.end(), [](uint8_t b) { return b != 0; });
  encode(out, ByteView(&*first, static_cast<size_t>(be.end() - first)));
}

void end_list(Bytes& out, size_t mark) noexcept {
  const size_t payload = out.size() - mark;
  uint8_t header[9];
  size_t n = 0;
  if (payload < 56) {
    header[n++] = static_cast<uint8_t>(0xc0 + payload);
  } else {
    size_t len_bytes = be_length(payload);
    header[n++] = static_cast<uint8_t>(0xf7 + len_bytes);
    for (size_t i = len_bytes; i-- > 0;) header[n++] = static_cast<uint8_t>(payload >> (8 * i));
  }
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(mark), header, header + n);
}

void encode(Bytes& out, const Node& node) noexcept {
  if (!node.is_list) {
    encode(out, node.bytes);
    return;
  }
  size_t mark = begin_list(out);
  for (const Node& child : node.children) encode(out, child);
  end_list(out, mark);
}

// ---------------------------------------------------------------------------------------
// Decoding

Result<Item> Reader::next() noexcept {
  const size_t start = offset();
  const size_t rem = remaining();
  if (rem == 0) return malformed("unexpected end of input" + at(start));
  const uint8_t* p = data_.data() + pos_;
  const uint8_t b = p[0];

  if (b < 0x80) {
    Item item{false, ByteView(p, 1), ByteView(p, 1), start};
    pos_ += 1;
    return item;
  }

  const bool list = b >= 0xc0;
  const char* kind = list ? "list" : "string";
  const uint8_t short_max = list ? 0xf7 : 0xb7;
  size_t header = 1;
  uint64_t len = 0;
  if (b <= short_max) {
    len = b - (list ? 0xc0 : 0x80);
  } else {
    const size_t len_bytes = b - short_max;  // 1..8
    if (len_bytes >= rem)
      return malformed(std::string(kind) + " length-of-length " + std::to_string(len_bytes) +
                       " exceeds remaining " + std::to_string(rem - 1) + " bytes" + at(start));
    if (p[1] == 0) return malformed(std::string(kind) + " length has leading zero bytes" + at(start));
    for (size_t i = 0; i < len_bytes; ++i) len = (len << 8) | p[1 + i];
    if (len < 56)
      return malformed(std::string(kind) + " of length " + std::to_string(len) +
                       " uses the long form (non-canonical)" + at(start));
    header += len_bytes;
  }
  if (len > rem - header)
    return malformed(std::string(kind) + " length " + std::to_string(len) + " exceeds remaining " +
                     std::to_string(rem - header) + " bytes" + at(start));
  ByteView payload(p + header, static_cast<size_t>(len));
  if (!list && len == 1 && payload[0] < 0x80)
    return malformed("single byte below 0x80 encoded as a string (non-canonical)" + at(start));
  Item item{list, payload, ByteView(p, header + static_cast<size_t>(len)), start};
  pos_ += item.raw.size();
  return item;
}

Result<ByteView> Reader::read_bytes() noexcept {
  auto item = next();
  if (!item) return std::unexpected(item.error());
  if (item->is_list) return malformed("expected a string, found a list" + at(item->offset));
  return item->payload;
}

Result<ByteView> Reader::read_fixed_view(size_t n) noexcept {
  auto item = next();
  if (!item) return std::unexpected(item.error());
  if (item->is_list || item->payload.size() != n)
    return malformed("expected a string of " + std::to_string(n) + " bytes" + at(item->offset));
  return item->payload;
}

Result<crypto::Address> Reader::read_address() noexcept {
  auto b = read_fixed<20>();
  if (!b) return std::unexpected(b.error());
  return crypto::Address{*b};
}

Result<u256> decode_uint(ByteView payload, size_t offset) noexcept {
  if (payload.size() > 32) return malformed("integer longer than 32 bytes" + at(offset));
  if (!payload.empty() && payload[0] == 0)
    return malformed("integer has leading zero bytes" + at(offset));
  return from_be(payload);
}

Result<u256> Reader::read_u256() noexcept {
  auto item = next();
  if (!item) return std::unexpected(item.error());
  if (item->is_list) return malformed("expected an integer, found a list" + at(item->offset));
  return decode_uint(item->payload, item->offset);
}

Result<uint64_t> Reader::read_u64() noexcept {
  const size_t start = offset();
  auto v = read_u256();
  if (!v) return std::unexpected(v.error());
  if (*v > std::numeric_limits<uint64_t>::max()) return malformed("integer exceeds 64 bits" + at(start));
  return static_cast<uint64_t>(*v);
}

Result<Reader> Reader::read_list() noexcept {
  auto item = next();
  if (!item) return std::unexpected(item.error());
  if (!item->is_list) return malformed("expected a list, found a string" + at(item->offset));
  return Reader(item->payload, item->offset + (item->raw.size() - item->payload.size()));
}

Result<void> Reader::finish() const noexcept {
  if (!empty())
    return malformed(std::to_string(remaining()) + " trailing bytes" + at(offset()));
  return {};
}

Result<u256> Node::as_uint() const noexcept {
  if (is_list) return malformed("expected an integer, found a list" + at(offset));
  return decode_uint(bytes, offset);
}

namespace {

Result<Node> decode_node(Reader& r, size_t depth) noexcept {
  auto item = r.next();
  if (!item) return std::unexpected(item.error());
  Node node;
  node.is_list = item->is_list;
  node.offset = item->offset;
  if (!item->is_list) {
    node.bytes = item->payload;
    return node;
  }
  if (depth >= kMaxDepth)
    return malformed("lists nested deeper than " + std::to_string(kMaxDepth) + at(item->offset));
  Reader inner(item->payload, item->offset + (item->raw.size() - item->payload.size()));
  while (!inner.empty()) {
    auto child = decode_node(inner, depth + 1);
    if (!child) return std::unexpected(child.error());
    node.children.push_back(std::move(*child));
  }
  return node;
}

}  // namespace

Result<Node> decode(ByteView input, Trailing trailing) noexcept {
  Reader r(input);
  auto node = decode_node(r, 0);
  if (!node) return node;
  if (trailing == Trailing::reject) {
    if (auto done = r.finish(); !done) return std::unexpected(done.error());
  }
  return node;
}

}  // namespace dgrid::eth::rlp
