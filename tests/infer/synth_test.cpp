#include "infer/synth.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "infer/gguf_quant.hpp"
#include "infer/gguf_test_util.hpp"
#include "infer/gguf_writer.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

// ---------------------------------------------------------------- quantization

std::vector<float> sample(size_t n, uint64_t seed, float scale) {
  std::vector<float> v(n);
  synth_values(seed, "q", 0, v);
  for (auto& x : v) x *= scale;
  return v;
}

TEST(Quant, RoundHalfAwayMatchesRoundf) {
  for (float v : {0.0f, 0.49999997f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -0.49999997f, 126.5f, -127.49f, 8388607.5f,
                  1e30f, -1e-30f}) {
    EXPECT_EQ(round_half_away(v), std::round(v)) << v;
  }
  for (uint32_t bits = 0; bits < 0x4b800000u; bits += 4099) {  // [0, 2^24) sampled
    const float v = std::bit_cast<float>(bits);
    ASSERT_EQ(round_half_away(v), std::round(v)) << v;
    ASSERT_EQ(round_half_away(-v), std::round(-v)) << v;
  }
}

// ggml's reference Q8_0 written with libm, as an oracle for our libm-free version.
std::vector<uint8_t> q8_0_oracle(const std::vector<float>& x) {
  std::vector<uint8_t> out;
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 127.0f;
    const float id = d ? 1.0f / d : 0.0f;
    const uint16_t h = fp32_to_fp16(d);
    out.push_back(static_cast<uint8_t>(h));
    out.push_back(static_cast<uint8_t>(h >> 8));
    for (int j = 0; j < 32; ++j) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[b * 32 + j] * id))));
  }
  return out;
}

TEST(Quant, Q8_0MatchesGgmlReference) {
  auto x = sample(32 * 64, 7, 50.0f);
  x[5] = 0.0f;
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // an all-zero block: d = 0, q = 0
  std::vector<uint8_t> q(34 * 64);
  quantize_row_q8_0(x.data(), q.data(), x.size());
  EXPECT_EQ(q, q8_0_oracle(x));
  std::vector<float> back(x.size());
  dequantize_row_q8_0(q.data(), back.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    float amax = 0;
    for (size_t j = i / 32 * 32; j < i / 32 * 32 + 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    ASSERT_NEAR(back[i], x[i], amax / 127.0f * 0.51f + amax * 1e-3f) << i;
  }
}

TEST(Quant, Q4_0LayoutAndRounding) {
  // One block by hand: the largest-magnitude value is -8 (negative), so d = -8 / -8 = 1.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16) - 8.0f + (j >= 16 ? 0.25f : 0.0f);
  x[0] = -8.0f;
  std::vector<uint8_t> q(18);
  quantize_row_q4_0(x.data(), q.data(), 32);
  EXPECT_EQ(fp16_to_fp32(static_cast<uint16_t>(q[0] | q[1] << 8)), 1.0f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(q[2 + j] & 0x0f, j) << j;            // element j: j - 8 -> nibble j
    EXPECT_EQ(q[2 + j] >> 4, j) << j;              // element 16 + j: j - 7.75 -> rounds to j
  }
  // A positive maximum gives a negative d; the maximum itself maps to nibble 0 (-8).
  std::vector<float> y(32, 0.0f);
  y[3] = 4.0f;
  y[20] = -2.0f;
  quantize_row_q4_0(y.data(), q.data(), 32);
  EXPECT_EQ(fp16_to_fp32(static_cast<uint16_t>(q[0] | q[1] << 8)), -0.5f);
  EXPECT_EQ(q[2 + 3] & 0x0f, 0);
  EXPECT_EQ(q[2 + 4] >> 4, 12);  // -2 / -0.5 = 4 -> 12
  std::vector<float> back(32);
  dequantize_row_q4_0(q.data(), back.data(), 32);
  EXPECT_EQ(back[3], 4.0f);
  EXPECT_EQ(back[20], -2.0f);
  EXPECT_EQ(back[0], 0.0f);
}

TEST(Quant, Q4_0ErrorIsBoundedByHalfAStep) {
  const auto x = sample(32 * 256, 3, 1.0f);
  std::vector<uint8_t> q(18 * 256);
  quantize_row_q4_0(x.data(), q.data(), x.size());
  std::vector<float> back(x.size());
  dequantize_row_q4_0(q.data(), back.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = std::fabs(fp16_to_fp32(static_cast<uint16_t>(q[i / 32 * 18] | q[i / 32 * 18 + 1] << 8)));
    // Half a step, plus the clamp at +7 (the far end of the range is 8 steps away).
    ASSERT_LE(std::fabs(back[i] - x[i]), d * 1.0f + 1e-6f) << i;
  }
}

// ---------------------------------------------------------------- writer

TEST(GgufWriter, RoundTripsEveryMetadataAndTensorType) {
  GgufWriter w(64);
  ASSERT_TRUE(w.set("u8", GgufValue::u8(1)));
  ASSERT_TRUE(w.set("i8", GgufValue::i8(-1)));
  ASSERT_TRUE(w.set("u16", GgufValue::u16(2)));
  ASSERT_TRUE(w.set("i16", GgufValue::i16(-2)));
  ASSERT_TRUE(w.set("u32", GgufValue::u32(3)));
  ASSERT_TRUE(w.set("i32", GgufValue::i32(-3)));
  ASSERT_TRUE(w.set("f32", GgufValue::f32(0.125f)));
  ASSERT_TRUE(w.set("bool", GgufValue::boolean(false)));
  ASSERT_TRUE(w.set("str", GgufValue::string("h\xc3\xa9llo")));
  ASSERT_TRUE(w.set("u64", GgufValue::u64(1ull << 40)));
  ASSERT_TRUE(w.set("i64", GgufValue::i64(-(1ll << 40))));
  ASSERT_TRUE(w.set("f64", GgufValue::f64(1e300)));
  ASSERT_TRUE(w.set("strs", GgufValue::string_array({"a", "bc"})));
  ASSERT_TRUE(w.set("floats", GgufValue::f32_array({1.0f, 2.0f})));
  ASSERT_TRUE(w.set("ints", GgufValue::i32_array({-5, 5})));
  ASSERT_TRUE(w.set("nested", GgufValue::array_array({GgufValue::i32_array({1}), GgufValue::string_array({})})));
  ASSERT_TRUE(w.set("u8", GgufValue::u8(9)));  // replaces, keeps position
  EXPECT_FALSE(w.set("general.alignment", GgufValue::u32(8)));

  std::vector<float> f32 = sample(64, 1, 1.0f);
  Bytes raw32(f32.size() * 4);
  std::memcpy(raw32.data(), f32.data(), raw32.size());
  Bytes f16(64 * 2), q8(2 * 34), q4(2 * 18);
  ASSERT_TRUE(quantize_row(GgmlType::F16, f32.data(), f16.data(), 64));
  ASSERT_TRUE(quantize_row(GgmlType::Q8_0, f32.data(), q8.data(), 64));
  ASSERT_TRUE(quantize_row(GgmlType::Q4_0, f32.data(), q4.data(), 64));
  ASSERT_TRUE(w.add_tensor("f32", {32, 2}, GgmlType::F32, raw32));
  ASSERT_TRUE(w.add_tensor("f16", {64}, GgmlType::F16, f16));
  ASSERT_TRUE(w.add_tensor("q8", {32, 1, 2}, GgmlType::Q8_0, q8));
  ASSERT_TRUE(w.add_tensor("q4", {32, 1, 1, 2}, GgmlType::Q4_0, q4));
  EXPECT_EQ(w.add_tensor("q4", {32}, GgmlType::Q4_0, Bytes(18)).error().code, Errc::invalid_argument);
  EXPECT_EQ(w.add_tensor("bad", {33}, GgmlType::Q8_0, Bytes(34)).error().code, Errc::invalid_argument);
  EXPECT_EQ(w.add_tensor("zero", {0}, GgmlType::F32, Bytes()).error().code, Errc::invalid_argument);

  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), w.file_size());
  auto f = GgufFile::open_memory(*bytes);
  ASSERT_TRUE(f) << f.error().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.alignment(), 64u);
  ASSERT_EQ(g.metadata().size(), 17u);  // 16 + general.alignment
  EXPECT_EQ(g.metadata()[1].first, "u8");
  EXPECT_EQ(*g.get_uint("u8"), 9u);
  EXPECT_EQ(*g.find("i8")->as_int(), -1);
  EXPECT_EQ(*g.find("i16")->as_int(), -2);
  EXPECT_EQ(*g.find("i64")->as_int(), -(1ll << 40));
  EXPECT_EQ(*g.find("f64")->as_float(), 1e300);
  EXPECT_EQ(*g.find("bool")->as_bool(), false);
  EXPECT_EQ(*g.get_string("str"), "h\xc3\xa9llo");
  EXPECT_EQ(*g.get_int_array("ints"), (std::vector<int32_t>{-5, 5}));
  EXPECT_EQ(*g.find("nested"), GgufValue::array_array({GgufValue::i32_array({1}), GgufValue::string_array({})}));
  EXPECT_EQ(*g.get_uint("u16"), 2u);
  EXPECT_EQ(*g.get_uint("u32"), 3u);
  EXPECT_EQ(*g.get_float("f32"), 0.125f);
  EXPECT_EQ(*g.get_uint("u64"), 1ull << 40);
  EXPECT_EQ(*g.get_string_array("strs"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(*g.get_float_array("floats"), (std::vector<float>{1.0f, 2.0f}));
  for (const auto& [name, data] : std::vector<std::pair<std::string, Bytes>>{{"f32", raw32}, {"f16", f16}, {"q8", q8}, {"q4", q4}}) {
    const TensorInfo* t = g.tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->offset % 64, 0u);
    ASSERT_EQ(t->size_bytes, data.size()) << name;
    EXPECT_EQ(std::memcmp(t->data, data.data(), data.size()), 0) << name;
    std::vector<float> back(64);
    ASSERT_TRUE(dequantize_row(t->type, t->data, back.data(), 64));
    for (size_t i = 0; i < 64; ++i) EXPECT_NEAR(back[i], f32[i], 0.01f) << name << i;
  }
  EXPECT_EQ(g.tensor("q4")->shape, (std::vector<uint64_t>{32, 1, 1, 2}));

  // copy_of reproduces the same bytes.
  auto copy = GgufWriter::copy_of(g);
  ASSERT_TRUE(copy);
  EXPECT_EQ(*copy->to_bytes(), *bytes);
}

TEST(GgufWriter, WritesAtomicallyAndChecksProducers) {
  test::TempDir dir;
  GgufWriter w;
  ASSERT_TRUE(w.set("k", GgufValue::u32(1)));
  ASSERT_TRUE(w.add_tensor("short", {8}, GgmlType::F32, [](TensorSink& s) { return s.write(Bytes(16)); }));
  const auto path = dir.path() / "out.gguf";
  auto r = w.write(path);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("short"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 0);  // no temp left

  GgufWriter ok;
  ASSERT_TRUE(ok.add_tensor("t", {8}, GgmlType::F32, Bytes(32, 0)));
  uint64_t last = 0, total = 0;
  ASSERT_TRUE(ok.write(path, [&](uint64_t done, uint64_t all) { last = done, total = all; }));
  EXPECT_EQ(last, total);
  EXPECT_EQ(std::filesystem::file_size(path), total);
  EXPECT_TRUE(GgufFile::open(path));
  EXPECT_FALSE(ok.write(dir.path() / "missing_dir" / "x.gguf"));
}

// ---------------------------------------------------------------- synthetic models

void check_model(const GgufFile& g, const SynthSpec& s, uint64_t vocab) {
  EXPECT_EQ(*g.get_string("general.architecture"), "llama");
  EXPECT_EQ(*g.get_uint("llama.embedding_length"), s.dim);
  EXPECT_EQ(*g.get_uint("llama.block_count"), s.n_layers);
  EXPECT_EQ(*g.get_uint("llama.attention.head_count"), s.n_heads);
  EXPECT_EQ(*g.get_uint("llama.attention.head_count_kv"), s.n_kv_heads);
  EXPECT_EQ(*g.get_uint("llama.feed_forward_length"), s.ffn_dim);
  EXPECT_EQ(*g.get_uint("llama.context_length"), s.context);
  EXPECT_EQ(*g.get_uint("llama.rope.dimension_count"), s.dim / s.n_heads);
  EXPECT_EQ(*g.get_float("llama.rope.freq_base"), s.rope_base);
  EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens")->size(), vocab);
  ASSERT_EQ(g.tensors().size(), 3 + 9 * s.n_layers);
  uint64_t params = 0;
  for (const auto& t : g.tensors()) params += t.elements();
  EXPECT_EQ(params, synth_param_count(s, vocab));
  const uint64_t kv = s.dim / s.n_heads * s.n_kv_heads;
  EXPECT_EQ(g.tensor("token_embd.weight")->shape, (std::vector<uint64_t>{s.dim, vocab}));
  EXPECT_EQ(g.tensor("output.weight")->shape, (std::vector<uint64_t>{s.dim, vocab}));
  EXPECT_EQ(g.tensor("blk.1.attn_k.weight")->shape, (std::vector<uint64_t>{s.dim, kv}));
  EXPECT_EQ(g.tensor("blk.1.ffn_down.weight")->shape, (std::vector<uint64_t>{s.ffn_dim, s.dim}));
  EXPECT_EQ(g.tensor("blk.0.ffn_gate.weight")->type, s.weight_type);
  EXPECT_EQ(g.tensor("output_norm.weight")->type, GgmlType::F32);
  float one;
  std::memcpy(&one, g.tensor("blk.1.ffn_norm.weight")->data + 4 * (s.dim - 1), 4);
  EXPECT_EQ(one, 1.0f);
  // Weights dequantize close to the generator's values, and look like N(0, 0.02^2).
  for (const char* name : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight", "token_embd.weight"}) {
    const TensorInfo* t = g.tensor(name);
    std::vector<float> want(t->elements()), got(t->elements());
    synth_values(s.seed, name, 0, want);
    ASSERT_TRUE(dequantize_row(t->type, t->data, got.data(), got.size()));
    const double tol = s.weight_type == GgmlType::F32 ? 0.0 : s.weight_type == GgmlType::Q8_0 ? 0.0005 : 0.009;
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_LE(std::fabs(got[i] - want[i]), tol) << name << " " << i;
      sum += want[i];
      sum2 += static_cast<double>(want[i]) * want[i];
    }
    const double n = static_cast<double>(want.size());
    EXPECT_NEAR(sum / n, 0.0, 0.002) << name;
    EXPECT_NEAR(std::sqrt(sum2 / n), 0.02, 0.001) << name;
  }
}

TEST(Synth, BuiltinVocabularyEveryWeightType) {
  test::TempDir dir;
  for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_0}) {
    SynthSpec s = *synth_preset("tiny");
    s.weight_type = type;
    s.seed = 42;
    const auto path = dir.path() / "tiny.gguf";
    uint64_t calls = 0;
    ASSERT_TRUE(write_synthetic_model(s, nullptr, path, [&](uint64_t, uint64_t) { ++calls; }));
    EXPECT_GT(calls, 0u);
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f) << f.error().to_string();
    check_model(**f, s, 354);
    EXPECT_EQ(*(*f)->get_string("tokenizer.ggml.model"), "llama");
    EXPECT_EQ((*f)->get_string_array("tokenizer.ggml.tokens")->at(3), "<0x00>");
  }
}

TEST(Synth, DeterministicAndSeedDependent) {
  test::TempDir dir;
  SynthSpec s = *synth_preset("tiny");
  s.weight_type = GgmlType::Q4_0;
  ASSERT_TRUE(write_synthetic_model(s, nullptr, dir.path() / "a.gguf"));
  ASSERT_TRUE(write_synthetic_model(s, nullptr, dir.path() / "b.gguf"));
  s.seed = 2;
  ASSERT_TRUE(write_synthetic_model(s, nullptr, dir.path() / "c.gguf"));
  auto a = *GgufFile::open(dir.path() / "a.gguf");
  auto b = *GgufFile::open(dir.path() / "b.gguf");
  auto c = *GgufFile::open(dir.path() / "c.gguf");
  EXPECT_TRUE(std::ranges::equal(a->bytes(), b->bytes()));
  EXPECT_FALSE(std::ranges::equal(a->bytes(), c->bytes()));
}

TEST(Synth, CopiesTheRealTokenizer) {
  DGRID_SHARED_OR_SKIP(real_path, "models/stories260K.gguf");
  auto real = GgufFile::open(real_path);
  ASSERT_TRUE(real);
  test::TempDir dir;
  SynthSpec s = *synth_preset("tiny");
  s.weight_type = GgmlType::Q8_0;
  ASSERT_TRUE(write_synthetic_model(s, real->get(), dir.path() / "m.gguf"));
  auto f = GgufFile::open(dir.path() / "m.gguf");
  ASSERT_TRUE(f) << f.error().to_string();
  check_model(**f, s, 512);
  for (const auto& [key, value] : (*real)->metadata()) {
    if (!key.starts_with("tokenizer.")) continue;
    ASSERT_NE((*f)->find(key), nullptr) << key;
    EXPECT_TRUE(*(*f)->find(key) == value) << key;
  }
  s.vocab = 1000;
  EXPECT_EQ(write_synthetic_model(s, real->get(), dir.path() / "x.gguf").error().code, Errc::invalid_argument);
}

TEST(Synth, RejectsBadSpecs) {
  auto bad = [](auto edit) {
    SynthSpec s = *synth_preset("tiny");
    edit(s);
    return validate_synth_spec(s).error().code == Errc::invalid_argument;
  };
  EXPECT_TRUE(bad([](SynthSpec& s) { s.dim = 0; }));
  EXPECT_TRUE(bad([](SynthSpec& s) { s.n_heads = 5; }));      // 64 % 5
  EXPECT_TRUE(bad([](SynthSpec& s) { s.n_kv_heads = 3; }));   // 4 % 3
  EXPECT_TRUE(bad([](SynthSpec& s) { s.dim = 96, s.n_heads = 32, s.n_kv_heads = 32; }));  // head dim 3
  EXPECT_TRUE(bad([](SynthSpec& s) { s.ffn_dim = 100, s.weight_type = GgmlType::Q4_0; }));
  EXPECT_TRUE(bad([](SynthSpec& s) { s.rope_base = 0; }));
  EXPECT_FALSE(synth_preset("2b"));
  SynthSpec f32 = *synth_preset("tiny");
  f32.ffn_dim = 100;  // any size is fine for F32
  EXPECT_TRUE(validate_synth_spec(f32));
  SynthSpec small = *synth_preset("tiny");
  small.vocab = 100;
  test::TempDir dir;
  EXPECT_EQ(write_synthetic_model(small, nullptr, dir.path() / "m.gguf").error().code, Errc::invalid_argument);
}

TEST(Synth, PresetSizes) {
  const auto p100 = synth_param_count(*synth_preset("100m"), 32000);
  const auto p1b = synth_param_count(*synth_preset("1b"), 32000);
  EXPECT_GT(p100, 80'000'000u);
  EXPECT_LT(p100, 140'000'000u);
  EXPECT_GT(p1b, 900'000'000u);
  EXPECT_LT(p1b, 1'200'000'000u);
  EXPECT_TRUE(validate_synth_spec(*synth_preset("1b")));
}

}  // namespace
}  // namespace dgrid::infer
