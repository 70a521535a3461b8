// Paying providers: the gateway's own estimate of its credit at each provider, tickets
// issued when a job's maximum cost would not be covered, ticket nonces that survive
// restarts, and the signed headers of a paid request (DESIGN §5, docs/protocol.md).
#include <spdlog/spdlog.h>

#include "node/auth.hpp"
#include "node/gateway_impl.hpp"

namespace dgrid::node {

CreditLedger& Gateway::Impl::ledger(const crypto::Address& provider) {
  std::lock_guard lock(ledger_mu);
  auto& l = ledgers[provider];
  if (!l) l = std::make_unique<CreditLedger>();
  return *l;
}

Result<u256> Gateway::Impl::read_remote_credit(const ProviderRecord& p) {
  net::ClientRequest r;
  r.url = p.url + "/dgrid/v1/credit?sender=" + chain.address().hex();
  r.timeout = std::chrono::milliseconds(5'000);
  r.connect_timeout = std::chrono::milliseconds(1'000);
  auto resp = http.request(r);
  if (!resp) return fail(resp.error().code, "reading credit at " + p.url + ": " + resp.error().message);
  if (resp->status != 200) {
    return fail(Errc::unavailable, "reading credit at " + p.url + ": HTTP " + std::to_string(resp->status));
  }
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  if (!j.is_object() || !j.contains("credit") || !j["credit"].is_string()) {
    return fail(Errc::malformed, "credit answer from " + p.url + " has no \"credit\" string");
  }
  auto c = parse_u256(j["credit"].get<std::string>());
  if (!c) return fail(Errc::malformed, "credit answer from " + p.url + ": " + c.error().message);
  return *c;
}

Result<Payment> Gateway::Impl::prepare_payment(const ProviderRecord& p, const u256& max_cost, bool force_sync) {
  if (!p.ticket_params) return fail(Errc::unavailable, "provider " + p.address.checksummed() + " advertised no ticket parameters");
  const market::TicketParams& params = *p.ticket_params;
  CreditLedger& l = ledger(p.address);
  std::unique_lock lock(l.mu);
  if (!l.synced || force_sync) {
    auto c = read_remote_credit(p);
    if (!c) return std::unexpected(c.error());
    l.known = *c;
    l.synced = true;
  }
  Payment pay;
  pay.provider = p.address;
  u256 available = l.known > l.reserved ? l.known - l.reserved : u256(0);
  // Hysteresis: top up only when the job would not fit, then by the job plus `top_up`, so
  // tickets go out once per many requests rather than with every one.
  const u256 want = max_cost + options.top_up;
  if (available < max_cost) {
    u256 amount = want - available;
    // A header holds at most kMaxTicketsPerHeader tickets: ask for no more than they carry
    // (a small face value then pays for the job over several requests' top-ups).
    u256 ev_each = market::ticket_ev(params.face_value, params.win_prob);
    if (ev_each == 0) return fail(Errc::invalid_argument, "provider " + p.address.checksummed() + " asks for tickets worth nothing");
    u256 cap = ev_each * market::kMaxTicketsPerHeader;
    if (amount > cap) amount = cap;
    // Nonces: one persistent counter per provider, 2^20 nonces per draw, so that a ticket is
    // never signed twice with the same nonce even across restarts.
    auto draw = state.next_counter("gateway.ticket_nonce." + p.address.hex());
    if (!draw) return fail(draw.error().code, "ticket nonce: " + draw.error().message);
    u256 nonce = u256(*draw) << 20;
    auto tickets = issuer.issue(params, amount, nonce);
    if (!tickets) return fail(tickets.error().code, "issuing tickets for " + p.address.checksummed() + ": " + tickets.error().message);
    pay.tickets = std::move(*tickets);
    for (const auto& t : pay.tickets) pay.ev += market::ticket_ev(t.ticket.face_value, t.ticket.win_prob);
    l.known += pay.ev;
    if (available + pay.ev < max_cost) {
      spdlog::warn("gateway: credit at {} stays short of a job's max cost {} (the ticket face value is small)",
                   p.address.checksummed(), to_dec(max_cost));
    }
  }
  l.reserved += max_cost;
  pay.reserved = max_cost;
  lock.unlock();  // bookkeeping below needs no ledger lock (and the database is shared)
  if (!pay.tickets.empty()) {
    stats.tickets_sent += pay.tickets.size();
    {
      std::lock_guard s(stats.mu);
      stats.ticket_ev_sent += pay.ev;
    }
    metrics.tickets_sent.inc(static_cast<double>(pay.tickets.size()));
    metrics.ticket_ev_sent.inc(pay.ev.convert_to<double>());
    if (auto r = state.add_sent_credit(p.address, pay.ev); !r) spdlog::warn("gateway: recording sent credit: {}", r.error().message);
  }
  return pay;
}

void Gateway::Impl::settle_payment(const Payment& pay, const std::optional<u256>& charged, bool uncertain) {
  CreditLedger& l = ledger(pay.provider);
  std::lock_guard lock(l.mu);
  l.reserved = l.reserved > pay.reserved ? l.reserved - pay.reserved : u256(0);
  if (charged) l.known = l.known > *charged ? l.known - *charged : u256(0);
  // The request may or may not have reached the provider with its tickets (or been charged):
  // ask it before trusting our estimate again.
  if (uncertain) l.synced = false;
}

net::Headers Gateway::Impl::paid_headers(std::string_view method, std::string_view path, std::string_view body,
                                         const Payment& pay) const {
  net::Headers h;
  h.emplace_back("X-Dgrid-Auth", sign_request(chain.key(), method, path, body));
  if (!pay.tickets.empty()) h.emplace_back(std::string(market::kTicketsHeader), market::encode_tickets_header(pay.tickets));
  return h;
}

}  // namespace dgrid::node
