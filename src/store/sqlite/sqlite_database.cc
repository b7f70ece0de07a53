#include "store/sqlite/sqlite_database.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_connection.h"

namespace veil::store {
namespace {

// ---- In-process notifications ----------------------------------------------------------------

// Subscribers of in-process Notify. Shared with the Subscription handles (through weak_ptr) so
// that a handle may outlive the database.
class Notifier : public std::enable_shared_from_this<Notifier> {
 public:
  Subscription Add(std::string channel, NotifyCallback callback) {
    auto sub = std::make_shared<Subscriber>();
    sub->callback = std::move(callback);
    {
      std::lock_guard<std::mutex> lock(mu_);
      subscribers_.emplace(std::move(channel), sub);
    }
    std::weak_ptr<Notifier> weak = weak_from_this();
    return Subscription([weak, sub] {
      {
        // Waits for a delivery in progress on another thread; recursive so that a callback may
        // cancel its own subscription.
        std::lock_guard<std::recursive_mutex> lock(sub->mu);
        sub->active = false;
      }
      if (auto self = weak.lock()) self->Remove(sub);
    });
  }

  void Publish(std::string_view channel, std::string_view payload) {
    std::vector<std::shared_ptr<Subscriber>> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [first, last] = subscribers_.equal_range(std::string(channel));
      for (auto it = first; it != last; ++it) targets.push_back(it->second);
    }
    // Callbacks run without mu_ held, so they may subscribe, cancel or notify.
    for (const auto& sub : targets) {
      std::lock_guard<std::recursive_mutex> lock(sub->mu);
      if (sub->active) sub->callback(payload);
    }
  }

 private:
  struct Subscriber {
    std::recursive_mutex mu;
    bool active = true;
    NotifyCallback callback;
  };

  void Remove(const std::shared_ptr<Subscriber>& sub) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = subscribers_.begin(); it != subscribers_.end(); ++it) {
      if (it->second == sub) {
        subscribers_.erase(it);
        return;
      }
    }
  }

  std::mutex mu_;
  std::multimap<std::string, std::shared_ptr<Subscriber>> subscribers_;
};

// ---- Reader pool -----------------------------------------------------------------------------

class ReaderPool {
 public:
  ReaderPool(std::string path, SqliteConnectionOptions options, int max)
      : path_(std::move(path)), options_(options), max_(max) {}

  class Handle {
   public:
    Handle(ReaderPool* pool, std::unique_ptr<SqliteConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Handle(Handle&&) = default;
    Handle& operator=(Handle&&) = delete;
    ~Handle() {
      if (conn_) pool_->Return(std::move(conn_));
    }
    SqliteConnection& conn() const { return *conn_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<SqliteConnection> conn_;
  };

  // Blocks while all `max` readers are in use (each is held for one statement only).
  [[nodiscard]] Result<Handle> Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    // Open outside the lock: it touches the file system.
    Result<std::unique_ptr<SqliteConnection>> conn = SqliteConnection::Open(path_, options_);
    if (!conn) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return tl::unexpected(std::move(conn).error());
    }
    return Handle(this, std::move(*conn));
  }

 private:
  void Return(std::unique_ptr<SqliteConnection> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(conn));
    cv_.notify_one();
  }

  const std::string path_;
  const SqliteConnectionOptions options_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_;
  int open_ = 0;
};

bool IsFilePath(const std::string& path) {
  return path != ":memory:" && !path.empty() && path.rfind("file:", 0) != 0;
}

// A statement that opened a transaction outside WithTransaction would leave the connection in
// it and wedge every later caller: undo it and say why.
Status CheckNoOpenTransaction(SqliteConnection& conn) {
  if (!conn.in_transaction()) return OkStatus();
  (void)conn.Exec("ROLLBACK", {});
  return FailedPrecondition("transactions must go through Database::WithTransaction, not BEGIN");
}

}  // namespace

// ---- State -----------------------------------------------------------------------------------

struct SqliteDatabase::State {
  std::string path;
  SqliteOptions options;

  std::mutex writer_mu;
  std::unique_ptr<SqliteConnection> writer;  // guarded by writer_mu
  // The thread holding writer_mu, to turn a re-entrant call into an error instead of a deadlock.
  std::atomic<std::thread::id> writer_owner{};

  std::unique_ptr<ReaderPool> readers;  // null when reads use the writer
  std::shared_ptr<Notifier> notifier = std::make_shared<Notifier>();
};

namespace {

// Holds the writer connection for the current thread.
class WriterLock {
 public:
  WriterLock(std::mutex& mu, std::atomic<std::thread::id>& owner) : lock_(mu), owner_(owner) {
    owner_.store(std::this_thread::get_id());
  }
  ~WriterLock() { owner_.store(std::thread::id()); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  std::atomic<std::thread::id>& owner_;
};

Status CheckNotReentrant(const std::atomic<std::thread::id>& owner) {
  if (owner.load() == std::this_thread::get_id()) {
    return FailedPrecondition(
        "this thread is inside WithTransaction: run the statement on the Tx, not the Database");
  }
  return OkStatus();
}

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(SqliteConnection& conn) : conn_(conn) {}

  Status Notify(std::string_view channel, std::string_view payload) override {
    VEIL_TRY(CheckOpen());
    VEIL_TRY(ValidateChannel(channel));
    VEIL_TRY(ValidatePayload(payload));
    pending_.emplace_back(std::string(channel), std::string(payload));
    return OkStatus();
  }

  void Close() { open_ = false; }
  std::vector<std::pair<std::string, std::string>> TakePending() { return std::move(pending_); }

 protected:
  Result<std::int64_t> DoExec(std::string_view sql, const Params& params) override {
    VEIL_TRY(CheckOpen());
    return conn_.Exec(sql, params);
  }
  Result<Rows> DoQuery(std::string_view sql, const Params& params) override {
    VEIL_TRY(CheckOpen());
    return conn_.Query(sql, params);
  }
  Status DoExecScript(std::string_view sql) override {
    VEIL_TRY(CheckOpen());
    return conn_.ExecScript(sql);
  }

 private:
  Status CheckOpen() const {
    if (!open_) return FailedPrecondition("Tx used after its WithTransaction callback returned");
    return OkStatus();
  }

  SqliteConnection& conn_;
  bool open_ = true;
  std::vector<std::pair<std::string, std::string>> pending_;
};

}  // namespace

// ---- SqliteDatabase --------------------------------------------------------------------------

SqliteDatabase::SqliteDatabase(std::unique_ptr<State> state) : state_(std::move(state)) {}
SqliteDatabase::~SqliteDatabase() = default;

const std::string& SqliteDatabase::path() const { return state_->path; }

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path,
                                                             SqliteOptions options) {
  if (path.empty()) return InvalidArgument("database path must not be empty");
  if (options.busy_timeout.count() < 0) return InvalidArgument("busy_timeout must be >= 0");
  if (options.max_readers < 0 || options.max_readers > 64) {
    return InvalidArgument("max_readers must be 0..64");
  }
  if (options.max_transaction_attempts < 1) {
    return InvalidArgument("max_transaction_attempts must be >= 1");
  }
  if (options.file_mode > 0777) return InvalidArgument("file_mode must be a permission mode");

  if (IsFilePath(path)) {
    // Create the file ourselves so that it gets our mode rather than SQLite's 0644.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, options.file_mode);
    if (fd < 0) {
      int err = errno;
      return FailedPrecondition("cannot create database '" + path + "': " + std::strerror(err));
    }
    ::close(fd);
  } else {
    options.max_readers = 0;
  }

  SqliteConnectionOptions conn_options;
  conn_options.busy_timeout = options.busy_timeout;
  conn_options.synchronous_full = options.synchronous == SqliteSynchronous::kFull;
  conn_options.statement_cache_size = options.statement_cache_size;

  auto state = std::make_unique<State>();
  state->path = path;
  Result<std::unique_ptr<SqliteConnection>> writer = SqliteConnection::Open(path, conn_options);
  if (!writer) return tl::unexpected(std::move(writer).error());
  state->writer = std::move(*writer);
  if (options.max_readers > 0) {
    SqliteConnectionOptions reader_options = conn_options;
    reader_options.read_only = true;
    state->readers = std::make_unique<ReaderPool>(path, reader_options, options.max_readers);
  }
  state->options = options;

  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(std::move(state)));
  Result<int> migrated = db->Migrate("store", StoreMigrations());
  if (!migrated) return tl::unexpected(std::move(migrated).error().Wrap("open '" + path + "'"));
  return db;
}

std::chrono::system_clock::time_point SqliteDatabase::Now() const {
  if (state_->options.clock != nullptr) return state_->options.clock->Now();
  return Database::Now();
}

Result<std::int64_t> SqliteDatabase::DoExec(std::string_view sql, const Params& params) {
  VEIL_TRY(CheckNotReentrant(state_->writer_owner));
  WriterLock lock(state_->writer_mu, state_->writer_owner);
  Result<std::int64_t> r = state_->writer->Exec(sql, params);
  VEIL_TRY(CheckNoOpenTransaction(*state_->writer));
  return r;
}

Status SqliteDatabase::DoExecScript(std::string_view sql) {
  VEIL_TRY(CheckNotReentrant(state_->writer_owner));
  WriterLock lock(state_->writer_mu, state_->writer_owner);
  Status s = state_->writer->ExecScript(sql);
  VEIL_TRY(CheckNoOpenTransaction(*state_->writer));
  return s;
}

Result<Rows> SqliteDatabase::DoQuery(std::string_view sql, const Params& params) {
  if (state_->readers) {
    Result<ReaderPool::Handle> reader = state_->readers->Acquire();
    if (!reader) return tl::unexpected(std::move(reader).error());
    SqliteConnection& conn = reader->conn();
    Result<bool> read_only = conn.IsReadOnly(sql);
    if (!read_only) return tl::unexpected(std::move(read_only).error());
    if (*read_only) {
      Result<Rows> rows = conn.Query(sql, params);
      VEIL_TRY(CheckNoOpenTransaction(conn));
      return rows;
    }
    // A write with RETURNING, or anything else that changes the database: the writer's job.
  }
  VEIL_TRY(CheckNotReentrant(state_->writer_owner));
  WriterLock lock(state_->writer_mu, state_->writer_owner);
  Result<Rows> rows = state_->writer->Query(sql, params);
  VEIL_TRY(CheckNoOpenTransaction(*state_->writer));
  return rows;
}

Status SqliteDatabase::RunTransaction(const std::function<Status(Tx&)>& fn) {
  VEIL_TRY(CheckNotReentrant(state_->writer_owner));
  const int max_attempts = state_->options.max_transaction_attempts;
  for (int attempt = 1;; ++attempt) {
    Status result;
    bool busy = false;
    std::vector<std::pair<std::string, std::string>> notifications;
    {
      WriterLock lock(state_->writer_mu, state_->writer_owner);
      SqliteConnection& conn = *state_->writer;
      const std::uint64_t busy_before = conn.busy_count();
      // IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades
      // can fail with SQLITE_BUSY mid-way, after the callback did work.
      if (Result<std::int64_t> begin = conn.Exec("BEGIN IMMEDIATE", {}); !begin) {
        result = tl::unexpected(std::move(begin).error());
      } else {
        SqliteTx tx(conn);
        result = fn(tx);
        tx.Close();
        if (result && !conn.in_transaction()) {
          result =
              FailedPrecondition("the callback ended the transaction itself (COMMIT/ROLLBACK)");
        }
        if (result) {
          if (Result<std::int64_t> commit = conn.Exec("COMMIT", {}); !commit) {
            result = tl::unexpected(std::move(commit).error());
          }
        }
        if (!result && conn.in_transaction()) (void)conn.Exec("ROLLBACK", {});
        if (result) notifications = tx.TakePending();
      }
      busy = !result && conn.busy_count() != busy_before;
    }
    if (result) {
      for (const auto& [channel, payload] : notifications) {
        state_->notifier->Publish(channel, payload);
      }
      return result;
    }
    if (!busy) return result;
    if (attempt >= max_attempts) {
      return tl::unexpected(
          result.error().Wrap("database busy after " + std::to_string(attempt) + " attempts"));
    }
    // Back off before trying again (outside the lock): 10, 20, 40, ... ms, at most 320 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(10 << std::min(attempt - 1, 5)));
  }
}

Status SqliteDatabase::Notify(std::string_view channel, std::string_view payload) {
  VEIL_TRY(ValidateChannel(channel));
  VEIL_TRY(ValidatePayload(payload));
  state_->notifier->Publish(channel, payload);
  return OkStatus();
}

Result<Subscription> SqliteDatabase::Subscribe(std::string_view channel, NotifyCallback callback) {
  VEIL_TRY(ValidateChannel(channel));
  if (!callback) return InvalidArgument("Subscribe needs a callback");
  return state_->notifier->Add(std::string(channel), std::move(callback));
}

}  // namespace veil::store
