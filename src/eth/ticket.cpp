#include "eth/ticket.hpp"

#include <cstring>

#include "crypto/eip712.hpp"
#include "crypto/keccak.hpp"

namespace dgrid::eth {

namespace {

constexpr std::string_view kTicketType =
    "Ticket(address recipient,address sender,uint256 faceValue,uint256 winProb,uint256 senderNonce,"
    "bytes32 recipientRandHash,uint256 expirationBlock,bytes32 auxData)";
constexpr std::string_view kDomainType =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";

void put_word(crypto::Keccak256& h, const Hash32& w) noexcept { h.update(w); }
void put_u256(crypto::Keccak256& h, const u256& v) noexcept { h.update(to_be32(v)); }
void put_address(crypto::Keccak256& h, const crypto::Address& a) noexcept {
  Hash32 w{};
  std::memcpy(w.data() + 12, a.bytes.data(), 20);
  h.update(w);
}

}  // namespace

Hash32 dgrid_domain_separator(uint64_t chain_id, const crypto::Address& verifying_contract) noexcept {
  static const Hash32 type_hash = crypto::keccak256(kDomainType);
  static const Hash32 name_hash = crypto::keccak256(std::string_view("dgrid"));
  static const Hash32 version_hash = crypto::keccak256(std::string_view("1"));
  crypto::Keccak256 h;
  put_word(h, type_hash);
  put_word(h, name_hash);
  put_word(h, version_hash);
  put_u256(h, chain_id);
  put_address(h, verifying_contract);
  return h.finalize();
}

// All Ticket fields are static, so hashStruct is keccak256 over 32-byte words; computing it
// directly keeps ticket creation and checking cheap (no JSON, no allocation).
Hash32 ticket_struct_hash(const Ticket& t) noexcept {
  static const Hash32 type_hash = crypto::keccak256(kTicketType);
  crypto::Keccak256 h;
  put_word(h, type_hash);
  put_address(h, t.recipient);
  put_address(h, t.sender);
  put_u256(h, t.face_value);
  put_u256(h, t.win_prob);
  put_u256(h, t.sender_nonce);
  put_word(h, t.recipient_rand_hash);
  put_u256(h, t.expiration_block);
  put_word(h, t.aux_data);
  return h.finalize();
}

Hash32 ticket_digest(const Ticket& t, const Hash32& domain_separator) noexcept {
  return crypto::eip712_digest(domain_separator, ticket_struct_hash(t));
}

crypto::Signature sign_ticket(const Ticket& t, const Hash32& domain_separator, const crypto::PrivateKey& key) noexcept {
  return key.sign(ticket_digest(t, domain_separator));
}

Hash32 recipient_rand_hash(const u256& recipient_rand) noexcept { return crypto::keccak256(to_be32(recipient_rand)); }

bool is_winning(const crypto::Signature& sig, const u256& recipient_rand, const u256& win_prob) noexcept {
  crypto::Keccak256 h;
  h.update(sig.to_rsv());
  h.update(to_be32(recipient_rand));
  Hash32 d = h.finalize();
  u256 v = 0;
  for (uint8_t b : d) v = (v << 8) | b;
  return v < win_prob;
}

u256 win_prob_for(uint64_t numerator, uint64_t denominator) noexcept {
  if (denominator == 0 || numerator >= denominator) return ~u256(0);
  // floor(2^256 * num / den) without overflow: (2^256 - 1) / den * num is within 1 ulp-ish.
  return (~u256(0) / denominator) * numerator;
}

}  // namespace dgrid::eth
