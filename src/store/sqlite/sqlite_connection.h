// SqliteConnection: one sqlite3 connection with its prepared-statement cache. Internal to
// src/store/sqlite: services use Database / SqliteDatabase, never this.
//
// Owns the sqlite3* (closed in the destructor, after every statement is finalized) and the
// cached sqlite3_stmt* (RAII, finalized on eviction). sqlite3.h stays out of this header: the
// handles are forward-declared.
//
// Thread-safety: none. A connection is used by one thread at a time (SqliteDatabase hands it out
// under a mutex or from a pool); it is opened with SQLITE_OPEN_NOMUTEX.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "store/database.h"

struct sqlite3;
struct sqlite3_stmt;

namespace veil::store {

// Maps an SQLite (extended) result code to Veil's canonical codes, see docs/storage.md.
ErrorCode SqliteCodeToErrorCode(int sqlite_code);

struct SqliteConnectionOptions {
  std::chrono::milliseconds busy_timeout{5000};
  bool synchronous_full = false;  // PRAGMA synchronous = FULL instead of NORMAL
  bool read_only = false;         // a reader: PRAGMA query_only = ON, no create, no WAL switch
  std::size_t statement_cache_size = 64;
};

class SqliteConnection {
 public:
  // Opens `path` (created when missing unless read_only) and applies the pragmas: WAL (checked),
  // busy_timeout, foreign_keys = ON, synchronous, trusted_schema = OFF, query_only for readers.
  // Errors: the mapped SQLite error of the open or of a pragma, wrapped with the path;
  // kFailedPrecondition when WAL cannot be enabled on a file database.
  [[nodiscard]] static Result<std::unique_ptr<SqliteConnection>> Open(
      const std::string& path, const SqliteConnectionOptions& options);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // One statement, see Executor::Exec / Executor::Query for the contract.
  [[nodiscard]] Result<std::int64_t> Exec(std::string_view sql, const Params& params);
  [[nodiscard]] Result<Rows> Query(std::string_view sql, const Params& params);
  // Several statements, no parameters, nothing cached.
  [[nodiscard]] Status ExecScript(std::string_view sql);
  // Whether `sql` (one statement) leaves the database unchanged (sqlite3_stmt_readonly).
  [[nodiscard]] Result<bool> IsReadOnly(std::string_view sql);

  // True while a transaction is open on this connection (not in autocommit mode).
  bool in_transaction() const;
  // How many times a statement on this connection ended SQLITE_BUSY or SQLITE_LOCKED: lets a
  // transaction runner tell "busy, retry" from an error of the caller's own.
  std::uint64_t busy_count() const { return busy_count_; }

 private:
  class Statement;  // RAII sqlite3_stmt*

  explicit SqliteConnection(sqlite3* db, std::size_t cache_size);
  [[nodiscard]] Result<Statement*> Prepare(std::string_view sql);
  [[nodiscard]] Result<Rows> Run(Statement& stmt, std::string_view sql, const Params& params,
                                 bool collect, std::int64_t* changes);
  Error MakeError(int code, std::string_view sql);

  sqlite3* db_;
  std::size_t cache_size_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
  std::uint64_t busy_count_ = 0;
};

}  // namespace veil::store
