// PostgreSQL from waitless, against the same server in one run (bench/db_bench.sh starts it and sets
// WAITLESS_PG): a TechEmpower-style `world` table of 10 000 rows, one random row per query.
//
//  (1) connect-per-query (connect, one query, close) vs a pooled borrow (acquire, one query, return), and
//      the bare borrow (acquire + return, no query);
//  (2) 20 queries: one after the other on one connection, when_all over the pool (20 connections), and
//      pipeline mode on one connection, two ways: when_all of 20 queries (one round trip, a Sync per
//      statement: each its own implicit transaction) and batch() of 20 (one round trip, one Sync: one
//      implicit transaction, as pgbench's \startpipeline .. \endpipeline sends them).
// Rounds alternate the order of the variants; each ratio is the median over rounds of the ratio taken
// within one round (bench/README.md). Prints `figure` and `ratio` lines. Usage: db_bench [ROUNDS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "waitless/async/when_all.hpp"
#include "waitless/data/pool.hpp"
#include "waitless/data/postgres.hpp"

using namespace waitless;
using namespace waitless::data;

namespace {

using Clock = std::chrono::steady_clock;
using PgPool = Pool<pg::Connection>;
constexpr const char* kQuery = "SELECT id, randomnumber FROM world WHERE id = $1";

std::mt19937 rng{42};
int random_id() { return std::uniform_int_distribution<int>(1, 10000)(rng); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

bool check(const Result<pg::Rows>& r) {
  if (!r || r->size() != 1) {
    std::fprintf(stderr, "db_bench: query failed: %s\n", r ? "no row" : r.error().message().c_str());
    std::exit(1);
  }
  return true;
}

// Microseconds per call of `op`, over `n` calls.
Task<double> time_per_op(int n, const std::function<Task<>()>& op) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) co_await op();
  co_return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n;
}

Task<int> bench(std::string conninfo, int rounds) {
  auto setup = co_await pg::Connection::connect(conninfo);
  if (!setup) {
    std::fprintf(stderr, "db_bench: cannot connect: %s\n", setup.error().message().c_str());
    co_return 1;
  }
  pg::Connection& conn = **setup;
  for (const char* sql :
       {"DROP TABLE IF EXISTS world", "CREATE TABLE world (id int PRIMARY KEY, randomnumber int NOT NULL)",
        "INSERT INTO world SELECT g, (random() * 9999)::int + 1 FROM generate_series(1, 10000) g",
        "ANALYZE world"}) {
    if (!co_await conn.query_unprepared(sql)) {
      std::fprintf(stderr, "db_bench: setup failed: %s\n", conn.last_error_message().c_str());
      co_return 1;
    }
  }
  PgPool pool([conninfo] { return pg::Connection::connect(conninfo); }, {.min = 20, .max = 20});
  {  // warm the pool: 20 connections, each with the statement prepared
    std::vector<Task<Result<pg::Rows>>> warm;
    std::vector<PgPool::Handle> held;
    for (int i = 0; i < 20; ++i) {
      auto h = co_await pool.acquire();
      if (!h) co_return 1;
      held.push_back(std::move(*h));
    }
    for (auto& h : held) check(co_await h->query(kQuery, 1));
  }
  check(co_await conn.query(kQuery, 1));

  const int single_n = 200, batch_n = 100;
  std::vector<double> connect_us, pooled_us, borrow_us, seq_us, pool_all_us, pipe_us, batch_us;
  std::vector<double> r_pool, r_pipe, r_pool_all, r_batch;
  for (int round = 0; round < rounds; ++round) {
    auto connect_per_query = [&]() -> Task<> {
      auto c = co_await pg::Connection::connect(conninfo);
      if (!c) std::exit(1);
      check(co_await (*c)->query(kQuery, random_id()));
    };
    auto pooled = [&]() -> Task<> {
      auto h = co_await pool.acquire();
      if (!h) std::exit(1);
      check(co_await (*h)->query(kQuery, random_id()));
    };
    auto borrow = [&]() -> Task<> {
      auto h = co_await pool.acquire();
      if (!h) std::exit(1);
    };
    auto sequential = [&]() -> Task<> {
      for (int i = 0; i < 20; ++i) check(co_await conn.query(kQuery, random_id()));
    };
    auto one_pooled = [&]() -> Task<int> {
      auto h = co_await pool.acquire();
      if (!h) std::exit(1);
      check(co_await (*h)->query(kQuery, random_id()));
      co_return 0;
    };
    auto over_pool = [&]() -> Task<> {
      std::vector<Task<int>> tasks;
      for (int i = 0; i < 20; ++i) tasks.push_back(one_pooled());
      co_await when_all(std::move(tasks));
    };
    auto pipeline = [&]() -> Task<> {
      std::vector<Task<Result<pg::Rows>>> tasks;
      for (int i = 0; i < 20; ++i) tasks.push_back(conn.query(kQuery, random_id()));
      for (auto& r : co_await when_all(std::move(tasks))) check(r);
    };
    auto batch = [&]() -> Task<> {
      std::vector<pg::Statement> statements;
      for (int i = 0; i < 20; ++i) statements.push_back(pg::statement(kQuery, random_id()));
      auto r = co_await conn.batch(std::move(statements));
      if (!r || r->size() != 20) std::exit(1);
      for (const pg::Rows& rows : *r)
        if (rows.size() != 1) std::exit(1);
    };
    double c = 0, p = 0, b = 0, s = 0, a = 0, q = 0, t = 0;
    if (round % 2 == 0) {
      c = co_await time_per_op(single_n / 4, connect_per_query);
      p = co_await time_per_op(single_n, pooled);
      b = co_await time_per_op(single_n * 10, borrow);
      s = co_await time_per_op(batch_n, sequential);
      a = co_await time_per_op(batch_n, over_pool);
      q = co_await time_per_op(batch_n, pipeline);
      t = co_await time_per_op(batch_n, batch);
    } else {
      t = co_await time_per_op(batch_n, batch);
      q = co_await time_per_op(batch_n, pipeline);
      a = co_await time_per_op(batch_n, over_pool);
      s = co_await time_per_op(batch_n, sequential);
      b = co_await time_per_op(single_n * 10, borrow);
      p = co_await time_per_op(single_n, pooled);
      c = co_await time_per_op(single_n / 4, connect_per_query);
    }
    connect_us.push_back(c);
    pooled_us.push_back(p);
    borrow_us.push_back(b);
    seq_us.push_back(s);
    pool_all_us.push_back(a);
    pipe_us.push_back(q);
    batch_us.push_back(t);
    r_pool.push_back(c / p);
    r_pipe.push_back(s / q);
    r_batch.push_back(s / t);
    r_pool_all.push_back(s / a);
    std::printf(
        "round %d: connect+query %.0f us, pooled borrow+query %.1f us, borrow %.2f us; 20 queries: "
        "sequential %.0f us, when_all over pool %.0f us, pipeline when_all %.0f us, pipeline batch %.0f us\n",
        round + 1, c, p, b, s, a, q, t);
    std::fflush(stdout);
  }
  std::printf("figure db_connect_per_query_us %.1f\n", median(connect_us));
  std::printf("figure db_pooled_query_us %.1f\n", median(pooled_us));
  std::printf("figure db_pool_borrow_us %.2f\n", median(borrow_us));
  std::printf("figure db_20_sequential_us %.1f\n", median(seq_us));
  std::printf("figure db_20_when_all_pool_us %.1f\n", median(pool_all_us));
  std::printf("figure db_20_pipeline_us %.1f\n", median(pipe_us));
  std::printf("figure db_20_batch_us %.1f\n", median(batch_us));
  std::printf("ratio db_pooled_vs_connect_per_query %.2f\n", median(r_pool));
  std::printf("ratio db_20_when_all_pool_vs_sequential %.2f\n", median(r_pool_all));
  std::printf("ratio db_20_pipeline_vs_sequential %.2f   (when_all: a Sync per statement)\n", median(r_pipe));
  std::printf("ratio db_20_batch_vs_sequential %.2f   (goal >= 5: pipeline mode, one Sync)\n",
              median(r_batch));
  (void)co_await conn.query_unprepared("DROP TABLE world");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* conninfo = std::getenv("WAITLESS_PG");
  if (!conninfo) {
    std::fprintf(stderr, "db_bench: set WAITLESS_PG (bench/db_bench.sh starts a server and does)\n");
    return 2;
  }
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  Loop loop;
  const int rc = run(bench(conninfo, rounds), loop);
  loop.run();
  return rc;
}
