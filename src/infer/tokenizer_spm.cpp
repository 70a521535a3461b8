// SentencePiece-style encoding as llama.cpp's llm_tokenizer_spm does it: spaces become "▁",
// the text is split into UTF-8 characters, and adjacent symbols are merged greedily, always
// the pair whose merged text is the highest-scoring token (ties: the leftmost pair), until
// no adjacent pair forms a token. Symbols left that are not tokens fall back to byte tokens.
//
// One deliberate difference: a literal "▁" in the input would decode as a space, so it is
// kept out of merges and written as byte tokens; decode(encode(s)) == s then holds for all
// valid UTF-8 (llama.cpp and SentencePiece treat it as a space).
//
// Work bound: every merge removes one symbol and queues at most two pairs, and a pair longer
// than the longest token is never looked up, so the cost is O(n log n) in the text length
// with O(max_token_len) per look-up.
#include <queue>

#include "infer/tokenizer.hpp"
#include "infer/utf8.hpp"

namespace dgrid::infer {
namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;  // byte offset in the escaped text; a symbol is always contiguous
  uint32_t n;      // 0 once merged into its left neighbour
  bool literal;    // a "▁" from the input: never merged, emitted as bytes
};

struct Bigram {
  int32_t left;
  int32_t right;
  float score;
  uint32_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const noexcept {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

Result<void> Tokenizer::encode_spm(std::string_view raw, std::vector<uint32_t>& out) const {
  constexpr std::string_view kSpace = "\xE2\x96\x81";
  std::string text;
  std::vector<uint32_t> literals;  // offsets in `text` of input "▁"s, ascending
  text.reserve(raw.size() + raw.size() / 4);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == ' ') {
      text.append(kSpace);
    } else {
      if (raw.substr(i).starts_with(kSpace)) literals.push_back(static_cast<uint32_t>(text.size()));
      text.push_back(raw[i]);
    }
  }
  if (text.size() >= INT32_MAX) return fail(Errc::invalid_argument, "text too long to tokenize");

  // Ill-formed bytes form symbols of their own (llama.cpp trusts the lead byte instead);
  // they are never tokens, so they end up as byte tokens and decode back exactly.
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  size_t next_literal = 0;
  for (size_t offs = 0; offs < text.size();) {
    const uint32_t len = utf8::next(text, offs).len;
    const auto index = static_cast<int32_t>(symbols.size());
    while (next_literal < literals.size() && literals[next_literal] < offs) ++next_literal;
    const bool literal = next_literal < literals.size() && literals[next_literal] == offs;
    if (literal) ++next_literal;
    symbols.push_back({index - 1, offs + len == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(offs), len, literal});
    offs += len;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].literal || symbols[right].literal) return;
    const uint32_t size = symbols[left].n + symbols[right].n;
    if (size > max_token_len_) return;
    auto id = lookup(std::string_view(text).substr(symbols[left].start, size));
    if (!id) return;
    queue.push({left, right, scores_[*id], size});
  };
  auto merge = [&](int32_t begin, int32_t end) {  // symbols [begin, end)
    for (int32_t i = begin + 1; i < end; ++i) try_add(i - 1, i);
    while (!queue.empty()) {
      const Bigram b = queue.top();
      queue.pop();
      Symbol& l = symbols[b.left];
      Symbol& r = symbols[b.right];
      // Symbols only grow or vanish, so an unchanged total size means the pair is current.
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }
  };
  // When no token has "▁" after another character (SentencePiece's split_by_whitespace
  // vocabularies), no merge can cross the start of a word, so each word is merged on its own:
  // the same result with a small, cache-resident queue. Pairs reaching into the previous
  // word are still offered by try_add but are never tokens.
  const auto is_space = [&](int32_t i) {
    return !symbols[i].literal && std::string_view(text).substr(symbols[i].start, symbols[i].n) == kSpace;
  };
  const auto count = static_cast<int32_t>(symbols.size());
  int32_t begin = 0;
  for (int32_t i = 1; i < count && words_split_; ++i) {
    if (is_space(i) && !is_space(i - 1)) {
      merge(begin, i);
      begin = i;
    }
  }
  merge(begin, count);

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = std::string_view(text).substr(symbols[i].start, symbols[i].n);
    if (auto id = symbols[i].literal ? std::nullopt : lookup(piece)) {
      out.push_back(*id);
      continue;
    }
    for (char c : piece) {
      auto id = byte_token(static_cast<uint8_t>(c));
      if (!id) return std::unexpected(id.error());
      out.push_back(*id);
    }
  }
  return {};
}

}  // namespace dgrid::infer
