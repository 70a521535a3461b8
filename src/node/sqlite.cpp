#include "node/sqlite.hpp"

#include <utility>

namespace dgrid::node {

namespace {

Errc errc_for(int extended) noexcept {
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Errc::already_exists;
    default:
      break;
  }
  switch (extended & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Errc::unavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Errc::malformed;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
      return Errc::internal;
    default:
      return Errc::io;
  }
}

Error error_from(int rc, sqlite3* db, std::string_view what) {
  // The connection's message describes its most recent failure, which is rc's.
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{errc_for(rc), "sqlite: " + std::string(what) + ": " + msg + " (code " +
                                 std::to_string(rc) + ")"};
}

}  // namespace

Error sqlite_error(sqlite3* db, std::string_view what) {
  return error_from(db ? sqlite3_extended_errcode(db) : SQLITE_ERROR, db, what);
}

// ---- Stmt ----

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      db_(other.db_),
      bind_error_(std::move(other.bind_error_)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = other.db_;
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::check_bind(int rc, int idx) {
  if (rc != SQLITE_OK && !bind_error_)
    bind_error_ = error_from(rc, db_, "binding parameter " + std::to_string(idx));
  return *this;
}

Stmt& Stmt::bind(int idx, int64_t value) {
  return check_bind(sqlite3_bind_int64(stmt_, idx, value), idx);
}

Stmt& Stmt::bind(int idx, std::string_view text) {
  return check_bind(sqlite3_bind_text64(stmt_, idx, text.data(), text.size(), SQLITE_TRANSIENT,
                                        SQLITE_UTF8),
                    idx);
}

Stmt& Stmt::bind(int idx, ByteView blob) {
  // A null data pointer would bind SQL NULL; an empty blob must stay an empty blob.
  static const uint8_t kEmpty = 0;
  const void* data = blob.empty() ? &kEmpty : blob.data();
  return check_bind(sqlite3_bind_blob64(stmt_, idx, data, blob.size(), SQLITE_TRANSIENT), idx);
}

Stmt& Stmt::bind(int idx, std::nullopt_t) { return check_bind(sqlite3_bind_null(stmt_, idx), idx); }

Result<bool> Stmt::step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset so the statement can be reused after the caller handled the error.
  Error err = error_from(rc, db_, sqlite3_sql(stmt_));
  sqlite3_reset(stmt_);
  return std::unexpected(std::move(err));
}

Result<void> Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return std::unexpected(r.error());
    if (!*r) return {};
  }
}

void Stmt::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_.reset();
}

bool Stmt::is_null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Stmt::column_int64(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::column_text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Bytes Stmt::column_blob(int col) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? Bytes(p, p + n) : Bytes();
}

// ---- Db ----

Result<Db> Db::open(const std::filesystem::path& path, const DbOptions& options) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Db db(raw);  // sqlite3_open_v2 allocates a handle even on failure; this closes it
  if (rc != SQLITE_OK) return std::unexpected(error_from(rc, raw, "opening " + path.string()));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
  pragmas += options.durability == Durability::full ? "FULL;" : "NORMAL;";
  if (auto r = db.exec(pragmas); !r) return std::unexpected(r.error().context(path.string()));
  // journal_mode silently stays as it was when WAL is impossible (e.g. some network file
  // systems); the durability promise depends on it, so check.
  auto mode = db.prepare("PRAGMA journal_mode");
  if (!mode) return std::unexpected(mode.error());
  auto row = mode->step();
  if (!row) return std::unexpected(row.error());
  if (!*row || mode->column_text(0) != "wal")
    return fail(Errc::unsupported, "sqlite: " + path.string() + ": cannot use WAL journal mode");
  return db;
}

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Db::~Db() { sqlite3_close_v2(db_); }

Result<void> Db::exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs a terminated string
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return {};
  std::string detail = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return std::unexpected(Error{errc_for(rc), "sqlite: " + detail + " (code " + std::to_string(rc) +
                                                 ") in: " + text.substr(0, 200)});
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) return std::unexpected(error_from(rc, db_, "preparing " + std::string(sql)));
  if (stmt == nullptr) return fail(Errc::invalid_argument, "sqlite: empty statement");
  Stmt out(stmt, db_);
  // A second statement in the text would be silently ignored.
  if (tail != nullptr && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos)
    return fail(Errc::invalid_argument, "sqlite: prepare takes one statement: " + std::string(sql));
  return out;
}

int64_t Db::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

int Db::changes() const noexcept { return sqlite3_changes(db_); }

Result<int64_t> Db::user_version() {
  auto stmt = prepare("PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::internal, "sqlite: PRAGMA user_version returned no row");
  return stmt->column_int64(0);
}

Result<void> Db::migrate(std::span<const std::string_view> migrations) {
  auto have = user_version();
  if (!have) return std::unexpected(have.error());
  const auto want = static_cast<int64_t>(migrations.size());
  if (*have > want)
    return fail(Errc::unsupported, "database schema version " + std::to_string(*have) +
                                       " is newer than this program understands (" +
                                       std::to_string(want) + "): upgrade dgrid");
  for (int64_t v = *have; v < want; ++v) {
    auto tx = Transaction::begin(*this);
    if (!tx) return std::unexpected(tx.error());
    if (auto r = exec(migrations[static_cast<size_t>(v)]); !r)
      return std::unexpected(r.error().context("migration to schema version " + std::to_string(v + 1)));
    if (auto r = exec("PRAGMA user_version = " + std::to_string(v + 1)); !r) return r;
    if (auto r = tx->commit(); !r) return r;
  }
  return {};
}

// ---- Transaction ----

Result<Transaction> Transaction::begin(Db& db) {
  if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return std::unexpected(r.error().context("begin transaction"));
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Rollback cannot fail in a way the caller could act on; the transaction is abandoned.
  if (db_) (void)db_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
  if (!db_) return fail(Errc::internal, "sqlite: commit of a finished transaction");
  auto r = db_->exec("COMMIT");
  if (!r) return std::unexpected(r.error().context("commit"));
  db_ = nullptr;
  return {};
}

}  // namespace dgrid::node
