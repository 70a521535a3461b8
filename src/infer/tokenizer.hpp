// Tokenizers read from GGUF metadata: SentencePiece-style (`llama`, score-ordered bigram
// merges with byte fallback) and GPT-2 byte-level BPE (`gpt2`, rank-ordered merges), plus a
// streaming UTF-8 decoder and chat templates. Format and behaviour: docs/formats/tokenizer.md.
// A Tokenizer is immutable after construction and thread-safe for const use; it owns all of
// its data (nothing points into the GGUF file). A StreamDecoder borrows its Tokenizer, which
// must outlive it, and is not thread-safe (one per generation).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace dgrid::infer {

class GgufFile;

enum class TokenizerModel : uint8_t { spm, bpe };  // GGUF "llama", "gpt2"

// tokenizer.ggml.token_type values (as llama.cpp writes them).
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,       // BOS/EOS/chat markers: produced from text only with parse_special
  user_defined = 4,  // always matched verbatim in text, as llama.cpp does
  unused = 5,
  byte = 6,          // "<0xAB>": byte fallback
};

// Everything a tokenizer is built from; from_gguf fills it from the metadata, tests fill it
// by hand. Empty scores mean all 0; empty token_types mean all normal.
struct VocabSpec {
  TokenizerModel model = TokenizerModel::spm;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // bpe only: "left right", index = rank
  std::optional<uint32_t> bos, eos, unk, pad, eot, eom;
  bool add_bos = true;           // the model's wish (tokenizer.ggml.add_bos_token)
  bool add_space_prefix = true;  // spm only: prepend " " to text that starts a fragment
  std::string chat_template;     // Jinja text, used only to recognise the family
};

struct EncodeOptions {
  bool add_bos = true;
  // Also match control tokens ("<s>", "<|im_start|>") in the text. Off for user text.
  bool parse_special = false;
};

enum class ChatFamily : uint8_t { plain, llama2, llama3, chatml };

class Tokenizer {
 public:
  struct ChatMessage {
    std::string role, content;
  };

  static Result<Tokenizer> from_gguf(const GgufFile& f);
  // Validates the spec (sizes agree, special ids in range, merges well-formed, unique tokens).
  static Result<Tokenizer> from_vocab(VocabSpec spec);

  // add_bos adds BOS (when the vocabulary has one) regardless of the model's add_bos flag:
  // the caller decides; wants_bos() tells what the model asks for.
  Result<std::vector<uint32_t>> encode(std::string_view text, bool add_bos) const;
  Result<std::vector<uint32_t>> encode(std::string_view text, const EncodeOptions& opt) const;

  // Whole-sequence decode: control/unknown/unused tokens render as nothing, byte tokens as
  // their byte; for spm the space that encoding prefixed to the text is removed again (at the
  // start and right after BOS), so decode(encode(s)) == s for every valid UTF-8 s. Ill-formed
  // UTF-8 in the result is replaced by U+FFFD. An id >= vocab_size() is an invalid_argument
  // error (StreamDecoder instead emits U+FFFD for it).
  Result<std::string> decode(std::span<const uint32_t> ids) const;

  TokenizerModel model() const noexcept { return model_; }
  uint32_t vocab_size() const noexcept { return static_cast<uint32_t>(tokens_.size()); }
  // BOS/EOS ids; bos()/eos() return UINT32_MAX when the vocabulary has none.
  uint32_t bos() const noexcept { return bos_.value_or(UINT32_MAX); }
  uint32_t eos() const noexcept { return eos_.value_or(UINT32_MAX); }
  bool has_bos() const noexcept { return bos_.has_value(); }
  bool wants_bos() const noexcept { return add_bos_ && bos_.has_value(); }
  bool add_space_prefix() const noexcept { return add_space_prefix_; }
  bool is_eog(uint32_t id) const noexcept;  // EOS, EOT, EOM
  TokenType token_type(uint32_t id) const noexcept;
  // The vocabulary string of a token ("▁the", "<0x0A>", "Ġthe"); empty when out of range.
  const std::string& token_text(uint32_t id) const noexcept;
  // The raw bytes a token stands for: "▁" -> " " (spm), byte tokens -> that byte, byte-level
  // characters -> their bytes (bpe), user-defined -> its text; control, unknown, unused and
  // out-of-range ids -> "". May be a fragment of a UTF-8 character.
  const std::string& token_bytes(uint32_t id) const noexcept;
  // Id of the token whose vocabulary string is exactly `text`.
  std::optional<uint32_t> find_token(std::string_view text) const noexcept;

  // Renders a conversation in the family recognised from tokenizer.chat_template (see
  // docs/formats/tokenizer.md). The result holds control tokens as text and no leading BOS:
  // encode it with add_bos and parse_special, or better use encode_chat, which keeps message
  // contents from being parsed as control tokens.
  Result<std::string> apply_chat_template(const std::vector<ChatMessage>& msgs,
                                          bool add_assistant_prompt) const;
  Result<std::vector<uint32_t>> encode_chat(const std::vector<ChatMessage>& msgs,
                                            bool add_assistant_prompt, bool add_bos) const;
  ChatFamily chat_family() const noexcept { return chat_family_; }

 private:
  struct Segment {
    std::string text;
    bool parse_special;  // control tokens in `text` become their ids
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

  Tokenizer() = default;
  Result<void> init(VocabSpec spec);
  Result<std::vector<uint32_t>> encode_segments(std::span<const Segment> segs, bool add_bos) const;
  Result<void> encode_spm(std::string_view text, std::vector<uint32_t>& out) const;
  Result<void> encode_bpe(std::string_view text, std::vector<uint32_t>& out) const;
  Result<void> bpe_word(std::string_view word, std::vector<uint32_t>& out) const;
  Result<uint32_t> byte_token(uint8_t b) const;
  Result<std::vector<Segment>> render_chat(const std::vector<ChatMessage>& msgs,
                                           bool add_assistant_prompt) const;
  std::optional<uint32_t> lookup(std::string_view text) const noexcept;  // mergeable tokens

  TokenizerModel model_ = TokenizerModel::spm;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<std::string> pieces_;  // token_bytes, precomputed
  TokenMap mergeable_;               // normal/byte/undefined/unused tokens: merge targets
  TokenMap all_;                     // every token, for find_token
  std::vector<uint32_t> specials_;   // control, unknown, user_defined; longest text first
  bool special_first_[256] = {};     // first bytes of specials_: skips the scan elsewhere
  TokenMap bpe_ranks_;               // "left right" -> rank
  std::optional<uint32_t> byte_tokens_[256];
  std::optional<uint32_t> bos_, eos_, unk_, eot_, eom_;
  bool add_bos_ = true;
  bool add_space_prefix_ = true;
  size_t max_token_len_ = 0;
  bool words_split_ = false;  // spm: no mergeable token has "▁" after another character
  ChatFamily chat_family_ = ChatFamily::plain;

  friend class StreamDecoder;
};

// Turns token ids into valid UTF-8 text incrementally: bytes of a character split across
// tokens are held back until the character is complete.
class StreamDecoder {
 public:
  // at_text_start: the first piece begins the text, so (spm) its prefixed space is dropped,
  // as after BOS. Pushing BOS sets this again. For a continuation of a prompt pass
  // `prompt.empty() || prompt.back() == t.bos()`.
  explicit StreamDecoder(const Tokenizer& t, bool at_text_start = false);
  std::string push(uint32_t id);  // complete UTF-8 only; an id >= vocab_size gives U+FFFD
  std::string finish();           // the held-back bytes, each ill-formed part as U+FFFD

 private:
  std::string drain(bool final);

  const Tokenizer* tok_;
  std::string pending_;
  bool strip_space_;
};

}  // namespace dgrid::infer
