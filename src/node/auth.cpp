#include "node/auth.hpp"

#include <charconv>
#include <cstdio>
#include <random>

#include "crypto/keccak.hpp"

namespace dgrid::node {
namespace {

Hash32 request_digest(std::string_view method, std::string_view path, std::string_view body, uint64_t unix_ms,
                      std::string_view nonce) {
  crypto::Keccak256 h;
  h.update(as_bytes(method));
  h.update(as_bytes(path));
  h.update(as_bytes(std::to_string(unix_ms) + "." + std::string(nonce)));
  h.update(crypto::keccak256(body));
  Hash32 inner = h.finalize();
  return crypto::personal_message_digest(inner);
}

}  // namespace

uint64_t unix_ms_now() noexcept {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string random_nonce() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string sign_request(const crypto::PrivateKey& key, std::string_view method, std::string_view path,
                         std::string_view body, uint64_t unix_ms) {
  std::string nonce = random_nonce();
  return std::to_string(unix_ms) + "." + nonce + "." + key.sign(request_digest(method, path, body, unix_ms, nonce)).hex();
}

std::string sign_request(const crypto::PrivateKey& key, std::string_view method, std::string_view path,
                         std::string_view body) {
  return sign_request(key, method, path, body, unix_ms_now());
}

Result<crypto::Address> RequestVerifier::verify(std::string_view header, std::string_view method,
                                                std::string_view path, std::string_view body) {
  return verify(header, method, path, body, unix_ms_now());
}

Result<crypto::Address> RequestVerifier::verify(std::string_view header, std::string_view method,
                                                std::string_view path, std::string_view body,
                                                uint64_t now_unix_ms) {
  if (header.empty()) return fail(Errc::permission_denied, "missing X-Dgrid-Auth header (sender signature)");
  auto dot = header.find('.');
  auto dot2 = dot == std::string_view::npos ? dot : header.find('.', dot + 1);
  if (dot2 == std::string_view::npos) {
    return fail(Errc::malformed, "X-Dgrid-Auth must be <unix_ms>.<nonce>.<0x signature>");
  }
  auto nonce = header.substr(dot + 1, dot2 - dot - 1);
  if (nonce.empty() || nonce.size() > 64) return fail(Errc::malformed, "X-Dgrid-Auth nonce must be 1 to 64 characters");
  uint64_t ts = 0;
  auto ts_text = header.substr(0, dot);
  auto [ptr, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ts);
  if (ec != std::errc() || ptr != ts_text.data() + ts_text.size()) {
    return fail(Errc::malformed, "X-Dgrid-Auth timestamp is not a decimal unix time in milliseconds");
  }
  uint64_t window = static_cast<uint64_t>(window_.count());
  if (ts + window < now_unix_ms || ts > now_unix_ms + window) {
    return fail(Errc::permission_denied, "X-Dgrid-Auth timestamp is more than " + std::to_string(window / 1000) +
                                             " s away from the provider's clock (check the sender's clock)");
  }
  auto raw = from_hex(header.substr(dot2 + 1));
  if (!raw || raw->size() != 65) return fail(Errc::malformed, "X-Dgrid-Auth signature must be 65 bytes of 0x-hex");
  auto sig = crypto::Signature::from_rsv(*raw);
  if (!sig) return fail(Errc::crypto, "X-Dgrid-Auth signature: " + sig.error().message);
  auto who = crypto::recover_address(request_digest(method, path, body, ts, nonce), *sig);
  if (!who) return fail(Errc::crypto, "X-Dgrid-Auth signature does not recover: " + who.error().message);

  std::lock_guard lock(mu_);
  while (!seen_order_.empty() && seen_order_.front().first + 2 * window < now_unix_ms) {
    seen_.erase(seen_order_.front().second);
    seen_order_.pop_front();
  }
  std::string key(header.substr(dot2 + 1));
  if (!seen_.insert(key).second) return fail(Errc::already_exists, "X-Dgrid-Auth signature was already used (replayed request)");
  seen_order_.emplace_back(ts, std::move(key));
  return *who;
}

}  // namespace dgrid::node
