// scrypt (RFC 7914) key derivation for keystores.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/bytes.hpp"

namespace dgrid::crypto {

// Derives out.size() bytes. OpenSSL's EVP_PBE_scrypt does the work whenever it accepts the
// parameters; it also enforces RFC 7914's N < 2^(16r), which geth and ethers do not (the
// Web3 Secret Storage scrypt test vector itself has n=2^18, r=1), so such parameters fall
// back to scrypt_portable. The caller bounds memory (128*r*n bytes) beforehand.
// invalid_argument for n not a power of two above 1, r or p zero, or r*p >= 2^30.
Result<void> scrypt(std::string_view password, ByteView salt, uint64_t n, uint32_t r, uint32_t p,
                    std::span<uint8_t> out);

// The same function written out here (PBKDF2 from OpenSSL, our own Salsa20/8 ROMix).
Result<void> scrypt_portable(std::string_view password, ByteView salt, uint64_t n, uint32_t r, uint32_t p,
                             std::span<uint8_t> out);

}  // namespace dgrid::crypto
