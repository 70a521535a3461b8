// Tokenizer fuzzer over built-in vocabularies (no file I/O): a SentencePiece-style one with
// byte fallback and a GPT-2 byte-level BPE one. Properties, for any input bytes:
// - the tokens' bytes concatenate to the input (after SPM's space prefix), so nothing is lost;
// - decode() and the stream decoder give the same text, always valid UTF-8;
// - SPM: decode(encode(s)) == s for valid UTF-8 s;
// - parse_special never crashes and stays in the vocabulary.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "infer/tokenizer.hpp"
#include "infer/tokenizer_internal.hpp"
#include "infer/utf8.hpp"

using namespace dgrid::infer;

namespace {

const Tokenizer& spm() {
  static const Tokenizer t = [] {
    VocabSpec v;
    v.model = TokenizerModel::spm;
    v.tokens = {"<unk>", "<s>", "</s>"};
    v.token_types = {2, 3, 3};
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      v.tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
      v.token_types.push_back(6);
    }
    for (const char* s : {"\xE2\x96\x81", "\xE2\x96\x81t", "he", "\xE2\x96\x81the", "a", "b", "ab", "ba", "e", "h",
                          "t", "\xE2\x96\x81" "a", "\xC3\xA9", "\xE6\x97\xA5", "\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x9C\xAC"}) {
      v.tokens.push_back(s);
      v.token_types.push_back(1);
    }
    v.scores.assign(v.tokens.size(), 0.0f);
    for (size_t i = 259; i < v.scores.size(); ++i) v.scores[i] = -static_cast<float>(i % 7);
    v.unk = 0;
    v.bos = 1;
    v.eos = 2;
    return *Tokenizer::from_vocab(std::move(v));
  }();
  return t;
}

const Tokenizer& bpe() {
  static const Tokenizer t = [] {
    VocabSpec v;
    v.model = TokenizerModel::bpe;
    for (int b = 0; b < 256; ++b) v.tokens.push_back(bpe_bytes::encode_byte(static_cast<uint8_t>(b)));
    v.merges = {"Ġ t", "h e", "Ġt he", "a b", "b a", "Ġ a", "l l", "ab a"};
    for (const auto& m : v.merges) v.tokens.push_back(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
    v.tokens.push_back("<|endoftext|>");
    v.token_types.assign(v.tokens.size(), 1);
    v.token_types.back() = 3;
    v.eos = static_cast<uint32_t>(v.tokens.size() - 1);
    return *Tokenizer::from_vocab(std::move(v));
  }();
  return t;
}

void check(const Tokenizer& t, std::string_view in, bool special) {
  auto ids = t.encode(in, EncodeOptions{.add_bos = true, .parse_special = special});
  if (!ids) std::abort();  // both vocabularies can represent every byte
  std::string bytes;
  for (uint32_t id : *ids) {
    if (id >= t.vocab_size()) std::abort();
    bytes += t.token_bytes(id);
  }
  auto text = t.decode(*ids);
  if (!text || !utf8::valid(*text)) std::abort();
  StreamDecoder d(t, /*at_text_start=*/true);
  std::string streamed;
  for (uint32_t id : *ids) streamed += d.push(id);
  streamed += d.finish();
  if (streamed != *text) std::abort();
  if (special) return;
  const std::string expect = t.add_space_prefix() && !in.empty() ? " " + std::string(in) : std::string(in);
  if (bytes != expect) std::abort();
  if (utf8::valid(in) && *text != in) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check(spm(), in, false);
  check(bpe(), in, false);
  check(spm(), in, true);
  check(bpe(), in, true);
  return 0;
}
