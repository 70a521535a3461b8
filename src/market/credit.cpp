// Ticket validation for providers.
#include "market/credit.hpp"

#include "crypto/keccak.hpp"

namespace dgrid::market {

namespace {

std::unexpected<Error> refuse(std::string message) { return fail(Errc::invalid_argument, "ticket refused: " + message); }
// A refusal the sender cures by re-reading the provider's ticket parameters.
std::unexpected<Error> refuse_stale(std::string message) {
  return std::unexpected(Error(Errc::invalid_argument, "ticket refused: " + message,
                               Bytes(kStaleTicketParams.begin(), kStaleTicketParams.end())));
}

}  // namespace

Result<AcceptedTicket> check_ticket(const eth::SignedTicket& st, const TicketCheck& check) {
  const eth::Ticket& t = st.ticket;
  if (t.face_value == 0) return refuse("face value is zero");
  if (t.recipient != check.me)
    return refuse("recipient is " + t.recipient.checksummed() + ", not this provider " + check.me.checksummed());
  std::optional<u256> rand = check.recipient_rand ? check.recipient_rand(t.recipient_rand_hash) : std::nullopt;
  if (!rand) return refuse_stale("unknown recipient_rand_hash " + to_hex(t.recipient_rand_hash) + " (fetch /info for current ticket params)");
  if (eth::recipient_rand_hash(*rand) != t.recipient_rand_hash)
    return fail(Errc::internal, "recipient_rand lookup returned a value that does not hash to " + to_hex(t.recipient_rand_hash));
  if (t.win_prob != check.expected_win_prob)
    return refuse("win_prob " + to_hex(to_be32(t.win_prob)) + " is not the advertised " +
                  to_hex(to_be32(check.expected_win_prob)));
  const u256 needed = u256(check.current_block) + check.min_blocks_left;
  if (t.expiration_block < check.current_block)
    return refuse_stale("expired at block " + to_dec(t.expiration_block) + " (current block " +
                  std::to_string(check.current_block) + ")");
  if (t.expiration_block < needed)
    return refuse_stale("expires at block " + to_dec(t.expiration_block) + ", fewer than " +
                  std::to_string(check.min_blocks_left) + " blocks after the current block " +
                  std::to_string(check.current_block));
  if (t.face_value > check.max_face_value)
    return refuse("face value " + to_dec(t.face_value) + " exceeds what the sender's deposit and reserve cover (" +
                  to_dec(check.max_face_value) + ")");
  const Hash32 digest = eth::ticket_digest(t, check.domain_separator);
  auto signer = crypto::recover_address(digest, st.sig);
  if (!signer) return fail(Errc::permission_denied, "ticket refused: bad signature: " + signer.error().message);
  if (*signer != t.sender)
    return fail(Errc::permission_denied, "ticket refused: signed by " + signer->checksummed() + ", not by its sender " +
                                             t.sender.checksummed());
  AcceptedTicket out;
  out.ticket = st;
  out.ticket.recipient_rand = *rand;
  out.digest = digest;
  out.ev = ticket_ev(t.face_value, t.win_prob);
  out.winning = eth::is_winning(st.sig, *rand, t.win_prob);
  return out;
}

u256 max_float(const u256& deposit, const u256& reserve, uint64_t active_recipients) noexcept {
  const u256 share = reserve / (active_recipients == 0 ? 1 : active_recipients);
  // Saturate: deposit + share can only wrap for amounts no token supply reaches.
  return deposit > ~u256(0) - share ? ~u256(0) : deposit + share;
}

u256 derive_recipient_rand(const Hash32& secret, uint64_t index) noexcept {
  crypto::Keccak256 h;
  h.update(secret);
  FixedBytes<8> be{};
  for (int i = 0; i < 8; ++i) be[static_cast<size_t>(i)] = static_cast<uint8_t>(index >> (56 - 8 * i));
  h.update(be);
  const Hash32 d = h.finalize();
  return *from_be(d);
}

}  // namespace dgrid::market
