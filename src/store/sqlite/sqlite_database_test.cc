#include "store/sqlite/sqlite_database.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace veil::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A fresh directory per test, removed afterwards.
class SqliteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "veil-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string DbPath() const { return (dir_ / "veil.db").string(); }

  std::unique_ptr<SqliteDatabase> OpenDb(SqliteOptions options = {}) {
    Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(DbPath(), std::move(options));
    EXPECT_TRUE(db) << db.error().ToString();
    return db ? std::move(*db) : nullptr;
  }

  fs::path dir_;
};

void CreateItems(Database& db) {
  ASSERT_TRUE(db.ExecScript(
      "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, "
      "data BLOB, note TEXT)"));
}

TEST_F(SqliteDatabaseTest, CrudRoundTripWithAllValueTypes) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  CreateItems(*db);
  Result<std::int64_t> n =
      db->Exec("INSERT INTO items (id, name, score, data, note) VALUES (?, ?, ?, ?, ?)",
               {std::int64_t{1}, "alpha", 2.25, Blob{0xde, 0xad}, kSqlNull});
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(*n, 1);
  // Extremes of int64 survive.
  ASSERT_TRUE(
      db->Exec("INSERT INTO items (id, name, score) VALUES (?, ?, ?)", {INT64_MIN, "min", -0.5}));

  Result<Row> row =
      db->QueryRow("SELECT id, name, score, data, note FROM items WHERE name = ?", {"alpha"});
  ASSERT_TRUE(row) << row.error().ToString();
  EXPECT_EQ(*row->GetInt64("id"), 1);
  EXPECT_EQ(*row->GetText("name"), "alpha");
  EXPECT_EQ(*row->GetDouble("score"), 2.25);
  EXPECT_EQ(*row->GetBlob("data"), (Blob{0xde, 0xad}));
  EXPECT_TRUE(*row->IsNull("note"));
  EXPECT_EQ(*db->QueryRow("SELECT id FROM items WHERE name = 'min'")->GetInt64(0), INT64_MIN);

  EXPECT_EQ(*db->Exec("UPDATE items SET note = ? WHERE id = ?", {"updated", std::int64_t{1}}), 1);
  EXPECT_EQ(*db->QueryRow("SELECT note FROM items WHERE id = 1")->GetText(0), "updated");
  EXPECT_EQ(*db->Exec("UPDATE items SET note = 'x' WHERE id = 999"), 0);
  EXPECT_EQ(*db->Exec("DELETE FROM items WHERE id = ?", {std::int64_t{1}}), 1);
  Result<Row> gone = db->QueryRow("SELECT * FROM items WHERE id = 1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 1u);
}

TEST_F(SqliteDatabaseTest, BlobsKeepNulBytesAndEmptyBlobIsNotNull) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Exec("CREATE TABLE b (k INTEGER PRIMARY KEY, v BLOB, t TEXT)"));
  Blob nuls = {0, 0, 'a', 0, 0xff, 0};
  std::string text_with_nul("a\0b", 3);
  ASSERT_TRUE(db->Exec("INSERT INTO b VALUES (1, ?, ?)", {nuls, text_with_nul}));
  ASSERT_TRUE(db->Exec("INSERT INTO b VALUES (2, ?, ?)", {Blob{}, std::string()}));

  Result<Row> r1 = db->QueryRow("SELECT v, t, length(v) FROM b WHERE k = 1");
  ASSERT_TRUE(r1);
  EXPECT_EQ(*r1->GetBlob(0), nuls);
  EXPECT_EQ(*r1->GetText(1), text_with_nul);
  EXPECT_EQ(*r1->GetInt64(2), 6);
  Result<Row> r2 = db->QueryRow("SELECT v, t FROM b WHERE k = 2");
  ASSERT_TRUE(r2);
  EXPECT_FALSE(*r2->IsNull(0));
  EXPECT_TRUE(r2->GetBlob(0)->empty());
  EXPECT_EQ(*r2->GetText(1), "");
}

TEST_F(SqliteDatabaseTest, TransactionRollsBackOnErrorAndCommitsOnSuccess) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  CreateItems(*db);
  Status failed = db->WithTransaction([](Tx& tx) -> Status {
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('a')"));
    // The transaction sees its own write.
    EXPECT_EQ(tx.Query("SELECT * FROM items")->size(), 1u);
    return NotFound("something the service looked for");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kNotFound);  // returned unchanged
  EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 0u);

  // A failing statement inside also rolls back what came before it.
  Status dup = db->WithTransaction([](Tx& tx) -> Status {
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('b')"));
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('b')"));
    return OkStatus();
  });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 0u);

  ASSERT_TRUE(db->WithTransaction([](Tx& tx) -> Status {
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('c')"));
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('d')"));
    return OkStatus();
  }));
  EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 2u);
}

TEST_F(SqliteDatabaseTest, TransactionReturningAValueCommitsItOrReturnsTheError) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  CreateItems(*db);
  Result<int64_t> id = db->WithTransaction([](Tx& tx) -> Result<int64_t> {
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('a')"));
    auto rows = VEIL_TRY_VALUE(tx.Query("SELECT id FROM items WHERE name = 'a'"));
    return *rows.at(0).GetInt64(0);
  });
  ASSERT_TRUE(id) << id.error().ToString();
  auto stored = db->Query("SELECT id FROM items");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(*stored->at(0).GetInt64(0), *id);

  Result<std::string> failed = db->WithTransaction([](Tx& tx) -> Result<std::string> {
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('b')"));
    return NotFound("nothing to return");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 1u);  // 'b' rolled back
}

TEST_F(SqliteDatabaseTest, ReentrantUseOfTheDatabaseInsideATransactionIsAnErrorNotADeadlock) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  CreateItems(*db);
  Status s = db->WithTransaction([&](Tx& tx) -> Status {
    VEIL_TRY(tx.Exec("INSERT INTO items (name) VALUES ('in-tx')"));
    Result<std::int64_t> direct = db->Exec("INSERT INTO items (name) VALUES ('direct')");
    EXPECT_FALSE(direct);
    EXPECT_EQ(direct.error().code, ErrorCode::kFailedPrecondition);
    Status nested = db->WithTransaction([](Tx&) { return OkStatus(); });
    EXPECT_EQ(nested.error().code, ErrorCode::kFailedPrecondition);
    // A read on the Database goes to a reader and sees only committed data.
    EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 0u);
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(db->Query("SELECT * FROM items")->size(), 1u);

  // BEGIN outside WithTransaction would wedge the writer: refused and undone.
  Result<std::int64_t> begin = db->Exec("BEGIN");
  ASSERT_FALSE(begin);
  EXPECT_EQ(begin.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(db->Exec("INSERT INTO items (name) VALUES ('after')"));
}

TEST_F(SqliteDatabaseTest, MigrationsAreAppliedOnceInOrderAndIdempotent) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  std::vector<Migration> v1 = {
      {1, "CREATE TABLE keys (id TEXT PRIMARY KEY); CREATE INDEX keys_id ON keys (id);"},
  };
  Result<int> applied = db->Migrate("kms", v1);
  ASSERT_TRUE(applied) << applied.error().ToString();
  EXPECT_EQ(*applied, 1);
  EXPECT_EQ(*db->Migrate("kms", v1), 0);  // idempotent

  std::vector<Migration> v3 = v1;
  v3.push_back({2, "ALTER TABLE keys ADD COLUMN state INTEGER NOT NULL DEFAULT 1"});
  v3.push_back({3, "INSERT INTO keys (id) VALUES ('seeded')"});
  EXPECT_EQ(*db->Migrate("kms", v3), 2);
  EXPECT_EQ(*db->Migrate("kms", v3), 0);
  EXPECT_EQ(*db->SchemaVersion("kms"), 3);
  EXPECT_EQ(*db->SchemaVersion("iam"), 0);                 // components are independent
  EXPECT_EQ(db->Query("SELECT * FROM keys")->size(), 1u);  // v3 ran exactly once

  Result<Rows> recorded = db->Query(
      "SELECT version, applied_at FROM schema_migrations WHERE component = 'kms' "
      "ORDER BY version");
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 3u);
  EXPECT_EQ(*(*recorded)[2].GetInt64("version"), 3);
  EXPECT_EQ(db->SchemaVersion("store").value(), 1);  // the lease table's own migration
}

TEST_F(SqliteDatabaseTest, FailedMigrationLeavesThePreviousVersionAndBadListsAreRefused) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  std::vector<Migration> ms = {
      {1, "CREATE TABLE t (a INTEGER)"},
      {2, "CREATE TABLE u (b INTEGER); CREATE TABLE oops ("},  // the second statement is broken
  };
  Result<int> r = db->Migrate("svc", ms);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("migration svc v2"), std::string::npos) << r.error().message;
  EXPECT_EQ(*db->SchemaVersion("svc"), 1);
  // v2's first statement was rolled back with it.
  EXPECT_FALSE(db->Query("SELECT * FROM u"));

  EXPECT_EQ(db->Migrate("svc", {{1, "SELECT 1"}, {3, "SELECT 1"}}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->Migrate("Bad Name", {{1, "SELECT 1"}}).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SqliteDatabaseTest, DatabaseWithNewerSchemaIsRefused) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(
      db->Migrate("kms", {{1, "CREATE TABLE a (x INTEGER)"}, {2, "CREATE TABLE b (x INTEGER)"}}));
  // An older build that knows only version 1.
  Result<int> old = db->Migrate("kms", {{1, "CREATE TABLE a (x INTEGER)"}});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(old.error().message.find("version 2"), std::string::npos) << old.error().message;
}

TEST_F(SqliteDatabaseTest, ConstraintViolationsMapToCanonicalCodes) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(
      db->ExecScript("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
                     "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
                     "  REFERENCES parent (id), n INTEGER CHECK (n >= 0));"));
  ASSERT_TRUE(db->Exec("INSERT INTO parent VALUES (1, 'p')"));

  Result<std::int64_t> unique = db->Exec("INSERT INTO parent VALUES (2, 'p')");
  ASSERT_FALSE(unique);
  EXPECT_EQ(unique.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(unique.error().message.find("UNIQUE constraint failed: parent.name"), std::string::npos)
      << unique.error().message;
  EXPECT_EQ(db->Exec("INSERT INTO parent VALUES (1, 'q')").error().code,
            ErrorCode::kAlreadyExists);  // primary key
  // foreign_keys = ON is in effect.
  EXPECT_EQ(db->Exec("INSERT INTO child (parent_id, n) VALUES (42, 1)").error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(db->Exec("INSERT INTO child (parent_id, n) VALUES (NULL, 1)").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->Exec("INSERT INTO child (parent_id, n) VALUES (1, -1)").error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(SqliteDatabaseTest, SqlMistakesGiveClearErrors) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  Result<Rows> syntax = db->Query("SELEC name FROM nowhere");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code, ErrorCode::kInternal);
  EXPECT_NE(syntax.error().message.find("syntax error"), std::string::npos);
  EXPECT_NE(syntax.error().message.find("`SELEC name FROM nowhere`"), std::string::npos)
      << syntax.error().message;

  Result<Rows> missing = db->Query("SELECT * FROM nowhere");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no such table: nowhere"), std::string::npos);

  ASSERT_TRUE(db->Exec("CREATE TABLE t (a INTEGER, b INTEGER)"));
  Result<std::int64_t> count = db->Exec("INSERT INTO t VALUES (?, ?)", {std::int64_t{1}});
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(count.error().message.find("2 placeholders but 1 values"), std::string::npos);
  // Portability rules are enforced, not just documented.
  EXPECT_EQ(db->Exec("INSERT INTO t VALUES (:a, 1)", {std::int64_t{1}}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->Exec("INSERT INTO t VALUES (?1, 1)", {std::int64_t{1}}).error().code,
            ErrorCode::kInvalidArgument);
  Result<std::int64_t> two = db->Exec("INSERT INTO t VALUES (1, 1); DELETE FROM t");
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().message.find("one statement"), std::string::npos);
  EXPECT_EQ(db->Query("SELECT * FROM t")->size(), 0u);  // the first one did not run either
  EXPECT_TRUE(db->Exec("INSERT INTO t VALUES (1, 1); -- a trailing comment"));
}

TEST_F(SqliteDatabaseTest, EightConcurrentWritersLoseNoRowWhileReadersRead) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(
      db->Exec("CREATE TABLE events (id INTEGER PRIMARY KEY, writer INTEGER, seq INTEGER)"));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerThread; ++i) {
        bool ok;
        if (i % 2 == 0) {
          ok = db->Exec("INSERT INTO events (writer, seq) VALUES (?, ?)",
                        {std::int64_t{w}, std::int64_t{i}})
                   .has_value();
        } else {
          ok = db->WithTransaction([&](Tx& tx) -> Status {
                   VEIL_TRY(tx.Exec("INSERT INTO events (writer, seq) VALUES (?, ?)",
                                    {std::int64_t{w}, std::int64_t{i}}));
                   return OkStatus();
                 }).has_value();
        }
        if (!ok) ++failures;
      }
    });
  }
  std::thread reader([&] {
    std::int64_t last = 0;
    while (!done.load()) {
      Result<Row> r = db->QueryRow("SELECT COUNT(*) FROM events");
      if (!r) {
        ++failures;
        continue;
      }
      std::int64_t now = *r->GetInt64(0);
      if (now < last) ++failures;  // committed rows never disappear
      last = now;
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*db->QueryRow("SELECT COUNT(*) FROM events")->GetInt64(0), kThreads * kPerThread);
  EXPECT_EQ(*db->QueryRow("SELECT COUNT(DISTINCT writer * 1000 + seq) FROM events")->GetInt64(0),
            kThreads * kPerThread);
}

TEST_F(SqliteDatabaseTest, BusyDatabaseIsRetriedThenReportedUnavailable) {
  // Two SqliteDatabase objects on one file behave like two processes.
  SqliteOptions patient;
  patient.busy_timeout = milliseconds(20);
  patient.max_transaction_attempts = 20;
  auto db1 = OpenDb();
  auto db2 = OpenDb(patient);
  SqliteOptions impatient = patient;
  impatient.max_transaction_attempts = 2;
  auto db3 = OpenDb(impatient);
  ASSERT_TRUE(db1 && db2 && db3);
  ASSERT_TRUE(db1->Exec("CREATE TABLE t (a INTEGER)"));

  std::promise<void> locked;
  std::promise<void> release;
  std::thread holder([&] {
    Status s = db1->WithTransaction([&](Tx& tx) -> Status {
      VEIL_TRY(tx.Exec("INSERT INTO t VALUES (1)"));
      locked.set_value();
      release.get_future().wait();
      return OkStatus();
    });
    EXPECT_TRUE(s);
  });
  locked.get_future().wait();

  Status gave_up = db3->WithTransaction([](Tx& tx) -> Status {
    VEIL_TRY(tx.Exec("INSERT INTO t VALUES (3)"));
    return OkStatus();
  });
  ASSERT_FALSE(gave_up);
  EXPECT_EQ(gave_up.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(gave_up.error().message.find("busy after 2 attempts"), std::string::npos)
      << gave_up.error().message;

  std::thread releaser([&] {
    std::this_thread::sleep_for(milliseconds(100));
    release.set_value();
  });
  int runs = 0;
  Status retried = db2->WithTransaction([&](Tx& tx) -> Status {
    ++runs;
    VEIL_TRY(tx.Exec("INSERT INTO t VALUES (2)"));
    return OkStatus();
  });
  releaser.join();
  holder.join();
  ASSERT_TRUE(retried) << retried.error().ToString();
  EXPECT_EQ(runs, 1);  // BEGIN IMMEDIATE failed before the callback ran
  EXPECT_EQ(*db1->QueryRow("SELECT COUNT(*) FROM t")->GetInt64(0), 2);
}

TEST_F(SqliteDatabaseTest, LeaseIsExclusiveUntilItExpires) {
  FakeClock clock;
  SqliteOptions options;
  options.clock = &clock;
  auto db = OpenDb(options);
  ASSERT_TRUE(db);
  const milliseconds ttl(30'000);

  EXPECT_TRUE(*db->TryAcquireLease("rotation", "replica-a", ttl));
  EXPECT_FALSE(*db->TryAcquireLease("rotation", "replica-b", ttl));
  EXPECT_TRUE(*db->TryAcquireLease("rotation", "replica-a", ttl));  // re-acquire extends
  EXPECT_TRUE(*db->TryAcquireLease("purge", "replica-b", ttl));     // leases are independent

  clock.Advance(milliseconds(29'999));
  EXPECT_FALSE(*db->TryAcquireLease("rotation", "replica-b", ttl));
  clock.Advance(milliseconds(1));  // a holder that stopped renewing loses the lease at expiry
  EXPECT_TRUE(*db->TryAcquireLease("rotation", "replica-b", ttl));
  EXPECT_FALSE(*db->RenewLease("rotation", "replica-a", ttl));  // a must stop its job
  EXPECT_FALSE(*db->TryAcquireLease("rotation", "replica-a", ttl));

  EXPECT_EQ(db->TryAcquireLease("", "a", ttl).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->TryAcquireLease("x", "a", milliseconds(0)).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(SqliteDatabaseTest, LeaseRenewAndReleaseAndRaceHasOneWinner) {
  FakeClock clock;
  SqliteOptions options;
  options.clock = &clock;
  auto db = OpenDb(options);
  ASSERT_TRUE(db);
  const milliseconds ttl(1000);
  ASSERT_TRUE(*db->TryAcquireLease("checkpoint", "a", ttl));
  clock.Advance(milliseconds(900));
  EXPECT_TRUE(*db->RenewLease("checkpoint", "a", ttl));  // now valid until +1900
  clock.Advance(milliseconds(900));
  EXPECT_FALSE(*db->TryAcquireLease("checkpoint", "b", ttl));
  ASSERT_TRUE(db->ReleaseLease("checkpoint", "b"));  // not b's: no effect
  EXPECT_FALSE(*db->TryAcquireLease("checkpoint", "b", ttl));
  ASSERT_TRUE(db->ReleaseLease("checkpoint", "a"));
  EXPECT_TRUE(*db->TryAcquireLease("checkpoint", "b", ttl));  // free at once after release
  ASSERT_TRUE(db->ReleaseLease("checkpoint", "b"));

  // Eight contenders at the same instant: exactly one wins.
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Result<bool> got = db->TryAcquireLease("race", "replica-" + std::to_string(i), ttl);
      if (got && *got) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_F(SqliteDatabaseTest, NotifyReachesSubscribersOfTheChannelOnlyAndAfterCommitOnly) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  std::vector<std::string> got_a;
  std::vector<std::string> got_b;
  Result<Subscription> a =
      db->Subscribe("key_disabled", [&](std::string_view p) { got_a.emplace_back(p); });
  Result<Subscription> b =
      db->Subscribe("key_disabled", [&](std::string_view p) { got_b.emplace_back(p); });
  Result<Subscription> other = db->Subscribe(
      "bucket_deleted", [&](std::string_view) { ADD_FAILURE() << "wrong channel delivered"; });
  ASSERT_TRUE(a && b && other);

  ASSERT_TRUE(db->Notify("key_disabled", "key-1"));
  EXPECT_EQ(got_a, std::vector<std::string>{"key-1"});
  EXPECT_EQ(got_b, std::vector<std::string>{"key-1"});

  b->Cancel();
  // Inside a transaction: delivered on commit, dropped on rollback.
  ASSERT_TRUE(db->WithTransaction([&](Tx& tx) -> Status {
    VEIL_TRY(tx.Notify("key_disabled", "key-2"));
    EXPECT_EQ(got_a.size(), 1u);  // not yet
    return OkStatus();
  }));
  ASSERT_FALSE(db->WithTransaction([&](Tx& tx) -> Status {
    VEIL_TRY(tx.Notify("key_disabled", "key-3"));
    return Internal("abort");
  }));
  EXPECT_EQ(got_a, (std::vector<std::string>{"key-1", "key-2"}));
  EXPECT_EQ(got_b, std::vector<std::string>{"key-1"});

  EXPECT_EQ(db->Notify("Bad Channel", "x").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->Subscribe("ok", nullptr).error().code, ErrorCode::kInvalidArgument);

  // A subscription may outlive the database.
  db.reset();
  a->Cancel();
}

TEST_F(SqliteDatabaseTest, DataPersistsAcrossReopenAndFileIsPrivate) {
  {
    auto db = OpenDb();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Migrate("kms", {{1, "CREATE TABLE k (id TEXT PRIMARY KEY, v BLOB)"}}));
    ASSERT_TRUE(db->Exec("INSERT INTO k VALUES (?, ?)", {"key-1", Blob{1, 0, 2}}));
    Result<Row> mode = db->QueryRow("PRAGMA journal_mode");
    ASSERT_TRUE(mode);
    EXPECT_EQ(*mode->GetText(0), "wal");
    EXPECT_EQ(*db->QueryRow("PRAGMA foreign_keys")->GetInt64(0), 1);
    EXPECT_EQ(*db->QueryRow("PRAGMA synchronous")->GetInt64(0), 1);  // NORMAL
  }
  struct stat st {};
  ASSERT_EQ(::stat(DbPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  SqliteOptions full;
  full.synchronous = SqliteSynchronous::kFull;
  auto db = OpenDb(full);
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->Migrate("kms", {{1, "CREATE TABLE k (id TEXT PRIMARY KEY, v BLOB)"}}), 0);
  EXPECT_EQ(*db->QueryRow("SELECT v FROM k WHERE id = ?", {"key-1"})->GetBlob(0), (Blob{1, 0, 2}));
  // Every connection, writer and readers, runs with synchronous = FULL (2).
  EXPECT_EQ(*db->QueryRow("PRAGMA synchronous")->GetInt64(0), 2);
}

TEST_F(SqliteDatabaseTest, QueryWithReturningWritesAndInMemoryDatabaseWorks) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  CreateItems(*db);
  Result<Row> id = db->QueryRow("INSERT INTO items (name) VALUES (?) RETURNING id", {"new"});
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_FALSE(id->GetText("name"));  // RETURNING gave only the id
  EXPECT_EQ(*db->QueryRow("SELECT id FROM items WHERE name = 'new'")->GetInt64(0),
            *id->GetInt64("id"));

  Result<std::unique_ptr<SqliteDatabase>> mem = SqliteDatabase::Open(":memory:");
  ASSERT_TRUE(mem) << mem.error().ToString();
  ASSERT_TRUE((*mem)->Exec("CREATE TABLE m (a INTEGER)"));
  ASSERT_TRUE((*mem)->Exec("INSERT INTO m VALUES (7)"));
  EXPECT_EQ(*(*mem)->QueryRow("SELECT a FROM m")->GetInt64(0), 7);
}

TEST_F(SqliteDatabaseTest, OpenFailuresAreErrors) {
  Result<std::unique_ptr<SqliteDatabase>> no_dir =
      SqliteDatabase::Open((dir_ / "missing" / "veil.db").string());
  ASSERT_FALSE(no_dir);
  EXPECT_EQ(no_dir.error().code, ErrorCode::kFailedPrecondition);

  std::string garbage = (dir_ / "garbage.db").string();
  std::ofstream(garbage) << std::string(4096, 'x');
  Result<std::unique_ptr<SqliteDatabase>> not_db = SqliteDatabase::Open(garbage);
  ASSERT_FALSE(not_db);
  EXPECT_EQ(not_db.error().code, ErrorCode::kDataLoss) << not_db.error().ToString();

  SqliteOptions bad;
  bad.max_transaction_attempts = 0;
  EXPECT_EQ(SqliteDatabase::Open(DbPath(), bad).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::store
