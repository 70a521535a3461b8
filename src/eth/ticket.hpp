// TicketBroker's probabilistic payment tickets: the EIP-712 struct, its digest, signing and
// the winning rule, exactly as contracts/TicketBroker.sol checks them (docs/contracts.md).
#pragma once

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::eth {

struct Ticket {
  crypto::Address recipient;
  crypto::Address sender;
  u256 face_value = 0;
  u256 win_prob = 0;  // wins iff keccak256(sig || recipient_rand) < win_prob (2^256 scale)
  u256 sender_nonce = 0;
  Hash32 recipient_rand_hash{};  // keccak256(uint256 recipient_rand, big-endian)
  u256 expiration_block = 0;
  Hash32 aux_data{};

  bool operator==(const Ticket&) const = default;
};

// EIP-712 domain {name "dgrid", version "1", chainId, verifyingContract}: every dgrid
// contract that verifies signatures uses this form with its own address.
Hash32 dgrid_domain_separator(uint64_t chain_id, const crypto::Address& verifying_contract) noexcept;

// hashStruct(Ticket) and the digest the sender signs (also the contract's usedTickets key).
Hash32 ticket_struct_hash(const Ticket& t) noexcept;
Hash32 ticket_digest(const Ticket& t, const Hash32& domain_separator) noexcept;

crypto::Signature sign_ticket(const Ticket& t, const Hash32& domain_separator, const crypto::PrivateKey& key) noexcept;

// keccak256(recipient_rand as a 32-byte big-endian word).
Hash32 recipient_rand_hash(const u256& recipient_rand) noexcept;

// keccak256(sig65 || recipient_rand) < win_prob.
bool is_winning(const crypto::Signature& sig, const u256& recipient_rand, const u256& win_prob) noexcept;

// win_prob for a probability given as numerator/denominator (e.g. 1/1000).
u256 win_prob_for(uint64_t numerator, uint64_t denominator) noexcept;

}  // namespace dgrid::eth
