// Every optimized kernel must equal the reference kernel bit for bit, on every Highway
// target compiled in and supported by this CPU (docs/determinism.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

#include "infer/fp16.hpp"
#include "infer/kernels/backend.hpp"
#include "infer/kernels/kernels.hpp"
#include "infer/math.hpp"
#include "infer/thread_pool.hpp"

namespace dgrid::infer::kernels {
namespace {

std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale = 1.0f) {
  // Mixed magnitudes so that rounding differs between summation orders.
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-6, 6);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng) * scale * static_cast<float>(1 << (ex(rng) + 6)) / 64.0f;
  return v;
}

std::vector<uint8_t> random_weights(std::mt19937& rng, WeightFormat f, size_t rows, size_t cols) {
  std::vector<uint8_t> w(row_bytes(f, cols) * rows);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  switch (f) {
    case WeightFormat::f32: {
      auto v = random_floats(rng, rows * cols);
      std::memcpy(w.data(), v.data(), w.size());
      break;
    }
    case WeightFormat::f16:
      for (size_t i = 0; i < rows * cols; ++i) {
        const uint16_t h = fp32_to_fp16(nd(rng) * 10.0f);
        std::memcpy(w.data() + 2 * i, &h, 2);
      }
      break;
    case WeightFormat::q8_0:
    case WeightFormat::q4_0: {
      const size_t bytes = f == WeightFormat::q8_0 ? kQ8_0Bytes : kQ4_0Bytes;
      for (size_t b = 0; b < w.size() / bytes; ++b) {
        const uint16_t d = fp32_to_fp16(nd(rng));
        std::memcpy(w.data() + b * bytes, &d, 2);
        for (size_t i = 2; i < bytes; ++i) w[b * bytes + i] = static_cast<uint8_t>(byte(rng));
        // Include the extreme int8 values (-128 never comes from ggml, but a file may hold it).
        if (f == WeightFormat::q8_0 && b % 7 == 0) w[b * bytes + 2] = 0x80;
        if (f == WeightFormat::q8_0 && b % 5 == 0) w[b * bytes + 3] = 0x7F;
      }
      break;
    }
    default: ADD_FAILURE() << "random_weights makes GGUF layouts; pack_weights makes the others";
  }
  return w;
}

// w packed by pack_weights, in a buffer of its own.
struct Packed {
  std::vector<uint8_t> bytes;
  WeightView view;
  explicit Packed(const WeightView& w)
      : bytes(matrix_bytes(packed_format(w.format), w.rows, w.cols)), view(pack_weights(w, bytes.data())) {}
};

// The quantized input of x for weights of format f (float rows for f32 / f16).
struct Input {
  std::vector<ActGroup> act;
  const void* ptr;
  Input(WeightFormat f, const std::vector<float>& x, size_t n_tokens, size_t cols) : ptr(x.data()) {
    if (!is_quantized(f)) return;
    act.resize((act_bytes(f, n_tokens, cols) + sizeof(ActGroup) - 1) / sizeof(ActGroup));
    quantize_input(f, x.data(), n_tokens, cols, act.data());
    ptr = act.data();
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

class EveryTarget : public ::testing::Test {
 protected:
  void TearDown() override { force_simd_target(0); }
  template <class Fn>
  void for_each_target(Fn fn) {
    const auto targets = simd_targets();
    ASSERT_FALSE(targets.empty());
    std::string names;
    for (int64_t t : targets) {
      force_simd_target(t);
      const std::string name = simd_target_name();
      names += name + " ";
      SCOPED_TRACE("target " + name);
      fn();
    }
    force_simd_target(0);
    std::printf("[ targets  ] %s\n", names.c_str());
  }
};

const size_t kSizes[] = {0, 1, 3, 8, 15, 16, 17, 31, 32, 33, 64, 100, 172, 255, 256, 1000, 4096};

TEST_F(EveryTarget, DotAndSumF32MatchReference) {
  std::mt19937 rng(1);
  for_each_target([&] {
    for (size_t n : kSizes) {
      auto a = random_floats(rng, n + 1);
      auto b = random_floats(rng, n + 1);
      // Odd offset: unaligned inputs, as rows inside a mmap may be.
      const float r = reference_kernels().dot_f32(a.data() + 1, b.data() + 1, n);
      const float s = simd_kernels().dot_f32(a.data() + 1, b.data() + 1, n);
      EXPECT_EQ(std::memcmp(&r, &s, 4), 0) << "dot n=" << n << " " << r << " vs " << s;
      const float rs = reference_kernels().sum_f32(a.data(), n);
      const float ss = simd_kernels().sum_f32(a.data(), n);
      EXPECT_EQ(std::memcmp(&rs, &ss, 4), 0) << "sum n=" << n;
    }
  });
}

TEST_F(EveryTarget, MatmulRowsMatchReferenceForEveryFormat) {
  std::mt19937 rng(2);
  const WeightFormat formats[] = {WeightFormat::f32, WeightFormat::f16, WeightFormat::q8_0,
                                  WeightFormat::q4_0};
  for_each_target([&] {
    for (WeightFormat f : formats) {
      // Token counts cover the single-token path, the 4x2 tiles with row and token
      // remainders, and more tokens than one 64-token chunk; 1, 2, 3, 13, 17, 24 and 33
      // blocks per row leave partial groups (8- and 16-lane, zero-completed, when packed).
      for (auto [cols, n_tokens] : {std::pair{32ul, 1ul}, {64ul, 3ul}, {96ul, 4ul}, {416ul, 5ul}, {512ul, 9ul},
                                    {544ul, 4ul}, {768ul, 1ul}, {1024ul, 70ul}, {1056ul, 2ul}, {4096ul, 3ul}}) {
        const size_t rows = 7;  // a tile of 4 and a last tile of 3
        auto w = random_weights(rng, f, rows, cols);
        auto x = random_floats(rng, n_tokens * cols);
        const WeightView view{f, w.data(), rows, cols};
        const Input in(f, x, n_tokens, cols);
        std::vector<float> yr(rows * n_tokens);
        reference_kernels().matmul_rows(view, in.ptr, n_tokens, yr.data(), rows, 0, rows);
        // The file's layout and the packed one (the CPU backend's), each with its input.
        const Packed packed(view);
        const Input packed_in(packed.view.format, x, n_tokens, cols);
        for (const auto& [v, input] : {std::pair{view, in.ptr}, {packed.view, packed_in.ptr}}) {
          SCOPED_TRACE("format " + std::to_string(static_cast<int>(v.format)) + " cols " + std::to_string(cols) +
                       " tokens " + std::to_string(n_tokens));
          std::vector<float> ys(rows * n_tokens, -1.0f);
          simd_kernels().matmul_rows(v, input, n_tokens, ys.data(), rows, 0, rows);
          EXPECT_TRUE(same_bits(yr, ys));
          std::vector<float> yref(rows * n_tokens, -1.0f);
          reference_kernels().matmul_rows(v, input, n_tokens, yref.data(), rows, 0, rows);
          EXPECT_TRUE(same_bits(yr, yref)) << "reference on this layout";
          // Sub-ranges of rows (a whole tile and a remainder, or remainders only) write
          // exactly those rows, with the same bits.
          for (auto [r0, r1] : {std::pair{2ul, 5ul}, {1ul, 7ul}}) {
            std::vector<float> yp(rows * n_tokens, -1.0f);
            simd_kernels().matmul_rows(v, input, n_tokens, yp.data(), rows, r0, r1);
            for (size_t t = 0; t < n_tokens; ++t)
              for (size_t r = 0; r < rows; ++r) {
                const bool inside = r >= r0 && r < r1;
                const float want = inside ? yr[t * rows + r] : -1.0f;
                EXPECT_EQ(std::memcmp(&yp[t * rows + r], &want, 4), 0) << "rows " << r0 << ".." << r1;
              }
          }
        }
      }
    }
  });
}

// Inputs that reach every branch of exp_f32, silu and the activation quantizer: NaN, both
// infinities, huge and tiny magnitudes, exact halves after scaling, zeros of both signs.
std::vector<float> edge_floats(std::mt19937& rng, size_t n) {
  auto v = random_floats(rng, n, 8.0f);
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 88.9f, 89.5f, -103.9f, -104.5f, -150.0f,
                            1e-40f, -1e-40f, 2.5f, -2.5f, 126.5f, -126.5f, 0.5f, 1e30f, -1e30f};
  for (size_t i = 0; i < n; i += 3) v[i] = specials[(i / 3) % std::size(specials)];
  return v;
}

TEST_F(EveryTarget, ElementwiseAndQuantizeMatchReference) {
  std::mt19937 rng(5);
  for_each_target([&] {
    for (size_t n : {0ul, 1ul, 7ul, 16ul, 33ul, 100ul, 1000ul}) {
      auto g = edge_floats(rng, n);
      auto u = random_floats(rng, n);
      auto gr = g, gs = g;
      reference_kernels().silu_mul(gr.data(), u.data(), n);
      simd_kernels().silu_mul(gs.data(), u.data(), n);
      EXPECT_TRUE(same_bits(gr, gs)) << "silu_mul n=" << n;
    }
    for (size_t cols : {32ul, 256ul, 544ul, 768ul, 5632ul}) {
      // Rows of ordinary values, rows with NaN / inf in them, and rows whose blocks have
      // amax 127 (scale 1) and exact halves elsewhere, which round away from zero.
      for (int kind : {0, 1, 2}) {
        auto x = kind == 1 ? edge_floats(rng, cols) : random_floats(rng, cols);
        if (kind == 2)
          for (size_t i = 0; i < cols; ++i)
            x[i] = i % kBlock == 0 ? 127.0f : static_cast<float>(static_cast<int>(i % 250) - 125) + 0.5f;
        std::vector<ActGroup> r(packed_groups(cols)), v(packed_groups(cols));
        reference_kernels().quantize_packed(x.data(), cols, r.data());
        simd_kernels().quantize_packed(x.data(), cols, v.data());
        EXPECT_EQ(std::memcmp(r.data(), v.data(), r.size() * sizeof(ActGroup)), 0) << "quantize cols=" << cols;
      }
    }
  });
}

TEST_F(EveryTarget, AttentionOfOneHeadMatchesReference) {
  std::mt19937 rng(6);
  for_each_target([&] {
    for (size_t hd : {2ul, 12ul, 16ul, 24ul, 64ul, 100ul, 128ul}) {
      for (size_t n_pos : {1ul, 5ul, 16ul, 17ul, 130ul}) {
        const size_t stride = 3 * hd;  // other heads in between
        auto q = random_floats(rng, hd, 4.0f);
        auto k = random_floats(rng, n_pos * stride, 4.0f);
        auto v = random_floats(rng, n_pos * stride);
        std::vector<float> orf(hd), os(hd), sr(n_pos), ss(n_pos);
        reference_kernels().attend_one(q.data(), k.data() + hd, v.data() + hd, stride, n_pos, hd, orf.data(), sr.data());
        simd_kernels().attend_one(q.data(), k.data() + hd, v.data() + hd, stride, n_pos, hd, os.data(), ss.data());
        EXPECT_TRUE(same_bits(orf, os)) << "hd " << hd << " positions " << n_pos;
      }
    }
  });
}

TEST(Kernels, PackingKeepsEveryWeightAndScale) {
  std::mt19937 rng(7);
  for (WeightFormat f : {WeightFormat::q8_0, WeightFormat::q4_0}) {
    // cols -> blocks stored per row: a tail of 1..8 blocks is completed to 8, of 9..15 to 16.
    for (auto [cols, stored] : {std::pair{32ul, 8ul}, {416ul, 16ul}, {512ul, 16ul}, {544ul, 24ul}, {768ul, 24ul},
                                {800ul, 32ul}, {5632ul, 176ul}}) {
      const size_t rows = 5;
      auto w = random_weights(rng, f, rows, cols);
      const WeightView view{f, w.data(), rows, cols};
      const Packed packed(view);
      EXPECT_EQ(packed.view.format, packed_format(f));
      EXPECT_TRUE(is_packed(packed.view.format));
      // Same size as the file's layout up to the zero blocks that complete the last group.
      EXPECT_EQ(packed.bytes.size(), rows * stored * (f == WeightFormat::q8_0 ? 34 : 18)) << cols;
      for (size_t r = 0; r < rows; ++r) {
        std::vector<float> a(cols), b(cols);
        dequantize_row(view, r, a.data());
        dequantize_row(packed.view, r, b.data());
        EXPECT_TRUE(same_bits(a, b)) << "format " << static_cast<int>(f) << " cols " << cols << " row " << r;
      }
    }
  }
}

TEST(Kernels, PackedActivationHoldsTheBlocksInterleaved) {
  std::mt19937 rng(8);
  const size_t cols = 17 * kBlock;  // one full group and one block of the next
  auto x = random_floats(rng, cols);
  std::vector<ActBlock> blocks(cols / kBlock);
  quantize_act(x.data(), cols, blocks.data());
  std::vector<ActGroup> groups(packed_groups(cols));
  quantize_act_packed(x.data(), cols, groups.data());
  for (size_t b = 0; b < 2 * kLanes; ++b) {
    const ActGroup& g = groups[b / kLanes];
    const size_t k = b % kLanes;
    int32_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      const int8_t q = g.qs[(i / 4) * 64 + k * 4 + i % 4];
      EXPECT_EQ(q, b < blocks.size() ? blocks[b].qs[i] : 0) << "block " << b << " element " << i;
      sum += q;
    }
    EXPECT_EQ(g.sum[k], sum);
    EXPECT_EQ(g.d[k], b < blocks.size() ? blocks[b].d : 0.0f);
  }
}

TEST(Kernels, ReferenceDotFollowsTheDocumentedLaneOrder) {
  // 16 lanes, element i into lane i mod 16, then lane l += lane l+8, +4, +2, +1: with
  // these values the sequential sum would differ (1e8 absorbs the ones).
  std::vector<float> a(32, 1.0f), b(32, 1.0f);
  a[0] = 1e8f;
  a[16] = -1e8f;
  float lanes[16] = {};
  for (size_t i = 0; i < 32; ++i) lanes[i % 16] += a[i] * b[i];
  const float expect = lane_tree(lanes);
  EXPECT_EQ(reference_kernels().dot_f32(a.data(), b.data(), 32), expect);
  EXPECT_EQ(expect, 30.0f);  // lane 0 cancels exactly; 15 lanes of 2
}

TEST(Kernels, QuantizeActRoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1, so q = round(x)
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.49999997f;
  x[4] = -126.5f;
  ActBlock blk{};
  quantize_act(x.data(), 32, &blk);
  EXPECT_EQ(blk.d, 1.0f);
  EXPECT_EQ(blk.qs[0], 127);
  EXPECT_EQ(blk.qs[1], 3);
  EXPECT_EQ(blk.qs[2], -3);
  EXPECT_EQ(blk.qs[3], 0);
  EXPECT_EQ(blk.qs[4], -127);
  std::vector<float> zeros(32, 0.0f);
  quantize_act(zeros.data(), 32, &blk);
  EXPECT_EQ(blk.d, 0.0f);
  for (int8_t q : blk.qs) EXPECT_EQ(q, 0);
}

TEST(Backends, CpuBackendEqualsReferenceAtAnyThreadCount) {
  std::mt19937 rng(3);
  auto ref = make_reference_backend();
  for (size_t threads : {1ul, 2ul, 3ul, 4ul}) {
    ThreadPool pool(threads);
    auto cpu = make_cpu_backend(&pool);
    for (WeightFormat f : {WeightFormat::f32, WeightFormat::q8_0, WeightFormat::q4_0}) {
      const size_t rows = 301, cols = 544, n_tokens = 5;
      auto w = random_weights(rng, f, rows, cols);
      auto x = random_floats(rng, n_tokens * cols);
      const WeightView view{f, w.data(), rows, cols};
      EXPECT_EQ(cpu->layout_for(f), packed_format(f));
      EXPECT_EQ(ref->layout_for(f), f);
      const Packed packed(view);
      std::vector<float> yr(rows * n_tokens);
      ref->matmul(view, x.data(), n_tokens, yr.data());
      for (const WeightView& v : {view, packed.view}) {
        for (size_t n : {n_tokens, 1ul}) {
          std::vector<float> yc(rows * n);
          cpu->matmul(v, x.data(), n, yc.data());
          for (size_t t = 0; t < n; ++t)
            EXPECT_EQ(std::memcmp(yc.data() + t * rows, yr.data() + t * rows, rows * 4), 0)
                << "threads " << threads << " format " << static_cast<int>(v.format) << " tokens " << n;
        }
      }
    }
    // Attention over a cache of 37 positions, 4 tokens, GQA 6 heads over 2 KV heads.
    const size_t hd = 24, nh = 6, nkv = 2, pos0 = 33, nt = 4, ctx = pos0 + nt;
    auto q = random_floats(rng, nt * nh * hd);
    auto kc = random_floats(rng, ctx * nkv * hd);
    auto vc = random_floats(rng, ctx * nkv * hd);
    std::vector<float> or_(nt * nh * hd), oc(nt * nh * hd);
    AttentionArgs args{q.data(), kc.data(), vc.data(), or_.data(), nt, nh, nkv, hd, pos0};
    ref->attention(args);
    args.out = oc.data();
    cpu->attention(args);
    EXPECT_TRUE(same_bits(or_, oc)) << "attention, threads " << threads;
    auto xs = random_floats(rng, 3 * 100);
    auto ws = random_floats(rng, 100);
    std::vector<float> nr(300), nc(300);
    ref->rmsnorm(xs.data(), ws.data(), 100, 3, 1e-5f, nr.data());
    cpu->rmsnorm(xs.data(), ws.data(), 100, 3, 1e-5f, nc.data());
    EXPECT_TRUE(same_bits(nr, nc));
  }
}

TEST(Backends, AttentionOfOneTokenInABatchEqualsItAlone) {
  // Batch invariance at the kernel level: token t of a batch sees the same bits as when
  // it is processed alone at the same position.
  std::mt19937 rng(4);
  ThreadPool pool(3);
  auto cpu = make_cpu_backend(&pool);
  const size_t hd = 16, nh = 4, nkv = 4, pos0 = 10, nt = 6, ctx = pos0 + nt;
  auto q = random_floats(rng, nt * nh * hd);
  auto kc = random_floats(rng, ctx * nkv * hd);
  auto vc = random_floats(rng, ctx * nkv * hd);
  std::vector<float> all(nt * nh * hd);
  cpu->attention({q.data(), kc.data(), vc.data(), all.data(), nt, nh, nkv, hd, pos0});
  for (size_t t = 0; t < nt; ++t) {
    std::vector<float> one(nh * hd);
    cpu->attention({q.data() + t * nh * hd, kc.data(), vc.data(), one.data(), 1, nh, nkv, hd, pos0 + t});
    EXPECT_EQ(std::memcmp(one.data(), all.data() + t * nh * hd, one.size() * 4), 0) << "token " << t;
  }
}

}  // namespace
}  // namespace dgrid::infer::kernels
