// Recursive Length Prefix (Ethereum yellow paper, appendix B): encoder overloads and a
// strict decoder. Rules enforced by the decoder are written down in docs/formats/rlp-abi.md.
//
// Encoding appends to a caller-owned Bytes; a user type plugs in by declaring
//   void encode(Bytes& out, const MyType& v) noexcept;
// in its own namespace (found by ADL from encode_list and the std::vector overload).
// Decoding never copies: every ByteView in an Item or Node borrows the input, which must
// outlive them. All functions are pure and thread-safe; allocation failure terminates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/bytes.hpp"
#include "core/u256.hpp"
#include "crypto/address.hpp"

namespace dgrid::eth::rlp {

// ---------------------------------------------------------------------------------------
// Encoding

// The header of a string (list=false) or list with a payload of `payload_len` bytes.
// For a string, the caller must not use this for a single byte below 0x80 (see encode()).
void encode_header(Bytes& out, bool list, size_t payload_len) noexcept;
// Size of that header: 1 for payloads under 56 bytes, else 1 + bytes of the length.
size_t header_size(size_t payload_len) noexcept;

// A byte string (bytes, hashes, addresses, text).
void encode(Bytes& out, ByteView bytes) noexcept;
inline void encode(Bytes& out, std::string_view text) noexcept { encode(out, as_bytes(text)); }
inline void encode(Bytes& out, const char* text) noexcept { encode(out, std::string_view(text)); }
inline void encode(Bytes& out, const Bytes& bytes) noexcept { encode(out, ByteView(bytes)); }
template <size_t N>
void encode(Bytes& out, const FixedBytes<N>& bytes) noexcept {
  encode(out, ByteView(bytes));
}
inline void encode(Bytes& out, const crypto::Address& a) noexcept { encode(out, ByteView(a.bytes)); }

// Unsigned integers as minimal big-endian strings (0 encodes as the empty string 0x80).
void encode(Bytes& out, uint64_t v) noexcept;
void encode(Bytes& out, const u256& v) noexcept;
// Other unsigned integer types route to uint64_t; bool and signed types are not integers
// in RLP and are rejected at compile time.
template <class T>
  requires(std::is_unsigned_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, uint64_t>)
void encode(Bytes& out, T v) noexcept {
  encode(out, static_cast<uint64_t>(v));
}

// Marks the start of a list; pass the mark to end_list once the items are appended.
// end_list inserts the header in front of the payload (a short memmove).
inline size_t begin_list(const Bytes& out) noexcept { return out.size(); }
void end_list(Bytes& out, size_t mark) noexcept;

// A homogeneous list (std::vector<uint8_t> is Bytes, a string, and takes the overload above).
template <class T>
  requires(!std::is_same_v<T, uint8_t>)
void encode(Bytes& out, const std::vector<T>& items) noexcept;

// A list of the given items, each encoded by its own encode() overload.
template <class... Ts>
void encode_list(Bytes& out, const Ts&... items) noexcept {
  size_t mark = begin_list(out);
  (encode(out, items), ...);
  end_list(out, mark);
}

template <class T>
  requires(!std::is_same_v<T, uint8_t>)
void encode(Bytes& out, const std::vector<T>& items) noexcept {
  size_t mark = begin_list(out);
  for (const auto& item : items) encode(out, item);
  end_list(out, mark);
}

// Convenience: a fresh buffer holding the encoding of v.
template <class T>
Bytes encoded(const T& v) noexcept {
  Bytes out;
  encode(out, v);
  return out;
}

// ---------------------------------------------------------------------------------------
// Decoding

// One item's header, parsed and validated. Views borrow the decoded input.
struct Item {
  bool is_list = false;
  ByteView payload;    // string bytes, or the concatenated encodings of the list's items
  ByteView raw;        // header + payload
  size_t offset = 0;   // absolute offset of the header in the original input
};

// Reads items from the front of a view. Cheap to copy; borrows the input.
// Every failure is Errc::malformed with the absolute offset in the message.
class Reader {
 public:
  // base_offset: where `data` starts in the original input (for error messages).
  explicit Reader(ByteView data, size_t base_offset = 0) noexcept
      : data_(data), base_(base_offset) {}

  bool empty() const noexcept { return pos_ == data_.size(); }
  size_t remaining() const noexcept { return data_.size() - pos_; }
  size_t offset() const noexcept { return base_ + pos_; }  // absolute

  // The next item (string or list), validated for canonical form.
  Result<Item> next() noexcept;
  // The next item, which must be a string.
  Result<ByteView> read_bytes() noexcept;
  // The next item, which must be a string of exactly N bytes.
  template <size_t N>
  Result<FixedBytes<N>> read_fixed() noexcept {
    auto b = read_fixed_view(N);
    if (!b) return std::unexpected(b.error());
    FixedBytes<N> out;
    std::copy(b->begin(), b->end(), out.begin());
    return out;
  }
  Result<crypto::Address> read_address() noexcept;
  // Canonical integers: no leading zero bytes (zero is the empty string).
  Result<uint64_t> read_u64() noexcept;
  Result<u256> read_u256() noexcept;
  // The next item, which must be a list; returns a reader over its payload.
  Result<Reader> read_list() noexcept;
  // Fails when bytes remain ("trailing bytes"); call after reading a list's last field.
  Result<void> finish() const noexcept;

 private:
  Result<ByteView> read_fixed_view(size_t n) noexcept;
  ByteView data_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

// Parses a canonical big-endian integer from a string payload (as read_u256 does).
Result<u256> decode_uint(ByteView payload, size_t offset = 0) noexcept;

// A fully decoded item tree. Views borrow the input.
struct Node {
  bool is_list = false;
  ByteView bytes;              // string payload (empty for lists)
  std::vector<Node> children;  // list items (empty for strings)
  size_t offset = 0;

  Result<u256> as_uint() const noexcept;  // canonical integer; fails for lists
};

// Lists nested deeper than this are rejected so hostile input cannot exhaust the stack.
inline constexpr size_t kMaxDepth = 1024;

enum class Trailing { reject, allow };

// Decodes one item from the front of `input` into a tree. With Trailing::reject (the
// default) the item must span the whole input.
Result<Node> decode(ByteView input, Trailing trailing = Trailing::reject) noexcept;

// Re-encodes a decoded tree. For a tree from decode(), reproduces the input exactly.
void encode(Bytes& out, const Node& node) noexcept;

}  // namespace dgrid::eth::rlp
