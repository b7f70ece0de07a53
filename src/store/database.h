// Database: the one seam between Veil's services and their metadata store.
//
// Services keep their metadata (accounts, keys, buckets, images, ...) in tables reached only
// through this interface. SqliteDatabase (store/sqlite/) is the embedded default; a PostgreSQL
// implementation will follow so that several veild replicas can share one store. Keep every SQL
// statement a service writes portable between the two (docs/storage.md lists the rules):
//   - placeholders are plain `?` (no `?1`, `:name`, `$1`); the PostgreSQL implementation rewrites
//     them to `$1..$n` outside string literals;
//   - values are one of Value's five kinds: NULL, 64-bit integer, double, UTF-8 text, bytes;
//   - for generated ids use `INSERT ... RETURNING id` through Query(), never a "last insert id";
//   - upserts use `INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING`.
//
// Errors (the implementation maps its native codes onto these; see docs/storage.md):
//   kAlreadyExists      a UNIQUE or PRIMARY KEY constraint failed
//   kFailedPrecondition a FOREIGN KEY or other constraint failed; a schema newer than the code
//   kInvalidArgument    NOT NULL / CHECK violations; bad parameter count or placeholder style;
//                       a Row accessor asked for a missing column or for the wrong type
//   kUnavailable        the store is busy/locked past its timeout, or an I/O error occurred
//   kDataLoss           the store is corrupt
//   kResourceExhausted  disk or memory full
//   kInternal           anything else, e.g. a syntax error in our SQL (message names the SQL)
//
// Thread-safety: a Database (and every function on it) may be used from any number of threads
// concurrently. A Tx belongs to the thread running the WithTransaction callback and must not
// escape it. Subscription handles may be destroyed on any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace veil::store {

// Bytes stored in a BLOB (SQLite) / BYTEA (PostgreSQL) column. May contain NUL bytes.
using Blob = std::vector<std::uint8_t>;
// SQL NULL.
using Null = std::monostate;
inline constexpr Null kSqlNull{};

// A bound parameter or a column value. Construct from Null, std::int64_t (int converts),
// double, std::string (text; `const char*` converts), or Blob.
using Value = std::variant<Null, std::int64_t, double, std::string, Blob>;
using Params = std::vector<Value>;

enum class ValueType { kNull = 0, kInt64 = 1, kDouble = 2, kText = 3, kBlob = 4 };
ValueType TypeOf(const Value& value);
std::string_view ValueTypeName(ValueType type);

// One result row: values with their column names (shared by all rows of one result).
// Typed accessors are strict: GetInt64 on a text column is kInvalidArgument, and so is any
// accessor (but IsNull) on a NULL value; the only widening is GetDouble on an integer.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values);

  std::size_t size() const { return values_.size(); }
  const std::vector<std::string>& columns() const { return *columns_; }
  const std::vector<Value>& values() const { return values_; }

  // Index of the column named `name` (exact match; the first when several share it).
  [[nodiscard]] Result<std::size_t> IndexOf(std::string_view name) const;
  [[nodiscard]] Result<Value> Get(std::size_t index) const;
  [[nodiscard]] Result<bool> IsNull(std::size_t index) const;
  [[nodiscard]] Result<bool> IsNull(std::string_view name) const;
  [[nodiscard]] Result<std::int64_t> GetInt64(std::size_t index) const;
  [[nodiscard]] Result<std::int64_t> GetInt64(std::string_view name) const;
  [[nodiscard]] Result<double> GetDouble(std::size_t index) const;
  [[nodiscard]] Result<double> GetDouble(std::string_view name) const;
  [[nodiscard]] Result<std::string> GetText(std::size_t index) const;
  [[nodiscard]] Result<std::string> GetText(std::string_view name) const;
  [[nodiscard]] Result<Blob> GetBlob(std::size_t index) const;
  [[nodiscard]] Result<Blob> GetBlob(std::string_view name) const;

 private:
  [[nodiscard]] Result<const Value*> At(std::size_t index) const;

  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;

// What both a Database and a Tx can run. Public functions are non-virtual (so that default
// arguments stay out of virtual functions); implementations override the Do* hooks.
class Executor {
 public:
  virtual ~Executor() = default;

  // Runs one statement (a trailing ';' is allowed, a second statement is kInvalidArgument) with
  // `params` bound to its `?` placeholders in order; discards any rows. Returns the number of
  // rows changed by an INSERT/UPDATE/DELETE (unspecified for other statements).
  [[nodiscard]] Result<std::int64_t> Exec(std::string_view sql, const Params& params = {}) {
    return DoExec(sql, params);
  }
  // Runs one statement and returns all its rows (possibly none), fully read into memory.
  [[nodiscard]] Result<Rows> Query(std::string_view sql, const Params& params = {}) {
    return DoQuery(sql, params);
  }
  // Like Query, but exactly the first row: kNotFound when the statement returns none.
  [[nodiscard]] Result<Row> QueryRow(std::string_view sql, const Params& params = {});
  // Runs a script of several ';'-separated statements without parameters (schema migrations).
  [[nodiscard]] Status ExecScript(std::string_view sql) { return DoExecScript(sql); }

 protected:
  [[nodiscard]] virtual Result<std::int64_t> DoExec(std::string_view sql, const Params& params) = 0;
  [[nodiscard]] virtual Result<Rows> DoQuery(std::string_view sql, const Params& params) = 0;
  [[nodiscard]] virtual Status DoExecScript(std::string_view sql) = 0;
};

// A read-write transaction, handed to the WithTransaction callback. Statements run on it see
// its own uncommitted writes.
class Tx : public Executor {
 public:
  // Queues a notification that is delivered only if and when the transaction commits (the
  // semantics of PostgreSQL NOTIFY inside a transaction). Same argument rules as
  // Database::Notify.
  [[nodiscard]] virtual Status Notify(std::string_view channel, std::string_view payload) = 0;
};

// One schema step of one component. Versions of a component are 1, 2, 3, ... with no gap.
struct Migration {
  int version = 0;
  std::string sql;  // one or more ';'-separated statements, portable SQL
};

// Called with the payload of each notification on a subscribed channel.
using NotifyCallback = std::function<void(std::string_view payload)>;

// Keeps a Subscribe() registration alive; destroying it (or Cancel()) unsubscribes. After
// Cancel() returns, the callback is not running on any other thread and will not be called again
// (when Cancel() is called from inside the callback itself, that call finishes normally).
// May outlive the Database.
class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  Subscription(Subscription&& other) noexcept : cancel_(std::exchange(other.cancel_, nullptr)) {}
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { Cancel(); }

  void Cancel();
  bool active() const { return static_cast<bool>(cancel_); }

 private:
  std::function<void()> cancel_;
};

class Database : public Executor {
 public:
  // Runs `fn` inside one read-write transaction: commits when it returns OK, rolls back when it
  // returns an error (which is then returned unchanged). When the store is busy (another
  // process holds the write lock past the timeout; in PostgreSQL a serialization failure or
  // deadlock), the transaction is rolled back and `fn` is run again, a bounded number of times,
  // so `fn` must have no side effects outside the transaction. Calling WithTransaction or
  // Exec/Query/ExecScript on the Database (instead of on the Tx) for a write from inside `fn`
  // is kFailedPrecondition, not a deadlock. Queries on the Database from inside `fn` do not see
  // the transaction's uncommitted writes.
  //
  // `fn` returns Status, or Result<T> for a transaction that produces a value: WithTransaction
  // then returns the value of the attempt that committed.
  template <typename Fn>
  [[nodiscard]] std::invoke_result_t<Fn&, Tx&> WithTransaction(Fn&& fn) {
    using R = std::invoke_result_t<Fn&, Tx&>;
    if constexpr (std::is_same_v<R, Status>) {
      return RunTransaction(fn);
    } else {
      std::optional<typename R::value_type> out;
      VEIL_TRY(RunTransaction([&](Tx& tx) -> Status {
        R r = fn(tx);
        if (!r) return tl::unexpected(std::move(r.error()));
        out.emplace(std::move(*r));
        return OkStatus();
      }));
      return std::move(*out);
    }
  }

  // Brings the schema of `component` (e.g. "kms") up to the last of `migrations`. Each pending
  // migration runs in its own transaction together with its row in
  // schema_migrations(component, version, applied_at), so a failed one leaves the schema at the
  // previous version. Idempotent and safe to run from several threads or replicas at once.
  // Returns how many migrations this call applied.
  // Errors: kInvalidArgument when `component` is empty or has characters outside
  // [a-z0-9_.-], or versions are not 1..n in order; kFailedPrecondition when the store records
  // a version newer than the last one given (an older veild against a newer database);
  // otherwise the error of the failing statement, wrapped with the component and version.
  [[nodiscard]] Result<int> Migrate(std::string_view component,
                                    const std::vector<Migration>& migrations);

  // Version of `component` recorded in schema_migrations, 0 when none.
  [[nodiscard]] Result<int> SchemaVersion(std::string_view component);

  // Leases elect one runner of a background job (key rotation, purges, audit checkpoints) among
  // replicas. A lease is held by `holder` (a replica id) until `ttl` after the last acquire or
  // renew; a holder that stops renewing loses it when that time passes.
  // TryAcquireLease: true when `holder` now holds `name` (newly, after the previous holder's
  // expiry, or again: re-acquiring extends it); false when another holder's lease is unexpired.
  // RenewLease: true when `holder` still held an unexpired lease, now extended; false when it
  // lost it (the job must stop). ReleaseLease: gives it up if `holder` holds it; OK otherwise.
  // kInvalidArgument on an empty name or holder or a ttl that is not positive.
  // The default implementation is portable SQL on the store_leases table (created by
  // StoreMigrations()), with time from Now().
  [[nodiscard]] virtual Result<bool> TryAcquireLease(std::string_view name, std::string_view holder,
                                                     std::chrono::milliseconds ttl);
  [[nodiscard]] virtual Result<bool> RenewLease(std::string_view name, std::string_view holder,
                                                std::chrono::milliseconds ttl);
  [[nodiscard]] virtual Status ReleaseLease(std::string_view name, std::string_view holder);

  // The event seam: a change other replicas must see at once (e.g. a root key was disabled).
  // Notify delivers `payload` to every current subscriber of `channel`, in every replica
  // (PostgreSQL LISTEN/NOTIFY; in-process for SQLite, where it runs the callbacks synchronously
  // on the calling thread before returning). Delivery is at most once and best effort: a
  // replica that was not subscribed misses it, so use it to invalidate caches, not as a queue.
  // kInvalidArgument when `channel` is not 1-63 characters of [a-z0-9_] or `payload` is 7999
  // bytes or longer (PostgreSQL's limit), or is not free of NUL bytes.
  [[nodiscard]] virtual Status Notify(std::string_view channel, std::string_view payload) = 0;
  // Registers `callback` for `channel` (same rules) until the returned handle is destroyed.
  // Callbacks must be quick and must not block on other notifications.
  [[nodiscard]] virtual Result<Subscription> Subscribe(std::string_view channel,
                                                       NotifyCallback callback) = 0;

  // The wall-clock time leases and migrations are stamped with (wall clock, not monotonic: lease
  // expiries are compared across replicas). Default: the system clock.
  virtual std::chrono::system_clock::time_point Now() const;

 protected:
  // WithTransaction's engine (each store's own).
  [[nodiscard]] virtual Status RunTransaction(const std::function<Status(Tx&)>& fn) = 0;
};

// The store layer's own schema (component "store": the store_leases table). Every Database
// implementation applies it when it opens.
const std::vector<Migration>& StoreMigrations();

// Validates a Notify/Subscribe channel name and payload (shared by implementations).
[[nodiscard]] Status ValidateChannel(std::string_view channel);
[[nodiscard]] Status ValidatePayload(std::string_view payload);

}  // namespace veil::store
