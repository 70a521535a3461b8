// GPT-2 byte-level BPE: the text is split by the GPT-2 pattern (gpt2_split), each piece's
// bytes are mapped to printable characters, and adjacent symbols are merged by merge rank
// (lowest first, ties: leftmost) until no adjacent pair has a rank. Work bound as for SPM:
// each merge removes a symbol and queues at most two pairs, O(n log n) per piece.
#include <queue>

#include "infer/tokenizer.hpp"
#include "infer/tokenizer_internal.hpp"
#include "infer/utf8.hpp"

namespace dgrid::infer {
namespace bpe_bytes {
namespace {

// byte -> code point; GPT-2's bytes_to_unicode().
struct Table {
  char32_t to_cp[256];
  int16_t from_cp[324];  // code points up to U+0143; -1 where no byte maps
  Table() {
    for (auto& v : from_cp) v = -1;
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? b : 256 + extra++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

std::string encode_byte(uint8_t b) {
  std::string out;
  utf8::append(out, table().to_cp[b]);
  return out;
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(out, table().to_cp[static_cast<uint8_t>(c)]);
  return out;
}

std::string decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const utf8::Char c = utf8::next(text, i);
    if (c.status == utf8::Status::ok && c.cp < 324 && table().from_cp[c.cp] >= 0)
      out.push_back(static_cast<char>(table().from_cp[c.cp]));
    else
      out.append(text.substr(i, c.len));
    i += c.len;
  }
  return out;
}

}  // namespace bpe_bytes

namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;  // in the byte-mapped text
  uint32_t n;
};

struct Pair {
  int32_t left;
  int32_t right;
  uint32_t rank;
  uint32_t left_n;
  uint32_t right_n;
};

struct PairOrder {
  bool operator()(const Pair& a, const Pair& b) const noexcept {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

Result<void> Tokenizer::encode_bpe(std::string_view text, std::vector<uint32_t>& out) const {
  for (std::string_view word : gpt2_split(text)) {
    if (auto r = bpe_word(word, out); !r) return r;
  }
  return {};
}

Result<void> Tokenizer::bpe_word(std::string_view word, std::vector<uint32_t>& out) const {
  const std::string mapped = bpe_bytes::encode(word);
  if (auto id = lookup(mapped)) {  // whole-word hit: common, and skips the merge loop
    out.push_back(*id);
    return {};
  }
  if (mapped.size() >= INT32_MAX) return fail(Errc::invalid_argument, "text too long to tokenize");
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t offs = 0; offs < mapped.size();) {
    const uint32_t len = utf8::next(mapped, offs).len;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offs + len == mapped.size() ? -1 : index + 1,
                       static_cast<uint32_t>(offs), len});
    offs += len;
  }

  std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
  std::string key;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    key.assign(mapped, l.start, l.n);
    key.push_back(' ');
    key.append(mapped, r.start, r.n);
    auto it = bpe_ranks_.find(key);
    if (it == bpe_ranks_.end()) return;
    queue.push({left, right, it->second, l.n, r.n});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& l = symbols[p.left];
    Symbol& r = symbols[p.right];
    if (l.n != p.left_n || r.n != p.right_n || l.next != p.right) continue;  // stale
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = p.left;
    try_add(l.prev, p.left);
    try_add(p.left, l.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = std::string_view(mapped).substr(symbols[i].start, symbols[i].n);
    if (auto id = lookup(piece)) {
      out.push_back(*id);
      continue;
    }
    // A merge result missing from the vocabulary: fall back to one token per byte.
    for (char c : bpe_bytes::decode(piece)) {
      auto id = byte_token(static_cast<uint8_t>(c));
      if (!id) return std::unexpected(id.error());
      out.push_back(*id);
    }
  }
  return {};
}

}  // namespace dgrid::infer
