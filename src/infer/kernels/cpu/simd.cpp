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
#include <algorithm>
#include <cmath>
#include <cstring>

#include "infer/fp16.hpp"
#include "infer/kernels/kernels.hpp"
#include "infer/math.hpp"

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
// a step of a row's group covers 4 bytes of each of its 16 (or 8) blocks, so after the 8
// steps each 32-bit lane holds its block's exact sum: no horizontal reduction. The float part
// then adds (d_w * d_x) * float(isum) into lane k for block 16g + k, the canonical order.
#undef DGRID_PACKED_X86
#undef DGRID_ISA_ATTR
#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
#define DGRID_PACKED_X86 1
#if HWY_TARGET == HWY_AVX3_DL
// Highway's AVX3_DL target string names the VEX "avxvnni" (absent on Zen 4, for one);
// the EVEX forms need avx512vnni, and no avxvnni so that 256-bit ones stay EVEX.
#define DGRID_ISA_ATTR __attribute__((target(HWY_TARGET_STR ",avx512vnni,no-avxvnni")))
#else
#define DGRID_ISA_ATTR
#endif

// 256-bit vectors (8 lanes). With VNNI, vpdpbusd multiplies unsigned by signed bytes: the
// q8_0x16 bytes (w + 128) directly, then the kernel subtracts 128 * sum(x). Without it,
// maddubs + madd: q8_0x16 signed again (|w| times x with w's sign, which cannot saturate).
// q4_0x16 nibbles are unsigned either way (then minus 8 * sum(x)).
template <bool kVnni>
struct V256 {
  using VI = __m256i;
  using VF = __m256;
  static constexpr size_t kBytes = 32;
  static constexpr bool kQ8Offset = kVnni;
  DGRID_ISA_ATTR static VI Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  DGRID_ISA_ATTR static VI Zero() { return _mm256_setzero_si256(); }
  DGRID_ISA_ATTR static VI Nibbles(VI raw, bool high) {
    return _mm256_and_si256(high ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(0x0F));
  }
  struct Q8 {
    VI w;    // VNNI: w + 128; otherwise signed w
    VI abs;  // |w| (without VNNI)
  };
  DGRID_ISA_ATTR static Q8 PrepQ8(VI u) {
    if constexpr (kVnni) {
      return {u, u};
    } else {
      const VI w = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
      return {w, _mm256_sign_epi8(w, w)};
    }
  }
  DGRID_ISA_ATTR static VI Pairs(VI p16) { return _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); }
  DGRID_ISA_ATTR static VI DotQ8(VI acc, const Q8& w, VI x) {
#if HWY_TARGET == HWY_AVX3_DL
    if constexpr (kVnni) return _mm256_dpbusd_epi32(acc, w.w, x);
#endif
    return _mm256_add_epi32(acc, Pairs(_mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(x, w.w))));
  }
  DGRID_ISA_ATTR static VI DotU(VI acc, VI u, VI x) {
#if HWY_TARGET == HWY_AVX3_DL
    if constexpr (kVnni) return _mm256_dpbusd_epi32(acc, u, x);
#endif
    return _mm256_add_epi32(acc, Pairs(_mm256_maddubs_epi16(u, x)));
  }
  DGRID_ISA_ATTR static VI Sub(VI a, VI b) { return _mm256_sub_epi32(a, b); }
  DGRID_ISA_ATTR static VI Shl(VI a, int n) { return _mm256_sll_epi32(a, _mm_cvtsi32_si128(n)); }
  DGRID_ISA_ATTR static VF LoadF(const float* p) { return _mm256_loadu_ps(p); }
  DGRID_ISA_ATTR static void StoreF(float* p, VF v) { _mm256_storeu_ps(p, v); }
  DGRID_ISA_ATTR static VF Half(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  DGRID_ISA_ATTR static VF Contribution(VF dw, VF dx, VI isum) {
    return _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum));
  }
  DGRID_ISA_ATTR static VF AddF(VF a, VF b) { return _mm256_add_ps(a, b); }
};

#if HWY_TARGET == HWY_AVX3_DL
// 512-bit vectors with VNNI: a whole 16-lane group per instruction.
struct V512 {
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
using VFull = V512;        // a 16-lane group in one part
using VHalf = V256<true>;  // an 8-lane group
// Tokens per tile: 4 x 2 tiles keep 8 integer and 8 float accumulators in the 32 registers.
inline constexpr size_t kTileTokens = 2;
#else
using VFull = V256<false>;  // a 16-lane group in two parts
using VHalf = V256<false>;
// 16 registers: 4 x 1 tiles (8 float and 4 integer accumulators).
inline constexpr size_t kTileTokens = 1;
#endif
alignas(64) inline constexpr float kZeros[kLanes] = {};

// Lanes [part, part + V::kBytes / 4) of one group of R rows x C tokens: wq[r] / sc[r] point
// at row r's quantized bytes / scales for these lanes, steps `wstep` bytes apart; facc[r][c]
// (those lanes of the canonical accumulators, kept in registers: a 512-bit store followed
// by a load of it stalls on some CPUs) receive the contributions.
template <class V, bool kQ4, size_t R, size_t C>
DGRID_ISA_ATTR HWY_INLINE void GroupPass(const uint8_t* const (&wq)[R], size_t wstep,
                                         const uint8_t* const (&sc)[R], const ActGroup* const (&xg)[C],
                                         size_t part, typename V::VF (&facc)[R][C]) {
  using VI = typename V::VI;
  const size_t xo = 4 * part;  // the x bytes of these lanes inside each 64-byte step
  VI acc[R][C];
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) acc[r][c] = V::Zero();
  if constexpr (kQ4) {
    for (size_t t = 0; t < 4; ++t) {
      VI xlo[C], xhi[C];
      for (size_t c = 0; c < C; ++c) {
        xlo[c] = V::Load(xg[c]->qs + 128 * t + xo);
        xhi[c] = V::Load(xg[c]->qs + 128 * t + 64 + xo);
      }
      for (size_t r = 0; r < R; ++r) {
        const VI raw = V::Load(wq[r] + t * wstep);
        const VI lo = V::Nibbles(raw, false), hi = V::Nibbles(raw, true);
        for (size_t c = 0; c < C; ++c) acc[r][c] = V::DotU(V::DotU(acc[r][c], lo, xlo[c]), hi, xhi[c]);
      }
    }
  } else {
    for (size_t s = 0; s < 8; ++s) {
      VI xv[C];
      for (size_t c = 0; c < C; ++c) xv[c] = V::Load(xg[c]->qs + 64 * s + xo);
      for (size_t r = 0; r < R; ++r) {
        const auto w = V::PrepQ8(V::Load(wq[r] + s * wstep));
        for (size_t c = 0; c < C; ++c) acc[r][c] = V::DotQ8(acc[r][c], w, xv[c]);
      }
    }
  }
  // isum = acc - offset * sum(x) where the weights were multiplied with an offset.
  for (size_t c = 0; c < C; ++c) {
    const typename V::VF dx = V::LoadF(xg[c]->d + part);
    VI corr = V::Zero();
    if constexpr (kQ4 || V::kQ8Offset) corr = V::Shl(V::Load(xg[c]->sum + part), kQ4 ? 3 : 7);
    for (size_t r = 0; r < R; ++r)
      facc[r][c] = V::AddF(facc[r][c], V::Contribution(V::Half(sc[r]), dx, V::Sub(acc[r][c], corr)));
  }
}

// R rows (j0 .. j0 + R - 1 of a tile of n rows starting at `tile`) x C tokens (x: token 0's
// groups, tokens `x_groups` apart); y[c * y_stride + r].
template <bool kQ4, size_t R, size_t C>
DGRID_ISA_ATTR HWY_NOINLINE void PackedTile(const PackedLayout& p, const uint8_t* HWY_RESTRICT tile, size_t n,
                                            size_t j0, const ActGroup* HWY_RESTRICT x, size_t x_groups, float* y,
                                            size_t y_stride) {
  constexpr size_t kScale = 2 * kLanes;  // scale bytes of one row's 16-lane group
  constexpr size_t kPart = VFull::kBytes / 4;
  constexpr size_t kParts = kLanes / kPart;
  const size_t gstride = n * (p.qs + kScale);
  typename VFull::VF facc[kParts][R][C];
  for (size_t h = 0; h < kParts; ++h)
    for (size_t r = 0; r < R; ++r)
      for (size_t c = 0; c < C; ++c) facc[h][r][c] = VFull::LoadF(kZeros);
  const uint8_t* wq[R];
  const uint8_t* sc[R];
  for (size_t r = 0; r < R; ++r) {
    wq[r] = tile + p.qs_offset(n, j0 + r, 0);
    sc[r] = tile + p.scale_offset(n, j0 + r, 0);
  }
  const size_t wstep = p.step_stride(n, 0);
  const ActGroup* xg[C];
  for (size_t c = 0; c < C; ++c) xg[c] = x + c * x_groups;
  for (size_t g = 0; g < p.full; ++g) {
    for (size_t h = 0; h < kParts; ++h) {
      const uint8_t* wqp[R];
      const uint8_t* scp[R];
      for (size_t r = 0; r < R; ++r) {
        wqp[r] = wq[r] + 4 * kPart * h;
        scp[r] = sc[r] + 2 * kPart * h;
      }
      GroupPass<VFull, kQ4, R, C>(wqp, wstep, scp, xg, kPart * h, facc[h]);
    }
    for (size_t r = 0; r < R; ++r) {
      wq[r] += gstride;
      sc[r] += gstride;
    }
    for (size_t c = 0; c < C; ++c) ++xg[c];
  }
  alignas(64) float lanes[R][C][kLanes];
  for (size_t h = 0; h < kParts; ++h)
    for (size_t r = 0; r < R; ++r)
      for (size_t c = 0; c < C; ++c) VFull::StoreF(lanes[r][c] + kPart * h, facc[h][r][c]);
  if (p.half) {
    // The last group (8 lanes): its contributions come last in lanes 0..7, as canonical.
    typename VHalf::VF hacc[R][C];
    for (size_t r = 0; r < R; ++r) {
      wq[r] = tile + p.qs_offset(n, j0 + r, p.full);
      sc[r] = tile + p.scale_offset(n, j0 + r, p.full);
      for (size_t c = 0; c < C; ++c) hacc[r][c] = VHalf::LoadF(lanes[r][c]);
    }
    GroupPass<VHalf, kQ4, R, C>(wq, p.step_stride(n, p.full), sc, xg, 0, hacc);
    for (size_t r = 0; r < R; ++r)
      for (size_t c = 0; c < C; ++c) VHalf::StoreF(lanes[r][c], hacc[r][c]);
  }
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) y[c * y_stride + r] = lane_tree(lanes[r][c]);
}

// Tokens per chunk: the chunk's activations stay in L2 while the row tiles pass over them.
inline constexpr size_t kTokenChunk = 64;

template <bool kQ4>
DGRID_ISA_ATTR void MatmulPacked(const WeightView& w, const ActGroup* x, size_t n_tokens, float* y,
                                 size_t y_stride, size_t row_begin, size_t row_end) {
  const PackedLayout p(w.format, w.rows, w.cols);
  const size_t xg = p.groups();
  for (size_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    const size_t t1 = t0 + kTokenChunk < n_tokens ? t0 + kTokenChunk : n_tokens;
    for (size_t r = row_begin; r < row_end;) {
      const size_t tile = r / kPackTileRows, j = r % kPackTileRows, n = p.tile_rows(tile);
      const uint8_t* base = w.data + p.tile_offset(tile);
      if (j == 0 && n == kPackTileRows && r + kPackTileRows <= row_end) {
        size_t t = t0;
        if constexpr (kTileTokens > 1)
          for (; t + kTileTokens <= t1; t += kTileTokens)
            PackedTile<kQ4, kPackTileRows, kTileTokens>(p, base, n, 0, x + t * xg, xg, y + t * y_stride + r,
                                                        y_stride);
        for (; t < t1; ++t)
          PackedTile<kQ4, kPackTileRows, 1>(p, base, n, 0, x + t * xg, xg, y + t * y_stride + r, y_stride);
        r += kPackTileRows;
      } else {
        for (size_t t = t0; t < t1; ++t)
          PackedTile<kQ4, 1, 1>(p, base, n, j, x + t * xg, xg, y + t * y_stride + r, y_stride);
        ++r;
      }
    }
  }
}
#endif  // DGRID_PACKED_X86

#ifndef DGRID_ISA_ATTR
#define DGRID_ISA_ATTR
#endif

// ---- Elementwise and attention kernels: the scalar sequences of math.cpp and the reference
// backend, lane by lane (every operation is an IEEE basic operation, so the bits match).

using DI = hn::RebindToSigned<DF>;

// exp_f32 (math.cpp) on a vector.
HWY_INLINE VF ExpF32(DF d, VF x) {
  const DI di;
  const VF nan_in = x;
  const auto is_nan = hn::Ne(x, x);
  x = hn::IfThenElse(hn::Gt(x, hn::Set(d, 89.0f)), hn::Set(d, 89.0f), x);
  x = hn::IfThenElse(hn::Lt(x, hn::Set(d, -104.0f)), hn::Set(d, -104.0f), x);
  const VF t = hn::Mul(x, hn::Set(d, 1.44269504088896341f));
  const VF big = hn::Set(d, 12582912.0f);
  const VF n = hn::Sub(hn::Add(t, big), big);
  VF r = hn::Sub(x, hn::Mul(n, hn::Set(d, 0.693359375f)));
  r = hn::Sub(r, hn::Mul(n, hn::Set(d, -2.12194440e-4f)));
  const VF z = hn::Mul(r, r);
  VF p = hn::Set(d, 1.9875691500e-4f);
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 1.3981999507e-3f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 8.3334519073e-3f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 4.1665795894e-2f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 1.6666665459e-1f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 5.0000001201e-1f));
  VF y = hn::Add(hn::Mul(p, z), r);
  y = hn::Add(y, hn::Set(d, 1.0f));
  const auto ni = hn::ConvertTo(di, n);
  // n1 = ni / 2 rounded toward zero (C++ division), n2 = ni - n1.
  const auto negative = hn::BitCast(di, hn::ShiftRight<31>(hn::BitCast(hn::RebindToUnsigned<DF>(), ni)));
  const auto n1 = hn::ShiftRight<1>(hn::Add(ni, negative));
  const auto n2 = hn::Sub(ni, n1);
  const auto bias = hn::Set(di, 127);
  const VF p1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(n1, bias)));
  const VF p2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(n2, bias)));
  return hn::IfThenElse(is_nan, nan_in, hn::Mul(hn::Mul(y, p1), p2));
}

void SiluMul(float* HWY_RESTRICT g, const float* HWY_RESTRICT u, size_t n) {
  const DF d;
  constexpr size_t N = hn::MaxLanes(DF());
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF x = hn::LoadU(d, g + i);
    const VF silu = hn::Div(x, hn::Add(hn::Set(d, 1.0f), ExpF32(d, hn::Neg(x))));
    hn::StoreU(hn::Mul(silu, hn::LoadU(d, u + i)), d, g + i);
  }
  for (; i < n; ++i) g[i] = math::silu_f32(g[i]) * u[i];
}

// quantize_act_packed (kernels.cpp) with the block arithmetic in vectors.
void QuantizePacked(const float* HWY_RESTRICT x, size_t n, ActGroup* HWY_RESTRICT out) {
  const DF d;
  const DI di;
  constexpr size_t N = hn::MaxLanes(DF());
  static_assert(kBlock % N == 0 || N > kBlock, "block of 32 in whole vectors");
  if constexpr (N > kBlock) {
    quantize_act_packed(x, n, out);
    return;
  } else {
    const size_t nb = n / kBlock;
    for (size_t g = 0; g < packed_groups(n); ++g) {
      ActGroup& a = out[g];
      std::memset(&a, 0, sizeof a);
      for (size_t k = 0; k < kLanes && g * kLanes + k < nb; ++k) {
        const float* xb = x + (g * kLanes + k) * kBlock;
        // amax over the block; NaNs count as 0, as in the scalar loop's comparison.
        VF vmax = hn::Zero(d);
        for (size_t i = 0; i < kBlock; i += N) {
          const VF v = hn::LoadU(d, xb + i);
          vmax = hn::Max(vmax, hn::IfThenElseZero(hn::Eq(v, v), hn::Abs(v)));
        }
        const float amax = hn::GetLane(hn::MaxOfLanes(d, vmax));
        const float dd = amax / 127.0f;
        const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
        a.d[k] = dd;
        alignas(64) int32_t q[kBlock];
        auto vsum = hn::Zero(di);
        for (size_t i = 0; i < kBlock; i += N) {
          VF v = hn::Mul(hn::LoadU(d, xb + i), hn::Set(d, id));
          v = hn::IfThenElse(hn::Ge(v, hn::Set(d, -127.0f)), v,
                             hn::IfThenElseZero(hn::Eq(v, v), hn::Set(d, -127.0f)));
          v = hn::IfThenElse(hn::Gt(v, hn::Set(d, 127.0f)), hn::Set(d, 127.0f), v);
          // round_half_away: truncate, then step away from zero when |fraction| >= 0.5.
          auto qi = hn::ConvertTo(di, v);
          const VF frac = hn::Sub(v, hn::ConvertTo(d, qi));
          qi = hn::Sub(qi, hn::VecFromMask(di, hn::RebindMask(di, hn::Ge(frac, hn::Set(d, 0.5f)))));
          qi = hn::Add(qi, hn::VecFromMask(di, hn::RebindMask(di, hn::Le(frac, hn::Set(d, -0.5f)))));
          vsum = hn::Add(vsum, qi);
          hn::Store(qi, di, q + i);
        }
        a.sum[k] = hn::GetLane(hn::SumOfLanes(di, vsum));
        for (size_t i = 0; i < kBlock; ++i) a.qs[(i / 4) * 64 + k * 4 + i % 4] = static_cast<int8_t>(q[i]);
      }
    }
  }
}

#undef DGRID_HAVE_SCORES16
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// Scores of 16 consecutive positions (hd a multiple of 16): the 16 canonical dots, their
// lane trees done together by shuffles. Every stage adds exactly the pairs the tree adds
// (lane l + lane l+8, then +4, +2, +1), only for 16 positions per instruction.
HWY_INLINE void Scores16(const float* HWY_RESTRICT q, const float* HWY_RESTRICT k, size_t kv_stride, size_t hd,
                         float scale, float* HWY_RESTRICT out) {
  __m512 acc[16];
  for (size_t p = 0; p < 16; ++p) acc[p] = _mm512_setzero_ps();
  for (size_t e = 0; e < hd; e += 16) {
    const __m512 qv = _mm512_loadu_ps(q + e);
    for (size_t p = 0; p < 16; ++p)
      acc[p] = _mm512_add_ps(acc[p], _mm512_mul_ps(qv, _mm512_loadu_ps(k + p * kv_stride + e)));
  }
  __m512 x[8], y[4], w[2];
  for (size_t m = 0; m < 8; ++m)  // lanes 0-7: position 2m, 8-15: 2m+1; l + (l+8)
    x[m] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0x44),
                         _mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0xEE));
  for (size_t m = 0; m < 4; ++m)  // quarter i: position 4m+i; l + (l+4)
    y[m] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * m], x[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(x[2 * m], x[2 * m + 1], 0xDD));
  for (size_t m = 0; m < 2; ++m)  // quarter i: positions 8m+i (lanes 0,1), 8m+4+i (2,3); l + (l+2)
    w[m] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(y[2 * m]), _mm512_castps_pd(y[2 * m + 1]))),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(y[2 * m]), _mm512_castps_pd(y[2 * m + 1]))));
  // lane 4i + t: position 4t + i; lane 0 + lane 1
  const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_permutexvar_ps(order, r), _mm512_set1_ps(scale)));
}
#define DGRID_HAVE_SCORES16 1
#endif

// One (token, head) of attention in the reference's order (backend.hpp AttentionArgs):
// scores as canonical dots times the scale, softmax with exp_f32 and the canonical sum,
// then the V rows accumulated in position order, each output element independently.
void AttendOne(const float* HWY_RESTRICT q, const float* HWY_RESTRICT k, const float* HWY_RESTRICT v,
               size_t kv_stride, size_t n_pos, size_t hd, float* HWY_RESTRICT out, float* HWY_RESTRICT scores) {
  const DF d;
  constexpr size_t N = hn::MaxLanes(DF());
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  size_t j = 0;
#ifdef DGRID_HAVE_SCORES16
  if (hd % 16 == 0)
    for (; j + 16 <= n_pos; j += 16) Scores16(q, k + j * kv_stride, kv_stride, hd, scale, scores + j);
#endif
  for (; j < n_pos; ++j) scores[j] = DotF32Impl(q, k + j * kv_stride, hd) * scale;
  float m = -INFINITY;
  for (j = 0; j < n_pos; ++j)
    if (scores[j] > m) m = scores[j];
  for (j = 0; j + N <= n_pos; j += N)
    hn::StoreU(ExpF32(d, hn::Sub(hn::LoadU(d, scores + j), hn::Set(d, m))), d, scores + j);
  for (; j < n_pos; ++j) scores[j] = math::exp_f32(scores[j] - m);
  const float sum = SumF32(scores, n_pos);
  for (j = 0; j + N <= n_pos; j += N) hn::StoreU(hn::Div(hn::LoadU(d, scores + j), hn::Set(d, sum)), d, scores + j);
  for (; j < n_pos; ++j) scores[j] = scores[j] / sum;
  // out[i] = sum over j in order of p_j * v_j[i]: up to 4 vectors of out stay in registers
  // while the positions stream past.
  constexpr size_t kHold = 4;
  size_t i = 0;
  while (i + N <= hd) {
    const size_t nv = std::min(kHold, (hd - i) / N);
    VF o[kHold];
    for (size_t u = 0; u < kHold; ++u) o[u] = hn::Zero(d);
    for (j = 0; j < n_pos; ++j) {
      const VF p = hn::Set(d, scores[j]);
      const float* vj = v + j * kv_stride + i;
      for (size_t u = 0; u < nv; ++u) o[u] = hn::Add(o[u], hn::Mul(p, hn::LoadU(d, vj + u * N)));
    }
    for (size_t u = 0; u < nv; ++u) hn::StoreU(o[u], d, out + i + u * N);
    i += nv * N;
  }
  for (; i < hd; ++i) {
    float o = 0.0f;
    for (j = 0; j < n_pos; ++j) o = o + scores[j] * v[j * kv_stride + i];
    out[i] = o;
  }
}

// The target that actually runs (tests check that forcing a target took effect).
int64_t RunningTarget() { return HWY_TARGET; }

void MatmulRows(const WeightView& w, const void* x, size_t n_tokens, float* y,
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
HWY_EXPORT(SiluMul);
HWY_EXPORT(QuantizePacked);
HWY_EXPORT(AttendOne);
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

void simd_silu_mul(float* g, const float* u, size_t n) noexcept { HWY_DYNAMIC_DISPATCH(SiluMul)(g, u, n); }
void simd_quantize_packed(const float* x, size_t n, ActGroup* out) noexcept {
  HWY_DYNAMIC_DISPATCH(QuantizePacked)(x, n, out);
}
void simd_attend_one(const float* q, const float* k, const float* v, size_t kv_stride, size_t n_pos, size_t hd,
                     float* out, float* scores) noexcept {
  HWY_DYNAMIC_DISPATCH(AttendOne)(q, k, v, kv_stride, n_pos, hd, out, scores);
}

constexpr KernelTable kSimd{"simd",          simd_dot_f32,         simd_sum_f32,   simd_matmul_rows,
                            simd_silu_mul,   simd_quantize_packed, simd_attend_one};

}  // namespace

const KernelTable& simd_kernels() noexcept { return kSimd; }

std::vector<int64_t> simd_targets() { return hwy::SupportedAndGeneratedTargets(); }

void force_simd_target(int64_t target) { hwy::SetSupportedTargetsForTest(target); }

std::string simd_target_name() {
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(RunningTarget)());
}

}  // namespace dgrid::infer::kernels
#endif  // HWY_ONCE
