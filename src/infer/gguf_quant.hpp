// ggml's reference block quantizers and dequantizers for Q8_0 and Q4_0, bit-exact with
// quantize_row_q8_0_ref / quantize_row_q4_0_ref (docs/formats/gguf.md describes the rules).
// Pure, noexcept, thread-safe. Block pointers may be unaligned byte buffers (the mmap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "infer/gguf.hpp"

namespace dgrid::infer {

// n must be a multiple of 32; dst receives n / 32 blocks (34 bytes each for Q8_0, 18 for Q4_0).
void quantize_row_q8_0(const float* src, uint8_t* dst, size_t n) noexcept;
void quantize_row_q4_0(const float* src, uint8_t* dst, size_t n) noexcept;
void dequantize_row_q8_0(const uint8_t* src, float* dst, size_t n) noexcept;
void dequantize_row_q4_0(const uint8_t* src, float* dst, size_t n) noexcept;

// n elements of type t (F32, F16, Q8_0, Q4_0) from src into floats / from floats into dst.
// Fails (invalid_argument) when n is not a whole number of blocks.
Result<void> dequantize_row(GgmlType t, const uint8_t* src, float* dst, size_t n);
Result<void> quantize_row(GgmlType t, const float* src, uint8_t* dst, size_t n);

// Round half away from zero, like C's roundf, without libm (exact for every float).
float round_half_away(float v) noexcept;

}  // namespace dgrid::infer
