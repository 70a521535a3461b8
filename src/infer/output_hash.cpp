#include "infer/output_hash.hpp"

#include "crypto/keccak.hpp"

namespace dgrid::infer {

Hash32 output_hash(std::span<const uint32_t> token_ids) noexcept {
  crypto::Keccak256 h;
  for (uint32_t id : token_ids) {
    const uint8_t le[4] = {static_cast<uint8_t>(id), static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id >> 16),
                           static_cast<uint8_t>(id >> 24)};
    h.update(ByteView(le, 4));
  }
  return h.finalize();
}

}  // namespace dgrid::infer
