// Keystore parsing and decryption on hostile input. The limits make any KDF the input asks
// for cheap (work <= 2^10, pbkdf2 <= 1000 rounds), so the fuzzer explores the parser and the
// rejection paths rather than spending its time in scrypt.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/keystore.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dgrid::crypto::KeystoreLimits kTiny{
      .max_scrypt_memory = 1 << 20, .max_scrypt_work = 1 << 10, .max_pbkdf2_iterations = 1000};
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto key = dgrid::crypto::decrypt_keystore(text, "fuzz", kTiny);
  if (key) {
    // A keystore that decrypts must round-trip through our own writer.
    auto again = dgrid::crypto::encrypt_keystore(*key, "fuzz", dgrid::crypto::ScryptParams{2, 1, 1});
    if (!again) __builtin_trap();
    auto back = dgrid::crypto::decrypt_keystore(*again, "fuzz", kTiny);
    if (!back || back->secret() != key->secret()) __builtin_trap();
  }
  return 0;
}
