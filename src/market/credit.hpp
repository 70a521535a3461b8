// Provider-side ticket validation: whether a ticket a sender offers is worth crediting, and
// the recipient-rand derivation behind the recipient_rand_hash a provider advertises.
// Pure functions; thread-safe as long as TicketCheck::recipient_rand is.
//
// Not checked here: replay. A ticket whose digest was seen before must be refused by the
// caller, which keeps the set of accepted digests durably (a restart must not forget them,
// or a sender could be credited twice for one ticket). The digest is in AcceptedTicket.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"
#include "market/ticket_wire.hpp"

namespace dgrid::market {

struct TicketCheck {
  crypto::Address me;        // the only recipient accepted
  Hash32 domain_separator{};  // TicketBroker's EIP-712 domain
  uint64_t current_block = 0;
  uint64_t min_blocks_left = 5;  // refuse tickets expiring sooner: redemption needs time
  u256 expected_win_prob = 0;    // what this provider advertises
  u256 max_face_value = 0;       // from the sender's deposit/reserve (see max_float)
  // The recipient_rand behind a hash this provider handed out, or nullopt if unknown.
  std::function<std::optional<u256>(const Hash32& rand_hash)> recipient_rand;
};

struct AcceptedTicket {
  eth::SignedTicket ticket;  // with recipient_rand filled in
  Hash32 digest{};           // EIP-712 digest: the contract's usedTickets key, the replay key
  u256 ev = 0;               // credit to add: ticket_ev(face_value, win_prob)
  bool winning = false;      // redeemable on chain: keep durably and redeem before expiry
};

// Checks, cheapest first: non-zero face value, recipient, known recipient_rand_hash, win_prob
// as advertised, expiry at least min_blocks_left blocks away, face value within
// max_face_value, and last the signature (low s, recovering to the ticket's sender).
// Errc::permission_denied for a signature not from the sender, Errc::invalid_argument for
// the rest; every message says what was expected and what the ticket had.
// Error::payload of a refusal caused by stale parameters (an unknown recipient_rand_hash, an
// expired or expiring ticket): the sender should re-read /dgrid/v1/info and issue new tickets.
inline constexpr std::string_view kStaleTicketParams = "stale_ticket_params";
inline bool is_stale_ticket_error(const Error& e) noexcept {
  return std::string_view(reinterpret_cast<const char*>(e.payload.data()), e.payload.size()) == kStaleTicketParams;
}

Result<AcceptedTicket> check_ticket(const eth::SignedTicket& t, const TicketCheck& check);

// The most a single winning ticket from a sender is sure to pay this recipient: the deposit
// plus this recipient's share of the reserve, reserve / max(1, active_recipients), as
// TicketBroker allocates a frozen reserve.
u256 max_float(const u256& deposit, const u256& reserve, uint64_t active_recipients) noexcept;

// keccak256(secret || index as 8 bytes big-endian) as a uint256: a provider derives one
// recipient_rand per index from one secret, so it can recreate any of them after a restart
// by storing only the secret and the indices in use.
u256 derive_recipient_rand(const Hash32& secret, uint64_t index) noexcept;

}  // namespace dgrid::market
