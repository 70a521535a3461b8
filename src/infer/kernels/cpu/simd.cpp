// SIMD kernels (Highway, dynamic dispatch). Each reproduces the reference's canonical order
// exactly: 16 float lanes held as 16/N vectors of N lanes, separate multiply and add (the
// build disables contraction and no MulAdd is used), exact int32 block sums, and the scalar
// lane tree at the end. tests/infer/kernels_test.cpp checks every compiled target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "infer/kernels/cpu/simd.cpp"
// Compile every target the compiler can produce (SSSE3 .. AVX-512 and the emulated
// baseline) so the tests can prove they all give the reference's bits.
#ifndef HWY_COMPILE_ALL_ATTAINABLE
#define HWY_COMPILE_ALL_ATTAINABLE
#endif
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// Re-included per target:
#include <cstring>

#include "infer/fp16.hpp"
#include "infer/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace dgrid::infer::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::CappedTag<float, kLanes>;
using VF = hn::Vec<DF>;

HWY_INLINE uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

// Canonical f32 dot; `a` may be unaligned (mmap rows).
HWY_INLINE float DotF32Impl(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                            size_t n) {
  const DF d;
  constexpr size_t N = hn::MaxLanes(DF());
  constexpr size_t kV = kLanes / N;
  VF acc[kV];
  for (size_t v = 0; v < kV; ++v) acc[v] = hn::Zero(d);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t v = 0; v < kV; ++v)
      acc[v] = hn::Add(acc[v], hn::Mul(hn::LoadU(d, a + i + v * N), hn::LoadU(d, b + i + v * N)));
  }
  HWY_ALIGN float lanes[kLanes];
  for (size_t v = 0; v < kV; ++v) hn::Store(acc[v], d, lanes + v * N);
  for (size_t j = 0; i + j < n; ++j) lanes[j] = lanes[j] + a[i + j] * b[i + j];
  return lane_tree(lanes);
}

float DotF32(const float* a, const float* b, size_t n) { return DotF32Impl(a, b, n); }

float SumF32(const float* a, size_t n) {
  const DF d;
  constexpr size_t N = hn::MaxLanes(DF());
  constexpr size_t kV = kLanes / N;
  VF acc[kV];
  for (size_t v = 0; v < kV; ++v) acc[v] = hn::Zero(d);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t v = 0; v < kV; ++v) acc[v] = hn::Add(acc[v], hn::LoadU(d, a + i + v * N));
  HWY_ALIGN float lanes[kLanes];
  for (size_t v = 0; v < kV; ++v) hn::Store(acc[v], d, lanes + v * N);
  for (size_t j = 0; i + j < n; ++j) lanes[j] = lanes[j] + a[i + j];
  return lane_tree(lanes);
}

HWY_INLINE float DotF16(const uint8_t* HWY_RESTRICT w, const float* HWY_RESTRICT x, size_t n) {
  const DF d;
  const hn::Rebind<hwy::float16_t, DF> dh;
  constexpr size_t N = hn::MaxLanes(DF());
  constexpr size_t kV = kLanes / N;
  const auto* wh = reinterpret_cast<const hwy::float16_t*>(w);
  VF acc[kV];
  for (size_t v = 0; v < kV; ++v) acc[v] = hn::Zero(d);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t v = 0; v < kV; ++v) {
      const VF wv = hn::PromoteTo(d, hn::LoadU(dh, wh + i + v * N));
      acc[v] = hn::Add(acc[v], hn::Mul(wv, hn::LoadU(d, x + i + v * N)));
    }
  }
  HWY_ALIGN float lanes[kLanes];
  for (size_t v = 0; v < kV; ++v) hn::Store(acc[v], d, lanes + v * N);
  for (size_t j = 0; i + j < n; ++j)
    lanes[j] = lanes[j] + fp16_to_fp32(LoadU16(w + 2 * (i + j))) * x[i + j];
  return lane_tree(lanes);
}

// Exact int32 sum of 32 int8 x int8 products with portable Highway ops (any order: exact).
HWY_INLINE int32_t BlockDotI8(const int8_t* HWY_RESTRICT w, const int8_t* HWY_RESTRICT x) {
  const hn::CappedTag<int16_t, kBlock> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::RepartitionToWide<decltype(d16)> d32;
  constexpr size_t N = hn::MaxLanes(decltype(d16)());
  auto sum0 = hn::Zero(d32);
  auto sum1 = hn::Zero(d32);
  for (size_t i = 0; i < kBlock; i += N) {
    const auto a = hn::PromoteTo(d16, hn::LoadU(d8, w + i));
    const auto b = hn::PromoteTo(d16, hn::LoadU(d8, x + i));
    sum0 = hn::ReorderWidenMulAccumulate(d32, a, b, sum0, sum1);
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(sum0, sum1)));
}

HWY_INLINE void UnpackQ4(const uint8_t* qs, int8_t* out) {
  for (size_t i = 0; i < kBlock / 2; ++i) {
    out[i] = static_cast<int8_t>((qs[i] & 0x0F) - 8);
    out[i + kBlock / 2] = static_cast<int8_t>((qs[i] >> 4) - 8);
  }
}

template <bool kQ4>
HWY_INLINE int32_t BlockIsum(const uint8_t* blk, const ActBlock& x) {
  if constexpr (kQ4) {
    int8_t wq[kBlock];
    UnpackQ4(blk + 2, wq);
    return BlockDotI8(wq, x.qs);
  } else {
    return BlockDotI8(reinterpret_cast<const int8_t*>(blk + 2), x.qs);
  }
}

#undef DGRID_HAVE_QUANT_TILED
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// x86 fast path: 8 int32 partial sums per block (maddubs/madd), then a transposing hadd
// reduction that yields 4 exact block sums at once.
template <bool kQ4>
HWY_INLINE __m256i BlockPartials(const uint8_t* blk, const int8_t* xq) {
  __m256i wv;
  if constexpr (kQ4) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw),
                                         _mm256_set1_epi8(0x0F));
    wv = _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
  } else {
    wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  }
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
  // |w| (unsigned) times x*sign(w): each pair sum is at most 2*128*127 < 2^15, so the
  // saturating maddubs never saturates and the result is the exact product sum.
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

template <bool kQ4>
HWY_INLINE __m128i FourIsums(const uint8_t* w, size_t bytes, const ActBlock* x) {
  const __m256i p0 = BlockPartials<kQ4>(w, x[0].qs);
  const __m256i p1 = BlockPartials<kQ4>(w + bytes, x[1].qs);
  const __m256i p2 = BlockPartials<kQ4>(w + 2 * bytes, x[2].qs);
  const __m256i p3 = BlockPartials<kQ4>(w + 3 * bytes, x[3].qs);
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

template <bool kQ4>
HWY_INLINE int32_t OneIsum(const uint8_t* blk, const ActBlock& x) {
  const __m256i p = BlockPartials<kQ4>(blk, x.qs);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s);
}

// Lanes 4g .. 4g+3 += scale * isum for the 4 blocks starting at w / x.
template <bool kQ4>
HWY_INLINE __m128 FourContributions(const uint8_t* w, const ActBlock* x) {
  constexpr size_t kBytes = kQ4 ? kQ4_0Bytes : kQ8_0Bytes;
  const __m128i isum = FourIsums<kQ4>(w, kBytes, x);
  alignas(16) uint16_t dw[8] = {};
  alignas(16) float dx[4];
  for (size_t j = 0; j < 4; ++j) {
    std::memcpy(&dw[j], w + j * kBytes, 2);
    dx[j] = x[j].d;
  }
  const __m128 dwf = _mm_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dw)));
  const __m128 scale = _mm_mul_ps(dwf, _mm_load_ps(dx));
  return _mm_mul_ps(scale, _mm_cvtepi32_ps(isum));
}

template <bool kQ4>
HWY_INLINE float DotQuant(const uint8_t* HWY_RESTRICT w, const ActBlock* HWY_RESTRICT x,
                          size_t nb) {
  constexpr size_t kBytes = kQ4 ? kQ4_0Bytes : kQ8_0Bytes;
  // acc[g] holds canonical lanes 4g .. 4g+3; block b goes to lane b mod 16.
  __m128 acc[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  size_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    const size_t g = (b / 4) % 4;
    acc[g] = _mm_add_ps(acc[g], FourContributions<kQ4>(w + b * kBytes, x + b));
  }
  alignas(16) float lanes[kLanes];
  for (size_t g = 0; g < 4; ++g) _mm_store_ps(lanes + 4 * g, acc[g]);
  for (; b < nb; ++b) {
    const uint8_t* blk = w + b * kBytes;
    const float c = (fp16_to_fp32(LoadU16(blk)) * x[b].d) * static_cast<float>(OneIsum<kQ4>(blk, x[b]));
    lanes[b % kLanes] = lanes[b % kLanes] + c;
  }
  return lane_tree(lanes);
}

// Batched (prefill) path: a tile of kR weight rows x kC tokens. Each weight block is loaded
// (and its |w| formed) once for the kC tokens, each activation block once for the kR rows,
// while both are hot in L1. Every (row, token) dot keeps DotQuant's exact bits: the block
// sums, the scale products and the per-lane addition sequence are the same. The groups of
// 4 blocks are visited lane group by lane group (g = group mod 4 outermost), which keeps
// one accumulator per (row, token) live yet adds into each canonical lane in the same
// order (increasing block index) as DotQuant.
template <bool kQ4>
HWY_INLINE __m256i LoadWeightBlock(const uint8_t* blk) {
  if constexpr (kQ4) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw),
                                         _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
  } else {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  }
}

template <bool kQ4, size_t kR, size_t kC>
HWY_INLINE void QuantTile(const uint8_t* HWY_RESTRICT w, size_t rb,
                          const ActBlock* HWY_RESTRICT x, size_t nb, float* y,
                          size_t y_stride) {
  constexpr size_t kBytes = kQ4 ? kQ4_0Bytes : kQ8_0Bytes;
  alignas(16) float lanes[kR][kC][kLanes];
  const size_t n_groups = nb / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t g = 0; g < 4; ++g) {
    __m128 acc[kR][kC];
    for (size_t r = 0; r < kR; ++r)
      for (size_t c = 0; c < kC; ++c) acc[r][c] = _mm_setzero_ps();
    for (size_t k = g; k < n_groups; k += 4) {
      const size_t b = k * 4;
      __m256i wv[kR][4];
      __m256i aw[kR][4];
      __m128 dwf[kR];
      for (size_t r = 0; r < kR; ++r) {
        const uint8_t* wb = w + r * rb + b * kBytes;
        for (size_t j = 0; j < 4; ++j) {
          wv[r][j] = LoadWeightBlock<kQ4>(wb + j * kBytes);
          aw[r][j] = _mm256_sign_epi8(wv[r][j], wv[r][j]);
        }
        dwf[r] = _mm_cvtph_ps(_mm_setr_epi16(
            static_cast<int16_t>(LoadU16(wb)), static_cast<int16_t>(LoadU16(wb + kBytes)),
            static_cast<int16_t>(LoadU16(wb + 2 * kBytes)),
            static_cast<int16_t>(LoadU16(wb + 3 * kBytes)), 0, 0, 0, 0));
      }
      for (size_t c = 0; c < kC; ++c) {
        const ActBlock* xb = x + c * nb + b;
        const __m128 dx = _mm_setr_ps(xb[0].d, xb[1].d, xb[2].d, xb[3].d);
        __m256i xv[4];
        for (size_t j = 0; j < 4; ++j)
          xv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[j].qs));
        for (size_t r = 0; r < kR; ++r) {
          __m256i p[4];
          for (size_t j = 0; j < 4; ++j)
            p[j] = _mm256_madd_epi16(
                _mm256_maddubs_epi16(aw[r][j], _mm256_sign_epi8(xv[j], wv[r][j])), ones);
          const __m256i h =
              _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
          const __m128i isum =
              _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
          const __m128 contrib = _mm_mul_ps(_mm_mul_ps(dwf[r], dx), _mm_cvtepi32_ps(isum));
          acc[r][c] = _mm_add_ps(acc[r][c], contrib);
        }
      }
    }
    for (size_t r = 0; r < kR; ++r)
      for (size_t c = 0; c < kC; ++c) _mm_store_ps(lanes[r][c] + 4 * g, acc[r][c]);
  }
  for (size_t r = 0; r < kR; ++r) {
    for (size_t c = 0; c < kC; ++c) {
      float* ln = lanes[r][c];
      for (size_t b = n_groups * 4; b < nb; ++b) {
        const uint8_t* blk = w + r * rb + b * kBytes;
        const ActBlock& xb = x[c * nb + b];
        const float v =
            (fp16_to_fp32(LoadU16(blk)) * xb.d) * static_cast<float>(OneIsum<kQ4>(blk, xb));
        ln[b % kLanes] = ln[b % kLanes] + v;
      }
      y[c * y_stride + r] = lane_tree(ln);
    }
  }
}

// Tokens per chunk: the chunk's activations stay in L2 while the rows stream past them.
inline constexpr size_t kTokenChunk = 64;
inline constexpr size_t kTileRows = 2;
inline constexpr size_t kTileTokens = 4;

template <bool kQ4>
HWY_INLINE void MatmulQuantTiled(const WeightView& w, const ActBlock* x, size_t n_tokens,
                                 float* y, size_t y_stride, size_t row_begin, size_t row_end) {
  const size_t rb = row_bytes(w.format, w.cols);
  const size_t nb = w.cols / kBlock;
  for (size_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    const size_t t1 = t0 + kTokenChunk < n_tokens ? t0 + kTokenChunk : n_tokens;
    size_t r = row_begin;
    for (; r + kTileRows <= row_end; r += kTileRows) {
      size_t t = t0;
      for (; t + kTileTokens <= t1; t += kTileTokens)
        QuantTile<kQ4, kTileRows, kTileTokens>(w.data + r * rb, rb, x + t * nb, nb,
                                               y + t * y_stride + r, y_stride);
      for (; t < t1; ++t)
        QuantTile<kQ4, kTileRows, 1>(w.data + r * rb, rb, x + t * nb, nb, y + t * y_stride + r,
                                     y_stride);
    }
    for (; r < row_end; ++r) {
      size_t t = t0;
      for (; t + kTileTokens <= t1; t += kTileTokens)
        QuantTile<kQ4, 1, kTileTokens>(w.data + r * rb, rb, x + t * nb, nb,
                                       y + t * y_stride + r, y_stride);
      for (; t < t1; ++t)
        QuantTile<kQ4, 1, 1>(w.data + r * rb, rb, x + t * nb, nb, y + t * y_stride + r, y_stride);
    }
  }
}
#define DGRID_HAVE_QUANT_TILED 1
#else
// Portable path: exact block sums with Highway ops, scalar float accumulation in the same
// lanes as the reference.
template <bool kQ4>
HWY_INLINE float DotQuant(const uint8_t* HWY_RESTRICT w, const ActBlock* HWY_RESTRICT x,
                          size_t nb) {
  constexpr size_t kBytes = kQ4 ? kQ4_0Bytes : kQ8_0Bytes;
  float lanes[kLanes] = {};
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* blk = w + b * kBytes;
    const float c = (fp16_to_fp32(LoadU16(blk)) * x[b].d) *
                    static_cast<float>(BlockIsum<kQ4>(blk, x[b]));
    lanes[b % kLanes] = lanes[b % kLanes] + c;
  }
  return lane_tree(lanes);
}
#endif

// The target that actually runs (tests check that forcing a target took effect).
int64_t RunningTarget() { return HWY_TARGET; }

void MatmulRows(const WeightView& w, const void* x, size_t n_tokens, float* y, size_t y_stride,
                size_t row_begin, size_t row_end) {
#ifdef DGRID_HAVE_QUANT_TILED
  if (n_tokens > 1 && is_quantized(w.format)) {
    if (w.format == WeightFormat::q8_0)
      MatmulQuantTiled<false>(w, static_cast<const ActBlock*>(x), n_tokens, y, y_stride,
                              row_begin, row_end);
    else
      MatmulQuantTiled<true>(w, static_cast<const ActBlock*>(x), n_tokens, y, y_stride,
                             row_begin, row_end);
    return;
  }
#endif
  const size_t rb = row_bytes(w.format, w.cols);
  const size_t nb = w.cols / kBlock;
  for (size_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + r * rb;
    for (size_t t = 0; t < n_tokens; ++t) {
      float v = 0.0f;
      switch (w.format) {
        case WeightFormat::f32:
          v = DotF32Impl(reinterpret_cast<const float*>(row), static_cast<const float*>(x) + t * w.cols,
                         w.cols);
          break;
        case WeightFormat::f16:
          v = DotF16(row, static_cast<const float*>(x) + t * w.cols, w.cols);
          break;
        case WeightFormat::q8_0:
          v = DotQuant<false>(row, static_cast<const ActBlock*>(x) + t * nb, nb);
          break;
        case WeightFormat::q4_0:
          v = DotQuant<true>(row, static_cast<const ActBlock*>(x) + t * nb, nb);
          break;
      }
      y[t * y_stride + r] = v;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dgrid::infer::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dgrid::infer::kernels {

HWY_EXPORT(DotF32);
HWY_EXPORT(SumF32);
HWY_EXPORT(MatmulRows);
HWY_EXPORT(RunningTarget);

namespace {

float simd_dot_f32(const float* a, const float* b, size_t n) noexcept {
  return HWY_DYNAMIC_DISPATCH(DotF32)(a, b, n);
}
float simd_sum_f32(const float* a, size_t n) noexcept { return HWY_DYNAMIC_DISPATCH(SumF32)(a, n); }
void simd_matmul_rows(const WeightView& w, const void* x, size_t n_tokens, float* y,
                      size_t y_stride, size_t row_begin, size_t row_end) noexcept {
  HWY_DYNAMIC_DISPATCH(MatmulRows)(w, x, n_tokens, y, y_stride, row_begin, row_end);
}

constexpr KernelTable kSimd{"simd", simd_dot_f32, simd_sum_f32, simd_matmul_rows};

}  // namespace

const KernelTable& simd_kernels() noexcept { return kSimd; }

std::vector<int64_t> simd_targets() { return hwy::SupportedAndGeneratedTargets(); }

void force_simd_target(int64_t target) { hwy::SetSupportedTargetsForTest(target); }

std::string simd_target_name() {
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(RunningTarget)());
}

}  // namespace dgrid::infer::kernels
#endif  // HWY_ONCE
