// Pieces of the tokenizers that tests and the fuzzer reach directly. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dgrid::infer {

// GPT-2's reversible byte <-> printable-character map: bytes that are printable Latin-1
// (!..~, ¡..¬, ®..ÿ) stand for themselves, the other 68 map to U+0100.. in byte order.
namespace bpe_bytes {
std::string encode_byte(uint8_t b);           // UTF-8 of the character standing for b
std::string encode(std::string_view bytes);   // every byte mapped
// Inverse of encode; a character outside the map is kept as its own UTF-8 (never happens
// for GPT-2 vocabularies; documented in docs/formats/tokenizer.md).
std::string decode(std::string_view text);
}  // namespace bpe_bytes

// Splits text as the GPT-2 pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does, by hand, with the Unicode classes approximated by the ranges in unicode_class.
// Ill-formed UTF-8 bytes count as one "other" character each. The pieces concatenate to text.
std::vector<std::string_view> gpt2_split(std::string_view text);

enum class CharClass : uint8_t { letter, number, space, other };
CharClass unicode_class(char32_t cp) noexcept;

}  // namespace dgrid::infer
