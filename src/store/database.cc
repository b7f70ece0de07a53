#include "store/database.h"

#include <string>

#include "common/time.h"

namespace veil::store {

ValueType TypeOf(const Value& value) { return static_cast<ValueType>(value.index()); }

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return "null";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kDouble:
      return "double";
    case ValueType::kText:
      return "text";
    case ValueType::kBlob:
      return "blob";
  }
  return "unknown";
}

// ---- Row -------------------------------------------------------------------------------------

Row::Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
    : columns_(std::move(columns)), values_(std::move(values)) {
  VEIL_CHECK(columns_ != nullptr);
  VEIL_CHECK(columns_->size() == values_.size());
}

Result<std::size_t> Row::IndexOf(std::string_view name) const {
  for (std::size_t i = 0; i < columns_->size(); ++i) {
    if ((*columns_)[i] == name) return i;
  }
  return InvalidArgument("no column named '" + std::string(name) + "' in the result");
}

Result<const Value*> Row::At(std::size_t index) const {
  if (index >= values_.size()) {
    return InvalidArgument("column index " + std::to_string(index) + " out of range (row has " +
                           std::to_string(values_.size()) + " columns)");
  }
  return &values_[index];
}

Result<Value> Row::Get(std::size_t index) const {
  return At(index).map([](const Value* v) { return *v; });
}

Result<bool> Row::IsNull(std::size_t index) const {
  return At(index).map([](const Value* v) { return std::holds_alternative<Null>(*v); });
}

namespace {

tl::unexpected<Error> WrongType(const Row& row, std::size_t index, ValueType want) {
  return InvalidArgument("column '" + row.columns()[index] + "' is " +
                         std::string(ValueTypeName(TypeOf(row.values()[index]))) + ", not " +
                         std::string(ValueTypeName(want)));
}

}  // namespace

Result<std::int64_t> Row::GetInt64(std::size_t index) const {
  Result<const Value*> at = At(index);
  if (!at) return tl::unexpected(std::move(at).error());
  const Value* v = *at;
  if (const auto* i = std::get_if<std::int64_t>(v)) return *i;
  return WrongType(*this, index, ValueType::kInt64);
}

Result<double> Row::GetDouble(std::size_t index) const {
  Result<const Value*> at = At(index);
  if (!at) return tl::unexpected(std::move(at).error());
  const Value* v = *at;
  if (const auto* d = std::get_if<double>(v)) return *d;
  // SQLite stores a REAL that happens to be integral as an integer; widening is exact enough
  // for the values we store and keeps callers independent of that storage detail.
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  return WrongType(*this, index, ValueType::kDouble);
}

Result<std::string> Row::GetText(std::size_t index) const {
  Result<const Value*> at = At(index);
  if (!at) return tl::unexpected(std::move(at).error());
  const Value* v = *at;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return WrongType(*this, index, ValueType::kText);
}

Result<Blob> Row::GetBlob(std::size_t index) const {
  Result<const Value*> at = At(index);
  if (!at) return tl::unexpected(std::move(at).error());
  const Value* v = *at;
  if (const auto* b = std::get_if<Blob>(v)) return *b;
  return WrongType(*this, index, ValueType::kBlob);
}

Result<bool> Row::IsNull(std::string_view name) const {
  return IndexOf(name).and_then([this](std::size_t i) { return IsNull(i); });
}
Result<std::int64_t> Row::GetInt64(std::string_view name) const {
  return IndexOf(name).and_then([this](std::size_t i) { return GetInt64(i); });
}
Result<double> Row::GetDouble(std::string_view name) const {
  return IndexOf(name).and_then([this](std::size_t i) { return GetDouble(i); });
}
Result<std::string> Row::GetText(std::string_view name) const {
  return IndexOf(name).and_then([this](std::size_t i) { return GetText(i); });
}
Result<Blob> Row::GetBlob(std::string_view name) const {
  return IndexOf(name).and_then([this](std::size_t i) { return GetBlob(i); });
}

// ---- Executor, Subscription ------------------------------------------------------------------

Result<Row> Executor::QueryRow(std::string_view sql, const Params& params) {
  Result<Rows> rows = DoQuery(sql, params);
  if (!rows) return tl::unexpected(std::move(rows).error());
  if (rows->empty()) return NotFound("query returned no row");
  return std::move(rows->front());
}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Cancel();
    cancel_ = std::exchange(other.cancel_, nullptr);
  }
  return *this;
}

void Subscription::Cancel() {
  if (cancel_) {
    auto cancel = std::exchange(cancel_, nullptr);
    cancel();
  }
}

// ---- Migrations ------------------------------------------------------------------------------

namespace {

bool IsComponentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

constexpr std::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " applied_at TEXT NOT NULL,"
    " PRIMARY KEY (component, version))";

constexpr std::string_view kSelectVersion =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?";

Result<int> ReadVersion(Executor& ex, std::string_view component) {
  return ex.QueryRow(kSelectVersion, {std::string(component)})
      .and_then([](const Row& row) { return row.GetInt64(0); })
      .map([](std::int64_t v) { return static_cast<int>(v); });
}

tl::unexpected<Error> NewerSchema(std::string_view component, int recorded, int known) {
  return FailedPrecondition("the database schema of component '" + std::string(component) +
                            "' is at version " + std::to_string(recorded) +
                            ", newer than this build knows (" + std::to_string(known) +
                            "); refusing to run against it");
}

}  // namespace

Result<int> Database::SchemaVersion(std::string_view component) {
  VEIL_TRY(Exec(kCreateSchemaMigrations));
  return ReadVersion(*this, component);
}

Result<int> Database::Migrate(std::string_view component,
                              const std::vector<Migration>& migrations) {
  if (component.empty() || component.size() > 64) {
    return InvalidArgument("migration component name must be 1-64 characters");
  }
  for (char c : component) {
    if (!IsComponentChar(c)) {
      return InvalidArgument("migration component '" + std::string(component) +
                             "' has a character outside [a-z0-9_.-]");
    }
  }
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return InvalidArgument("migrations of '" + std::string(component) +
                             "' must have versions 1..n in order; position " +
                             std::to_string(i + 1) + " has version " +
                             std::to_string(migrations[i].version));
    }
  }
  const int known = static_cast<int>(migrations.size());
  Result<int> version = SchemaVersion(component);
  if (!version) return tl::unexpected(std::move(version).error());
  const int recorded = *version;
  if (recorded > known) return NewerSchema(component, recorded, known);

  int applied = 0;
  for (const Migration& m : migrations) {
    if (m.version <= recorded) continue;
    // Whether this call applied it (another thread or replica may have got here first).
    Result<bool> applied_here = WithTransaction([&](Tx& tx) -> Result<bool> {
      // Read again under the write lock: another thread or replica may have got here first.
      Result<int> current_version = ReadVersion(tx, component);
      if (!current_version) return tl::unexpected(std::move(current_version).error());
      const int current = *current_version;
      if (current > known) return NewerSchema(component, current, known);
      if (current >= m.version) return false;
      VEIL_TRY(tx.ExecScript(m.sql));
      VEIL_TRY(
          tx.Exec("INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)",
                  {std::string(component), std::int64_t{m.version}, FormatRfc3339Seconds(Now())}));
      return true;
    });
    if (!applied_here) {
      return tl::unexpected(applied_here.error().Wrap("migration " + std::string(component) + " v" +
                                                      std::to_string(m.version)));
    }
    if (*applied_here) ++applied;
  }
  return applied;
}

const std::vector<Migration>& StoreMigrations() {
  static const std::vector<Migration>* const kMigrations = new std::vector<Migration>{
      {1,
       "CREATE TABLE store_leases ("
       " name TEXT PRIMARY KEY,"
       " holder TEXT NOT NULL,"
       " expires_at_ms BIGINT NOT NULL)"},
  };
  return *kMigrations;
}

// ---- Leases ----------------------------------------------------------------------------------

namespace {

Status ValidateLeaseArgs(std::string_view name, std::string_view holder,
                         std::chrono::milliseconds ttl) {
  if (name.empty()) return InvalidArgument("lease name must not be empty");
  if (holder.empty()) return InvalidArgument("lease holder must not be empty");
  if (ttl.count() <= 0) return InvalidArgument("lease ttl must be positive");
  return OkStatus();
}

std::int64_t ToMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::chrono::system_clock::time_point Database::Now() const {
  return std::chrono::system_clock::now();
}

Result<bool> Database::TryAcquireLease(std::string_view name, std::string_view holder,
                                       std::chrono::milliseconds ttl) {
  VEIL_TRY(ValidateLeaseArgs(name, holder, ttl));
  const std::int64_t now = ToMillis(Now());
  // One atomic upsert: insert a new lease, or take over the row when it is ours or expired.
  // The same statement is valid SQLite (3.24+) and PostgreSQL (9.5+).
  return Exec(
             "INSERT INTO store_leases (name, holder, expires_at_ms) VALUES (?, ?, ?) "
             "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
             "expires_at_ms = excluded.expires_at_ms "
             "WHERE store_leases.holder = excluded.holder OR store_leases.expires_at_ms <= ?",
             {std::string(name), std::string(holder), now + ttl.count(), now})
      .map([](std::int64_t changed) { return changed == 1; });
}

Result<bool> Database::RenewLease(std::string_view name, std::string_view holder,
                                  std::chrono::milliseconds ttl) {
  VEIL_TRY(ValidateLeaseArgs(name, holder, ttl));
  const std::int64_t now = ToMillis(Now());
  return Exec(
             "UPDATE store_leases SET expires_at_ms = ? "
             "WHERE name = ? AND holder = ? AND expires_at_ms > ?",
             {now + ttl.count(), std::string(name), std::string(holder), now})
      .map([](std::int64_t changed) { return changed == 1; });
}

Status Database::ReleaseLease(std::string_view name, std::string_view holder) {
  VEIL_TRY(ValidateLeaseArgs(name, holder, std::chrono::milliseconds(1)));
  VEIL_TRY(Exec("DELETE FROM store_leases WHERE name = ? AND holder = ?",
                {std::string(name), std::string(holder)}));
  return OkStatus();
}

// ---- Notify argument rules -------------------------------------------------------------------

Status ValidateChannel(std::string_view channel) {
  if (channel.empty() || channel.size() > 63) {
    return InvalidArgument("notify channel must be 1-63 characters");
  }
  for (char c : channel) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return InvalidArgument("notify channel '" + std::string(channel) +
                             "' has a character outside [a-z0-9_]");
    }
  }
  return OkStatus();
}

Status ValidatePayload(std::string_view payload) {
  if (payload.size() >= 7999) return InvalidArgument("notify payload must be under 7999 bytes");
  if (payload.find('\0') != std::string_view::npos) {
    return InvalidArgument("notify payload must not contain NUL bytes");
  }
  return OkStatus();
}

}  // namespace veil::store
