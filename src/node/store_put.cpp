// Storing a file: the client's half of a deal (store_client.hpp: put_file).
#include <thread>

#include "node/chain.hpp"
#include "node/store_client.hpp"

namespace dgrid::node {

Result<PutResult> put_file(ChainContext& chain, const std::filesystem::path& file, const store::ContentSummary& summary,
                           const PutOptions& options, const PutEvents& events) {
  auto say = [&](const std::string& s) {
    if (events.step) events.step(s);
  };
  const auto& c = chain.contracts();
  if (options.storer_urls.empty()) return fail(Errc::unavailable, "no storer to upload to: none is registered on this chain");
  auto balance = c.token.balance_of(chain.address());
  if (!balance) return std::unexpected(balance.error().context("reading the token balance"));
  if (*balance < options.endowment) {
    return fail(Errc::failed_precondition, "the endowment is " + format_units(options.endowment, 6) + " dUSD but " +
                                               chain.address().checksummed() + " holds " + format_units(*balance, 6) +
                                               " dUSD: fund the account first");
  }
  say("opening a deal for " + summary.cid.to_string() + " (" + std::to_string(summary.size) + " bytes, " +
      std::to_string(options.replicas) + " replicas, endowment " + format_units(options.endowment, 6) + " dUSD)");
  auto deal = c.storage.open_deal(chain.wallet(), c.token, summary.cid.bytes(), summary.segment_root, summary.size,
                                  options.replicas, options.endowment);
  if (!deal) return std::unexpected(deal.error().context("openDeal"));
  PutResult out;
  out.deal_id = deal->deal_id;
  out.opened_block = deal->receipt.block_number;
  say("deal " + std::to_string(out.deal_id) + " opened in block " + std::to_string(out.opened_block));

  std::string failures;
  for (const auto& url : options.storer_urls) {
    auto up = upload_file(file, summary.cid, url, chain.key(), [&](uint64_t d, uint64_t t) {
      if (events.upload) events.upload(url, d, t);
    });
    if (up) {
      out.uploaded_to = url;
      break;
    }
    failures += "\n  " + url + ": " + up.error().message;
  }
  if (out.uploaded_to.empty()) {
    return fail(Errc::unavailable, "deal " + std::to_string(out.deal_id) + " is open but no storer accepted the upload:" + failures +
                                       "\nretry the upload (the deal stays open) or name a storer explicitly");
  }
  say("uploaded to " + out.uploaded_to);
  if (options.wait_claims.count() <= 0) return out;

  const auto deadline = std::chrono::steady_clock::now() + options.wait_claims;
  uint32_t last_reported = ~0u;
  out.slots.resize(options.replicas);
  while (true) {
    out.claimed = 0;
    for (uint32_t i = 0; i < options.replicas; ++i) {
      auto slot = c.storage.get_slot(out.deal_id, i);
      if (!slot) return std::unexpected(slot.error().context("reading slot " + std::to_string(i)));
      out.slots[i] = *slot;
      out.claimed += slot->open() ? 0 : 1;
    }
    if (out.claimed != last_reported) {
      say("replicas claimed: " + std::to_string(out.claimed) + " of " + std::to_string(options.replicas));
      last_reported = out.claimed;
    }
    if (out.claimed == options.replicas || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return out;
}

}  // namespace dgrid::node
