// EIP-712 typed-data documents on hostile input: parsing, type validation and hashing must
// return errors, never crash, recurse without bound or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/eip712.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool infer : {false, true}) {
    auto td = dgrid::crypto::TypedData::parse(text, {.infer_domain_type = infer});
    if (!td) continue;
    auto digest = td->digest();
    // Hashing is a pure function of the document: a second pass must agree.
    auto again = td->digest();
    if (digest.has_value() != again.has_value() || (digest && *digest != *again)) __builtin_trap();
    if (auto enc = td->types.encode_type(td->primary_type); !enc) __builtin_trap();
  }
  return 0;
}
