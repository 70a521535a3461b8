// Ticket JSON, the tickets header, ticket parameters and the issuer.
#include "market/ticket_wire.hpp"

#include "market/json_fields.hpp"

namespace dgrid::market {

namespace {

using uint512_t = boost::multiprecision::uint512_t;

std::unexpected<Error> in(const Error& e, std::string_view what) { return std::unexpected(e.context(what)); }

}  // namespace

nlohmann::json ticket_to_json(const eth::SignedTicket& st) {
  const eth::Ticket& t = st.ticket;
  return {
      {"recipient", t.recipient.checksummed()},
      {"sender", t.sender.checksummed()},
      {"face_value", to_dec(t.face_value)},
      {"win_prob", to_hex(to_be32(t.win_prob))},
      {"sender_nonce", to_dec(t.sender_nonce)},
      {"recipient_rand_hash", to_hex(t.recipient_rand_hash)},
      {"expiration_block", to_dec(t.expiration_block)},
      {"aux_data", to_hex(t.aux_data)},
      {"signature", st.sig.hex()},
  };
}

Result<eth::SignedTicket> ticket_from_json(const nlohmann::json& j) {
  namespace f = json_fields;
  if (auto ok = f::expect_keys(j,
                               {"recipient", "sender", "face_value", "win_prob", "sender_nonce", "recipient_rand_hash",
                                "expiration_block", "aux_data", "signature"},
                               "ticket");
      !ok)
    return std::unexpected(ok.error());
  auto recipient = f::address(j, "recipient");
  if (!recipient) return in(recipient.error(), "ticket");
  auto sender = f::address(j, "sender");
  if (!sender) return in(sender.error(), "ticket");
  auto face = f::decimal(j, "face_value");
  if (!face) return in(face.error(), "ticket");
  auto win_prob = f::hex_u256(j, "win_prob");
  if (!win_prob) return in(win_prob.error(), "ticket");
  auto nonce = f::decimal(j, "sender_nonce");
  if (!nonce) return in(nonce.error(), "ticket");
  auto rand_hash = f::hash32(j, "recipient_rand_hash");
  if (!rand_hash) return in(rand_hash.error(), "ticket");
  auto expiration = f::decimal(j, "expiration_block");
  if (!expiration) return in(expiration.error(), "ticket");
  auto aux = f::hash32(j, "aux_data");
  if (!aux) return in(aux.error(), "ticket");
  auto sig = f::signature(j, "signature");
  if (!sig) return in(sig.error(), "ticket");
  eth::SignedTicket st;
  st.ticket = {*recipient, *sender, *face, *win_prob, *nonce, *rand_hash, *expiration, *aux};
  st.sig = *sig;
  return st;
}

std::string encode_tickets_header(std::span<const eth::SignedTicket> tickets) {
  auto array = nlohmann::json::array();
  for (const auto& t : tickets) array.push_back(ticket_to_json(t));
  return array.dump();
}

Result<std::vector<eth::SignedTicket>> tickets_from_json(const nlohmann::json& array) {
  if (!array.is_array()) return fail(Errc::malformed, "tickets: expected a JSON array, got " + json_fields::describe(array));
  if (array.empty()) return fail(Errc::malformed, "tickets: the array is empty");
  if (array.size() > kMaxTicketsPerHeader)
    return fail(Errc::malformed, "tickets: " + std::to_string(array.size()) + " tickets, more than the limit of " +
                                     std::to_string(kMaxTicketsPerHeader));
  std::vector<eth::SignedTicket> out;
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    auto t = ticket_from_json(array[i]);
    if (!t) return in(t.error(), "tickets[" + std::to_string(i) + "]");
    out.push_back(std::move(*t));
  }
  return out;
}

Result<std::vector<eth::SignedTicket>> decode_tickets_header(std::string_view header) {
  const std::string what(kTicketsHeader);
  if (header.size() > kMaxTicketsHeaderBytes)
    return fail(Errc::malformed, what + ": " + std::to_string(header.size()) + " bytes, more than the limit of " +
                                     std::to_string(kMaxTicketsHeaderBytes));
  auto parsed = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return fail(Errc::malformed, what + ": not valid JSON");
  auto tickets = tickets_from_json(parsed);
  if (!tickets) return in(tickets.error(), what);
  return tickets;
}

u256 ticket_ev(const u256& face, const u256& win_prob) noexcept {
  // face * win_prob needs up to 512 bits; the quotient by 2^256 is below face, so it fits.
  uint512_t product = uint512_t(face) * uint512_t(win_prob);
  return static_cast<u256>(product >> 256);
}

nlohmann::json ticket_params_to_json(const TicketParams& p) {
  return {
      {"recipient", p.recipient.checksummed()},
      {"recipient_rand_hash", to_hex(p.recipient_rand_hash)},
      {"face_value", to_dec(p.face_value)},
      {"win_prob", to_hex(to_be32(p.win_prob))},
      {"expiration_block", std::to_string(p.expiration_block)},
      {"broker", p.broker.checksummed()},
      {"chain_id", p.chain_id},
  };
}

Result<TicketParams> ticket_params_from_json(const nlohmann::json& j) {
  namespace f = json_fields;
  constexpr std::string_view kWhat = "ticket_params";
  if (auto ok = f::expect_keys(
          j, {"recipient", "recipient_rand_hash", "face_value", "win_prob", "expiration_block", "broker", "chain_id"},
          kWhat);
      !ok)
    return std::unexpected(ok.error());
  auto recipient = f::address(j, "recipient");
  if (!recipient) return in(recipient.error(), kWhat);
  auto rand_hash = f::hash32(j, "recipient_rand_hash");
  if (!rand_hash) return in(rand_hash.error(), kWhat);
  auto face = f::decimal(j, "face_value");
  if (!face) return in(face.error(), kWhat);
  auto win_prob = f::hex_u256(j, "win_prob");
  if (!win_prob) return in(win_prob.error(), kWhat);
  auto expiration = f::decimal_u64(j, "expiration_block");
  if (!expiration) return in(expiration.error(), kWhat);
  auto broker = f::address(j, "broker");
  if (!broker) return in(broker.error(), kWhat);
  auto chain_id = f::u64(j, "chain_id");
  if (!chain_id) return in(chain_id.error(), kWhat);
  return TicketParams{*recipient, *rand_hash, *face, *win_prob, *expiration, *broker, *chain_id};
}

TicketIssuer::TicketIssuer(crypto::PrivateKey key, const Hash32& domain_separator)
    : key_(std::move(key)), domain_separator_(domain_separator) {}

Result<std::vector<eth::SignedTicket>> TicketIssuer::issue(const TicketParams& params, const u256& amount,
                                                            u256& next_nonce) const {
  std::vector<eth::SignedTicket> out;
  if (amount == 0) return out;
  const u256 ev = ticket_ev(params.face_value, params.win_prob);
  if (ev == 0)
    return fail(Errc::invalid_argument, "ticket params give tickets zero expected value (face_value " +
                                            to_dec(params.face_value) + ", win_prob " + to_hex(to_be32(params.win_prob)) +
                                            ")");
  const u256 count = amount / ev + (amount % ev != 0 ? 1 : 0);  // ceil without overflow
  if (count > kMaxTicketsPerHeader)
    return fail(Errc::invalid_argument, "an amount of " + to_dec(amount) + " needs " + to_dec(count) +
                                            " tickets of EV " + to_dec(ev) + ", more than the limit of " +
                                            std::to_string(kMaxTicketsPerHeader) + " per request");
  const auto n = static_cast<size_t>(count);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    eth::SignedTicket st;
    st.ticket.recipient = params.recipient;
    st.ticket.sender = key_.address();
    st.ticket.face_value = params.face_value;
    st.ticket.win_prob = params.win_prob;
    st.ticket.sender_nonce = next_nonce++;
    st.ticket.recipient_rand_hash = params.recipient_rand_hash;
    st.ticket.expiration_block = params.expiration_block;
    st.sig = eth::sign_ticket(st.ticket, domain_separator_, key_);
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace dgrid::market
