// SqliteDatabase: the embedded Database, one SQLite file in WAL mode (veild's default
// `<data-dir>/veil.db`). For a single veild process; several replicas need the PostgreSQL one.
//
// Connections: one writer connection behind a mutex runs every write (Exec, ExecScript, write
// statements sent through Query, and whole transactions: BEGIN IMMEDIATE ... COMMIT), and a pool
// of up to `max_readers` reader connections (PRAGMA query_only) runs read-only Query calls in
// parallel with the writer and with each other; WAL lets readers see the last committed state
// while a write is in progress. Each connection keeps its own prepared-statement cache.
// Every connection: journal_mode = WAL, busy_timeout, foreign_keys = ON, synchronous = NORMAL
// (or FULL), trusted_schema = OFF. The file is created with mode 0600 (the -wal and -shm files
// take the same mode).
//
// Notify/Subscribe are in-process: Notify runs the callbacks on the calling thread.
// Leases use the portable store_leases table (see Database); with SQLite the process is the only
// replica, so they matter for correctness of job scheduling within it, and for the day it is not.
//
// Thread-safety: every public function may be called from any number of threads concurrently
// (see Database for the transaction rules). The object must outlive all calls on it;
// Subscriptions may outlive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "store/database.h"

namespace veil::store {

enum class SqliteSynchronous { kNormal, kFull };

struct SqliteOptions {
  // How long a statement waits for a lock held by another connection or process before it fails
  // with kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
  // NORMAL: in WAL mode a power loss may undo the last transactions but never corrupts the file.
  // FULL: every commit is synced to disk before it returns.
  SqliteSynchronous synchronous = SqliteSynchronous::kNormal;
  // Reader connections opened on demand; 0 runs reads on the writer too. An in-memory database
  // (":memory:") always uses 0, since each connection would see its own database.
  int max_readers = 4;
  // Prepared statements kept per connection.
  std::size_t statement_cache_size = 64;
  // How many times WithTransaction runs the callback when the database stays busy.
  int max_transaction_attempts = 5;
  // Permissions of a newly created database file.
  unsigned file_mode = 0600;
  // Source of time for leases and migration stamps (Now() only); not owned, must outlive the
  // database; null = the system clock.
  const Clock* clock = nullptr;
};

class SqliteDatabase final : public Database {
 public:
  // Opens (creating when missing) the database at `path`, or ":memory:", and applies the store
  // layer's own migrations (StoreMigrations()). The directory must exist.
  // Errors: kInvalidArgument for bad options; kFailedPrecondition when the file cannot be opened
  // or created, or WAL cannot be enabled; kDataLoss when it is not a database or is corrupt;
  // kFailedPrecondition when the store schema is newer than this build.
  [[nodiscard]] static Result<std::unique_ptr<SqliteDatabase>> Open(const std::string& path,
                                                                    SqliteOptions options = {});
  ~SqliteDatabase() override;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  [[nodiscard]] Status Notify(std::string_view channel, std::string_view payload) override;
  [[nodiscard]] Result<Subscription> Subscribe(std::string_view channel,
                                               NotifyCallback callback) override;
  std::chrono::system_clock::time_point Now() const override;

  const std::string& path() const;

 protected:
  [[nodiscard]] Status RunTransaction(const std::function<Status(Tx&)>& fn) override;
  [[nodiscard]] Result<std::int64_t> DoExec(std::string_view sql, const Params& params) override;
  [[nodiscard]] Result<Rows> DoQuery(std::string_view sql, const Params& params) override;
  [[nodiscard]] Status DoExecScript(std::string_view sql) override;

 private:
  struct State;
  explicit SqliteDatabase(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace veil::store
