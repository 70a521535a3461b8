// Solidity ABI types: parsing and printing canonical type strings ("(uint256,bytes)[2][]").
// Types are plain values (copyable, immutable after parsing) and thread-safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"

namespace dgrid::eth::abi {

enum class Kind : uint8_t {
  uint,         // uintN, N = 8..256 step 8
  int_,         // intN
  address,
  boolean,
  fixed_bytes,  // bytesN, N = 1..32
  bytes,
  string,
  array,        // T[] (dynamic length)
  fixed_array,  // T[k]
  tuple,        // (T1,...,Tn)
};

struct Type {
  Kind kind = Kind::uint;
  uint32_t size = 256;      // uint/int: bits; fixed_bytes: bytes; fixed_array: k; else 0
  std::vector<Type> elems;  // array/fixed_array: one element type; tuple: components

  static Type uint(uint32_t bits = 256) { return {Kind::uint, bits, {}}; }
  static Type int_(uint32_t bits = 256) { return {Kind::int_, bits, {}}; }
  static Type address() { return {Kind::address, 0, {}}; }
  static Type boolean() { return {Kind::boolean, 0, {}}; }
  static Type fixed_bytes(uint32_t n) { return {Kind::fixed_bytes, n, {}}; }
  static Type bytes() { return {Kind::bytes, 0, {}}; }
  static Type string() { return {Kind::string, 0, {}}; }
  static Type array(Type elem) { return {Kind::array, 0, {std::move(elem)}}; }
  static Type fixed_array(Type elem, uint32_t k) { return {Kind::fixed_array, k, {std::move(elem)}}; }
  static Type tuple(std::vector<Type> components) { return {Kind::tuple, 0, std::move(components)}; }

  // Parses a canonical type string. Rejects aliases (uint, byte), bad sizes, empty tuples,
  // nesting deeper than kMaxTypeDepth and static sizes above kMaxStaticSize.
  static Result<Type> parse(std::string_view text);

  // "uint256", "(address,bytes)[]": the form selectors and event topics hash.
  std::string canonical() const;
  // Dynamic types are encoded in the tail behind a 32-byte offset.
  bool is_dynamic() const noexcept;
  // Bytes this type occupies in its enclosing head: 32 if dynamic, else its full size.
  size_t head_size() const noexcept;

  bool operator==(const Type&) const = default;
};

// Parses a comma-separated list, with or without surrounding parentheses:
// "uint256,bytes" or "(uint256,bytes)"; "" and "()" give an empty list.
Result<std::vector<Type>> parse_type_list(std::string_view text);

// "(t1,t2,...)" for a parameter list, as function signatures spell it.
std::string canonical_list(const std::vector<Type>& types);

inline constexpr size_t kMaxTypeDepth = 32;
// Caps T[k] sizes so static head sizes cannot overflow or describe absurd data.
inline constexpr size_t kMaxStaticSize = size_t{1} << 24;

}  // namespace dgrid::eth::abi
