// The canonical request: what a job's output is a deterministic function of, its Solidity
// ABI encoding (what Disputes.sol receives and jurors re-execute) and its hash, the
// receipt's input_hash. The format is fixed by the marketplace protocol:
//   abi.encode(bytes32 model, uint32[] prompt, uint32 maxTokens, uint32 temperatureBits,
//              uint32 topK, uint32 topPBits, uint64 seed, string[] stop)
// with the floats as their IEEE-754 binary32 bit patterns. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.hpp"

namespace dgrid::market {

struct CanonicalRequest {
  Hash32 model{};                 // SHA-256 of the GGUF file bytes (the on-chain model id)
  std::vector<uint32_t> prompt;   // token ids, chat template already applied
  uint32_t max_tokens = 0;
  float temperature = 0.0f;       // 0 = greedy
  uint32_t top_k = 0;             // 0 = no top-k cut
  float top_p = 1.0f;
  uint64_t seed = 0;
  std::vector<std::string> stop;  // stop strings, in the order the user gave them

  // Bitwise on the floats, so that a request equals its own decoding even for -0.0.
  bool operator==(const CanonicalRequest& other) const noexcept;
};

// Bounds on what a canonical request may hold; decode_canonical and validate_canonical
// refuse anything larger so that hostile input cannot make a node allocate without limit.
inline constexpr size_t kMaxPromptTokens = size_t{1} << 18;
inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopBytes = 256;
// Word-aligned encoding of the largest valid request (with room to spare).
inline constexpr size_t kMaxCanonicalBytes = 32 * (kMaxPromptTokens + 3 * kMaxStopStrings + 32) +
                                             kMaxStopStrings * kMaxStopBytes;

// The semantic rules decode_canonical enforces: a non-empty prompt within kMaxPromptTokens,
// finite temperature >= 0, finite top_p in [0, 1], at most kMaxStopStrings stop strings,
// each 1..kMaxStopBytes bytes of valid UTF-8. Errc::invalid_argument naming the field.
Result<void> validate_canonical(const CanonicalRequest& r);

// abi.encode(...) as above. Encodes any request, valid or not; validate first where the
// request comes from outside.
Bytes encode_canonical(const CanonicalRequest& r);

// The strict inverse: only bytes encode_canonical produces for a valid request decode
// (re-encoding gives back exactly `data`). Errc::malformed for ABI-level faults (bad
// offsets, padding, trailing bytes, oversize), Errc::invalid_argument for rule violations.
Result<CanonicalRequest> decode_canonical(ByteView data);

// keccak256(encode_canonical(r)): the receipt's input_hash.
Hash32 input_hash(const CanonicalRequest& r);

}  // namespace dgrid::market
