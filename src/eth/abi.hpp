// Solidity ABI encoding (head/tail) and a bounds-checked decoder, plus selectors and
// event topics. The decoder's strictness rules are in docs/formats/rlp-abi.md.
// Pure functions: thread-safe, no I/O; results own their data.
#pragma once

#include <span>
#include <string_view>

#include "eth/abi_type.hpp"
#include "eth/abi_value.hpp"

namespace dgrid::eth::abi {

using Selector = FixedBytes<4>;

// keccak256(signature)[0:4], e.g. selector("transfer(address,uint256)") = a9059cbb.
Selector selector(std::string_view signature) noexcept;
// keccak256(signature), e.g. event_topic("Transfer(address,address,uint256)").
Hash32 event_topic(std::string_view signature) noexcept;

// Checks that `v` has the shape `t` describes (kind, integer range, bytesN length, array
// length); Errc::invalid_argument naming the path ("arg 1[2].0: ...") otherwise.
Result<void> check_value(const Type& t, const Value& v);

// abi.encode(values...) for the given parameter types.
Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values);
Result<Bytes> encode(const Type& type, const Value& value);

enum class Mode {
  // The default: only the encoding encode() itself produces is accepted — offsets must
  // point exactly at the next tail, bytes/string padding must be zero, and no trailing
  // bytes are allowed. Decoding then re-encoding reproduces the input.
  strict,
  // As Solidity's abi.decode: offsets may point anywhere in bounds (aliasing allowed) and
  // trailing bytes are ignored. Word padding rules (address, bool, uintN, bytesN) still hold.
  lenient,
};

// Decodes `data` as the tuple of `types`. Every offset and length is checked against the
// data size before use, so hostile input cannot make it read out of bounds or allocate
// more than a small multiple of the input size. Errors are Errc::malformed.
Result<Values> decode(std::span<const Type> types, ByteView data, Mode mode = Mode::strict);
Result<Value> decode(const Type& type, ByteView data, Mode mode = Mode::strict);

// Decodes one 32-byte word as a static value type (uintN, intN, address, bool, bytesN)
// with the same padding rules; used for indexed event parameters.
Result<Value> decode_word(const Type& type, ByteView word32);

}  // namespace dgrid::eth::abi
