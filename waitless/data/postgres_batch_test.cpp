// pg::Connection::batch against a real PostgreSQL (WAITLESS_PG; tests/data_e2e.sh starts one): several
// statements with one Sync, all or nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "waitless/async/when_all.hpp"
#include "waitless/data/postgres_test_support.hpp"

namespace waitless::data::pg {
namespace {

// A table of this test's own (temporary: gone with the connection).
Task<bool> make_table(Connection& c) {
  auto r =
      co_await c.query_unprepared("CREATE TEMP TABLE batch_items (id int PRIMARY KEY, name text NOT NULL)");
  EXPECT_TRUE(r.ok()) << c.last_error_message();
  co_return r.ok();
}

TEST(PostgresBatch, ResultsComeBackInOrder) {
  WAITLESS_PG_OR_SKIP();
  testing::with_connection(conninfo, [&](Connection& conn) -> Task<> {
    std::vector<Statement> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(statement("SELECT $1::int * 2 AS n", i));
    batch.push_back(statement("SELECT g FROM generate_series(1, $1::int) g", 3));
    auto r = co_await conn.batch(std::move(batch));
    CO_ASSERT_TRUE(r.ok());
    CO_ASSERT_EQ(r->size(), 21u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ((*r)[i][0].get<int32_t>("n").value(), i * 2);
    EXPECT_EQ((*r)[20].size(), 3u);
    EXPECT_EQ(conn.prepared_count(), 2u);  // the same text twice in one batch is prepared once
    auto empty = co_await conn.batch({});
    CO_ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty());
    EXPECT_EQ(conn.in_flight(), 0u);
  });
}

TEST(PostgresBatch, AFailureFailsTheWholeBatchAndItsWritesAreRolledBack) {
  WAITLESS_PG_OR_SKIP();
  testing::with_connection(conninfo, [&](Connection& conn) -> Task<> {
    if (!co_await make_table(conn)) co_return;
    std::vector<Statement> batch;
    batch.push_back(statement("INSERT INTO batch_items VALUES ($1, $2)", 1, "one"));
    batch.push_back(statement("INSERT INTO batch_items VALUES ($1, $2)", 1, "one again"));  // 23505
    batch.push_back(statement("INSERT INTO batch_items (id, name) VALUES ($1, $2) RETURNING id", 2, "two"));
    auto r = co_await conn.batch(std::move(batch));
    CO_ASSERT_FALSE(r.ok());
    EXPECT_EQ(sqlstate_of(r.error()), "23505");
    EXPECT_TRUE(r.error() == DbCondition::constraint);
    // One implicit transaction: the first insert is gone too, and the third never ran.
    auto count = co_await conn.query("SELECT count(*) AS n FROM batch_items");
    CO_ASSERT_TRUE(count.ok());
    EXPECT_EQ((*count)[0].get<int64_t>("n").value(), 0);
    // The connection goes on, and statements after the failure whose Parse was skipped prepare again.
    std::vector<Statement> again;
    again.push_back(statement("INSERT INTO batch_items (id, name) VALUES ($1, $2) RETURNING id", 2, "two"));
    again.push_back(statement("SELECT name FROM batch_items WHERE id = $1", 2));
    auto ok = co_await conn.batch(std::move(again));
    CO_ASSERT_TRUE(ok.ok());
    EXPECT_EQ((*ok)[0][0].get<int32_t>("id").value(), 2);
    EXPECT_EQ((*ok)[1][0].get<std::string>("name").value(), "two");
    EXPECT_TRUE(conn.is_usable());
  });
}

TEST(PostgresBatch, ASyntaxErrorDropsTheFailedParseFromTheCache) {
  WAITLESS_PG_OR_SKIP();
  testing::with_connection(conninfo, [&](Connection& conn) -> Task<> {
    std::vector<Statement> batch;
    batch.push_back(statement("SELECT $1::int AS n", 1));
    batch.push_back(statement("SELEC $1::int", 2));  // 42601 at Parse
    batch.push_back(statement("SELECT $1::int + 100 AS n", 3));
    auto r = co_await conn.batch(std::move(batch));
    CO_ASSERT_FALSE(r.ok());
    EXPECT_EQ(sqlstate_of(r.error()), "42601");
    EXPECT_EQ(conn.prepared_count(), 1u);  // the first Parse ran; the failed and the skipped one are gone
    auto p = co_await conn.query_unprepared("SELECT count(*) AS n FROM pg_prepared_statements");
    CO_ASSERT_TRUE(p.ok());
    EXPECT_EQ((*p)[0].get<int64_t>("n").value(), 1);
    auto third = co_await conn.query("SELECT $1::int + 100 AS n", 3);
    CO_ASSERT_TRUE(third.ok());
    EXPECT_EQ((*third)[0].get<int32_t>("n").value(), 103);
  });
}

// A batch's new statement whose Parse is skipped (an earlier statement failed) must not cost a statement
// sent meanwhile with the same text: that one does not use the batch's name, and succeeds.
TEST(PostgresBatch, ASkippedParseDoesNotFailTheSameStatementSentMeanwhile) {
  WAITLESS_PG_OR_SKIP();
  testing::with_connection(conninfo, [&](Connection& conn) -> Task<> {
    const std::string sql = "SELECT $1::int + 1 AS n";
    std::vector<Statement> batch;
    batch.push_back(statement("SELECT 1 / $1::int AS n", 0));  // 22012, at execution
    batch.push_back(statement(sql, 1));                        // its Parse is skipped
    auto [failed, single] = co_await when_all(conn.batch(std::move(batch)), conn.query(sql, 41));
    CO_ASSERT_FALSE(failed.ok());
    EXPECT_EQ(sqlstate_of(failed.error()), "22012");
    EXPECT_TRUE(single.ok()) << conn.last_error_message();
    CO_ASSERT_TRUE(single.ok());
    EXPECT_EQ((*single)[0].get<int32_t>("n").value(), 42);
    // Only what the server really prepared is cached: the division's text. The skipped one prepares anew.
    EXPECT_EQ(conn.prepared_count(), 1u);
    auto again = co_await conn.query(sql, 1);
    EXPECT_TRUE(again.ok()) << conn.last_error_message();
    CO_ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)[0].get<int32_t>("n").value(), 2);
    EXPECT_EQ(conn.prepared_count(), 2u);
    EXPECT_TRUE(conn.is_usable());
  });
}

// Batches and single statements share the pipeline: issued together, each gets its own results.
TEST(PostgresBatch, SharesThePipelineWithSingleStatements) {
  WAITLESS_PG_OR_SKIP();
  testing::with_connection(conninfo, [&](Connection& conn) -> Task<> {
    auto batch_of = [&](int base) {
      std::vector<Statement> b;
      for (int i = 0; i < 3; ++i) b.push_back(statement("SELECT $1::int AS n", base + i));
      return conn.batch(std::move(b));
    };
    auto [a, single, b] =
        co_await when_all(batch_of(10), conn.query("SELECT $1::int AS n", 99), batch_of(20));
    CO_ASSERT_TRUE(a.ok() && single.ok() && b.ok());
    EXPECT_EQ((*a)[2][0].get<int32_t>("n").value(), 12);
    EXPECT_EQ((*single)[0].get<int32_t>("n").value(), 99);
    EXPECT_EQ((*b)[0][0].get<int32_t>("n").value(), 20);
  });
}

}  // namespace
}  // namespace waitless::data::pg
