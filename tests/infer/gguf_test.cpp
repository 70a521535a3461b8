#include "infer/gguf.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "infer/gguf_test_util.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

using test::RawBuilder;

// ---------------------------------------------------------------- fp16

TEST(Fp16, EveryHalfRoundTripsExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000u) != 0) << h;
      // Payload kept; a signalling NaN comes back quiet.
      ASSERT_EQ(fp32_to_fp16(f), static_cast<uint16_t>(h | 0x200u)) << h;
    } else {
      ASSERT_EQ(fp32_to_fp16(f), h) << h;
    }
  }
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(fp16_to_fp32(0x7c00)));
  EXPECT_EQ(std::bit_cast<uint32_t>(fp16_to_fp32(0x8000)), 0x80000000u);

  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);      // below the midpoint to infinity
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);      // the midpoint: ties to even = inf
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: even = 0
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp ties to even 2
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie, even stays
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(fp32_to_fp16(std::nanf("")) & 0x7e00u, 0x7e00u);
}

// Midpoints between adjacent halves, and the floats just either side, must round to the
// nearest half (ties to even): checks rounding at every one of the 63488 finite gaps.
TEST(Fp16, RoundsToNearestEvenAtEveryGap) {
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double lo = fp16_to_fp32(static_cast<uint16_t>(h));
    const double hi = fp16_to_fp32(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: halves have 11 bits
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    ASSERT_EQ(fp32_to_fp16(mid), even) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, 1e9f)), h + 1) << h;
    ASSERT_EQ(fp32_to_fp16(-mid), even | 0x8000u) << h;
  }
}

#if defined(__FLT16_MAX__) && defined(__x86_64__)
// The compiler's own _Float16 conversion (IEEE round-to-nearest-even) as an oracle over a
// spread of float bit patterns.
TEST(Fp16, MatchesCompilerFloat16) {
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 9973) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    const _Float16 h = static_cast<_Float16>(f);
    ASSERT_EQ(fp32_to_fp16(f), std::bit_cast<uint16_t>(h)) << std::hex << bits;
  }
}
#endif

// ---------------------------------------------------------------- the real model

TEST(GgufReal, Stories260KMetadataAndShapes) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f) << f.error().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.file_size(), 1185376u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_EQ(*g.get_string("general.architecture"), "llama");
  EXPECT_EQ(*g.get_uint("llama.context_length"), 2048u);
  EXPECT_EQ(*g.get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(*g.get_uint("llama.block_count"), 5u);
  EXPECT_EQ(*g.get_uint("llama.feed_forward_length"), 172u);
  EXPECT_EQ(*g.get_uint("llama.attention.head_count"), 8u);
  EXPECT_EQ(*g.get_uint("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(*g.get_uint("llama.rope.dimension_count"), 8u);
  EXPECT_FLOAT_EQ(*g.get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(*g.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*g.get_uint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*g.get_uint("tokenizer.ggml.eos_token_id"), 2u);
  auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->size(), 512u);
  EXPECT_EQ(g.get_float_array("tokenizer.ggml.scores")->size(), 512u);
  EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type")->size(), 512u);

  ASSERT_EQ(g.tensors().size(), 48u);  // 5 x 9 per layer + embeddings, final norm, output
  uint64_t params = 0;
  for (const auto& t : g.tensors()) {
    EXPECT_EQ(t.type, GgmlType::F32) << t.name;
    EXPECT_EQ(t.size_bytes, t.elements() * 4) << t.name;
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(t.data, g.bytes().data() + g.data_offset() + t.offset);
    params += t.elements();
  }
  EXPECT_GT(params, 250'000u);
  EXPECT_LT(params, 300'000u);
  const auto expect_shape = [&](const char* name, std::vector<uint64_t> shape) {
    const TensorInfo* t = g.tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, shape) << name;
  };
  expect_shape("token_embd.weight", {64, 512});
  expect_shape("output.weight", {64, 512});
  expect_shape("output_norm.weight", {64});
  for (int l = 0; l < 5; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    expect_shape((p + "attn_norm.weight").c_str(), {64});
    expect_shape((p + "attn_q.weight").c_str(), {64, 64});
    expect_shape((p + "attn_k.weight").c_str(), {64, 32});
    expect_shape((p + "attn_v.weight").c_str(), {64, 32});
    expect_shape((p + "attn_output.weight").c_str(), {64, 64});
    expect_shape((p + "ffn_norm.weight").c_str(), {64});
    expect_shape((p + "ffn_gate.weight").c_str(), {64, 172});
    expect_shape((p + "ffn_up.weight").c_str(), {64, 172});
    expect_shape((p + "ffn_down.weight").c_str(), {172, 64});
  }
  EXPECT_EQ(g.tensor("token_embd.weight")->rows(), 512u);
  // The README: output.weight equals token_embd.weight.
  const TensorInfo* e = g.tensor("token_embd.weight");
  const TensorInfo* o = g.tensor("output.weight");
  EXPECT_EQ(std::memcmp(e->data, o->data, e->size_bytes), 0);
  EXPECT_EQ(g.tensor("nope"), nullptr);
  EXPECT_EQ(g.find("nope"), nullptr);
}

// ---------------------------------------------------------------- metadata types

Bytes all_types_file() {
  RawBuilder b;
  b.header(1, 16);
  b.str("u8").u32(0).u8(200);
  b.str("i8").u32(1).u8(0x80);
  b.str("u16").u32(2).le(65535, 2);
  b.str("i16").u32(3).le(0x8000, 2);
  b.str("u32").u32(4).u32(4000000000u);
  b.str("i32").u32(5).u32(static_cast<uint32_t>(-7));
  b.str("f32").u32(6).u32(std::bit_cast<uint32_t>(1.5f));
  b.str("bool").u32(7).u8(1);
  b.str("string").u32(8).str(std::string("a\0b", 3));
  b.str("u64").u32(10).u64(UINT64_MAX);
  b.str("i64").u32(11).u64(static_cast<uint64_t>(INT64_MIN));
  b.str("f64").u32(12).u64(std::bit_cast<uint64_t>(-0.25));
  b.str("strs").u32(9).u32(8).u64(2).str("x").str("");
  b.str("floats").u32(9).u32(6).u64(2).u32(std::bit_cast<uint32_t>(0.5f)).u32(std::bit_cast<uint32_t>(-2.0f));
  b.str("ints").u32(9).u32(3).u64(3).le(1, 2).le(0xffff, 2).le(7, 2);
  // [[1, 2], ["z"]]: an array of arrays with different element types.
  b.str("nested").u32(9).u32(9).u64(2).u32(4).u64(2).u32(1).u32(2).u32(8).u64(1).str("z");
  b.tensor("t", {2}, 0, 0).pad_to(32).zeros(8);
  return b.b;
}

TEST(GgufMeta, EveryValueTypeParses) {
  auto f = GgufFile::open_memory(all_types_file());
  ASSERT_TRUE(f) << f.error().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(*g.get_uint("u8"), 200u);
  EXPECT_EQ(*g.find("i8")->as_int(), -128);
  EXPECT_EQ(*g.get_uint("u16"), 65535u);
  EXPECT_EQ(*g.find("i16")->as_int(), -32768);
  EXPECT_EQ(*g.get_uint("u32"), 4000000000u);
  EXPECT_EQ(*g.find("i32")->as_int(), -7);
  EXPECT_EQ(*g.get_float("f32"), 1.5f);
  EXPECT_EQ(*g.find("bool")->as_bool(), true);
  EXPECT_EQ(*g.get_string("string"), std::string("a\0b", 3));  // NULs are kept
  EXPECT_EQ(*g.get_uint("u64"), UINT64_MAX);
  EXPECT_EQ(*g.find("i64")->as_int(), INT64_MIN);
  EXPECT_EQ(*g.get_float("f64"), -0.25f);
  EXPECT_EQ(*g.get_string_array("strs"), (std::vector<std::string>{"x", ""}));
  EXPECT_EQ(*g.get_float_array("floats"), (std::vector<float>{0.5f, -2.0f}));
  EXPECT_EQ(*g.get_int_array("ints"), (std::vector<int32_t>{1, -1, 7}));
  const GgufValue* n = g.find("nested");
  ASSERT_EQ(n->array_type(), GgufType::ARRAY);
  ASSERT_EQ(n->array_size(), 2u);
  EXPECT_EQ(n->array_at(0).array_type(), GgufType::U32);
  EXPECT_EQ(*n->array_at(0).array_at(1).as_uint(), 2u);
  EXPECT_EQ(*n->array_at(1).array_at(0).as_string(), "z");
  EXPECT_EQ(g.metadata().size(), 16u);
  EXPECT_EQ(g.metadata()[0].first, "u8");  // file order kept

  // Re-encoding each parsed value reproduces the file's bytes for it.
  const Bytes raw = all_types_file();
  Bytes again;
  for (const auto& [key, value] : g.metadata()) {
    RawBuilder kb;
    kb.str(key).u32(static_cast<uint32_t>(value.type()));
    again.insert(again.end(), kb.b.begin(), kb.b.end());
    value.encode(again);
  }
  EXPECT_TRUE(std::equal(again.begin(), again.end(), raw.begin() + 24));
}

TEST(GgufMeta, TypedGettersCheckTypesAndRanges) {
  auto f = GgufFile::open_memory(all_types_file());
  ASSERT_TRUE(f);
  const GgufFile& g = **f;
  EXPECT_EQ(g.get_uint("missing").error().code, Errc::not_found);
  EXPECT_EQ(g.get_uint("i32").error().code, Errc::malformed);  // negative
  EXPECT_EQ(g.get_uint("string").error().code, Errc::malformed);
  EXPECT_EQ(g.get_uint("f32").error().code, Errc::malformed);
  EXPECT_EQ(g.get_float("u32").error().code, Errc::malformed);
  EXPECT_EQ(g.get_string("u8").error().code, Errc::malformed);
  EXPECT_EQ(g.get_string_array("floats").error().code, Errc::malformed);
  EXPECT_EQ(g.get_float_array("strs").error().code, Errc::malformed);
  EXPECT_EQ(g.get_int_array("floats").error().code, Errc::malformed);
  EXPECT_NE(g.get_string("u8").error().message.find("u8"), std::string::npos);
}

// ---------------------------------------------------------------- corruptions

// A small valid file: two kv pairs, an F32 [4, 2] tensor and a Q8_0 [32] tensor.
Bytes small_file() {
  RawBuilder b;
  b.header(2, 2);
  b.kv_str("general.architecture", "llama");
  b.str("arr").u32(9).u32(5).u64(3).u32(1).u32(2).u32(3);
  b.tensor("a", {4, 2}, 0, 0);
  b.tensor("q", {32}, 8, 32);
  b.pad_to(32);
  for (int i = 0; i < 8; ++i) b.u32(std::bit_cast<uint32_t>(static_cast<float>(i)));
  b.le(0x3c00, 2);  // Q8_0 block: d = 1.0, qs = 0..31
  for (int i = 0; i < 32; ++i) b.u8(static_cast<uint8_t>(i));
  return b.b;
}

TEST(GgufCorrupt, SmallFileIsValid) {
  auto f = GgufFile::open_memory(small_file());
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_EQ((*f)->tensors().size(), 2u);
  EXPECT_EQ((*f)->tensor("q")->size_bytes, 34u);
  EXPECT_EQ((*f)->tensor("a")->rows(), 2u);
  float x;
  std::memcpy(&x, (*f)->tensor("a")->data + 4 * 5, 4);
  EXPECT_EQ(x, 5.0f);
}

TEST(GgufCorrupt, EveryTruncationIsMalformed) {
  const Bytes full = small_file();
  for (size_t n = 0; n < full.size(); ++n) {
    auto f = GgufFile::open_memory(ByteView(full.data(), n));
    ASSERT_FALSE(f) << "prefix " << n;
    ASSERT_EQ(f.error().code, Errc::malformed) << "prefix " << n << ": " << f.error().to_string();
  }
}

TEST(GgufCorrupt, EverySingleByteChangeIsHandled) {
  const Bytes full = small_file();
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x80}, static_cast<uint8_t>(full[i] + 1)}) {
      Bytes b = full;
      b[i] = v;
      auto f = GgufFile::open_memory(b);  // must not crash; either outcome is fine
      if (!f) {
        ASSERT_TRUE(f.error().code == Errc::malformed || f.error().code == Errc::unsupported) << i;
        ASSERT_FALSE(f.error().message.empty());
      }
    }
  }
}

struct Corruption {
  const char* what;
  Bytes bytes;
  Errc code;
  const char* message_part;
};

Bytes one_tensor(const std::vector<uint64_t>& shape, uint32_t type, uint64_t offset, size_t data_bytes,
                 uint32_t alignment = 0) {
  RawBuilder b;
  b.header(1, alignment ? 1 : 0);
  if (alignment) b.kv_u32("general.alignment", alignment);
  b.tensor("blk.0.attn_q.weight", shape, type, offset);
  b.pad_to(alignment ? alignment : 32).zeros(data_bytes);
  return b.b;
}

std::vector<Corruption> corruptions() {
  std::vector<Corruption> c;
  auto with = [](auto fn) {
    RawBuilder b;
    fn(b);
    return b.b;
  };
  c.push_back({"empty", {}, Errc::malformed, "not a GGUF file"});
  c.push_back({"bad magic", with([](RawBuilder& b) { b.b = {'G', 'G', 'M', 'L'}; b.u32(3).u64(0).u64(0); }),
               Errc::malformed, "not a GGUF file"});
  c.push_back({"version 2", with([](RawBuilder& b) { b.header(0, 0, 2); }), Errc::unsupported, "version 2"});
  c.push_back({"version 1", with([](RawBuilder& b) { b.header(0, 0, 1); }), Errc::unsupported, "version 1"});
  c.push_back({"big-endian", with([](RawBuilder& b) { b.header(0, 0, 0x03000000); }), Errc::unsupported, "big-endian"});
  c.push_back({"version 0", with([](RawBuilder& b) { b.header(0, 0, 0); }), Errc::malformed, "version 0"});
  c.push_back({"huge kv count", with([](RawBuilder& b) { b.header(0, UINT64_MAX); }), Errc::malformed, "metadata entries"});
  c.push_back({"huge tensor count", with([](RawBuilder& b) { b.header(1ull << 60, 0).zeros(64); }), Errc::malformed, "tensors"});
  c.push_back({"huge array count", with([](RawBuilder& b) { b.header(0, 1).str("k").u32(9).u32(4).u64(1ull << 61).zeros(16); }),
               Errc::malformed, "cannot fit"});
  c.push_back({"huge string array", with([](RawBuilder& b) { b.header(0, 1).str("k").u32(9).u32(8).u64(1ull << 40).zeros(64); }),
               Errc::malformed, "cannot fit"});
  c.push_back({"string past EOF", with([](RawBuilder& b) { b.header(0, 1).str("k").u32(8).u64(100).zeros(10); }),
               Errc::malformed, "string value of k"});
  c.push_back({"key length past EOF", with([](RawBuilder& b) { b.header(0, 1).u64(UINT64_MAX).zeros(20); }),
               Errc::malformed, "claims"});
  c.push_back({"unknown value type", with([](RawBuilder& b) { b.header(0, 1).str("k").u32(13).u32(0); }),
               Errc::malformed, "unknown value type 13"});
  c.push_back({"unknown array type", with([](RawBuilder& b) { b.header(0, 1).str("k").u32(9).u32(99).u64(0); }),
               Errc::malformed, "unknown value type 99"});
  c.push_back({"bool not 0/1", with([](RawBuilder& b) { b.header(0, 1).str("k").u32(7).u8(2); }), Errc::malformed, "bool"});
  c.push_back({"duplicate key", with([](RawBuilder& b) { b.header(0, 2).kv_u32("k", 1).kv_u32("k", 2); }),
               Errc::malformed, "duplicate metadata key k"});
  c.push_back({"empty key", with([](RawBuilder& b) { b.header(0, 1).kv_u32("", 1); }), Errc::malformed, "empty"});
  c.push_back({"nesting too deep", with([](RawBuilder& b) {
                 b.header(0, 1).str("k").u32(9);
                 for (int i = 0; i < 9; ++i) b.u32(9).u64(1);
                 b.u32(4).u64(0);
               }),
               Errc::malformed, "nested deeper"});
  c.push_back({"alignment not power of two", with([](RawBuilder& b) { b.header(0, 1).kv_u32("general.alignment", 48); }),
               Errc::malformed, "power of two"});
  c.push_back({"alignment zero", with([](RawBuilder& b) { b.header(0, 1).kv_u32("general.alignment", 0); }),
               Errc::malformed, "power of two"});
  c.push_back({"alignment a string", with([](RawBuilder& b) { b.header(0, 1).kv_str("general.alignment", "32"); }),
               Errc::malformed, "general.alignment"});
  c.push_back({"unknown tensor type", one_tensor({32}, 99, 0, 128), Errc::malformed, "unknown ggml type 99"});
  c.push_back({"removed tensor type", one_tensor({32}, 4, 0, 128), Errc::malformed, "unknown ggml type 4"});
  c.push_back({"Q4_K", one_tensor({256}, 12, 0, 256), Errc::unsupported,
               "tensor blk.0.attn_q.weight has type Q4_K, which dgrid does not support (supported: F32, F16, Q8_0, Q4_0)"});
  c.push_back({"BF16", one_tensor({32}, 30, 0, 64), Errc::unsupported, "has type BF16"});
  c.push_back({"zero dims", one_tensor({}, 0, 0, 64), Errc::malformed, "0 dimensions"});
  c.push_back({"five dims", one_tensor({1, 1, 1, 1, 1}, 0, 0, 64), Errc::malformed, "5 dimensions"});
  c.push_back({"zero dim", one_tensor({4, 0}, 0, 0, 64), Errc::malformed, "zero dimension"});
  c.push_back({"element overflow", one_tensor({1ull << 32, 1ull << 32}, 0, 0, 64), Errc::malformed, "overflows"});
  c.push_back({"byte size overflow", one_tensor({1ull << 31, 1ull << 31}, 0, 0, 64), Errc::malformed, "overflow"});
  c.push_back({"row not whole blocks", one_tensor({33, 2}, 8, 0, 128), Errc::malformed, "not a multiple"});
  c.push_back({"misaligned offset", one_tensor({4}, 0, 4, 64), Errc::malformed, "alignment"});
  c.push_back({"tensor past EOF", one_tensor({64}, 0, 0, 255), Errc::malformed, "past the end"});
  c.push_back({"offset past EOF", one_tensor({4}, 0, 1ull << 40, 64), Errc::malformed, "past the end"});
  c.push_back({"offset near 2^64", one_tensor({4}, 0, UINT64_MAX - 31, 64), Errc::malformed, "past the end"});
  c.push_back({"misaligned for custom alignment", one_tensor({4}, 0, 32, 128, 64), Errc::malformed, "alignment 64"});
  c.push_back({"data section past EOF", with([](RawBuilder& b) { b.header(1, 0).tensor("t", {1}, 0, 0); }),
               Errc::malformed, "past the end"});
  c.push_back({"overlapping tensors", with([](RawBuilder& b) {
                 b.header(2, 0).tensor("x", {16}, 0, 0).tensor("y", {4}, 0, 32).pad_to(32).zeros(128);
               }),
               Errc::malformed, "overlap"});
  c.push_back({"same offset", with([](RawBuilder& b) {
                 b.header(2, 0).tensor("x", {4}, 0, 0).tensor("y", {4}, 0, 0).pad_to(32).zeros(64);
               }),
               Errc::malformed, "overlap"});
  c.push_back({"duplicate tensor", with([](RawBuilder& b) {
                 b.header(2, 0).tensor("x", {4}, 0, 0).tensor("x", {4}, 0, 32).pad_to(32).zeros(64);
               }),
               Errc::malformed, "duplicate tensor name x"});
  c.push_back({"empty tensor name", with([](RawBuilder& b) { b.header(1, 0).tensor("", {4}, 0, 0).pad_to(32).zeros(64); }),
               Errc::malformed, "empty name"});
  return c;
}

TEST(GgufCorrupt, EachCorruptionGivesTheRightError) {
  for (const auto& c : corruptions()) {
    auto f = GgufFile::open_memory(c.bytes);
    ASSERT_FALSE(f) << c.what;
    EXPECT_EQ(f.error().code, c.code) << c.what << ": " << f.error().to_string();
    EXPECT_NE(f.error().message.find(c.message_part), std::string::npos) << c.what << ": " << f.error().to_string();
  }
}

TEST(GgufCorrupt, ValidEdgeCasesAreAccepted) {
  // No tensors, no padding after the header.
  RawBuilder empty;
  empty.header(0, 0);
  EXPECT_TRUE(GgufFile::open_memory(empty.b));
  // A custom alignment is honoured.
  auto f = GgufFile::open_memory(one_tensor({4}, 0, 64, 128, 64));
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->data_offset() % 64, 0u);
  // 4 dims, F16 and Q4_0, tensors in reverse offset order, bytes after the last tensor.
  RawBuilder b;
  b.header(2, 0).tensor("h", {2, 1, 1, 3}, 1, 64).tensor("q", {64}, 2, 0).pad_to(32).zeros(64 + 12 + 7);
  auto g = GgufFile::open_memory(b.b);
  ASSERT_TRUE(g) << g.error().to_string();
  EXPECT_EQ((*g)->tensor("h")->size_bytes, 12u);
  EXPECT_EQ((*g)->tensor("q")->size_bytes, 36u);
  EXPECT_EQ((*g)->tensor("h")->rows(), 3u);
  // Nesting right at the limit.
  RawBuilder n;
  n.header(0, 1).str("k").u32(9);
  for (uint32_t i = 0; i + 1 < kGgufMaxArrayDepth; ++i) n.u32(9).u64(1);
  n.u32(4).u64(0);
  EXPECT_TRUE(GgufFile::open_memory(n.b)) << GgufFile::open_memory(n.b).error().to_string();
}

TEST(GgufFileIo, OpenMapsAndReportsIoErrors) {
  test::TempDir dir;
  auto path = dir.write("small.gguf", small_file());
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_EQ((*f)->file_size(), small_file().size());
  EXPECT_EQ((*f)->tensor("q")->data[2], 0);
  EXPECT_EQ((*f)->tensor("q")->data[2 + 31], 31);
  EXPECT_EQ(GgufFile::open(dir.path() / "absent.gguf").error().code, Errc::io);
  EXPECT_EQ(GgufFile::open(dir.path()).error().code, Errc::io);
  auto empty = GgufFile::open(dir.write("empty.gguf", {}));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Errc::malformed);
  // Errors from open() name the file.
  Bytes v2 = small_file();
  v2[4] = 2;
  auto bad = GgufFile::open(dir.write("v2.gguf", v2));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::unsupported);
  EXPECT_NE(bad.error().message.find("v2.gguf"), std::string::npos);
}

}  // namespace
}  // namespace dgrid::infer
