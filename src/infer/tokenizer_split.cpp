// The GPT-2 pre-tokenizer, hand-written: std::regex is slow and knows nothing of \p{L}.
// Unicode classes are approximated by the ranges below (the common scripts' letters and
// digits); everything else that is not White_Space counts as "other". Combining marks are
// "other", as \p{L} excludes them in the real pattern too.
#include <algorithm>
#include <iterator>

#include "infer/tokenizer_internal.hpp"
#include "infer/utf8.hpp"

namespace dgrid::infer {
namespace {

struct Range {
  char32_t lo, hi;
};

// Sorted, non-overlapping.
constexpr Range kLetters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xAA, 0xAA},       {0xB5, 0xB5},       {0xBA, 0xBA},
    {0xC0, 0xD6},       {0xD8, 0xF6},       {0xF8, 0x2C1},      {0x2C6, 0x2D1},     {0x2E0, 0x2E4},
    {0x370, 0x374},     {0x376, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x3F5},
    {0x3F7, 0x481},     {0x48A, 0x52F},     {0x531, 0x556},     {0x560, 0x588},     {0x5D0, 0x5EA},
    {0x5EF, 0x5F2},     {0x620, 0x64A},     {0x66E, 0x66F},     {0x671, 0x6D3},     {0x6D5, 0x6D5},
    {0x6FA, 0x6FC},     {0x904, 0x939},     {0x93D, 0x93D},     {0x950, 0x950},     {0x958, 0x961},
    {0x971, 0x980},     {0x985, 0x9B9},     {0xE01, 0xE30},     {0xE32, 0xE33},     {0xE40, 0xE46},
    {0x10A0, 0x10FF},   {0x1100, 0x11FF},   {0x1E00, 0x1FBC},   {0x2C00, 0x2CE4},   {0x3041, 0x3096},
    {0x309D, 0x309F},   {0x30A1, 0x30FA},   {0x30FC, 0x30FF},   {0x3105, 0x312F},   {0x3131, 0x318E},
    {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA48C},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
    {0xFB00, 0xFB06},   {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0xFF66, 0xFFDC},   {0x10000, 0x100FA},
    {0x10400, 0x1044F}, {0x20000, 0x2FA1F}, {0x30000, 0x3134A},
};

constexpr Range kNumbers[] = {
    {0x30, 0x39},     {0xB2, 0xB3},     {0xB9, 0xB9},     {0xBC, 0xBE},     {0x660, 0x669},
    {0x6F0, 0x6F9},   {0x966, 0x96F},   {0x9E6, 0x9EF},   {0xE50, 0xE59},   {0x2070, 0x2070},
    {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2150, 0x2189}, {0x2460, 0x249B}, {0x24EA, 0x24FF},
    {0x2776, 0x2793}, {0x3007, 0x3007}, {0x3021, 0x3029}, {0xFF10, 0xFF19},
};

// Unicode White_Space.
constexpr Range kSpaces[] = {
    {0x09, 0x0D},     {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

template <size_t N>
bool in(const Range (&ranges)[N], char32_t cp) noexcept {
  auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                             [](char32_t v, const Range& r) { return v < r.lo; });
  return it != std::begin(ranges) && cp <= std::prev(it)->hi;
}

struct Cp {
  uint32_t offs, len;
  CharClass cls;
  char32_t cp;  // 0xFFFFFFFF for an ill-formed byte run
};

}  // namespace

CharClass unicode_class(char32_t cp) noexcept {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::letter;
    if (cp >= '0' && cp <= '9') return CharClass::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::space;
    return CharClass::other;
  }
  if (in(kLetters, cp)) return CharClass::letter;
  if (in(kNumbers, cp)) return CharClass::number;
  if (in(kSpaces, cp)) return CharClass::space;
  return CharClass::other;
}

std::vector<std::string_view> gpt2_split(std::string_view text) {
  std::vector<Cp> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const utf8::Char c = utf8::next(text, i);
    if (c.status == utf8::Status::ok) {
      cps.push_back({static_cast<uint32_t>(i), c.len, unicode_class(c.cp), c.cp});
      i += c.len;
    } else {
      cps.push_back({static_cast<uint32_t>(i), 1, CharClass::other, 0xFFFFFFFF});
      i += 1;  // one "character" per ill-formed byte
    }
  }
  const size_t n = cps.size();
  const auto cls = [&](size_t k) { return k < n ? cps[k].cls : CharClass::space; };
  const auto ch = [&](size_t k) -> char32_t { return k < n ? cps[k].cp : 0; };

  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < n) {
    size_t j = i;  // end (exclusive, in code points) of the piece starting at i
    // 's|'t|'re|'ve|'m|'ll|'d
    if (ch(i) == '\'') {
      const char32_t a = ch(i + 1), b = ch(i + 2);
      if (a == 's' || a == 't' || a == 'm' || a == 'd')
        j = i + 2;
      else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        j = i + 3;
    }
    if (j == i) {
      const size_t k = ch(i) == ' ' ? i + 1 : i;  // the optional leading space
      const CharClass c = k < n ? cls(k) : CharClass::space;
      if (c == CharClass::letter || c == CharClass::number) {  // ?\p{L}+ | ?\p{N}+
        j = k;
        while (j < n && cls(j) == c) ++j;
      } else if (c == CharClass::other) {  // ?[^\s\p{L}\p{N}]+
        j = k;
        while (j < n && cls(j) == CharClass::other) ++j;
      } else {  // \s+(?!\S) | \s+
        j = i;
        while (j < n && cls(j) == CharClass::space) ++j;
        // Before a non-space, give its last space back so that space can lead the next word.
        if (j < n && j - i > 1) --j;
      }
    }
    const uint32_t begin = cps[i].offs;
    const uint32_t end = j < n ? cps[j].offs : static_cast<uint32_t>(text.size());
    out.push_back(text.substr(begin, end - begin));
    i = j;
  }
  return out;
}

}  // namespace dgrid::infer
