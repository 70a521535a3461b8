// RLP decoder fuzzer. Property: whatever the strict decoder accepts is canonical, so
// re-encoding the decoded tree must reproduce the input byte for byte.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "eth/rlp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  ByteView in(data, size);
  auto node = eth::rlp::decode(in);
  if (!node) return 0;
  Bytes again;
  eth::rlp::encode(again, *node);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  // Integers read through the Reader must also be canonical.
  if (!node->is_list) {
    if (auto v = node->as_uint(); v && eth::rlp::encoded(*v) != again) std::abort();
  }
  return 0;
}
