// Tokenizers: the real model's SentencePiece vocabulary (ids checked against the vocabulary
// by hand and against Google's SentencePiece via tests/interop/tok_sentencepiece.mjs),
// synthetic SPM and byte-level BPE vocabularies, the GPT-2 splitter and the stream decoder.
#include "infer/tokenizer.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "infer/gguf.hpp"
#include "infer/tokenizer_internal.hpp"
#include "infer/utf8.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

using Ids = std::vector<uint32_t>;

Tokenizer load_stories(const std::filesystem::path& path) {
  auto f = GgufFile::open(path);
  EXPECT_TRUE(f) << f.error().to_string();
  auto t = Tokenizer::from_gguf(**f);
  EXPECT_TRUE(t) << t.error().to_string();
  return std::move(*t);
}

std::string concat_bytes(const Tokenizer& t, const Ids& ids) {
  std::string s;
  for (uint32_t id : ids) s += t.token_bytes(id);
  return s;
}

const std::vector<std::string> kSamples = {
    "Once upon a time",
    "Hello world",
    "Lily and Timmy went to the park. They were happy!",
    "  two  leading, two inner and a trailing space ",
    "   ",
    " ",
    "line one\nline two\n\nline four\r\n\ttabbed",
    "quotes \"double\" 'single' “curly” ’apostrophe’ — dash … ellipsis",
    "numbers 0123456789 $12.50 100% a+b=c <tag> [x] {y} ~z | \\ ` ^ _ @ #",
    "héllo wörld café naïve señor",
    "日本語のテキスト 中文 한국어",
    "emoji 😀🎉👍🏽 and flags 🇩🇪",
    "mixed: a😀b日c\u00a0d\u200ae",
    "<s> and </s> are text here, not control tokens",
    std::string(1000, 'a'),
};

TEST(TokenizerStories, Metadata) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  EXPECT_EQ(t.model(), TokenizerModel::spm);
  EXPECT_EQ(t.vocab_size(), 512u);
  EXPECT_EQ(t.bos(), 1u);
  EXPECT_EQ(t.eos(), 2u);
  EXPECT_TRUE(t.wants_bos());
  EXPECT_TRUE(t.add_space_prefix());
  EXPECT_TRUE(t.is_eog(2));
  EXPECT_FALSE(t.is_eog(1));
  EXPECT_FALSE(t.is_eog(403));
  EXPECT_EQ(t.token_type(1), TokenType::control);
  EXPECT_EQ(t.token_type(13), TokenType::byte);
  EXPECT_EQ(t.token_text(403), "▁Once");
  EXPECT_EQ(t.token_bytes(403), " Once");
  EXPECT_EQ(t.token_bytes(13), "\n");
  EXPECT_EQ(t.token_bytes(1), "");  // control tokens render as nothing
  EXPECT_EQ(t.token_bytes(9999), "");
  EXPECT_EQ(t.chat_family(), ChatFamily::plain);  // no tokenizer.chat_template
}

// Expected ids read off the vocabulary (see the comments) and confirmed with SentencePiece.
TEST(TokenizerStories, KnownIds) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  // "▁Once" 403, "▁upon" 407, "▁a" 261, "▁time" 378
  EXPECT_EQ(*t.encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(*t.encode("Once upon a time", false), (Ids{403, 407, 261, 378}));
  // "▁He" 346 "ll" 306 "o" 414 "▁w" 263 "or" 304 "ld" 341
  EXPECT_EQ(*t.encode("Hello world", true), (Ids{1, 346, 306, 414, 263, 304, 341}));
  // "\n" is not in the vocabulary: byte fallback <0x0A> = 3 + 0x0A
  EXPECT_EQ(*t.encode("a\nb", false), (Ids{261, 13, 430}));
  // "😀" = F0 9F 98 80 -> byte tokens 3 + byte; "▁" alone is 410
  EXPECT_EQ(*t.encode("😀", false), (Ids{410, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}));
  // "é" is a token (485); "ñ" too (493)
  EXPECT_EQ(*t.encode("é", false), (Ids{410, 485}));
  // A leading space doubles the prefix: "▁" 410 then "▁a" 261
  EXPECT_EQ(*t.encode(" a", false), (Ids{410, 261}));
}

TEST(TokenizerStories, EmptyAndSpecial) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  EXPECT_EQ(*t.encode("", true), (Ids{1}));
  EXPECT_EQ(*t.encode("", false), (Ids{}));
  // "<s>" in user text is characters, never BOS
  const Ids plain = *t.encode("<s>", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1u), 0);
  EXPECT_EQ(*t.decode(plain), "<s>");
  // with parse_special it is BOS, and the text after it gets its own space prefix
  const Ids special = *t.encode("<s>Once</s>", EncodeOptions{.add_bos = false, .parse_special = true});
  EXPECT_EQ(special, (Ids{1, 403, 2}));
}

TEST(TokenizerStories, RoundTrips) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  for (const std::string& s : kSamples) {
    for (bool bos : {true, false}) {
      auto ids = t.encode(s, bos);
      ASSERT_TRUE(ids) << s;
      for (uint32_t id : *ids) EXPECT_LT(id, 512u);
      EXPECT_EQ(*t.decode(*ids), s) << "bos=" << bos;
      EXPECT_EQ(concat_bytes(t, *ids), s.empty() ? "" : " " + s);
    }
  }
}

// A "▁" typed in the text is not a space: it is written as byte tokens (a documented
// difference from SentencePiece, which would decode it as " ").
TEST(TokenizerStories, LiteralSpaceMarkRoundTrips) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  EXPECT_EQ(*t.encode("\xE2\x96\x81", false), (Ids{410, 3 + 0xE2, 3 + 0x96, 3 + 0x81}));
  for (std::string s : {"a\xE2\x96\x81" "b", "\xE2\x96\x81\xE2\x96\x81 the", "x \xE2\x96\x81"}) {
    EXPECT_EQ(*t.decode(*t.encode(s, true)), s);
  }
}

TEST(TokenizerStories, IllFormedInputBytesFallBackToBytes) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  for (std::string s : {std::string("\xff"), std::string("ab\xc3"), std::string("\xe2\x28\xa1x"),
                        std::string("\xed\xa0\x80"), std::string("a\0b", 3), std::string("\xf4\x90\x80\x80")}) {
    auto ids = t.encode(s, true);
    ASSERT_TRUE(ids);
    EXPECT_EQ(concat_bytes(t, *ids), " " + s);  // the bytes survive exactly
    auto text = t.decode(*ids);
    ASSERT_TRUE(text);
    EXPECT_TRUE(utf8::valid(*text));  // decoded text is always valid UTF-8
    EXPECT_EQ(*text, utf8::sanitize(s));
  }
}

TEST(TokenizerStories, LongInput) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  std::string s;
  while (s.size() < 300000) s += "Once upon a time, Lily saw a big dog 😀. ";
  auto ids = t.encode(s, true);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*t.decode(*ids), s);
  const std::string run(200000, 'x');  // no merges at all: one symbol per character
  EXPECT_EQ(*t.decode(*t.encode(run, false)), run);
}

TEST(TokenizerStories, DecodeRejectsIdsOutsideTheVocabulary) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  auto r = t.decode(Ids{403, 512});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("512"), std::string::npos);
  StreamDecoder d(t);
  EXPECT_EQ(d.push(UINT32_MAX), utf8::kReplacement);
}

TEST(TokenizerStories, MatchesSentencePiece) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  DGRID_INTEROP_OR_SKIP();
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f);
  const Tokenizer t = *Tokenizer::from_gguf(**f);
  nlohmann::json in;
  in["tokens"] = *(*f)->get_string_array("tokenizer.ggml.tokens");
  in["scores"] = *(*f)->get_float_array("tokenizer.ggml.scores");
  in["types"] = *(*f)->get_int_array("tokenizer.ggml.token_type");
  in["unk"] = 0;
  in["bos"] = 1;
  in["eos"] = 2;
  std::vector<std::string> texts = kSamples;
  texts.erase(std::remove_if(texts.begin(), texts.end(), [](const auto& s) { return s.find('\0') != s.npos; }),
              texts.end());
  in["texts"] = texts;
  auto res = test::run_node_script("tok_sentencepiece.mjs", {}, in.dump());
  if (res.exit_code == 3) {
    if (test::shared_required()) FAIL() << "@sctg/sentencepiece-js missing from tools/node_modules: run scripts/setup";
    GTEST_SKIP() << "@sctg/sentencepiece-js not installed in tools/node_modules";
  }
  ASSERT_EQ(res.exit_code, 0);
  const auto out = nlohmann::json::parse(res.out);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(*t.encode(texts[i], false), out["ids"][i].get<Ids>()) << texts[i];
    EXPECT_EQ(out["decoded"][i].get<std::string>(), texts[i]);
  }
}

// --- synthetic SentencePiece vocabularies -------------------------------------------------

VocabSpec small_spm() {
  VocabSpec v;
  v.model = TokenizerModel::spm;
  v.tokens = {"<unk>", "<s>", "</s>", "a", "b", "ab", "ba", "\xE2\x96\x81", "\xE2\x96\x81" "a"};
  v.scores = {0, 0, 0, -1, -1, 1, 1, -2, 2};
  v.token_types = {2, 3, 3, 1, 1, 1, 1, 1, 1};
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_space_prefix = false;
  return v;
}

TEST(TokenizerSpm, TiesGoToTheLeftmostPair) {
  const Tokenizer t = *Tokenizer::from_vocab(small_spm());
  EXPECT_EQ(*t.encode("aba", false), (Ids{5, 3}));     // "ab" and "ba" tie: leftmost wins
  EXPECT_EQ(*t.encode("bab", false), (Ids{6, 4}));
  EXPECT_EQ(*t.encode(" ab", false), (Ids{8, 4}));     // "▁a" (2) beats "ab" (1)
  EXPECT_EQ(*t.encode("c", false), (Ids{0}));          // no byte tokens: unknown
}

TEST(TokenizerSpm, SpacePrefixFollowsTheFlag) {
  VocabSpec v = small_spm();
  v.add_space_prefix = true;
  const Tokenizer t = *Tokenizer::from_vocab(std::move(v));
  EXPECT_EQ(*t.encode("ab", true), (Ids{1, 8, 4}));
  EXPECT_EQ(*t.decode(Ids{1, 8, 4}), "ab");
}

TEST(TokenizerSpm, NoByteTokenAndNoUnknownIsAnError) {
  VocabSpec v = small_spm();
  v.unk.reset();
  v.token_types[0] = 1;
  const Tokenizer t = *Tokenizer::from_vocab(std::move(v));
  auto r = t.encode("x", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
}

TEST(TokenizerSpm, RejectsBadVocabularies) {
  VocabSpec dup = small_spm();
  dup.tokens[4] = "a";
  EXPECT_EQ(Tokenizer::from_vocab(dup).error().code, Errc::malformed);
  VocabSpec scores = small_spm();
  scores.scores.pop_back();
  EXPECT_EQ(Tokenizer::from_vocab(scores).error().code, Errc::malformed);
  VocabSpec type = small_spm();
  type.token_types[3] = 9;
  EXPECT_EQ(Tokenizer::from_vocab(type).error().code, Errc::malformed);
  VocabSpec bos = small_spm();
  bos.bos = 100;
  EXPECT_EQ(Tokenizer::from_vocab(bos).error().code, Errc::invalid_argument);
  VocabSpec byte = small_spm();
  byte.token_types[3] = 6;  // "a" is not <0xAB>
  EXPECT_EQ(Tokenizer::from_vocab(byte).error().code, Errc::malformed);
  EXPECT_EQ(Tokenizer::from_vocab(VocabSpec{}).error().code, Errc::malformed);
}

// --- synthetic byte-level BPE ---------------------------------------------------------------

VocabSpec small_bpe(std::vector<std::string> merges) {
  VocabSpec v;
  v.model = TokenizerModel::bpe;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(bpe_bytes::encode_byte(static_cast<uint8_t>(b)));
  for (const std::string& m : merges) {
    const size_t sp = m.find(' ');
    v.tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  v.tokens.push_back("<|endoftext|>");
  v.token_types.assign(v.tokens.size(), 1);
  v.token_types.back() = 3;
  v.eos = static_cast<uint32_t>(v.tokens.size() - 1);
  v.merges = std::move(merges);
  v.add_bos = false;
  return v;
}

TEST(TokenizerBpe, ByteMapIsGpt2s) {
  EXPECT_EQ(bpe_bytes::encode_byte(' '), "Ġ");
  EXPECT_EQ(bpe_bytes::encode_byte('\n'), "Ċ");
  EXPECT_EQ(bpe_bytes::encode_byte('A'), "A");
  EXPECT_EQ(bpe_bytes::encode_byte(0xAD), "Ń");  // soft hyphen is remapped
  EXPECT_EQ(bpe_bytes::encode_byte(0xE9), "é");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(bpe_bytes::decode(bpe_bytes::encode(all)), all);
}

TEST(TokenizerBpe, MergesByRank) {
  const Tokenizer t = *Tokenizer::from_vocab(small_bpe({"h e", "l l", "he ll", "hell o", "Ġ w"}));
  const uint32_t he = 256, hell = 258, hello = 259, gw = 260;
  EXPECT_EQ(*t.encode("hello", false), (Ids{hello}));
  EXPECT_EQ(*t.encode("hello world", false), (Ids{hello, gw, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(*t.encode("hell", false), (Ids{hell}));
  EXPECT_EQ(*t.encode("he", false), (Ids{he}));
  EXPECT_EQ(*t.decode(*t.encode("hello world", false)), "hello world");

  const Tokenizer ab_first = *Tokenizer::from_vocab(small_bpe({"a b", "b c"}));
  EXPECT_EQ(*ab_first.encode("abc", false), (Ids{256, 'c'}));
  const Tokenizer bc_first = *Tokenizer::from_vocab(small_bpe({"b c", "a b"}));
  EXPECT_EQ(*bc_first.encode("abc", false), (Ids{'a', 256}));
}

TEST(TokenizerBpe, AnyBytesRoundTrip) {
  const Tokenizer t = *Tokenizer::from_vocab(small_bpe({"Ġ t", "Ġt h", "e r"}));
  for (const std::string& s : kSamples) EXPECT_EQ(concat_bytes(t, *t.encode(s, false)), s);
  const std::string bad = "\xff\xfe x \xc3";
  EXPECT_EQ(concat_bytes(t, *t.encode(bad, false)), bad);
  EXPECT_EQ(*t.decode(*t.encode(bad, false)), utf8::sanitize(bad));
  // no space prefix and no BOS for BPE
  EXPECT_EQ(*t.encode(" ", false), (Ids{32}));
  EXPECT_TRUE(t.is_eog(t.eos()));
  // the end-of-text marker is text unless parse_special
  EXPECT_EQ(t.encode("<|endoftext|>", false)->size(), 13u);
  EXPECT_EQ(*t.encode("<|endoftext|>", EncodeOptions{.add_bos = false, .parse_special = true}), (Ids{t.eos()}));
}

TEST(TokenizerBpe, RejectsBadMerges) {
  for (std::string m : {"ab", " ab", "a b c", "a ", ""}) {
    VocabSpec v = small_bpe({});
    v.merges = {m};
    auto r = Tokenizer::from_vocab(v);
    ASSERT_FALSE(r) << m;
    EXPECT_EQ(r.error().code, Errc::malformed);
  }
}

using Pieces = std::vector<std::string_view>;

TEST(Gpt2Split, FollowsThePattern) {
  EXPECT_EQ(gpt2_split("Hello world's  test 123!!  \n"),
            (Pieces{"Hello", " world", "'s", " ", " test", " 123", "!!", "  \n"}));
  EXPECT_EQ(gpt2_split("I'll we've they're don't"),
            (Pieces{"I", "'ll", " we", "'ve", " they", "'re", " don", "'t"}));
  EXPECT_EQ(gpt2_split("abc123def"), (Pieces{"abc", "123", "def"}));
  EXPECT_EQ(gpt2_split("a\tb  c"), (Pieces{"a", "\t", "b", " ", " c"}));
  EXPECT_EQ(gpt2_split(" ?!x"), (Pieces{" ?!", "x"}));
  EXPECT_EQ(gpt2_split("héllo wörld 日本語 ٣٤"), (Pieces{"héllo", " wörld", " 日本語", " ٣٤"}));
  EXPECT_EQ(gpt2_split("😀😀 x"), (Pieces{"😀😀", " x"}));
  EXPECT_EQ(gpt2_split("a\xff\xfe b"), (Pieces{"a", "\xff\xfe", " b"}));
  EXPECT_EQ(gpt2_split(""), (Pieces{}));
  EXPECT_EQ(gpt2_split("   "), (Pieces{"   "}));
}

TEST(Gpt2Split, ClassesOfCommonScripts) {
  EXPECT_EQ(unicode_class(U'Z'), CharClass::letter);
  EXPECT_EQ(unicode_class(U'ß'), CharClass::letter);
  EXPECT_EQ(unicode_class(U'Ж'), CharClass::letter);
  EXPECT_EQ(unicode_class(U'ع'), CharClass::letter);
  EXPECT_EQ(unicode_class(U'中'), CharClass::letter);
  EXPECT_EQ(unicode_class(U'한'), CharClass::letter);
  EXPECT_EQ(unicode_class(U'7'), CharClass::number);
  EXPECT_EQ(unicode_class(U'٣'), CharClass::number);
  EXPECT_EQ(unicode_class(U'\u3000'), CharClass::space);
  EXPECT_EQ(unicode_class(U'\u00a0'), CharClass::space);
  EXPECT_EQ(unicode_class(U'×'), CharClass::other);
  EXPECT_EQ(unicode_class(U'😀'), CharClass::other);
  EXPECT_EQ(unicode_class(U'\u0301'), CharClass::other);  // combining mark
}

// --- stream decoding ----------------------------------------------------------------------

TEST(StreamDecoder, HoldsBackSplitCharacters) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  StreamDecoder d(t);
  EXPECT_EQ(d.push(3 + 0xF0), "");
  EXPECT_EQ(d.push(3 + 0x9F), "");
  EXPECT_EQ(d.push(3 + 0x98), "");
  EXPECT_EQ(d.push(3 + 0x80), "😀");
  EXPECT_EQ(d.push(261), " a");
  EXPECT_EQ(d.finish(), "");
}

TEST(StreamDecoder, ReplacesIllFormedAndDanglingBytes) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  {
    StreamDecoder d(t);
    EXPECT_EQ(d.push(3 + 0xF0), "");
    EXPECT_EQ(d.push(3 + 0x9F), "");
    EXPECT_EQ(d.finish(), "\xEF\xBF\xBD");  // one U+FFFD for the cut-off character
    EXPECT_EQ(d.finish(), "");
  }
  {
    StreamDecoder d(t);
    EXPECT_EQ(d.push(3 + 0xFF), "\xEF\xBF\xBD");  // never valid
    EXPECT_EQ(d.push(3 + 0xE2), "");
    EXPECT_EQ(d.push(412), "\xEF\xBF\xBD" "a");      // interrupted sequence
    EXPECT_EQ(d.push(3 + 0xC3), "");
    EXPECT_EQ(d.push(UINT32_MAX), "\xEF\xBF\xBD\xEF\xBF\xBD");  // pending, then the bad id
  }
}

TEST(StreamDecoder, DropsThePrefixSpaceAfterBos) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  StreamDecoder cont(t);
  EXPECT_EQ(cont.push(403), " Once");  // a continuation keeps its space
  StreamDecoder start(t, /*at_text_start=*/true);
  EXPECT_EQ(start.push(403), "Once");
  EXPECT_EQ(start.push(407), " upon");
  EXPECT_EQ(start.push(1), "");
  EXPECT_EQ(start.push(403), "Once");  // BOS starts a new text
  EXPECT_EQ(start.push(2), "");        // EOS renders as nothing
}

TEST(StreamDecoder, ConcatenationEqualsDecode) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  const Tokenizer t = load_stories(path);
  for (const std::string& s : kSamples) {
    const Ids ids = *t.encode(s, true);
    StreamDecoder d(t);
    std::string streamed;
    for (uint32_t id : ids) {
      const std::string piece = d.push(id);
      EXPECT_TRUE(utf8::valid(piece));
      streamed += piece;
    }
    streamed += d.finish();
    EXPECT_EQ(streamed, *t.decode(ids));
  }
}

TEST(Utf8, ScansPerTable3_7) {
  EXPECT_TRUE(utf8::valid("a\u00e9\u4e2d\U0001F600"));
  EXPECT_FALSE(utf8::valid("\xc0\x80"));          // overlong
  EXPECT_FALSE(utf8::valid("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(utf8::valid("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(utf8::valid("\xe4\xb8"));          // truncated
  EXPECT_EQ(utf8::next("\xe4\xb8", 0).status, utf8::Status::incomplete);
  EXPECT_EQ(utf8::next("\xe4\x41", 0).status, utf8::Status::invalid);
  EXPECT_EQ(utf8::next("\xe4\x41", 0).len, 1u);
  EXPECT_EQ(utf8::sanitize("a\xf0\x9f\x98" "b\xff"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
}

}  // namespace
}  // namespace dgrid::infer
