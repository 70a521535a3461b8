// NodeState's StorageMarket tables (schema: migration 2 in state.cpp): deals, slots and the
// proofs this storer sent, as the deal keeper (storer_deals.cpp) learns them from events.
#include "node/state.hpp"
#include "node/state_columns.hpp"

namespace dgrid::node {

namespace {

using state_detail::fixed_column;

Result<u256> amount(const Stmt& s, int col, std::string_view what) { return state_detail::amount_column(s, col, what); }

Result<uint64_t> count(const Stmt& s, int col, std::string_view what) {
  int64_t v = s.column_int64(col);
  if (v < 0) return fail(Errc::malformed, "node.db: negative " + std::string(what));
  return static_cast<uint64_t>(v);
}

int64_t sql_int(uint64_t v) { return static_cast<int64_t>(v); }

constexpr std::string_view kDealColumns =
    "deal_id, client, cid, segment_root, size, replicas, endowment, opened_block, rejected";

Result<StorageDealRecord> read_deal(const Stmt& s) {
  StorageDealRecord d;
  DGRID_TRY_ASSIGN(d.id, count(s, 0, "deal id"));
  DGRID_TRY_ASSIGN(d.client.bytes, fixed_column<20>(s, 1, "deal client"));
  d.cid = s.column_blob(2);
  DGRID_TRY_ASSIGN(d.segment_root, fixed_column<32>(s, 3, "deal segment root"));
  DGRID_TRY_ASSIGN(d.size, count(s, 4, "deal size"));
  uint64_t replicas = 0;
  DGRID_TRY_ASSIGN(replicas, count(s, 5, "deal replicas"));
  d.replicas = static_cast<uint32_t>(replicas);
  DGRID_TRY_ASSIGN(d.endowment, amount(s, 6, "deal endowment"));
  DGRID_TRY_ASSIGN(d.opened_block, count(s, 7, "deal block"));
  if (!s.is_null(8)) d.rejected = s.column_text(8);
  return d;
}

constexpr std::string_view kSlotColumns =
    "deal_id, slot, storer, next_epoch, collateral, reopened, ev_block, ev_index";

Result<StorageSlotRecord> read_slot(const Stmt& s) {
  StorageSlotRecord r;
  DGRID_TRY_ASSIGN(r.deal_id, count(s, 0, "slot deal id"));
  uint64_t slot = 0;
  DGRID_TRY_ASSIGN(slot, count(s, 1, "slot index"));
  r.slot = static_cast<uint32_t>(slot);
  if (!s.is_null(2)) {
    Address a;
    DGRID_TRY_ASSIGN(a.bytes, fixed_column<20>(s, 2, "slot storer"));
    r.storer = a;
  }
  DGRID_TRY_ASSIGN(r.next_epoch, count(s, 3, "slot epoch"));
  DGRID_TRY_ASSIGN(r.collateral, amount(s, 4, "slot collateral"));
  r.reopened = s.column_int64(5) != 0;
  DGRID_TRY_ASSIGN(r.ev_block, count(s, 6, "slot event block"));
  DGRID_TRY_ASSIGN(r.ev_index, count(s, 7, "slot event index"));
  return r;
}

constexpr std::string_view kProofColumns = "deal_id, slot, epoch, storer, segment_index, payment, tx_hash, block";

Result<StorageProofRecord> read_proof(const Stmt& s) {
  StorageProofRecord p;
  DGRID_TRY_ASSIGN(p.deal_id, count(s, 0, "proof deal id"));
  uint64_t slot = 0;
  DGRID_TRY_ASSIGN(slot, count(s, 1, "proof slot"));
  p.slot = static_cast<uint32_t>(slot);
  DGRID_TRY_ASSIGN(p.epoch, count(s, 2, "proof epoch"));
  DGRID_TRY_ASSIGN(p.storer.bytes, fixed_column<20>(s, 3, "proof storer"));
  DGRID_TRY_ASSIGN(p.segment_index, count(s, 4, "proof segment index"));
  DGRID_TRY_ASSIGN(p.payment, amount(s, 5, "proof payment"));
  DGRID_TRY_ASSIGN(p.tx_hash, fixed_column<32>(s, 6, "proof transaction"));
  DGRID_TRY_ASSIGN(p.block, count(s, 7, "proof block"));
  return p;
}

// Every row of a prepared, bound query through `read`.
template <class T, class Read>
Result<std::vector<T>> rows(Stmt& s, Read read) {
  std::vector<T> out;
  for (;;) {
    auto row = s.step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return out;
    auto v = read(s);
    if (!v) return std::unexpected(v.error());
    out.push_back(std::move(*v));
  }
}

}  // namespace

Result<void> NodeState::put_storage_deal(const StorageDealRecord& d, uint64_t ev_block, uint64_t ev_index) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  auto ins = db_.prepare("INSERT INTO storage_deals (" + std::string(kDealColumns) +
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (deal_id) DO NOTHING");
  if (!ins) return std::unexpected(ins.error());
  ins->bind(1, sql_int(d.id))
      .bind(2, ByteView(d.client.bytes))
      .bind(3, ByteView(d.cid))
      .bind(4, ByteView(d.segment_root))
      .bind(5, sql_int(d.size))
      .bind(6, sql_int(d.replicas))
      .bind(7, to_dec(d.endowment))
      .bind(8, sql_int(d.opened_block));
  if (d.rejected)
    ins->bind(9, *d.rejected);
  else
    ins->bind(9, std::nullopt);
  DGRID_TRY(ins->run());
  if (db_.changes() == 0) return {};
  // Slot rows may exist already when a later event of this deal was applied first.
  auto slot = db_.prepare(
      "INSERT INTO storage_slots (deal_id, slot, storer, next_epoch, collateral, reopened, ev_block, ev_index) "
      "VALUES (?1, ?2, NULL, 0, '0', 0, ?3, ?4) ON CONFLICT (deal_id, slot) DO NOTHING");
  if (!slot) return std::unexpected(slot.error());
  for (uint32_t i = 0; i < d.replicas; ++i) {
    slot->reset();
    slot->bind(1, sql_int(d.id)).bind(2, sql_int(i)).bind(3, sql_int(ev_block)).bind(4, sql_int(ev_index));
    DGRID_TRY(slot->run());
  }
  return tx->commit();
}

Result<std::optional<StorageDealRecord>> NodeState::storage_deal(uint64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kDealColumns) + " FROM storage_deals WHERE deal_id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(id));
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<StorageDealRecord>{};
  auto d = read_deal(*s);
  if (!d) return std::unexpected(d.error());
  return std::optional<StorageDealRecord>(std::move(*d));
}

Result<std::vector<StorageDealRecord>> NodeState::storage_deals_for_cid(ByteView cid) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kDealColumns) + " FROM storage_deals WHERE cid = ?1 ORDER BY deal_id DESC");
  if (!s) return std::unexpected(s.error());
  s->bind(1, cid);
  return rows<StorageDealRecord>(*s, read_deal);
}

Result<std::vector<StorageDealRecord>> NodeState::storage_deals_with_open_slots() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kDealColumns) +
                       " FROM storage_deals d WHERE rejected IS NULL AND EXISTS "
                       "(SELECT 1 FROM storage_slots s WHERE s.deal_id = d.deal_id AND s.storer IS NULL) "
                       "ORDER BY deal_id");
  if (!s) return std::unexpected(s.error());
  return rows<StorageDealRecord>(*s, read_deal);
}

Result<void> NodeState::reject_storage_deal(uint64_t id, std::string_view reason) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE storage_deals SET rejected = ?2 WHERE deal_id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(id)).bind(2, reason);
  DGRID_TRY(s->run());
  if (db_.changes() == 0) return fail(Errc::not_found, "no storage deal " + std::to_string(id));
  return {};
}

Result<bool> NodeState::put_storage_slot(const StorageSlotRecord& r) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO storage_slots (deal_id, slot, storer, next_epoch, collateral, reopened, ev_block, ev_index) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (deal_id, slot) DO UPDATE SET "
      "storer = excluded.storer, next_epoch = excluded.next_epoch, collateral = excluded.collateral, "
      "reopened = excluded.reopened, ev_block = excluded.ev_block, ev_index = excluded.ev_index "
      "WHERE excluded.ev_block > storage_slots.ev_block OR "
      "(excluded.ev_block = storage_slots.ev_block AND excluded.ev_index > storage_slots.ev_index)");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(r.deal_id)).bind(2, sql_int(r.slot));
  if (r.storer)
    s->bind(3, ByteView(r.storer->bytes));
  else
    s->bind(3, std::nullopt);
  s->bind(4, sql_int(r.next_epoch))
      .bind(5, to_dec(r.collateral))
      .bind(6, int64_t{r.reopened ? 1 : 0})
      .bind(7, sql_int(r.ev_block))
      .bind(8, sql_int(r.ev_index));
  DGRID_TRY(s->run());
  return db_.changes() > 0;
}

Result<std::vector<StorageSlotRecord>> NodeState::storage_slots(uint64_t deal_id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kSlotColumns) + " FROM storage_slots WHERE deal_id = ?1 ORDER BY slot");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(deal_id));
  return rows<StorageSlotRecord>(*s, read_slot);
}

Result<std::vector<StorageSlotRecord>> NodeState::storage_slots_held_by(const Address& storer) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kSlotColumns) +
                       " FROM storage_slots WHERE storer = ?1 ORDER BY deal_id, slot");
  if (!s) return std::unexpected(s.error());
  s->bind(1, ByteView(storer.bytes));
  return rows<StorageSlotRecord>(*s, read_slot);
}

Result<std::vector<StorageSlotRecord>> NodeState::storage_slots_due_before(uint64_t epoch) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kSlotColumns) +
                       " FROM storage_slots WHERE storer IS NOT NULL AND next_epoch < ?1 ORDER BY deal_id, slot");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(epoch));
  return rows<StorageSlotRecord>(*s, read_slot);
}

Result<void> NodeState::put_storage_proof(const StorageProofRecord& p) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("INSERT INTO storage_proofs (" + std::string(kProofColumns) +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (deal_id, slot, epoch) DO NOTHING");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(p.deal_id))
      .bind(2, sql_int(p.slot))
      .bind(3, sql_int(p.epoch))
      .bind(4, ByteView(p.storer.bytes))
      .bind(5, sql_int(p.segment_index))
      .bind(6, to_dec(p.payment))
      .bind(7, ByteView(p.tx_hash))
      .bind(8, sql_int(p.block));
  return s->run();
}

Result<std::vector<StorageProofRecord>> NodeState::storage_proofs(uint64_t deal_id, uint32_t slot, size_t limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kProofColumns) +
                       " FROM storage_proofs WHERE deal_id = ?1 AND slot = ?2 ORDER BY epoch DESC LIMIT ?3");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(deal_id)).bind(2, sql_int(slot)).bind(3, sql_int(limit));
  return rows<StorageProofRecord>(*s, read_proof);
}

Result<u256> NodeState::storage_paid(uint64_t deal_id, uint32_t slot, const Address& storer) {
  std::lock_guard lock(mu_);
  // Amounts are decimal TEXT (exact for u256), so they are summed here, not in SQL.
  auto s = db_.prepare("SELECT payment FROM storage_proofs WHERE deal_id = ?1 AND slot = ?2 AND storer = ?3");
  if (!s) return std::unexpected(s.error());
  s->bind(1, sql_int(deal_id)).bind(2, sql_int(slot)).bind(3, ByteView(storer.bytes));
  u256 total = 0;
  for (;;) {
    auto row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return total;
    auto v = amount(*s, 0, "proof payment");
    if (!v) return std::unexpected(v.error());
    total += *v;
  }
}


}  // namespace dgrid::node
