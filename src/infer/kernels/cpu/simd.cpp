// SIMD kernels (Highway, dynamic dispatch). Each reproduces the reference's canonical order
// exactly: 16 float lanes held as 16/N vectors of N lanes, separate multiply and add (the
// build disables contraction and no MulAdd is used), exact int32 block sums, and the scalar
// lane tree at the end. Quantized weights run fast in the packed layouts (kernels.hpp) on
// x86 AVX2 / AVX-512 (VNNI); GGUF layouts and other targets use the scalar definition. tests/infer/kernels_test.cpp checks every compiled target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "infer/kernels/cpu/simd.cpp"
// Compile every target the compiler can produce (SSSE3 .. AVX-512 and the emulated
// baseline) so the tests can prove they all give the reference's bits.
#ifndef HWY_COMPILE_ALL_ATTAINABLE
#define HWY_COMPILE_ALL_ATTAINABLE
#endif
// AVX3_DL (AVX-512 with VNNI: Ice Lake, Zen 4 and later) is opt-in in Highway 1.0.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
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

// Packed quantized kernels (q8_0x16 / q4_0x16, kernels.hpp). One integer multiply-add over
// a 64-byte step covers 4 bytes of each of 16 blocks, so after the 8 steps of a group each
// 32-bit lane holds its block's exact sum: no horizontal reduction. The float part then adds
// (d_w * d_x) * float(isum) into lane k for block 16g + k, the canonical order.
#undef DGRID_PACKED_X86
#undef DGRID_ISA_ATTR
#if HWY_TARGET == HWY_AVX3_DL
#define DGRID_PACKED_X86 1
// Highway's AVX3_DL target string names the VEX "avxvnni"; the EVEX form needs this.
#define DGRID_ISA_ATTR __attribute__((target("avx512vnni")))

// 512-bit vectors with VNNI: vpdpbusd multiplies unsigned by signed bytes, so q8_0x16 keeps
// w + 128 and the kernel subtracts 128 * sum(x) (q4_0x16: nibble q, subtract 8 * sum(x)).
struct Isa {
  using VI = __m512i;
  using VF = __m512;
  static constexpr size_t kBytes = 64;
  static constexpr bool kQ8Offset = true;
  DGRID_ISA_ATTR static VI Load(const void* p) { return _mm512_loadu_si512(p); }
  DGRID_ISA_ATTR static VI Zero() { return _mm512_setzero_si512(); }
  DGRID_ISA_ATTR static VI Nibbles(VI raw, bool high) {
    return _mm512_and_si512(high ? _mm512_srli_epi16(raw, 4) : raw, _mm512_set1_epi8(0x0F));
  }
  struct Q8 {
    VI u;
  };
  DGRID_ISA_ATTR static Q8 PrepQ8(VI u) { return {u}; }
  DGRID_ISA_ATTR static VI DotQ8(VI acc, const Q8& w, VI x) { return _mm512_dpbusd_epi32(acc, w.u, x); }
  DGRID_ISA_ATTR static VI DotU(VI acc, VI u, VI x) { return _mm512_dpbusd_epi32(acc, u, x); }
  DGRID_ISA_ATTR static VI Sub(VI a, VI b) { return _mm512_sub_epi32(a, b); }
  DGRID_ISA_ATTR static VI Shl(VI a, int n) { return _mm512_sll_epi32(a, _mm_cvtsi32_si128(n)); }
  DGRID_ISA_ATTR static VF LoadF(const float* p) { return _mm512_loadu_ps(p); }
  DGRID_ISA_ATTR static void StoreF(float* p, VF v) { _mm512_storeu_ps(p, v); }
  DGRID_ISA_ATTR static VF Half(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  DGRID_ISA_ATTR static VF Contribution(VF dw, VF dx, VI isum) {
    return _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(isum));
  }
  DGRID_ISA_ATTR static VF AddF(VF a, VF b) { return _mm512_add_ps(a, b); }
};
#elif HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
#define DGRID_PACKED_X86 1
#define DGRID_ISA_ATTR

// 256-bit vectors (each 64-byte step in two halves): maddubs + madd. q8_0x16 is multiplied
// signed (|w| times x with w's sign, which cannot saturate); q4_0x16 as unsigned nibbles.
struct Isa {
  using VI = __m256i;
  using VF = __m256;
  static constexpr size_t kBytes = 32;
  static constexpr bool kQ8Offset = false;
  static VI Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static VI Zero() { return _mm256_setzero_si256(); }
  static VI Nibbles(VI raw, bool high) {
    return _mm256_and_si256(high ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(0x0F));
  }
  struct Q8 {
    VI w;    // signed weights
    VI abs;  // |w|
  };
  static Q8 PrepQ8(VI u) {
    const VI w = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
    return {w, _mm256_sign_epi8(w, w)};
  }
  static VI Pairs(VI p16) { return _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); }
  static VI DotQ8(VI acc, const Q8& w, VI x) {
    return _mm256_add_epi32(acc, Pairs(_mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(x, w.w))));
  }
  static VI DotU(VI acc, VI u, VI x) { return _mm256_add_epi32(acc, Pairs(_mm256_maddubs_epi16(u, x))); }
  static VI Sub(VI a, VI b) { return _mm256_sub_epi32(a, b); }
  static VI Shl(VI a, int n) { return _mm256_sll_epi32(a, _mm_cvtsi32_si128(n)); }
  static VF LoadF(const float* p) { return _mm256_loadu_ps(p); }
  static void StoreF(float* p, VF v) { _mm256_storeu_ps(p, v); }
  static VF Half(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static VF Contribution(VF dw, VF dx, VI isum) {
    return _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum));
  }
  static VF AddF(VF a, VF b) { return _mm256_add_ps(a, b); }
};
#endif

#ifndef DGRID_ISA_ATTR
#define DGRID_ISA_ATTR
#endif

#ifdef DGRID_PACKED_X86
inline constexpr size_t kGroupScaleBytes = kLanes * 2;

// R rows x C tokens of a packed matrix. qs / sc: row 0's quantized bytes and scales (rows
// `groups` groups apart); x: token 0's groups (tokens `groups` apart); y[c * y_stride + r].
template <bool kQ4, size_t R, size_t C>
DGRID_ISA_ATTR HWY_NOINLINE void PackedTile(const uint8_t* HWY_RESTRICT qs,
                                            const uint8_t* HWY_RESTRICT sc, size_t groups,
                                            const ActGroup* HWY_RESTRICT x, float* y,
                                            size_t y_stride) {
  using VI = Isa::VI;
  constexpr size_t kQs = kQ4 ? kLanes * kBlock / 2 : kLanes * kBlock;
  constexpr size_t kW = Isa::kBytes;
  constexpr size_t kL = kW / 4;  // lanes per vector
  const size_t row_qs = groups * kQs, row_sc = groups * kGroupScaleBytes;
  alignas(64) float lanes[R][C][kLanes] = {};
  for (size_t g = 0; g < groups; ++g) {
    for (size_t h = 0; h < 64 / kW; ++h) {
      VI acc[R][C];
      for (size_t r = 0; r < R; ++r)
        for (size_t c = 0; c < C; ++c) acc[r][c] = Isa::Zero();
      if constexpr (kQ4) {
        for (size_t t = 0; t < 4; ++t) {
          VI xlo[C], xhi[C];
          for (size_t c = 0; c < C; ++c) {
            const int8_t* xq = x[c * groups + g].qs + 128 * t + kW * h;
            xlo[c] = Isa::Load(xq);
            xhi[c] = Isa::Load(xq + 64);
          }
          for (size_t r = 0; r < R; ++r) {
            const VI raw = Isa::Load(qs + r * row_qs + g * kQs + 64 * t + kW * h);
            const VI lo = Isa::Nibbles(raw, false), hi = Isa::Nibbles(raw, true);
            for (size_t c = 0; c < C; ++c) acc[r][c] = Isa::DotU(Isa::DotU(acc[r][c], lo, xlo[c]), hi, xhi[c]);
          }
        }
      } else {
        for (size_t s = 0; s < 8; ++s) {
          VI xv[C];
          for (size_t c = 0; c < C; ++c) xv[c] = Isa::Load(x[c * groups + g].qs + 64 * s + kW * h);
          for (size_t r = 0; r < R; ++r) {
            const auto w = Isa::PrepQ8(Isa::Load(qs + r * row_qs + g * kQs + 64 * s + kW * h));
            for (size_t c = 0; c < C; ++c) acc[r][c] = Isa::DotQ8(acc[r][c], w, xv[c]);
          }
        }
      }
      // isum = acc - offset * sum(x) where the weights were multiplied with an offset.
      constexpr bool kOffset = kQ4 || Isa::kQ8Offset;
      for (size_t c = 0; c < C; ++c) {
        const ActGroup& xg = x[c * groups + g];
        const Isa::VF dx = Isa::LoadF(xg.d + kL * h);
        VI corr = Isa::Zero();
        if constexpr (kOffset) corr = Isa::Shl(Isa::Load(xg.sum + kL * h), kQ4 ? 3 : 7);
        for (size_t r = 0; r < R; ++r) {
          const Isa::VF dw = Isa::Half(sc + r * row_sc + g * kGroupScaleBytes + 2 * kL * h);
          float* ln = lanes[r][c] + kL * h;
          Isa::StoreF(ln, Isa::AddF(Isa::LoadF(ln), Isa::Contribution(dw, dx, Isa::Sub(acc[r][c], corr))));
        }
      }
    }
  }
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) y[c * y_stride + r] = lane_tree(lanes[r][c]);
}

// Tokens per chunk: the chunk's activations stay in L2 while the row tiles pass over them.
inline constexpr size_t kTokenChunk = 64;
inline constexpr size_t kTileRows = 4;
inline constexpr size_t kTileTokens = 2;

template <bool kQ4>
DGRID_ISA_ATTR void MatmulPacked(const WeightView& w, const ActGroup* x, size_t n_tokens, float* y,
                                 size_t y_stride, size_t row_begin, size_t row_end) {
  constexpr size_t kQs = kQ4 ? kLanes * kBlock / 2 : kLanes * kBlock;
  const size_t groups = packed_groups(w.cols);
  const uint8_t* scales = w.data + w.rows * groups * kQs;
  auto rows = [&](size_t r) { return w.data + r * groups * kQs; };
  auto sc = [&](size_t r) { return scales + r * groups * kGroupScaleBytes; };
  for (size_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    const size_t t1 = t0 + kTokenChunk < n_tokens ? t0 + kTokenChunk : n_tokens;
    size_t r = row_begin;
    for (; r + kTileRows <= row_end; r += kTileRows) {
      size_t t = t0;
      for (; t + kTileTokens <= t1; t += kTileTokens)
        PackedTile<kQ4, kTileRows, kTileTokens>(rows(r), sc(r), groups, x + t * groups, y + t * y_stride + r,
                                                y_stride);
      for (; t < t1; ++t)
        PackedTile<kQ4, kTileRows, 1>(rows(r), sc(r), groups, x + t * groups, y + t * y_stride + r, y_stride);
    }
    for (; r < row_end; ++r)
      for (size_t t = t0; t < t1; ++t)
        PackedTile<kQ4, 1, 1>(rows(r), sc(r), groups, x + t * groups, y + t * y_stride + r, y_stride);
  }
}
#endif  // DGRID_PACKED_X86

// The target that actually runs (tests check that forcing a target took effect).
int64_t RunningTarget() { return HWY_TARGET; }

DGRID_ISA_ATTR void MatmulRows(const WeightView& w, const void* x, size_t n_tokens, float* y,
                               size_t y_stride, size_t row_begin, size_t row_end) {
#ifdef DGRID_PACKED_X86
  if (w.format == WeightFormat::q8_0x16)
    return MatmulPacked<false>(w, static_cast<const ActGroup*>(x), n_tokens, y, y_stride, row_begin, row_end);
  if (w.format == WeightFormat::q4_0x16)
    return MatmulPacked<true>(w, static_cast<const ActGroup*>(x), n_tokens, y, y_stride, row_begin, row_end);
#endif
  const size_t rb = row_bytes(w.format, w.cols);
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
        default:  // GGUF quantized layouts (the CPU backend packs them) and targets without a
                  // packed fast path: the scalar definition
          v = dot_quant_scalar(w, r, x, t);
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
