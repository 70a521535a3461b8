// Strict UTF-8 (Unicode Table 3-7) scanning for the tokenizers and the stream decoder.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dgrid::infer::utf8 {

enum class Status : uint8_t {
  ok,          // a complete, well-formed character of `len` bytes
  invalid,     // `len` bytes (the maximal ill-formed subpart, >= 1) that start no character
  incomplete,  // `len` bytes that are a valid prefix of a character cut off by the end
};

struct Char {
  Status status;
  uint32_t len;
  char32_t cp;  // meaningful only when status == ok
};

// Scans the character starting at s[pos] (pos < s.size()).
Char next(std::string_view s, size_t pos) noexcept;

bool valid(std::string_view s) noexcept;

// Appends the UTF-8 encoding of cp (surrogates and values > U+10FFFF become U+FFFD).
void append(std::string& out, char32_t cp);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Copies s with every ill-formed subpart (and a truncated tail) replaced by one U+FFFD.
std::string sanitize(std::string_view s);

}  // namespace dgrid::infer::utf8
