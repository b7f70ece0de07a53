#include "store/sqlite/sqlite_connection.h"

#include <sqlite3.h>

#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace veil::store {

ErrorCode SqliteCodeToErrorCode(int sqlite_code) {
  switch (sqlite_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
      return ErrorCode::kAlreadyExists;
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_DATATYPE:
      return ErrorCode::kInvalidArgument;
    default:
      break;
  }
  switch (sqlite_code & 0xff) {
    case SQLITE_CONSTRAINT:
      return ErrorCode::kFailedPrecondition;  // FOREIGN KEY, trigger, ...
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return ErrorCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return ErrorCode::kResourceExhausted;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return ErrorCode::kFailedPrecondition;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return ErrorCode::kPermissionDenied;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return ErrorCode::kInvalidArgument;
    case SQLITE_INTERRUPT:
    case SQLITE_ABORT:
      return ErrorCode::kCancelled;
    default:
      return ErrorCode::kInternal;  // SQLITE_ERROR (syntax, no such table), MISUSE, ...
  }
}

namespace {

bool IsBusy(int code) { return (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED; }

// The SQL quoted in error messages: whitespace collapsed, cut to a readable length. Bound values
// never appear in it (they are parameters), so it cannot leak data.
std::string Snippet(std::string_view sql) {
  constexpr std::size_t kMax = 160;
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
  }
  return out;
}

bool OnlySpaceOrSemicolons(const char* p, const char* end) {
  for (; p < end; ++p) {
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';') return false;
  }
  return true;
}

}  // namespace

// ---- Statement -------------------------------------------------------------------------------

class SqliteConnection::Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// ---- Connection ------------------------------------------------------------------------------

SqliteConnection::SqliteConnection(sqlite3* db, std::size_t cache_size)
    : db_(db), cache_size_(cache_size) {}

SqliteConnection::~SqliteConnection() {
  cache_.clear();  // finalize every statement before closing
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, const SqliteConnectionOptions& options) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (!options.read_only) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);  // a handle is returned even on failure (NULL only on OOM)
    return tl::unexpected(
        Error(SqliteCodeToErrorCode(rc), "sqlite: cannot open database '" + path + "': " + msg));
  }
  sqlite3_extended_result_codes(raw, 1);
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(raw, options.statement_cache_size));

  rc = sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  if (rc != SQLITE_OK) return tl::unexpected(conn->MakeError(rc, "busy_timeout"));

  auto wrap = [&](const Error& e) { return tl::unexpected(e.Wrap("open '" + path + "'")); };
  std::string pragmas = "PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;";
  pragmas +=
      options.synchronous_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
  if (options.read_only) pragmas += "PRAGMA query_only = ON;";
  if (Status s = conn->ExecScript(pragmas); !s) return wrap(s.error());

  if (!options.read_only) {
    // journal_mode answers with the mode in effect: "wal", or "memory" for an in-memory
    // database, which has no WAL and needs none.
    Result<Rows> mode = conn->Query("PRAGMA journal_mode = WAL", {});
    if (!mode) return wrap(mode.error());
    std::string got;
    if (!mode->empty()) {
      Result<std::string> text = mode->front().GetText(0);
      if (text) got = *text;
    }
    if (got != "wal" && got != "memory") {
      return wrap(Error(ErrorCode::kFailedPrecondition,
                        "sqlite: cannot enable WAL journal mode (got '" + got + "')"));
    }
  }
  return conn;
}

bool SqliteConnection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

Error SqliteConnection::MakeError(int code, std::string_view sql) {
  if (IsBusy(code)) ++busy_count_;
  std::string msg = "sqlite: ";
  // sqlite3_errmsg describes the most recent failing call on this connection; fall back to the
  // generic text of the code when it is unrelated ("not an error").
  const char* detail = sqlite3_errmsg(db_);
  if (detail == nullptr || sqlite3_errcode(db_) == SQLITE_OK) detail = sqlite3_errstr(code);
  msg += detail;
  msg += " (";
  msg += sqlite3_errstr(code);
  msg += ", code " + std::to_string(code) + ")";
  if (!sql.empty()) msg += " in `" + Snippet(sql) + "`";
  return Error(SqliteCodeToErrorCode(code), std::move(msg));
}

Result<SqliteConnection::Statement*> SqliteConnection::Prepare(std::string_view sql) {
  std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, &tail);
  if (rc != SQLITE_OK) return tl::unexpected(MakeError(rc, sql));
  if (raw == nullptr) return InvalidArgument("empty SQL statement");
  auto stmt = std::make_unique<Statement>(raw);

  const char* end = sql.data() + sql.size();
  if (tail != nullptr && !OnlySpaceOrSemicolons(tail, end)) {
    // Something follows the first statement: a comment is fine, a second statement is not.
    sqlite3_stmt* next = nullptr;
    rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &next, nullptr);
    sqlite3_finalize(next);
    if (rc != SQLITE_OK || next != nullptr) {
      return InvalidArgument(
          "Exec/Query take exactly one statement; use ExecScript for several: `" + Snippet(sql) +
          "`");
    }
  }
  // Portability: only plain `?` placeholders, which the PostgreSQL implementation rewrites.
  const int n = sqlite3_bind_parameter_count(raw);
  for (int i = 1; i <= n; ++i) {
    if (sqlite3_bind_parameter_name(raw, i) != nullptr) {
      return InvalidArgument(std::string("use plain '?' placeholders, not '") +
                             sqlite3_bind_parameter_name(raw, i) + "': `" + Snippet(sql) + "`");
    }
  }

  // Full: start over. Rare with a bounded set of statements in the code, simpler than an LRU,
  // and still bounded. (With a size of 0 the map holds just the statement in use.)
  if (cache_.size() >= cache_size_) cache_.clear();
  Statement* out = stmt.get();
  cache_.emplace(std::move(key), std::move(stmt));
  return out;
}

Result<Rows> SqliteConnection::Run(Statement& statement, std::string_view sql, const Params& params,
                                   bool collect, std::int64_t* changes) {
  sqlite3_stmt* stmt = statement.get();
  // Always leave the statement reset with no bindings, whatever happens below, so that the cached
  // statement neither holds a read snapshot nor points at the caller's buffers.
  struct ResetGuard {
    sqlite3_stmt* s;
    ~ResetGuard() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  } guard{stmt};

  const int expected = sqlite3_bind_parameter_count(stmt);
  if (expected != static_cast<int>(params.size())) {
    return InvalidArgument("statement has " + std::to_string(expected) + " placeholders but " +
                           std::to_string(params.size()) + " values were given: `" + Snippet(sql) +
                           "`");
  }
  for (int i = 0; i < expected; ++i) {
    const Value& v = params[static_cast<std::size_t>(i)];
    const int pos = i + 1;
    int rc = SQLITE_OK;
    if (std::holds_alternative<Null>(v)) {
      rc = sqlite3_bind_null(stmt, pos);
    } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, pos, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, pos, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      // SQLITE_STATIC: `params` outlives the statement's use (reset in the guard above).
      rc = sqlite3_bind_text64(stmt, pos, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else if (const auto* b = std::get_if<Blob>(&v)) {
      // A zero-length blob bound from a null pointer would become NULL; bind an empty blob.
      rc = b->empty() ? sqlite3_bind_zeroblob(stmt, pos, 0)
                      : sqlite3_bind_blob64(stmt, pos, b->data(), b->size(), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) return tl::unexpected(MakeError(rc, sql));
  }

  Rows rows;
  std::shared_ptr<const std::vector<std::string>> columns;
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(MakeError(rc, sql));
    if (!collect) continue;
    const int n = sqlite3_column_count(stmt);
    if (!columns) {
      std::vector<std::string> names;
      names.reserve(static_cast<std::size_t>(n));
      for (int c = 0; c < n; ++c) {
        const char* name = sqlite3_column_name(stmt, c);
        names.emplace_back(name != nullptr ? name : "");
      }
      columns = std::make_shared<const std::vector<std::string>>(std::move(names));
    }
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(n));
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_INTEGER:
          values.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_FLOAT:
          values.emplace_back(sqlite3_column_double(stmt, c));
          break;
        case SQLITE_TEXT: {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          const int len = sqlite3_column_bytes(stmt, c);
          values.emplace_back(std::string(p != nullptr ? p : "", static_cast<std::size_t>(len)));
          break;
        }
        case SQLITE_BLOB: {
          const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, c));
          const int len = sqlite3_column_bytes(stmt, c);
          values.emplace_back(p != nullptr ? Blob(p, p + len) : Blob());
          break;
        }
        default:
          values.emplace_back(kSqlNull);
          break;
      }
    }
    rows.emplace_back(columns, std::move(values));
  }
  if (changes != nullptr) *changes = sqlite3_changes64(db_);
  return rows;
}

Result<std::int64_t> SqliteConnection::Exec(std::string_view sql, const Params& params) {
  Result<Statement*> stmt = Prepare(sql);
  if (!stmt) return tl::unexpected(std::move(stmt).error());
  std::int64_t changes = 0;
  Result<Rows> r = Run(**stmt, sql, params, /*collect=*/false, &changes);
  if (!r) return tl::unexpected(std::move(r).error());
  return changes;
}

Result<Rows> SqliteConnection::Query(std::string_view sql, const Params& params) {
  Result<Statement*> stmt = Prepare(sql);
  if (!stmt) return tl::unexpected(std::move(stmt).error());
  return Run(**stmt, sql, params, /*collect=*/true, nullptr);
}

Result<bool> SqliteConnection::IsReadOnly(std::string_view sql) {
  Result<Statement*> stmt = Prepare(sql);
  if (!stmt) return tl::unexpected(std::move(stmt).error());
  return sqlite3_stmt_readonly((*stmt)->get()) != 0;
}

Status SqliteConnection::ExecScript(std::string_view sql) {
  const char* p = sql.data();
  const char* end = sql.data() + sql.size();
  while (p < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_, p, static_cast<int>(end - p), &raw, &tail);
    if (rc != SQLITE_OK) return tl::unexpected(MakeError(rc, std::string_view(p, end - p)));
    if (raw == nullptr) break;  // only whitespace or comments left
    Statement stmt(raw);
    if (sqlite3_bind_parameter_count(raw) != 0) {
      return InvalidArgument("ExecScript takes no parameters: `" +
                             Snippet(std::string_view(p, tail - p)) + "`");
    }
    for (;;) {
      rc = sqlite3_step(raw);
      if (rc == SQLITE_ROW) continue;
      if (rc == SQLITE_DONE) break;
      return tl::unexpected(MakeError(rc, std::string_view(p, tail - p)));
    }
    p = tail;
  }
  return OkStatus();
}

}  // namespace veil::store
