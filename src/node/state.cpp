#include "node/state.hpp"
#include "node/state_columns.hpp"

#include <array>

namespace dgrid::node {

namespace {

// Amounts are decimal TEXT: exact for all of u256, and readable with the sqlite3 shell.
// Addresses, digests and job ids are raw BLOBs. Version i+1 of the schema is
// kMigrations[0..i]; never edit a released migration, append a new one.
constexpr std::array<std::string_view, 2> kMigrations = {R"sql(
CREATE TABLE credit (
  sender  BLOB PRIMARY KEY,
  balance TEXT NOT NULL
);
CREATE TABLE holds (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  sender BLOB NOT NULL,
  amount TEXT NOT NULL
);
CREATE TABLE seen_tickets (
  digest           BLOB PRIMARY KEY,
  expiration_block INTEGER NOT NULL
);
CREATE INDEX seen_tickets_expiry ON seen_tickets (expiration_block);
CREATE TABLE winning_tickets (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  digest           BLOB NOT NULL UNIQUE,
  json             TEXT NOT NULL,
  expiration_block INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'redeemed', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  tx_hash          BLOB
);
CREATE INDEX winning_tickets_pending ON winning_tickets (status, expiration_block);
CREATE TABLE receipts (
  job_id BLOB PRIMARY KEY,
  json   TEXT NOT NULL
);
CREATE TABLE jobs (
  job_id      BLOB PRIMARY KEY,
  seq         INTEGER NOT NULL UNIQUE,
  provider    BLOB NOT NULL,
  model       BLOB NOT NULL,
  request     BLOB NOT NULL,
  output_hash BLOB,
  cost        TEXT NOT NULL,
  spot_check  TEXT NOT NULL CHECK (spot_check IN ('none', 'pending', 'match', 'mismatch', 'error')),
  dispute_id  TEXT
);
CREATE INDEX jobs_spot_check ON jobs (spot_check, seq);
CREATE TABLE disputes (
  id      TEXT PRIMARY KEY,
  role    TEXT NOT NULL,
  json    TEXT NOT NULL,
  is_open INTEGER NOT NULL
);
CREATE TABLE kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE counters (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE cursors (
  stream TEXT PRIMARY KEY,
  block  INTEGER NOT NULL
);
CREATE TABLE sent_credit (
  provider BLOB PRIMARY KEY,
  amount   TEXT NOT NULL
);
)sql",
// StorageMarket as a storer follows it (state_storage.cpp). Slot rows remember the chain
// position (block, log index) of the event they reflect, so an older event delivered again
// never undoes a newer one.
R"sql(
CREATE TABLE storage_deals (
  deal_id      INTEGER PRIMARY KEY,
  client       BLOB NOT NULL,
  cid          BLOB NOT NULL,
  segment_root BLOB NOT NULL,
  size         INTEGER NOT NULL,
  replicas     INTEGER NOT NULL,
  endowment    TEXT NOT NULL,
  opened_block INTEGER NOT NULL,
  rejected     TEXT
);
CREATE INDEX storage_deals_cid ON storage_deals (cid);
CREATE TABLE storage_slots (
  deal_id    INTEGER NOT NULL,
  slot       INTEGER NOT NULL,
  storer     BLOB,
  next_epoch INTEGER NOT NULL,
  collateral TEXT NOT NULL,
  reopened   INTEGER NOT NULL DEFAULT 0,
  ev_block   INTEGER NOT NULL,
  ev_index   INTEGER NOT NULL,
  PRIMARY KEY (deal_id, slot)
);
CREATE INDEX storage_slots_storer ON storage_slots (storer, next_epoch);
CREATE TABLE storage_proofs (
  deal_id       INTEGER NOT NULL,
  slot          INTEGER NOT NULL,
  epoch         INTEGER NOT NULL,
  storer        BLOB NOT NULL,
  segment_index INTEGER NOT NULL,
  payment       TEXT NOT NULL,
  tx_hash       BLOB NOT NULL,
  block         INTEGER NOT NULL,
  PRIMARY KEY (deal_id, slot, epoch)
);
)sql"};

ByteView view(const Address& a) { return a.bytes; }
ByteView view(const Hash32& h) { return h; }

using state_detail::fixed_column;
using state_detail::parse_amount;

// Reads a u256 TEXT column from a one-row query keyed by a blob; 0 when there is no row.
Result<u256> read_amount(Db& db, std::string_view sql, ByteView key, std::string_view what) {
  auto s = db.prepare(sql);
  if (!s) return std::unexpected(s.error());
  s->bind(1, key);
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return u256(0);
  return parse_amount(s->column_text(0), what);
}

Result<u256> read_balance(Db& db, const Address& sender) {
  return read_amount(db, "SELECT balance FROM credit WHERE sender = ?1", view(sender), "credit");
}

Result<void> write_balance(Db& db, const Address& sender, const u256& balance) {
  auto s = db.prepare(
      "INSERT INTO credit (sender, balance) VALUES (?1, ?2) "
      "ON CONFLICT (sender) DO UPDATE SET balance = excluded.balance");
  if (!s) return std::unexpected(s.error());
  s->bind(1, view(sender)).bind(2, to_dec(balance));
  return s->run();
}

struct Hold {
  Address sender;
  u256 amount = 0;
};

Result<Hold> read_hold(Db& db, uint64_t id) {
  auto s = db.prepare("SELECT sender, amount FROM holds WHERE id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, static_cast<int64_t>(id));
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::not_found, "no credit hold with id " + std::to_string(id));
  Hold h;
  DGRID_TRY_ASSIGN(h.sender.bytes, fixed_column<20>(*s, 0, "hold sender"));
  DGRID_TRY_ASSIGN(h.amount, parse_amount(s->column_text(1), "hold"));
  return h;
}

// Refunds `refund` of hold `id` to its sender and deletes the hold, inside the caller's
// transaction.
Result<void> close_hold(Db& db, uint64_t id, const Hold& h, const u256& refund) {
  u256 balance;
  DGRID_TRY_ASSIGN(balance, read_balance(db, h.sender));
  DGRID_TRY(write_balance(db, h.sender, balance + refund));
  auto del = db.prepare("DELETE FROM holds WHERE id = ?1");
  if (!del) return std::unexpected(del.error());
  del->bind(1, static_cast<int64_t>(id));
  return del->run();
}

Result<JobRecord> read_job(const Stmt& s) {
  // Columns: job_id, provider, model, request, output_hash, cost, spot_check, dispute_id
  JobRecord j;
  DGRID_TRY_ASSIGN(j.job_id, fixed_column<32>(s, 0, "job id"));
  DGRID_TRY_ASSIGN(j.provider.bytes, fixed_column<20>(s, 1, "job provider"));
  DGRID_TRY_ASSIGN(j.model, fixed_column<32>(s, 2, "job model"));
  j.request = s.column_blob(3);
  if (!s.is_null(4)) {
    Hash32 h;
    DGRID_TRY_ASSIGN(h, fixed_column<32>(s, 4, "job output hash"));
    j.output_hash = h;
  }
  DGRID_TRY_ASSIGN(j.cost, parse_amount(s.column_text(5), "job cost"));
  DGRID_TRY_ASSIGN(j.spot_check, parse_spot_check(s.column_text(6)));
  if (!s.is_null(7)) {
    u256 id;
    DGRID_TRY_ASSIGN(id, parse_amount(s.column_text(7), "job dispute id"));
    j.dispute_id = id;
  }
  return j;
}

constexpr std::string_view kJobColumns =
    "job_id, provider, model, request, output_hash, cost, spot_check, dispute_id";

// Binds a job's fields as ?1..?8 in kJobColumns order.
void bind_job(Stmt& s, const JobRecord& j) {
  s.bind(1, view(j.job_id)).bind(2, view(j.provider)).bind(3, view(j.model)).bind(4, ByteView(j.request));
  if (j.output_hash)
    s.bind(5, view(*j.output_hash));
  else
    s.bind(5, std::nullopt);
  s.bind(6, to_dec(j.cost)).bind(7, spot_check_name(j.spot_check));
  if (j.dispute_id)
    s.bind(8, to_dec(*j.dispute_id));
  else
    s.bind(8, std::nullopt);
}

Result<DisputeRecord> read_dispute(const Stmt& s) {
  DisputeRecord d;
  DGRID_TRY_ASSIGN(d.id, parse_amount(s.column_text(0), "dispute id"));
  d.role = s.column_text(1);
  d.json = s.column_text(2);
  d.open = s.column_int64(3) != 0;
  return d;
}

}  // namespace

std::string_view spot_check_name(SpotCheck s) noexcept {
  switch (s) {
    case SpotCheck::none: return "none";
    case SpotCheck::pending: return "pending";
    case SpotCheck::match: return "match";
    case SpotCheck::mismatch: return "mismatch";
    case SpotCheck::error: return "error";
  }
  return "none";
}

Result<SpotCheck> parse_spot_check(std::string_view text) {
  for (auto s : {SpotCheck::none, SpotCheck::pending, SpotCheck::match, SpotCheck::mismatch, SpotCheck::error})
    if (spot_check_name(s) == text) return s;
  return fail(Errc::malformed, "unknown spot check status '" + std::string(text) +
                                   "' (want none|pending|match|mismatch|error)");
}

Result<std::unique_ptr<NodeState>> NodeState::open(const std::filesystem::path& data_dir,
                                                   const DbOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return fail(Errc::io, "creating data directory " + data_dir.string() + ": " + ec.message());
  auto path = data_dir / "node.db";
  auto db = Db::open(path, options);
  if (!db) return std::unexpected(db.error());
  if (auto r = db->migrate(kMigrations); !r) return std::unexpected(r.error().context(path.string()));
  std::unique_ptr<NodeState> state(new NodeState(std::move(*db), path));
  auto released = state->release_all_holds();
  if (!released) return std::unexpected(released.error().context("releasing leftover credit holds"));
  state->holds_released_at_open_ = *released;
  return state;
}

Result<uint64_t> NodeState::release_all_holds() {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  auto s = db_.prepare("SELECT id FROM holds ORDER BY id");
  if (!s) return std::unexpected(s.error());
  std::vector<uint64_t> ids;
  for (;;) {
    auto row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ids.push_back(static_cast<uint64_t>(s->column_int64(0)));
  }
  for (uint64_t id : ids) {
    Hold h;
    DGRID_TRY_ASSIGN(h, read_hold(db_, id));
    DGRID_TRY(close_hold(db_, id, h, h.amount));
  }
  DGRID_TRY(tx->commit());
  return ids.size();
}

// ---- Credit ----

Result<u256> NodeState::credit(const Address& sender) {
  std::lock_guard lock(mu_);
  return read_balance(db_, sender);
}

Result<u256> NodeState::add_ticket(const Address& sender, const Hash32& digest, const u256& ev,
                                   const std::optional<std::string>& winning_ticket_json,
                                   uint64_t expiration_block) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  auto seen = db_.prepare("INSERT INTO seen_tickets (digest, expiration_block) VALUES (?1, ?2) "
                          "ON CONFLICT (digest) DO NOTHING");
  if (!seen) return std::unexpected(seen.error());
  seen->bind(1, view(digest)).bind(2, static_cast<int64_t>(expiration_block));
  DGRID_TRY(seen->run());
  if (db_.changes() == 0) return fail(Errc::already_exists, "ticket already used: " + to_hex(digest));
  u256 balance;
  DGRID_TRY_ASSIGN(balance, read_balance(db_, sender));
  balance += ev;
  DGRID_TRY(write_balance(db_, sender, balance));
  if (winning_ticket_json) {
    auto win = db_.prepare("INSERT INTO winning_tickets (digest, json, expiration_block, status) "
                           "VALUES (?1, ?2, ?3, 'pending')");
    if (!win) return std::unexpected(win.error());
    win->bind(1, view(digest)).bind(2, *winning_ticket_json).bind(3, static_cast<int64_t>(expiration_block));
    DGRID_TRY(win->run());
  }
  DGRID_TRY(tx->commit());
  return balance;
}

Result<uint64_t> NodeState::hold(const Address& sender, const u256& amount) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  u256 balance;
  DGRID_TRY_ASSIGN(balance, read_balance(db_, sender));
  if (balance < amount)
    return fail(Errc::failed_precondition,
                "insufficient credit: have " + to_dec(balance) + ", need " + to_dec(amount));
  DGRID_TRY(write_balance(db_, sender, balance - amount));
  auto ins = db_.prepare("INSERT INTO holds (sender, amount) VALUES (?1, ?2)");
  if (!ins) return std::unexpected(ins.error());
  ins->bind(1, view(sender)).bind(2, to_dec(amount));
  DGRID_TRY(ins->run());
  auto id = static_cast<uint64_t>(db_.last_insert_rowid());
  DGRID_TRY(tx->commit());
  return id;
}

Result<void> NodeState::settle(uint64_t hold_id, const u256& charge) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  Hold h;
  DGRID_TRY_ASSIGN(h, read_hold(db_, hold_id));
  if (charge > h.amount)
    return fail(Errc::invalid_argument, "charge " + to_dec(charge) + " exceeds hold " +
                                            std::to_string(hold_id) + " of " + to_dec(h.amount));
  DGRID_TRY(close_hold(db_, hold_id, h, h.amount - charge));
  return tx->commit();
}

Result<void> NodeState::release(uint64_t hold_id) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  Hold h;
  DGRID_TRY_ASSIGN(h, read_hold(db_, hold_id));
  DGRID_TRY(close_hold(db_, hold_id, h, h.amount));
  return tx->commit();
}

Result<uint64_t> NodeState::prune_seen_tickets(uint64_t block) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM seen_tickets WHERE expiration_block < ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, static_cast<int64_t>(block));
  DGRID_TRY(s->run());
  return static_cast<uint64_t>(db_.changes());
}

// ---- Winning tickets ----

Result<std::vector<PendingTicket>> NodeState::pending_tickets(size_t limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT id, json, expiration_block, attempts FROM winning_tickets "
                       "WHERE status = 'pending' ORDER BY expiration_block, id LIMIT ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<PendingTicket> out;
  for (;;) {
    auto row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back({s->column_int64(0), s->column_text(1), static_cast<uint64_t>(s->column_int64(2)),
                   static_cast<uint32_t>(s->column_int64(3))});
  }
  return out;
}

Result<void> NodeState::mark_redeemed(const std::vector<int64_t>& ids, const Hash32& tx_hash) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  auto s = db_.prepare("UPDATE winning_tickets SET status = 'redeemed', tx_hash = ?2 WHERE id = ?1");
  if (!s) return std::unexpected(s.error());
  for (int64_t id : ids) {
    s->reset();
    s->bind(1, id).bind(2, view(tx_hash));
    DGRID_TRY(s->run());
    if (db_.changes() == 0) return fail(Errc::not_found, "no winning ticket with id " + std::to_string(id));
  }
  return tx->commit();
}

Result<void> NodeState::mark_failed(int64_t id, std::string_view reason, bool permanent) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(permanent
                           ? "UPDATE winning_tickets SET status = 'failed', attempts = attempts + 1, "
                             "last_error = ?2 WHERE id = ?1"
                           : "UPDATE winning_tickets SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, id).bind(2, reason);
  DGRID_TRY(s->run());
  if (db_.changes() == 0) return fail(Errc::not_found, "no winning ticket with id " + std::to_string(id));
  return {};
}

Result<TicketCounts> NodeState::ticket_counts() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT status, count(*) FROM winning_tickets GROUP BY status");
  if (!s) return std::unexpected(s.error());
  TicketCounts c;
  for (;;) {
    auto row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto status = s->column_text(0);
    auto n = static_cast<uint64_t>(s->column_int64(1));
    if (status == "pending") c.pending = n;
    else if (status == "redeemed") c.redeemed = n;
    else if (status == "failed") c.failed = n;
  }
  return c;
}

// ---- Receipts ----

Result<void> NodeState::insert_receipt(const Hash32& job_id, const std::string& json) {
  auto s = db_.prepare("INSERT INTO receipts (job_id, json) VALUES (?1, ?2) ON CONFLICT (job_id) DO NOTHING");
  if (!s) return std::unexpected(s.error());
  s->bind(1, view(job_id)).bind(2, json);
  DGRID_TRY(s->run());
  if (db_.changes() == 0) {
    auto old = db_.prepare("SELECT json FROM receipts WHERE job_id = ?1");
    if (!old) return std::unexpected(old.error());
    old->bind(1, view(job_id));
    auto row = old->step();
    if (!row) return std::unexpected(row.error());
    if (*row && old->column_text(0) != json)
      return fail(Errc::already_exists, "job " + to_hex(job_id) + " already has a different receipt");
  }
  return {};
}

Result<void> NodeState::put_receipt(const Hash32& job_id, const std::string& json) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  DGRID_TRY(insert_receipt(job_id, json));
  return tx->commit();
}

Result<void> NodeState::put_receipt_and_job(const std::string& receipt_json, const JobRecord& job) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  DGRID_TRY(insert_receipt(job.job_id, receipt_json));
  auto j = insert_job(job);
  if (!j && j.error().code != Errc::already_exists) return j;
  return tx->commit();
}

Result<std::optional<std::string>> NodeState::receipt(const Hash32& job_id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT json FROM receipts WHERE job_id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, view(job_id));
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->column_text(0));
}

// ---- Jobs ----

Result<void> NodeState::insert_job(const JobRecord& job) {
  auto s = db_.prepare("INSERT INTO jobs (" + std::string(kJobColumns) +
                       ", seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                       "(SELECT coalesce(max(seq), 0) + 1 FROM jobs))");
  if (!s) return std::unexpected(s.error());
  bind_job(*s, job);
  auto r = s->run();
  if (!r && r.error().code == Errc::already_exists)
    return fail(Errc::already_exists, "job " + to_hex(job.job_id) + " is already recorded");
  return r;
}

Result<void> NodeState::put_job(const JobRecord& job) {
  std::lock_guard lock(mu_);
  return insert_job(job);
}

Result<void> NodeState::update_job(const JobRecord& job) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE jobs SET provider = ?2, model = ?3, request = ?4, output_hash = ?5, "
                       "cost = ?6, spot_check = ?7, dispute_id = ?8 WHERE job_id = ?1");
  if (!s) return std::unexpected(s.error());
  bind_job(*s, job);
  DGRID_TRY(s->run());
  if (db_.changes() == 0) return fail(Errc::not_found, "no job " + to_hex(job.job_id));
  return {};
}

Result<std::optional<JobRecord>> NodeState::job(const Hash32& job_id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kJobColumns) + " FROM jobs WHERE job_id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, view(job_id));
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<JobRecord>();
  auto j = read_job(*s);
  if (!j) return std::unexpected(j.error());
  return std::optional<JobRecord>(std::move(*j));
}

Result<std::vector<JobRecord>> NodeState::jobs_to_check(size_t limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kJobColumns) +
                       " FROM jobs WHERE spot_check = 'pending' ORDER BY seq LIMIT ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<JobRecord> out;
  for (;;) {
    auto row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto j = read_job(*s);
    if (!j) return std::unexpected(j.error());
    out.push_back(std::move(*j));
  }
  return out;
}

// ---- Disputes ----

Result<void> NodeState::put_dispute(const u256& id, std::string_view role, const std::string& json) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("INSERT INTO disputes (id, role, json, is_open) VALUES (?1, ?2, ?3, 1)");
  if (!s) return std::unexpected(s.error());
  s->bind(1, to_dec(id)).bind(2, role).bind(3, json);
  auto r = s->run();
  if (!r && r.error().code == Errc::already_exists)
    return fail(Errc::already_exists, "dispute " + to_dec(id) + " is already recorded");
  return r;
}

Result<std::optional<DisputeRecord>> NodeState::dispute(const u256& id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT id, role, json, is_open FROM disputes WHERE id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, to_dec(id));
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<DisputeRecord>();
  auto d = read_dispute(*s);
  if (!d) return std::unexpected(d.error());
  return std::optional<DisputeRecord>(std::move(*d));
}

Result<void> NodeState::update_dispute(const u256& id, const std::string& json, bool open) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE disputes SET json = ?2, is_open = ?3 WHERE id = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, to_dec(id)).bind(2, json).bind(3, int64_t{open ? 1 : 0});
  DGRID_TRY(s->run());
  if (db_.changes() == 0) return fail(Errc::not_found, "no dispute " + to_dec(id));
  return {};
}

Result<std::vector<DisputeRecord>> NodeState::open_disputes() {
  std::lock_guard lock(mu_);
  // Ids are decimal text: order numerically by length first.
  auto s = db_.prepare("SELECT id, role, json, is_open FROM disputes WHERE is_open = 1 "
                       "ORDER BY length(id), id");
  if (!s) return std::unexpected(s.error());
  std::vector<DisputeRecord> out;
  for (;;) {
    auto row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto d = read_dispute(*s);
    if (!d) return std::unexpected(d.error());
    out.push_back(std::move(*d));
  }
  return out;
}

// ---- Key/value, counters, cursors ----

Result<std::optional<std::string>> NodeState::get(std::string_view key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT value FROM kv WHERE key = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, key);
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->column_text(0));
}

Result<void> NodeState::put(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("INSERT INTO kv (key, value) VALUES (?1, ?2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!s) return std::unexpected(s.error());
  s->bind(1, key).bind(2, value);
  return s->run();
}

Result<uint64_t> NodeState::next_counter(std::string_view key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("INSERT INTO counters (key, value) VALUES (?1, 1) "
                       "ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value - 1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, key);
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::internal, "counter update returned no row");
  auto v = static_cast<uint64_t>(s->column_int64(0));
  DGRID_TRY(s->run());  // finish the statement so its write is complete
  return v;
}

Result<std::optional<uint64_t>> NodeState::cursor(std::string_view stream) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT block FROM cursors WHERE stream = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, stream);
  auto row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(s->column_int64(0)));
}

Result<void> NodeState::set_cursor(std::string_view stream, uint64_t block) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("INSERT INTO cursors (stream, block) VALUES (?1, ?2) "
                       "ON CONFLICT (stream) DO UPDATE SET block = excluded.block");
  if (!s) return std::unexpected(s.error());
  s->bind(1, stream).bind(2, static_cast<int64_t>(block));
  return s->run();
}

// ---- Gateway sent credit ----

Result<u256> NodeState::sent_credit(const Address& provider) {
  std::lock_guard lock(mu_);
  return read_amount(db_, "SELECT amount FROM sent_credit WHERE provider = ?1", view(provider), "sent credit");
}

Result<u256> NodeState::add_sent_credit(const Address& provider, const u256& amount) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  u256 total;
  DGRID_TRY_ASSIGN(total, read_amount(db_, "SELECT amount FROM sent_credit WHERE provider = ?1",
                                      view(provider), "sent credit"));
  total += amount;
  auto s = db_.prepare("INSERT INTO sent_credit (provider, amount) VALUES (?1, ?2) "
                       "ON CONFLICT (provider) DO UPDATE SET amount = excluded.amount");
  if (!s) return std::unexpected(s.error());
  s->bind(1, view(provider)).bind(2, to_dec(total));
  DGRID_TRY(s->run());
  DGRID_TRY(tx->commit());
  return total;
}

}  // namespace dgrid::node
