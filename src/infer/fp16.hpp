// IEEE-754 binary16 <-> binary32 conversions done with integer bit manipulation only, so
// the results are exact and identical on every platform and compiler (no libm, no F16C
// dependence). Pure; thread-safe.
#pragma once

#include <cstdint>

namespace dgrid::infer {

// Exact: every half (normal, subnormal, +-0, +-inf, NaN) maps to the float of the same
// value; a NaN keeps its sign and payload (shifted into the top mantissa bits).
float fp16_to_fp32(uint16_t h) noexcept;

// Round-to-nearest-even, as the hardware (F16C, ARM FCVT) does: overflow goes to +-inf,
// tiny values to subnormals or +-0; a NaN stays a NaN (quiet, sign and top payload bits
// kept), never turning into infinity.
uint16_t fp32_to_fp16(float f) noexcept;

}  // namespace dgrid::infer
