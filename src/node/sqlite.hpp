// A thin RAII layer over the SQLite C API: connections, prepared statements, transactions
// and schema migrations keyed by PRAGMA user_version. Errors carry SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace dgrid::node {

// How far a committed transaction survives. `normal` (WAL, synchronous=NORMAL) survives a
// crash or kill -9 of the process, which is what the node requires; only a power loss or OS
// crash can undo the last transactions. `full` fsyncs every commit and survives those too.
enum class Durability { normal, full };

struct DbOptions {
  Durability durability = Durability::normal;
  // How long a writer waits for another connection's lock before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5'000};
};

class Db;

// A prepared statement. Owned by the caller; must not outlive the Db that prepared it.
// Not thread-safe. Binding errors are remembered and reported by the next step(), so
// bind calls can be chained: stmt.bind(1, x).bind(2, y); auto row = stmt.step();
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameter indexes start at 1, as in SQL text (?1, ?2, ...).
  Stmt& bind(int idx, int64_t value);
  Stmt& bind(int idx, std::string_view text);
  Stmt& bind(int idx, ByteView blob);
  Stmt& bind(int idx, std::nullopt_t);
  // Avoids `bind(i, "literal")` resolving to the ByteView or an integer overload.
  Stmt& bind(int idx, const char* text) { return bind(idx, std::string_view(text)); }
  Stmt& bind(int idx, const std::string& text) { return bind(idx, std::string_view(text)); }

  // true: a row is available through the column getters; false: the statement is done.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Result<void> run();
  // Ready to step again with new bindings (old bindings are cleared).
  void reset() noexcept;

  // Column indexes start at 0. Values are valid until the next step/reset.
  bool is_null(int col) const noexcept;
  int64_t column_int64(int col) const noexcept;
  std::string column_text(int col) const;
  Bytes column_blob(int col) const;

 private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) noexcept : stmt_(stmt), db_(db) {}
  Stmt& check_bind(int rc, int idx);

  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;  // borrowed, for error messages
  std::optional<Error> bind_error_;
};

// One connection. Movable, closed on destruction. Not thread-safe: callers serialize use
// (NodeState holds a mutex around its connection).
class Db {
 public:
  // Creates the file (and nothing else: the parent directory must exist) when missing.
  static Result<Db> open(const std::filesystem::path& path, const DbOptions& options = {});

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements that return no rows.
  Result<void> exec(std::string_view sql);
  Result<Stmt> prepare(std::string_view sql);

  int64_t last_insert_rowid() const noexcept;
  // Rows changed by the most recent INSERT, UPDATE or DELETE.
  int changes() const noexcept;

  Result<int64_t> user_version();
  // Brings the schema to version migrations.size(): migration i (0-based) upgrades version i
  // to i + 1, each in its own transaction with its user_version bump, so a crash mid-way
  // leaves a consistent earlier version. Fails when the file is newer than this program.
  Result<void> migrate(std::span<const std::string_view> migrations);

  sqlite3* handle() const noexcept { return db_; }

 private:
  explicit Db(sqlite3* db) noexcept : db_(db) {}
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE (takes the write lock up front, so a read-then-write transaction never
// fails half-way with SQLITE_BUSY); rolls back on destruction unless commit() succeeded.
// Must not outlive its Db; not thread-safe.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  explicit Transaction(Db& db) noexcept : db_(&db) {}
  Db* db_ = nullptr;  // null once committed, rolled back or moved from
};

// "sqlite: <what>: <sqlite's message> (code N)" as an Errc::io error.
Error sqlite_error(sqlite3* db, std::string_view what);

}  // namespace dgrid::node
