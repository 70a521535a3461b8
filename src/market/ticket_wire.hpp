// Payment tickets on the wire: the ticket JSON object, the X-Dgrid-Tickets request header
// (a compact JSON array), the ticket parameters a provider advertises in /info, expected
// values, and the sender-side issuer. Pure; thread-safety noted per item.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"
// eth::SignedTicket lives with the contract bindings; only the plain struct is used here,
// nothing from the I/O side of dgrid_eth.
#include "eth/bindings.hpp"
#include "eth/ticket.hpp"

namespace dgrid::market {

inline constexpr std::string_view kTicketsHeader = "X-Dgrid-Tickets";
inline constexpr size_t kMaxTicketsPerHeader = 64;
// 64 tickets of ~700 bytes each, with room to spare; longer headers are refused unparsed.
inline constexpr size_t kMaxTicketsHeaderBytes = 64 * 1024;

// {"recipient","sender" (EIP-55),"face_value" (decimal),"win_prob" (0x + 64 hex digits),
//  "sender_nonce" (decimal),"recipient_rand_hash","expiration_block" (decimal),"aux_data",
//  "signature" (0x r||s||v)}. recipient_rand never travels with the ticket: only the
// recipient knows it.
nlohmann::json ticket_to_json(const eth::SignedTicket& t);
// Strict inverse (every field, no unknown ones; win_prob accepts 1..64 hex digits).
// recipient_rand is left 0. Does not check the signature: see check_ticket (credit.hpp).
Result<eth::SignedTicket> ticket_from_json(const nlohmann::json& j);

std::string encode_tickets_header(std::span<const eth::SignedTicket> tickets);
// 1..kMaxTicketsPerHeader tickets; Errc::malformed saying which ticket and field is wrong.
Result<std::vector<eth::SignedTicket>> decode_tickets_header(std::string_view header);
// The array form (also the body of POST /dgrid/v1/credit under "tickets"), same limits.
Result<std::vector<eth::SignedTicket>> tickets_from_json(const nlohmann::json& array);

// A ticket's expected value in token base units: floor(face * win_prob / 2^256).
u256 ticket_ev(const u256& face, const u256& win_prob) noexcept;

// What a provider asks senders to put in their tickets (the /info "ticket_params" object).
struct TicketParams {
  crypto::Address recipient;
  Hash32 recipient_rand_hash{};
  u256 face_value = 0;
  u256 win_prob = 0;
  uint64_t expiration_block = 0;
  crypto::Address broker;  // the TicketBroker: the tickets' EIP-712 verifying contract
  uint64_t chain_id = 0;

  bool operator==(const TicketParams&) const = default;
};

// {"recipient","recipient_rand_hash","face_value" (decimal),"win_prob" (0x hex),
//  "expiration_block" (decimal),"broker","chain_id" (number)}
nlohmann::json ticket_params_to_json(const TicketParams& p);
Result<TicketParams> ticket_params_from_json(const nlohmann::json& j);

// Signs tickets for a sender (the gateway). Immutable after construction; safe for
// concurrent use, but each caller must own the nonce counter it passes in.
class TicketIssuer {
 public:
  TicketIssuer(crypto::PrivateKey key, const Hash32& domain_separator);

  const crypto::Address& sender() const noexcept { return key_.address(); }

  // The fewest tickets under `params` whose total EV is at least `amount` (none for 0).
  // Nonces are taken from next_nonce, which is advanced; the caller persists it before the
  // tickets leave (a reused nonce makes a duplicate ticket the provider refuses).
  // Errc::invalid_argument when the params give tickets zero EV, or when more than
  // kMaxTicketsPerHeader tickets would be needed (the face value is too small for `amount`).
  Result<std::vector<eth::SignedTicket>> issue(const TicketParams& params, const u256& amount, u256& next_nonce) const;

 private:
  crypto::PrivateKey key_;
  Hash32 domain_separator_;
};

}  // namespace dgrid::market
