// X-Dgrid-Auth: how a sender (a gateway) proves to a provider who it is on each request, so
// the provider knows whose credit to charge (docs/protocol.md).
//
//   X-Dgrid-Auth: <unix_ms>.<nonce>.<0x 65-byte signature>
//   signed digest = EIP-191 personal_sign over
//                   keccak256(METHOD || PATH || unix_ms || "." || nonce || keccak256(body))
//
// The timestamp bounds replays to a window; the provider also remembers recent signatures
// inside that window, so a captured request cannot be replayed to spend the sender's credit.
// The nonce (16 random hex digits) makes every signature unique, so a sender may send the
// same body twice in one millisecond (signatures are deterministic, RFC 6979) without the
// timestamp having to run ahead of the clock.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "crypto/secp256k1.hpp"

namespace dgrid::node {

inline constexpr std::string_view kAuthHeader = "x-dgrid-auth";
inline constexpr std::string_view kTicketsHeader = "x-dgrid-tickets";

// The header value for a request signed by `key` at `unix_ms` (a fresh random nonce each call).
std::string sign_request(const crypto::PrivateKey& key, std::string_view method, std::string_view path,
                         std::string_view body, uint64_t unix_ms);
std::string sign_request(const crypto::PrivateKey& key, std::string_view method, std::string_view path,
                         std::string_view body);

// Verifies a header value and returns the signer. Errors say what was wrong (missing,
// malformed, stale timestamp, bad signature, replayed).
class RequestVerifier {
 public:
  explicit RequestVerifier(std::chrono::milliseconds window = std::chrono::seconds(60)) : window_(window) {}
  Result<crypto::Address> verify(std::string_view header, std::string_view method, std::string_view path,
                                 std::string_view body, uint64_t now_unix_ms);
  Result<crypto::Address> verify(std::string_view header, std::string_view method, std::string_view path,
                                 std::string_view body);

 private:
  std::chrono::milliseconds window_;
  std::mutex mu_;
  // Signatures seen inside the window, oldest first, for replay rejection.
  std::deque<std::pair<uint64_t, std::string>> seen_order_;
  std::unordered_set<std::string> seen_;
};

uint64_t unix_ms_now() noexcept;

}  // namespace dgrid::node
