// A dynamically typed ABI value: what encode() takes and decode() returns.
// Values own their data (no views); copyable; thread-safe for concurrent const use.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/bytes.hpp"
#include "core/u256.hpp"
#include "crypto/address.hpp"

namespace dgrid::eth::abi {

class Value {
 public:
  // uintN -> u256, intN -> i256, bytes and bytesN -> Bytes, arrays and tuples -> list.
  using Storage = std::variant<u256, i256, crypto::Address, bool, Bytes, std::string, std::vector<Value>>;

  Value() = default;  // uint 0
  static Value uint(u256 v) { return Value(Storage(std::move(v))); }
  static Value int_(i256 v) { return Value(Storage(std::move(v))); }
  static Value address(const crypto::Address& a) { return Value(Storage(a)); }
  static Value boolean(bool b) { return Value(Storage(b)); }
  static Value bytes(Bytes b) { return Value(Storage(std::move(b))); }
  static Value bytes(ByteView b) { return Value(Storage(Bytes(b.begin(), b.end()))); }
  template <size_t N>
  static Value bytes(const FixedBytes<N>& b) {
    return bytes(ByteView(b));
  }
  static Value string(std::string s) { return Value(Storage(std::move(s))); }
  // Arrays (T[], T[k]) and tuples share one representation: an ordered list.
  static Value list(std::vector<Value> items) { return Value(Storage(std::move(items))); }
  static Value tuple(std::vector<Value> items) { return list(std::move(items)); }
  static Value array(std::vector<Value> items) { return list(std::move(items)); }

  // Checked accessors: Errc::invalid_argument naming the actual kind on mismatch.
  Result<u256> as_uint() const;
  Result<i256> as_int() const;
  Result<crypto::Address> as_address() const;
  Result<bool> as_bool() const;
  Result<Bytes> as_bytes() const;
  // A bytesN value of exactly N bytes.
  template <size_t N>
  Result<FixedBytes<N>> as_fixed() const {
    auto b = as_bytes();
    if (!b) return std::unexpected(b.error());
    if (b->size() != N)
      return fail(Errc::invalid_argument, "ABI value: expected " + std::to_string(N) + " bytes, got " +
                                              std::to_string(b->size()));
    FixedBytes<N> out;
    std::copy(b->begin(), b->end(), out.begin());
    return out;
  }
  Result<std::string> as_string() const;
  // uint values that must fit 64 bits (counts, block numbers, timestamps).
  Result<uint64_t> as_u64() const;
  // The items of an array or tuple; null when this is not a list. Borrows *this.
  const std::vector<Value>* items() const noexcept { return std::get_if<std::vector<Value>>(&v_); }
  Result<Value> at(size_t index) const;

  const Storage& storage() const noexcept { return v_; }
  // "uint", "int", "address", "bool", "bytes", "string", "list".
  std::string_view kind_name() const noexcept;

  // Human form for logs and revert messages: 100, -5, 0xAbC.. (EIP-55), true, 0x1234,
  // "text" (quoted), [1, 2] for lists.
  std::string to_string() const;

  bool operator==(const Value&) const = default;

 private:
  explicit Value(Storage v) : v_(std::move(v)) {}
  Storage v_;
};

using Values = std::vector<Value>;

// Decoded parameters with their declared names (names may be empty for unnamed outputs).
struct NamedValues {
  std::vector<std::string> names;
  Values values;

  size_t size() const noexcept { return values.size(); }
  // The value named `name`, or Errc::not_found listing the names that exist.
  Result<Value> get(std::string_view name) const;
  // "amount=100, required=200" (unnamed values print positionally).
  std::string to_string() const;
};

}  // namespace dgrid::eth::abi
