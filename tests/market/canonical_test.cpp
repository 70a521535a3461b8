// The canonical request codec: layout, round trips, and strict rejection of every fault.
#include "market/canonical.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <limits>

#include "crypto/keccak.hpp"
#include "market/market_random.hpp"

namespace dgrid::market {
namespace {

CanonicalRequest sample() {
  CanonicalRequest r;
  r.model.fill(0xAB);
  r.prompt = {1, 15043, 0xFFFFFFFF};
  r.max_tokens = 64;
  r.temperature = 0.7f;
  r.top_k = 40;
  r.top_p = 0.95f;
  r.seed = 0x0123456789ABCDEFull;
  r.stop = {"\n\n", "</s>"};
  return r;
}

uint64_t word_u64(const Bytes& enc, size_t word) {
  uint64_t v = 0;
  for (size_t i = 24; i < 32; ++i) v = (v << 8) | enc[32 * word + i];
  return v;
}

std::string error_of(ByteView data) {
  auto r = decode_canonical(data);
  EXPECT_FALSE(r.has_value());
  return r ? std::string() : r.error().message;
}

TEST(Canonical, LayoutIsTheSolidityAbiEncoding) {
  const auto r = sample();
  const Bytes enc = encode_canonical(r);
  // Head: model, offset(prompt), maxTokens, temperatureBits, topK, topPBits, seed, offset(stop).
  EXPECT_TRUE(std::equal(r.model.begin(), r.model.end(), enc.begin()));
  EXPECT_EQ(word_u64(enc, 1), 8 * 32u);
  EXPECT_EQ(word_u64(enc, 2), 64u);
  EXPECT_EQ(word_u64(enc, 3), std::bit_cast<uint32_t>(0.7f));
  EXPECT_EQ(word_u64(enc, 4), 40u);
  EXPECT_EQ(word_u64(enc, 5), std::bit_cast<uint32_t>(0.95f));
  EXPECT_EQ(word_u64(enc, 6), 0x0123456789ABCDEFull);
  EXPECT_EQ(word_u64(enc, 7), (8 + 1 + 3) * 32u);  // after the prompt's length and 3 ids
  EXPECT_EQ(word_u64(enc, 8), 3u);
  EXPECT_EQ(word_u64(enc, 11), 0xFFFFFFFFu);
  EXPECT_EQ(word_u64(enc, 12), 2u);  // two stop strings
  EXPECT_EQ(input_hash(r), crypto::keccak256(enc));
}

TEST(Canonical, RandomRequestsRoundTrip) {
  test::MarketRandom rnd(1);
  for (int i = 0; i < 300; ++i) {
    const auto r = rnd.request();
    ASSERT_TRUE(validate_canonical(r).has_value()) << validate_canonical(r).error().message;
    const Bytes enc = encode_canonical(r);
    auto back = decode_canonical(enc);
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, r);
    EXPECT_EQ(encode_canonical(*back), enc);
  }
}

TEST(Canonical, NegativeZeroTemperatureKeepsItsBits) {
  auto r = sample();
  r.temperature = -0.0f;
  auto back = decode_canonical(encode_canonical(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::bit_cast<uint32_t>(back->temperature), 0x80000000u);
  EXPECT_NE(input_hash(r), input_hash(sample()));
}

TEST(Canonical, EveryFieldChangesTheHash) {
  const Hash32 base = input_hash(sample());
  std::vector<CanonicalRequest> variants(8, sample());
  variants[0].model[31] ^= 1;
  variants[1].prompt.push_back(2);
  variants[2].max_tokens++;
  variants[3].temperature = 0.71f;
  variants[4].top_k++;
  variants[5].top_p = 0.9f;
  variants[6].seed++;
  variants[7].stop.pop_back();
  for (const auto& v : variants) EXPECT_NE(input_hash(v), base);
}

TEST(Canonical, RejectsAbiFaults) {
  const Bytes enc = encode_canonical(sample());
  EXPECT_NE(error_of(ByteView(enc).first(enc.size() - 1)).find("canonical request"), std::string::npos);
  Bytes trailing = enc;
  trailing.push_back(0);
  EXPECT_NE(error_of(trailing).find("canonical request"), std::string::npos);
  EXPECT_FALSE(decode_canonical({}).has_value());

  Bytes dirty = enc;
  dirty[32 * 2 + 27] = 1;  // maxTokens word with a bit above uint32
  EXPECT_FALSE(decode_canonical(dirty).has_value());
  Bytes dirty_id = enc;
  dirty_id[32 * 9] = 1;  // first prompt token above uint32
  EXPECT_FALSE(decode_canonical(dirty_id).has_value());
  Bytes dirty_seed = enc;
  dirty_seed[32 * 6 + 23] = 1;  // seed above uint64
  EXPECT_FALSE(decode_canonical(dirty_seed).has_value());
  Bytes moved = enc;
  moved[32 * 1 + 31] += 32;  // prompt offset no longer at the next tail
  EXPECT_FALSE(decode_canonical(moved).has_value());
  Bytes huge = enc;
  huge[32 * 8 + 28] = 0x7F;  // prompt length beyond the data
  EXPECT_FALSE(decode_canonical(huge).has_value());

  Bytes oversize(kMaxCanonicalBytes + 32, 0);
  EXPECT_NE(error_of(oversize).find("more than the limit"), std::string::npos);
}

TEST(Canonical, RejectsRuleViolationsNamingTheField) {
  auto check = [](CanonicalRequest r, std::string_view expect) {
    auto v = validate_canonical(r);
    ASSERT_FALSE(v.has_value()) << expect;
    EXPECT_EQ(v.error().code, Errc::invalid_argument);
    EXPECT_NE(v.error().message.find(expect), std::string::npos) << v.error().message;
    // The decoder applies the same rules to bytes that are well-formed ABI.
    auto d = decode_canonical(encode_canonical(r));
    ASSERT_FALSE(d.has_value());
    EXPECT_NE(d.error().message.find(expect), std::string::npos) << d.error().message;
  };
  auto r = sample();
  r.prompt.clear();
  check(r, "prompt has no tokens");
  r = sample();
  r.prompt.assign(kMaxPromptTokens + 1, 7);
  check(r, "prompt has 262145 tokens");
  r = sample();
  r.temperature = std::numeric_limits<float>::quiet_NaN();
  check(r, "temperature");
  r.temperature = -0.5f;
  check(r, "temperature");
  r.temperature = std::numeric_limits<float>::infinity();
  check(r, "temperature");
  r = sample();
  r.top_p = 1.5f;
  check(r, "top_p");
  r.top_p = std::numeric_limits<float>::quiet_NaN();
  check(r, "top_p");
  r = sample();
  r.stop.assign(kMaxStopStrings + 1, "x");
  check(r, "17 stop strings");
  r = sample();
  r.stop[1] = "";
  check(r, "stop[1] is empty");
  r.stop[1] = std::string(kMaxStopBytes + 1, 'x');
  check(r, "stop[1] is 257 bytes");
  for (std::string bad : {std::string("\xFF"), std::string("\xC3"), std::string("\xC0\xAF"),
                          std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"), std::string("a\x80")}) {
    r.stop[1] = bad;
    check(r, "stop[1] is not valid UTF-8");
  }
}

TEST(Canonical, LimitsAreAccepted) {
  auto r = sample();
  r.prompt.assign(kMaxPromptTokens, 0xFFFFFFFF);
  std::string longest;
  while (longest.size() + 4 <= kMaxStopBytes) longest += "\xF0\x9F\x99\x82";  // U+1F642, 4 bytes
  r.stop.assign(kMaxStopStrings, longest);
  const Bytes enc = encode_canonical(r);
  EXPECT_LE(enc.size(), kMaxCanonicalBytes);
  auto back = decode_canonical(enc);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, r);
}

TEST(Canonical, MutatedEncodingsDecodeToThemselvesOrFail) {
  // Whatever the decoder accepts must be exactly what encode gives for the result: the
  // hash a receipt commits to has one preimage form.
  test::MarketRandom rnd(8);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    Bytes enc = encode_canonical(rnd.request());
    switch (rnd.pick(3)) {
      case 0: enc[rnd.pick(enc.size())] ^= static_cast<uint8_t>(1u << rnd.pick(8)); break;
      case 1: enc.resize(rnd.pick(enc.size())); break;
      default: enc[rnd.pick(enc.size())] = static_cast<uint8_t>(rnd.rng()); break;
    }
    auto r = decode_canonical(enc);
    if (!r) continue;
    ++accepted;
    EXPECT_EQ(encode_canonical(*r), enc);
  }
  EXPECT_GT(accepted, 0);  // flips inside ids, seeds and text keep the bytes valid
}

}  // namespace
}  // namespace dgrid::market
