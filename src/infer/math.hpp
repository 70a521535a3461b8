// The engine's own elementary functions (DESIGN §6): fixed sequences of IEEE-754 basic
// operations (+ - * / and exact conversions), no libm and no FMA, so every platform and
// every backend (scalar, SIMD, CUDA with fmad disabled) computes the same bits. The exact
// operation sequences are the definition; docs/determinism.md lists them. Pure; thread-safe.
#pragma once

#include <cstdint>

namespace dgrid::infer::math {

// e^x in float. Max error about 2 ulp on the normal range (tests/infer/math_test.cpp
// measures it against libm); exp(-inf) = 0, exp(+inf) = inf, NaN -> NaN; results below
// the normal range underflow gradually to subnormals and then +0.
float exp_f32(float x) noexcept;

// x * sigmoid(x) computed as x / (1 + exp_f32(-x)).
float silu_f32(float x) noexcept;

// Double-precision helpers for one-off constants (RoPE frequencies and angles): about
// 1 ulp in double, so the float rounding of their result is almost always the correctly
// rounded one, and in any case the same everywhere.
double exp_f64(double x) noexcept;
double log_f64(double x) noexcept;  // x > 0 finite; log(0) = -inf; x < 0 or NaN -> NaN
// sin and cos of x (|x| up to ~1e9; beyond that range reduction loses accuracy but stays
// deterministic).
void sincos_f64(double x, double* sin_out, double* cos_out) noexcept;

// Round to nearest integer, ties away from zero, for |x| < 2^22 (exact: no libm, no
// rounding-mode dependence).
int32_t round_half_away(float x) noexcept;

}  // namespace dgrid::infer::math
