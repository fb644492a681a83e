#include "waitless/data/sqlite.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/db_test_support.hpp"
#include "waitless/fs/test_support.hpp"

namespace waitless::data::sqlite {
namespace {

class Sqlite : public fs::test::TempDirTest {
 protected:
  Task<std::unique_ptr<Database>> open_db() {
    auto db = co_await Database::open({.path = path("test.db")});
    EXPECT_TRUE(db.ok()) << db.error().message();
    if (!db) co_return nullptr;
    co_return std::move(*db);
  }
  void finish() { loop_.run(); }
};

TEST_F(Sqlite, QueriesAndTypes) {
  run(
      [&]() -> Task<> {
        auto db = co_await open_db();
        CO_ASSERT_TRUE(db != nullptr);
        CO_ASSERT_TRUE((co_await db->query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, "
                                           "data BLOB, note TEXT)"))
                           .ok());
        auto ins = co_await db->query("INSERT INTO t (name, score, data, note) VALUES (?, ?, ?, ?)", "Zoë",
                                      2.5, Blob{{std::byte{1}, std::byte{2}}}, std::nullopt);
        CO_ASSERT_TRUE(ins.ok());
        EXPECT_EQ(ins->affected(), 1u);
        EXPECT_EQ(ins->last_insert_id(), 1);
        auto r = co_await db->query("SELECT id, name, score, data, note FROM t WHERE id = ?", 1);
        CO_ASSERT_TRUE(r.ok());
        CO_ASSERT_EQ(r->size(), 1u);
        const Row row = (*r)[0];
        EXPECT_EQ(row.get<int64_t>("id").value(), 1);
        EXPECT_EQ(row.get<std::string>("name").value(), "Zoë");
        EXPECT_EQ(row.get<double>("score").value(), 2.5);
        EXPECT_EQ(row.get<Blob>("data")->bytes.size(), 2u);
        EXPECT_EQ(row.get<std::string>("note").error(), DbError::null_value);
        EXPECT_EQ(row.get<std::optional<std::string>>("note").value(), std::nullopt);
        EXPECT_EQ(row.get<int32_t>("name").error(), DbError::bad_value);
        EXPECT_EQ(row.get<int32_t>("missing").error(), DbError::no_such_column);
        auto empty = co_await db->query("SELECT id FROM t WHERE id = ?", 99);
        CO_ASSERT_TRUE(empty.ok());
        EXPECT_TRUE(empty->empty());
      }(),
      loop_);
  finish();
}

TEST_F(Sqlite, ErrorsAreTypedValues) {
  run(
      [&]() -> Task<> {
        auto mem = co_await Database::open({.path = ":memory:"});
        EXPECT_EQ(mem.error(), Error::invalid_argument);
        auto db = co_await open_db();
        CO_ASSERT_TRUE(db != nullptr);
        CO_ASSERT_TRUE((co_await db->query("CREATE TABLE u (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")).ok());
        CO_ASSERT_TRUE((co_await db->query("INSERT INTO u VALUES (?, ?)", 1, "a")).ok());
        auto dup = co_await db->query("INSERT INTO u VALUES (?, ?)", 1, "b");
        EXPECT_TRUE(dup.error() == DbCondition::constraint) << dup.error().message();
        EXPECT_EQ(http_status_for(dup.error()), 409);
        auto bad = co_await db->query("SELEC 1");
        EXPECT_FALSE(bad.ok());
        EXPECT_NE(db->last_error_message().find("syntax"), std::string::npos);
        auto two = co_await db->query("SELECT 1; SELECT 2");
        EXPECT_FALSE(two.ok());
        auto params = co_await db->query("SELECT ? + ?", 1);
        EXPECT_FALSE(params.ok());
        // Still usable after all that.
        auto ok = co_await db->query("SELECT count(*) AS n FROM u");
        CO_ASSERT_TRUE(ok.ok());
        EXPECT_EQ((*ok)[0].get<int64_t>("n").value(), 1);
      }(),
      loop_);
  finish();
}

TEST_F(Sqlite, ReadsRunConcurrentlyOnReadersWhileTheWriterWrites) {
  run(
      [&]() -> Task<> {
        auto db = co_await open_db();
        CO_ASSERT_TRUE(db != nullptr);
        CO_ASSERT_TRUE((co_await db->query("CREATE TABLE n (v INTEGER)")).ok());
        std::vector<Task<Result<Rows>>> writes;
        for (int i = 1; i <= 50; ++i) writes.push_back(db->query("INSERT INTO n VALUES (?)", i));
        for (auto& r : co_await when_all(std::move(writes))) EXPECT_TRUE(r.ok());
        std::vector<Task<Result<Rows>>> reads;
        for (int i = 0; i < 20; ++i) reads.push_back(db->query("SELECT sum(v) AS s FROM n"));
        for (auto& r : co_await when_all(std::move(reads))) {
          CO_ASSERT_TRUE(r.ok());
          EXPECT_EQ((*r)[0].get<int64_t>("s").value(), 1275);
        }
        auto mode = co_await db->query("PRAGMA journal_mode");
        CO_ASSERT_TRUE(mode.ok());
        EXPECT_EQ((*mode)[0].get<std::string>(0).value(), "wal");
      }(),
      loop_);
  finish();
}

TEST_F(Sqlite, TransactionsRollBackUnlessCommittedAndHoldOtherWriters) {
  run(
      [&]() -> Task<> {
        auto db = co_await open_db();
        CO_ASSERT_TRUE(db != nullptr);
        CO_ASSERT_TRUE((co_await db->query("CREATE TABLE a (v INTEGER)")).ok());
        {
          auto tx = co_await Transaction::begin(*db);
          CO_ASSERT_TRUE(tx.ok());
          CO_ASSERT_TRUE((co_await tx->query("INSERT INTO a VALUES (?)", 1)).ok());
        }  // rolled back
        std::vector<int> order;
        auto in_tx = [&]() -> Task<> {
          auto tx = co_await Transaction::begin(*db);
          if (!tx) co_return;
          (void)co_await tx->query("INSERT INTO a VALUES (?)", 2);
          // A reader does not see the uncommitted row (WAL snapshot).
          auto seen = co_await db->query("SELECT count(*) FROM a");
          if (seen) EXPECT_EQ((*seen)[0].get<int64_t>(0).value(), 0);
          (void)co_await sleep(20ms);
          order.push_back(1);
          EXPECT_TRUE((co_await tx->commit()).ok());
        };
        auto outside = [&]() -> Task<> {
          (void)co_await sleep(5ms);
          auto r = co_await db->query("INSERT INTO a VALUES (?)", 3);  // waits for the transaction
          EXPECT_TRUE(r.ok());
          order.push_back(2);
        };
        co_await when_all(in_tx(), outside());
        EXPECT_EQ(order, (std::vector<int>{1, 2}));
        auto r = co_await db->query("SELECT group_concat(v) AS vs FROM (SELECT v FROM a ORDER BY v)");
        CO_ASSERT_TRUE(r.ok());
        EXPECT_EQ((*r)[0].get<std::string>("vs").value(), "2,3");
      }(),
      loop_);
  finish();
}

}  // namespace
}  // namespace waitless::data::sqlite
