// Web3 Secret Storage v3 keystores (geth/ethers compatible): scrypt or pbkdf2-sha256 KDF,
// AES-128-CTR, MAC = keccak256(derived_key[16..32] || ciphertext).
//
// Passwords are used as their raw bytes, as geth does. ethers NFKC-normalizes passwords
// first, so non-ASCII passwords should be normalized by the caller for ethers interop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "crypto/address.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::crypto {

struct ScryptParams {
  uint64_t n = 262144;  // CPU/memory cost, a power of two
  uint32_t r = 8;
  uint32_t p = 1;
};
// geth's "standard" parameters: ~256 MiB and about a second per derivation.
inline constexpr ScryptParams kScryptStandard{262144, 8, 1};
// geth's "light" parameters (4 MiB): for tests and devnets only.
inline constexpr ScryptParams kScryptLight{4096, 8, 6};

// Bounds on KDF parameters read from a file, so a hostile keystore cannot make us allocate
// absurd memory or spin for hours. Defaults admit everything geth and ethers write.
struct KeystoreLimits {
  uint64_t max_scrypt_memory = uint64_t{1} << 30;  // 128 * r * n bytes
  uint64_t max_scrypt_work = uint64_t{1} << 25;    // n * r * p (geth standard: 2^21)
  uint64_t max_pbkdf2_iterations = 10'000'000;
};

// Decrypts a keystore. Errors: malformed (not a v3 keystore, bad hex, unknown cipher/KDF),
// unsupported (KDF parameters beyond `limits`), crypto "wrong password" (MAC mismatch) or
// crypto when the address field does not match the decrypted key.
Result<PrivateKey> decrypt_keystore(const nlohmann::json& keystore, std::string_view password,
                                    const KeystoreLimits& limits = {});
Result<PrivateKey> decrypt_keystore(std::string_view json_text, std::string_view password,
                                    const KeystoreLimits& limits = {});

// The "address" field, without decrypting (not authenticated until decryption succeeds).
Result<Address> keystore_address(const nlohmann::json& keystore);

// A new v3 keystore with scrypt, a random salt, IV and uuid v4 id; "address" is lower-case
// hex without 0x, as geth writes it. invalid_argument for unusable scrypt parameters.
Result<nlohmann::json> encrypt_keystore(const PrivateKey& key, std::string_view password,
                                        const ScryptParams& params = kScryptStandard);

// A random RFC 4122 version 4 UUID, lower-case "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
std::string uuid_v4();

// Reads and decrypts a keystore file (at most 1 MiB).
Result<PrivateKey> load_keystore(const std::filesystem::path& path, std::string_view password,
                                 const KeystoreLimits& limits = {});
// Encrypts and writes atomically with mode 0600 (see write_file_atomic).
Result<void> save_keystore(const std::filesystem::path& path, const PrivateKey& key, std::string_view password,
                           const ScryptParams& params = kScryptStandard);
// Writes a temporary file in the same directory, fsyncs it, renames it over `path` and
// fsyncs the directory: readers see the old or the new content, never a torn file.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode = 0600);

}  // namespace dgrid::crypto
