// pg::Connection against a real PostgreSQL (WAITLESS_PG; tests/data_e2e.sh starts one).
#include "waitless/data/postgres.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/sync.hpp"
#include "waitless/async/timeout.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/db_test_support.hpp"
#include "waitless/data/postgres_test_support.hpp"
#include "waitless/loop/test_support.hpp"

namespace waitless::data::pg {
namespace {

using testing::must_connect;

// Polls (another connection) until backend `pid` is (`active`) or is no longer (`!active`) running a
// statement; false after ~5 s.
Task<bool> backend_active(Connection& observer, int pid, bool active) {
  for (int i = 0; i < 500; ++i) {
    auto r = co_await observer.query("SELECT state FROM pg_stat_activity WHERE pid = $1", pid);
    if (!r) co_return false;
    const bool running = !r->empty() && (*r)[0].get<std::string>("state").value() == "active";
    if (running == active) co_return true;
    (void)co_await sleep(10ms);
  }
  co_return false;
}

TEST(PostgresConnection, QueriesAndTypes) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (!c) co_return;
        auto r = co_await c->query(
            "SELECT $1::int8 AS id, $2::text AS name, NULL::int4 AS missing, 2.5::float8 AS ratio, "
            "true AS flag, '\\x01ff'::bytea AS blob, $3::int4 AS maybe",
            int64_t{1} << 40, "Zoë", std::optional<int>{});
        CO_ASSERT_TRUE(r.ok());
        CO_ASSERT_EQ(r->size(), 1u);
        const Row row = (*r)[0];
        EXPECT_EQ(row.get<int64_t>("id").value(), int64_t{1} << 40);
        EXPECT_EQ(row.get<std::string>("name").value(), "Zoë");
        EXPECT_EQ(row.get<int32_t>("missing").error(), DbError::null_value);
        EXPECT_EQ(row.get<std::optional<int32_t>>("missing").value(), std::nullopt);
        EXPECT_EQ(row.get<double>("ratio").value(), 2.5);
        EXPECT_TRUE(row.get<bool>("flag").value());
        EXPECT_EQ(row.get<Bytea>("blob")->bytes.size(), 2u);
        EXPECT_EQ(row.get<std::optional<int32_t>>("maybe").value(), std::nullopt);
        EXPECT_EQ(row.get<int32_t>("nope").error(), DbError::no_such_column);
        EXPECT_EQ(row.get<int32_t>("name").error(), DbError::bad_value);
        EXPECT_TRUE(row.get<int32_t>("name").error() == DbCondition::data);

        auto many = co_await c->query("SELECT g FROM generate_series(1, $1::int) g", 100);
        CO_ASSERT_TRUE(many.ok());
        int64_t sum = 0;
        for (const Row& row : *many) sum += row.get<int64_t>(0).value();
        EXPECT_EQ(sum, 5050);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, PreparesEachStatementOncePerConnection) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (!c) co_return;
        for (int i = 0; i < 3; ++i) {
          auto r = co_await c->query("SELECT $1::int + 1 AS n", i);
          CO_ASSERT_TRUE(r.ok());
          EXPECT_EQ((*r)[0].get<int32_t>("n").value(), i + 1);
        }
        EXPECT_EQ(c->prepared_count(), 1u);
        auto p = co_await c->query_unprepared("SELECT count(*) AS n FROM pg_prepared_statements");
        CO_ASSERT_TRUE(p.ok());
        EXPECT_EQ((*p)[0].get<int64_t>("n").value(), 1);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, ErrorsAreValuesWithSqlstate) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (!c) co_return;
        auto bad = co_await c->query("SELEC 1");
        CO_ASSERT_FALSE(bad.ok());
        EXPECT_EQ(sqlstate_of(bad.error()), "42601");
        EXPECT_TRUE(bad.error() == DbCondition::syntax);
        EXPECT_NE(c->last_error_message().find("syntax"), std::string::npos);
        EXPECT_EQ(c->prepared_count(), 0u);  // a failed Parse is not cached

        CO_ASSERT_TRUE((co_await c->query("CREATE TEMP TABLE u (k int PRIMARY KEY)")).ok());
        CO_ASSERT_TRUE((co_await c->query("INSERT INTO u VALUES ($1)", 1)).ok());
        auto dup = co_await c->query("INSERT INTO u VALUES ($1)", 1);
        EXPECT_EQ(sqlstate_of(dup.error()), "23505");
        EXPECT_TRUE(dup.error() == DbCondition::constraint);
        EXPECT_EQ(http_status_for(dup.error()), 409);
        // The connection is still good.
        auto ok = co_await c->query("SELECT count(*) FROM u");
        CO_ASSERT_TRUE(ok.ok());
        EXPECT_EQ((*ok)[0].get<int64_t>(0).value(), 1);
        EXPECT_TRUE(c->is_usable());
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, TransactionsRollBackUnlessCommitted) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (!c) co_return;
        CO_ASSERT_TRUE((co_await c->query("CREATE TEMP TABLE t (v int)")).ok());
        {
          auto tx = co_await Transaction::begin(*c);
          CO_ASSERT_TRUE(tx.ok());
          CO_ASSERT_TRUE((co_await tx->query("INSERT INTO t VALUES ($1)", 1)).ok());
          // Dropped without commit: rolled back.
        }
        {
          auto tx = co_await Transaction::begin(*c);
          CO_ASSERT_TRUE(tx.ok());
          CO_ASSERT_TRUE((co_await tx->query("INSERT INTO t VALUES ($1)", 2)).ok());
          CO_ASSERT_TRUE((co_await tx->commit()).ok());
        }
        {
          // An error inside aborts the transaction; the rollback leaves the connection clean.
          auto tx = co_await Transaction::begin(*c);
          CO_ASSERT_TRUE((co_await tx->query("INSERT INTO t VALUES ($1)", 3)).ok());
          EXPECT_FALSE((co_await tx->query("SELECT 1/0")).ok());
          EXPECT_EQ(sqlstate_of((co_await tx->query("SELECT 1")).error()), "25P02");  // in failed transaction
        }
        auto r = co_await c->query("SELECT coalesce(sum(v), 0)::int8 AS s, count(*) AS n FROM t");
        CO_ASSERT_TRUE(r.ok());
        EXPECT_EQ((*r)[0].get<int64_t>("s").value(), 2);
        EXPECT_EQ((*r)[0].get<int64_t>("n").value(), 1);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, PipelineSendsConcurrentQueriesTogether) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (!c) co_return;
        std::size_t seen_in_flight = 0;
        auto one = [&](int i) -> Task<int> {
          auto r = co_await c->query("SELECT $1::int * 2", i);
          co_return r ? (*r)[0].get<int32_t>(0).value() : -1;
        };
        auto watch = [&]() -> Task<int> {
          seen_in_flight = c->in_flight();  // every sibling before it has sent, none has its answer yet
          co_return 0;
        };
        std::vector<Task<int>> tasks;
        for (int i = 0; i < 20; ++i) tasks.push_back(one(i));
        tasks.push_back(watch());
        std::vector<int> out = co_await when_all(std::move(tasks));
        EXPECT_EQ(seen_in_flight, 20u);
        for (int i = 0; i < 20; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], i * 2);

        // A failing statement fails alone: its Sync ends the abort.
        auto [a, b, d] =
            co_await when_all(c->query("SELECT 1"), c->query("SELECT 1/0"), c->query("SELECT 3"));
        EXPECT_TRUE(a.ok());
        EXPECT_EQ(sqlstate_of(b.error()), "22012");
        CO_ASSERT_TRUE(d.ok());
        EXPECT_EQ((*d)[0].get<int32_t>(0).value(), 3);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, ListenNotifyIsAnEventEmitter) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto listener = co_await must_connect(conninfo);
        auto sender = co_await must_connect(conninfo);
        if (!listener || !sender) co_return;
        std::vector<Notification> got;
        Event arrived;
        listener->notifications().on<NotifyEvent>([&](const Notification& n) {
          got.push_back(n);
          if (got.size() == 2) arrived.set();
        });
        CO_ASSERT_TRUE((co_await listener->listen("jobs")).ok());
        CO_ASSERT_TRUE((co_await sender->query("SELECT pg_notify($1, $2)", "jobs", "first")).ok());
        CO_ASSERT_TRUE((co_await sender->query("NOTIFY jobs, 'second'")).ok());
        auto wait = [&]() -> Task<std::error_code> { co_return co_await arrived.wait(); };
        EXPECT_FALSE(co_await with_timeout(wait(), 5s));
        CO_ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0].channel, "jobs");
        EXPECT_EQ(got[0].payload, "first");
        EXPECT_EQ(got[1].payload, "second");
        EXPECT_EQ(got[0].backend_pid, sender->backend_pid());
        CO_ASSERT_TRUE((co_await listener->unlisten("jobs")).ok());
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, CancelledQueryStopsOnTheServerAndTheConnectionStaysUsable) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        auto observer = co_await must_connect(conninfo);
        if (!c || !observer) co_return;
        CancelSource cancel;
        auto slow = [&]() -> Task<std::error_code> {
          co_return (co_await c->query("SELECT pg_sleep(30)")).error();
        };
        auto canceller = [&]() -> Task<bool> {
          // Cancel once the server runs it (a cancel request that arrives before is ignored by the server).
          const bool started = co_await backend_active(*observer, c->backend_pid(), true);
          cancel.cancel();
          co_return started;
        };
        auto [ec, started] = co_await when_all(slow().with_token(cancel.token()), canceller());
        EXPECT_TRUE(started);
        EXPECT_EQ(ec, Error::cancelled);
        EXPECT_TRUE(co_await backend_active(*observer, c->backend_pid(), false));
        auto after = co_await c->query("SELECT 7");
        CO_ASSERT_TRUE(after.ok());
        EXPECT_EQ((*after)[0].get<int32_t>(0).value(), 7);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, CancelledQueuedStatementIsStoppedWhenItsTurnComes) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (!c) co_return;
        CancelSource cancel;
        auto queued = [&]() -> Task<std::error_code> {
          co_return (co_await c->query_unprepared("SELECT pg_sleep(30)")).error();
        };
        auto canceller = [&]() -> Task<> {
          cancel.cancel();  // both statements are in the pipeline; the second has not started
          co_return;
        };
        auto [first, second, none] = co_await when_all(c->query_unprepared("SELECT pg_sleep(0.2)"),
                                                       queued().with_token(cancel.token()), canceller());
        EXPECT_TRUE(first.ok());
        EXPECT_EQ(second, Error::cancelled);
        // The 30 s statement is cancelled on the server once it runs: the next one answers long before.
        auto after = co_await with_timeout(c->query("SELECT 7"), 10s);
        CO_ASSERT_TRUE(after.ok());
        CO_ASSERT_TRUE(after->ok());
        EXPECT_EQ((**after)[0].get<int32_t>(0).value(), 7);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, LostConnectionFailsWithAnErrorValue) {
  WAITLESS_PG_OR_SKIP();
  Loop loop;
  run(
      [&]() -> Task<> {
        auto victim = co_await must_connect(conninfo);
        auto killer = co_await must_connect(conninfo);
        if (!victim || !killer) co_return;
        auto [slow, kill] =
            co_await when_all(victim->query("SELECT pg_sleep(30)"),
                              killer->query("SELECT pg_terminate_backend($1)", victim->backend_pid()));
        EXPECT_TRUE(kill.ok());
        CO_ASSERT_FALSE(slow.ok());
        EXPECT_TRUE(slow.error() == DbCondition::connection) << slow.error().message();
        EXPECT_EQ(http_status_for(slow.error()), 503);
        auto again = co_await victim->query("SELECT 1");
        EXPECT_EQ(again.error(), DbError::connection_lost);
        EXPECT_FALSE(victim->is_usable());
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

TEST(PostgresConnection, ConnectFailureIsAnErrorValue) {
  Loop loop;
  run(
      [&]() -> Task<> {
        // Port 1 on loopback: nothing listens there (connection refused).
        auto c = co_await Connection::connect("host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2");
        EXPECT_EQ(c.error(), DbError::connect_failed);
        EXPECT_TRUE(c.error() == DbCondition::unavailable);
      }(),
      loop);
  loop.run();
  test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::data::pg
