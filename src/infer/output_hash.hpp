// The output hash receipts commit to: keccak-256 of the output token ids as uint32
// little-endian (DESIGN §5). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <span>

#include "core/bytes.hpp"

namespace dgrid::infer {

Hash32 output_hash(std::span<const uint32_t> token_ids) noexcept;

}  // namespace dgrid::infer
