// The deal keeper's proofs: every epoch, each held slot that is due answers its challenge
// with a segment read from the blockstore and its Merkle path (store::prove_segment). A
// segment that cannot be read or does not verify (a block gone or corrupt on disk) makes the
// keeper fetch the object again from peer storers and retry within the same epoch.
#include <spdlog/spdlog.h>

#include <fstream>

#include "crypto/keystore.hpp"
#include "node/store_client.hpp"
#include "node/storer_deals_impl.hpp"

namespace dgrid::node {

namespace fs = std::filesystem;

namespace {

fs::path index_path(const fs::path& dir, const store::Cid& cid) { return dir / (cid.to_string() + ".dgsi"); }

std::optional<store::SegmentIndex> read_index_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto ix = store::SegmentIndex::deserialize(bytes);
  if (!ix) {
    spdlog::warn("storer: ignoring {}: {}", path.string(), ix.error().message);
    return std::nullopt;
  }
  return std::move(*ix);
}

}  // namespace

Result<void> DealKeeper::Impl::prove_due(uint64_t head) {
  auto len = epoch_len();
  if (!len) return std::unexpected(len.error());
  // A proof lands in a block after `head`; its epoch's start block must be mined already,
  // since that block's hash seeds the challenge.
  const uint64_t epoch = (head + 1) / *len;
  if (epoch * *len > head) return {};
  auto held = state.storage_slots_held_by(self);
  if (!held) return std::unexpected(held.error());
  Result<void> first_error;
  for (const auto& s : *held) {
    if (s.next_epoch > epoch) continue;  // proven already, or still in its claim grace
    auto r = prove_slot(s, epoch);
    if (r) continue;
    proofs_failed.inc();
    spdlog::error("storer: proof of deal {} slot {} for epoch {} failed: {}", s.deal_id, s.slot, epoch,
                  r.error().message);
    if (first_error) first_error = r;
  }
  return first_error;
}

Result<void> DealKeeper::Impl::prove_slot(const StorageSlotRecord& s, uint64_t epoch) {
  // The chain decides what is due: our rows may lag its events, and a proof for an epoch
  // that is not the slot's next one would only revert.
  auto cs = market.get_slot(s.deal_id, s.slot);
  if (!cs) return std::unexpected(cs.error());
  if (cs->storer != self || cs->next_epoch > epoch) return {};
  if (cs->next_epoch < epoch) {
    std::lock_guard lock(mu);
    if (warned_default.insert({s.deal_id, s.slot}).second)
      spdlog::error("storer: slot {} of deal {} missed its proof of epoch {}; it will be slashed when reported",
                    s.slot, s.deal_id, cs->next_epoch);
    return {};
  }
  auto deal = state.storage_deal(s.deal_id);
  if (!deal) return std::unexpected(deal.error());
  if (!*deal) return fail(Errc::not_found, "deal " + std::to_string(s.deal_id) + " is not recorded");
  auto cid = store::Cid::from_bytes((*deal)->cid);
  if (!cid) return fail(Errc::malformed, "deal " + std::to_string(s.deal_id) + ": " + cid.error().message);

  auto index = market.challenge_index(s.deal_id, s.slot, epoch);
  if (!index) {
    if (lost_race(index.error(), {"ChallengeUnavailable"})) return {};  // the next poll sees the block
    return std::unexpected(index.error());
  }
  auto proof = make_proof(**deal, *cid, *index);
  if (!proof) return std::unexpected(proof.error());
  auto r = market.prove_storage(chain.wallet(), s.deal_id, s.slot, epoch, proof->segment, proof->proof.siblings);
  if (!r) {
    if (lost_race(r.error(), {"EpochNotDue"})) return {};  // an earlier attempt of ours landed
    return std::unexpected(r.error());
  }
  proofs_sent.inc();
  {
    std::lock_guard lock(mu);
    warned_default.erase({s.deal_id, s.slot});
  }
  spdlog::info("storer: proved deal {} slot {} epoch {} (segment {}, gas {})", s.deal_id, s.slot, epoch, *index,
               r->gas_used);
  apply_receipt(*r);
  return {};
}

Result<store::SegmentProof> DealKeeper::Impl::make_proof(const StorageDealRecord& deal, const store::Cid& cid,
                                                          uint64_t index) {
  auto p = try_proof(deal, cid, index);
  if (p) return p;
  spdlog::warn("storer: segment {} of {} (deal {}): {}; fetching it again from peers", index, cid.to_string(), deal.id,
               p.error().message);
  refetches.inc();
  if (defer_heal) {
    {
      std::lock_guard lock(mu);
      heal_queue.insert(cid);
    }
    {
      std::lock_guard lock(loop_mu);
      acquire_wake = true;
    }
    loop_cv.notify_all();
    return fail(p.error().code, "segment " + std::to_string(index) + " of " + cid.to_string() + ": " + p.error().message +
                                    "; fetching the object again in the background (the proof is retried next pass)");
  }
  if (auto h = heal(cid); !h)
    return fail(h.error().code, "segment " + std::to_string(index) + " of " + cid.to_string() + ": " +
                                    p.error().message + "; fetching it again failed: " + h.error().message);
  return try_proof(deal, cid, index);
}

Result<store::SegmentProof> DealKeeper::Impl::try_proof(const StorageDealRecord& deal, const store::Cid& cid,
                                                         uint64_t index) {
  auto ix = index_for(cid, deal.size);
  if (!ix) return std::unexpected(ix.error());
  if ((*ix)->size() != deal.size || (*ix)->root() != deal.segment_root) {
    forget_index(cid);
    return fail(Errc::malformed, "the segment index of " + cid.to_string() + " does not give the deal's root");
  }
  auto reader = store::FileReader::open(bs.getter(), cid, store::FileReader::Verify::by_getter);
  if (!reader) return std::unexpected(reader.error());
  auto p = store::prove_segment(*reader, **ix, index);
  if (!p) return std::unexpected(p.error());
  // Checked here as the contract will: a wrong proof costs gas for nothing.
  if (!crypto::merkle_verify(deal.segment_root, crypto::merkle_leaf_hash(p->segment), p->proof)) {
    forget_index(cid);
    return fail(Errc::malformed, "the proof of segment " + std::to_string(index) + " does not verify");
  }
  return p;
}

Result<std::shared_ptr<const store::SegmentIndex>> DealKeeper::Impl::index_for(const store::Cid& cid,
                                                                              uint64_t expected_size) {
  {
    std::lock_guard lock(mu);
    if (auto it = indexes.find(cid); it != indexes.end()) return it->second;
  }
  const fs::path path = index_path(opt.index_dir, cid);
  std::shared_ptr<const store::SegmentIndex> ix;
  if (auto from_file = read_index_file(path)) {
    ix = std::make_shared<const store::SegmentIndex>(std::move(*from_file));
  } else {
    auto reader = store::FileReader::open(bs.getter(), cid, store::FileReader::Verify::by_getter);
    if (!reader) return std::unexpected(reader.error());
    if (reader->size() != expected_size)
      return fail(Errc::malformed, cid.to_string() + " holds " + std::to_string(reader->size()) + " bytes, the deal says " +
                                       std::to_string(expected_size));
    store::SegmentHasher hasher;
    auto read = reader->read(0, reader->size(), [&](ByteView piece) {
      hasher.update(piece);
      return true;
    });
    if (!read) return std::unexpected(read.error());
    ix = std::make_shared<const store::SegmentIndex>(hasher.finish());
    std::error_code ec;
    fs::create_directories(opt.index_dir, ec);
    const Bytes ser = ix->serialize();
    auto w = crypto::write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(ser.data()), ser.size()),
                                       0644);
    if (!w) spdlog::warn("storer: writing {}: {} (kept in memory)", path.string(), w.error().message);
  }
  std::lock_guard lock(mu);
  indexes[cid] = ix;
  return ix;
}

void DealKeeper::Impl::forget_index(const store::Cid& cid) {
  {
    std::lock_guard lock(mu);
    indexes.erase(cid);
  }
  std::error_code ec;
  fs::remove(index_path(opt.index_dir, cid), ec);
}

size_t DealKeeper::Impl::scrub(const store::Cid& root) {
  size_t bad = 0;
  std::vector<store::Cid> stack{root};
  while (!stack.empty()) {
    const store::Cid c = stack.back();
    stack.pop_back();
    auto block = bs.get(c);  // verifies; a bad block is moved aside here
    if (!block) {
      bad += block.error().code == Errc::malformed;
      continue;
    }
    if (c.codec() != store::Codec::dag_pb) continue;
    auto node = store::decode_pb(*block);
    if (!node) continue;
    for (const auto& l : node->links) stack.push_back(l.hash);
  }
  return bad;
}

void DealKeeper::Impl::heal_queued() {
  std::set<store::Cid> todo;
  {
    std::lock_guard lock(mu);
    todo.swap(heal_queue);
  }
  for (const auto& cid : todo) {
    if (auto h = heal(cid); !h) {
      spdlog::warn("storer: fetching {} again failed: {} (retried at its next proof)", cid.to_string(), h.error().message);
    } else {
      spdlog::info("storer: {} fetched again from peers", cid.to_string());
    }
  }
}

Result<void> DealKeeper::Impl::heal(const store::Cid& cid) {
  // fetch_dag skips blocks the store has, without reading them: each round reads every block
  // it can reach first, so that the bad ones are moved aside and fetched again. Blocks below a
  // bad node are reached only once that node was fetched, hence rounds (one per tree level
  // at worst), ending when a round finds nothing more to move aside.
  auto urls = peers ? peers() : std::vector<std::string>{};
  Result<void> r;
  for (int round = 0; round < 8; ++round) {
    const size_t bad = scrub(cid);
    if (round > 0 && bad == 0) break;
    if (auto u = bs.unpin(cid); !u) return u;
    // With no peers, fetch_dag still re-pins when every block is present and valid.
    r = fetch_dag(bs, cid, urls);
    if (r) return r;
  }
  return r;
}

}  // namespace dgrid::node
