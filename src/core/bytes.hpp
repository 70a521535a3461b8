// One byte vocabulary for the whole project: Bytes owns, ByteView borrows.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace dgrid {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
template <size_t N>
using FixedBytes = std::array<uint8_t, N>;
using Hash32 = FixedBytes<32>;

inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lower-case hex, "0x"-prefixed unless prefix is false.
std::string to_hex(ByteView data, bool prefix = true);

// Accepts an optional 0x/0X prefix; requires an even number of hex digits.
Result<Bytes> from_hex(std::string_view text);

// Exactly N bytes of hex (with or without 0x), else a malformed error naming the length.
template <size_t N>
Result<FixedBytes<N>> fixed_from_hex(std::string_view text) {
  auto raw = from_hex(text);
  if (!raw) return std::unexpected(raw.error());
  if (raw->size() != N)
    return fail(Errc::malformed, "expected " + std::to_string(N) + " bytes of hex, got " +
                                     std::to_string(raw->size()));
  FixedBytes<N> out;
  std::copy(raw->begin(), raw->end(), out.begin());
  return out;
}

inline Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace dgrid
