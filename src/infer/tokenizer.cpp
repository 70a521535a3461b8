// Vocabulary setup, special-token partitioning, decoding and the stream decoder. The merge
// algorithms live in tokenizer_spm.cpp and tokenizer_bpe.cpp, GGUF loading in
// tokenizer_gguf.cpp, chat templates in chat_template.cpp.
#include "infer/tokenizer.hpp"

#include <algorithm>

#include "infer/tokenizer_internal.hpp"
#include "infer/utf8.hpp"

namespace dgrid::infer {
namespace {

const std::string kEmpty;
constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 "▁"

// "<0xAB>" -> 0xAB.
std::optional<uint8_t> parse_byte_token(std::string_view t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return std::nullopt;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.substr(i).starts_with(from)) {
      out.append(to);
      i += from.size();
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

ChatFamily detect_chat_family(std::string_view tmpl) {
  if (tmpl.find("<|im_start|>") != std::string_view::npos) return ChatFamily::chatml;
  if (tmpl.find("<|start_header_id|>") != std::string_view::npos) return ChatFamily::llama3;
  if (tmpl.find("[INST]") != std::string_view::npos) return ChatFamily::llama2;
  return ChatFamily::plain;
}

}  // namespace

Result<Tokenizer> Tokenizer::from_vocab(VocabSpec spec) {
  Tokenizer t;
  if (auto r = t.init(std::move(spec)); !r) return std::unexpected(r.error().context("tokenizer"));
  return t;
}

Result<void> Tokenizer::init(VocabSpec spec) {
  const size_t n = spec.tokens.size();
  if (n == 0) return fail(Errc::malformed, "empty vocabulary");
  if (n >= UINT32_MAX) return fail(Errc::malformed, "vocabulary too large");
  if (!spec.scores.empty() && spec.scores.size() != n)
    return fail(Errc::malformed, "scores: " + std::to_string(spec.scores.size()) + " entries for " +
                                     std::to_string(n) + " tokens");
  if (!spec.token_types.empty() && spec.token_types.size() != n)
    return fail(Errc::malformed, "token types: " + std::to_string(spec.token_types.size()) +
                                     " entries for " + std::to_string(n) + " tokens");
  model_ = spec.model;
  tokens_ = std::move(spec.tokens);
  scores_ = spec.scores.empty() ? std::vector<float>(n, 0.0f) : std::move(spec.scores);
  types_.resize(n, TokenType::normal);
  for (size_t i = 0; i < spec.token_types.size(); ++i) {
    const int32_t v = spec.token_types[i];
    if (v < 0 || v > 6)
      return fail(Errc::malformed, "token " + std::to_string(i) + ": bad type " + std::to_string(v));
    types_[i] = static_cast<TokenType>(v);
  }
  for (auto [name, id] : {std::pair{"bos", spec.bos}, {"eos", spec.eos}, {"unk", spec.unk},
                          {"pad", spec.pad}, {"eot", spec.eot}, {"eom", spec.eom}}) {
    if (id && *id >= n)
      return fail(Errc::invalid_argument, std::string(name) + " id " + std::to_string(*id) +
                                              " outside the vocabulary of " + std::to_string(n));
  }
  bos_ = spec.bos;
  eos_ = spec.eos;
  unk_ = spec.unk;
  eot_ = spec.eot;
  eom_ = spec.eom;
  add_bos_ = spec.add_bos;
  add_space_prefix_ = model_ == TokenizerModel::spm && spec.add_space_prefix;
  chat_family_ = detect_chat_family(spec.chat_template);

  pieces_.resize(n);
  for (uint32_t id = 0; id < n; ++id) {
    const std::string& text = tokens_[id];
    if (!all_.emplace(text, id).second)
      return fail(Errc::malformed, "token " + std::to_string(id) + " duplicates token " +
                                       std::to_string(all_.find(text)->second));
    max_token_len_ = std::max(max_token_len_, text.size());
    switch (types_[id]) {
      case TokenType::control:
      case TokenType::unknown:
        if (!text.empty()) specials_.push_back(id);
        break;
      case TokenType::user_defined:
        if (!text.empty()) specials_.push_back(id);
        pieces_[id] = text;
        break;
      case TokenType::byte: {
        auto b = parse_byte_token(text);
        if (!b) return fail(Errc::malformed, "byte token " + std::to_string(id) + " is not <0xAB>");
        if (!byte_tokens_[*b]) byte_tokens_[*b] = id;
        pieces_[id] = std::string(1, static_cast<char>(*b));
        break;
      }
      case TokenType::normal:
      case TokenType::undefined:
      case TokenType::unused:
        mergeable_.emplace(text, id);
        pieces_[id] = model_ == TokenizerModel::spm ? replace_all(text, kSpmSpace, " ")
                                                    : bpe_bytes::decode(text);
        break;
    }
  }
  words_split_ = model_ == TokenizerModel::spm;
  for (const auto& [text, id] : mergeable_) {
    (void)id;
    size_t p = 0;  // past the leading run of "▁"
    while (std::string_view(text).substr(p).starts_with(kSpmSpace)) p += kSpmSpace.size();
    if (text.find(kSpmSpace, p) != std::string::npos) words_split_ = false;
  }
  // Longest first, so "<|im_start|>" wins over a shorter special that is its prefix.
  std::stable_sort(specials_.begin(), specials_.end(), [&](uint32_t a, uint32_t b) {
    return tokens_[a].size() > tokens_[b].size();
  });
  for (uint32_t id : specials_) special_first_[static_cast<uint8_t>(tokens_[id][0])] = true;
  // SPM byte fallback may also use single-byte tokens ("a" for 0x61) as llama.cpp does.
  if (model_ == TokenizerModel::spm) {
    for (int b = 0; b < 128; ++b) {
      if (byte_tokens_[b]) continue;
      if (auto id = lookup(std::string(1, static_cast<char>(b)))) byte_tokens_[b] = *id;
    }
  } else {
    for (int b = 0; b < 256; ++b) {
      if (auto id = lookup(bpe_bytes::encode_byte(static_cast<uint8_t>(b)))) byte_tokens_[b] = *id;
    }
  }
  // Chat models often name their end-of-turn token only by text (llama.cpp does the same).
  if (!eot_) {
    for (std::string_view s : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"}) {
      if (auto id = find_token(s); id && types_[*id] == TokenType::control) {
        eot_ = *id;
        break;
      }
    }
  }
  if (!eom_) {
    if (auto id = find_token("<|eom_id|>"); id && types_[*id] == TokenType::control) eom_ = *id;
  }

  if (model_ == TokenizerModel::bpe) {
    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
      const std::string& m = spec.merges[rank];
      const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos || sp + 1 >= m.size() || m.find(' ', sp + 1) != std::string::npos)
        return fail(Errc::malformed, "merge " + std::to_string(rank) + " is not \"left right\"");
      bpe_ranks_.emplace(m, static_cast<uint32_t>(rank));  // first (lowest) rank wins
    }
  }
  return {};
}

std::optional<uint32_t> Tokenizer::lookup(std::string_view text) const noexcept {
  auto it = mergeable_.find(text);
  if (it == mergeable_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> Tokenizer::find_token(std::string_view text) const noexcept {
  auto it = all_.find(text);
  if (it == all_.end()) return std::nullopt;
  return it->second;
}

Result<uint32_t> Tokenizer::byte_token(uint8_t b) const {
  if (byte_tokens_[b]) return *byte_tokens_[b];
  if (unk_) return *unk_;
  return fail(Errc::unsupported, "vocabulary cannot represent byte " + std::to_string(b) +
                                     " (no byte token and no unknown token)");
}

bool Tokenizer::is_eog(uint32_t id) const noexcept {
  return (eos_ && id == *eos_) || (eot_ && id == *eot_) || (eom_ && id == *eom_);
}

TokenType Tokenizer::token_type(uint32_t id) const noexcept {
  return id < types_.size() ? types_[id] : TokenType::undefined;
}

const std::string& Tokenizer::token_text(uint32_t id) const noexcept {
  return id < tokens_.size() ? tokens_[id] : kEmpty;
}

const std::string& Tokenizer::token_bytes(uint32_t id) const noexcept {
  return id < pieces_.size() ? pieces_[id] : kEmpty;
}

Result<std::vector<uint32_t>> Tokenizer::encode(std::string_view text, bool add_bos) const {
  return encode(text, EncodeOptions{.add_bos = add_bos, .parse_special = false});
}

Result<std::vector<uint32_t>> Tokenizer::encode(std::string_view text, const EncodeOptions& opt) const {
  const Segment seg{std::string(text), opt.parse_special};
  return encode_segments(std::span(&seg, 1), opt.add_bos);
}

// Splits the segments at special tokens (control ones only where a segment allows them;
// user-defined ones always, as llama.cpp does) and tokenizes the text runs in between.
// Adjacent text of different segments forms one run, so encode_chat tokenizes exactly like
// encoding the rendered template when no message content contains special-token text.
Result<std::vector<uint32_t>> Tokenizer::encode_segments(std::span<const Segment> segs, bool add_bos) const {
  std::vector<uint32_t> out;
  if (add_bos && bos_) out.push_back(*bos_);
  bool after_special = true;  // the text start counts as following a special token (llama.cpp)
  std::string run;
  auto flush = [&]() -> Result<void> {
    if (run.empty()) return {};
    Result<void> r;
    if (model_ == TokenizerModel::spm) {
      if (add_space_prefix_ && after_special) run.insert(run.begin(), ' ');
      r = encode_spm(run, out);
    } else {
      r = encode_bpe(run, out);
    }
    run.clear();
    after_special = false;
    return r;
  };
  for (const Segment& seg : segs) {
    const std::string_view text = seg.text;
    for (size_t i = 0; i < text.size();) {
      std::optional<uint32_t> hit;
      if (special_first_[static_cast<uint8_t>(text[i])]) for (uint32_t id : specials_) {
        if (types_[id] != TokenType::user_defined && !seg.parse_special) continue;
        if (text.substr(i).starts_with(tokens_[id])) {
          hit = id;
          break;
        }
      }
      if (!hit) {
        run.push_back(text[i++]);
        continue;
      }
      if (auto r = flush(); !r) return std::unexpected(r.error());
      out.push_back(*hit);
      after_special = true;
      i += tokens_[*hit].size();
    }
  }
  if (auto r = flush(); !r) return std::unexpected(r.error());
  return out;
}

Result<std::string> Tokenizer::decode(std::span<const uint32_t> ids) const {
  StreamDecoder d(*this, /*at_text_start=*/true);
  std::string out;
  for (uint32_t id : ids) {
    if (id >= vocab_size())
      return fail(Errc::invalid_argument, "token id " + std::to_string(id) + " outside the vocabulary of " +
                                              std::to_string(vocab_size()));
    out += d.push(id);
  }
  out += d.finish();
  return out;
}

StreamDecoder::StreamDecoder(const Tokenizer& t, bool at_text_start)
    : tok_(&t), strip_space_(at_text_start && t.add_space_prefix()) {}

std::string StreamDecoder::push(uint32_t id) {
  if (id >= tok_->vocab_size()) {
    std::string out = drain(/*final=*/true);
    out.append(utf8::kReplacement);
    strip_space_ = false;
    return out;
  }
  if (tok_->bos_ && id == *tok_->bos_) {
    strip_space_ = tok_->add_space_prefix();
    return {};
  }
  const std::string& piece = tok_->pieces_[id];
  if (piece.empty()) return {};
  if (strip_space_ && piece.front() == ' ')
    pending_.append(piece, 1);
  else
    pending_.append(piece);
  strip_space_ = false;
  return drain(/*final=*/false);
}

std::string StreamDecoder::finish() { return drain(/*final=*/true); }

std::string StreamDecoder::drain(bool final) {
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const utf8::Char c = utf8::next(pending_, i);
    if (c.status == utf8::Status::incomplete && !final) break;
    if (c.status == utf8::Status::ok)
      out.append(pending_, i, c.len);
    else
      out.append(utf8::kReplacement);
    i += c.len;
  }
  pending_.erase(0, i);
  return out;
}

}  // namespace dgrid::infer
