// The waitless side of bench/db_http_bench.sh: TechEmpower-style database endpoints on waitless::web with
// a PostgreSQL pool per loop.
//
//   db_http_bench setup            creates `world` (10 000 rows) on WAITLESS_PG (conninfo)
//   db_http_bench serve PORT THREADS
//     GET /plaintext     "Hello, World!" (the bench scripts' peer check)
//     GET /db            one random row of `world` as {"id":N,"randomNumber":N}
//     GET /queries?n=N   N random rows (N clamped to 1..500, as TechEmpower does) as a JSON array
//
// Each loop has its own Pool<pg::Connection> (no lock on the request path), created on the loop's first
// request. /queries borrows one connection and issues its N queries at once (when_all): libpq's pipeline
// mode sends them together, so they cost one round trip (waitless/data/postgres.hpp). The Node peer
// (bench/peers/fastify_db.js) does what `pg` offers: Promise.all over its pool, one query per connection
// at a time.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "waitless/async/when_all.hpp"
#include "waitless/data/pool.hpp"
#include "waitless/data/postgres.hpp"
#include "waitless/web/app.hpp"

using namespace waitless;
using namespace waitless::data;

namespace {

using PgPool = Pool<pg::Connection>;
constexpr const char* kQuery = "SELECT id, randomnumber FROM world WHERE id = $1";

std::string conninfo() {
  const char* c = std::getenv("WAITLESS_PG");
  return c ? c : "";
}

int random_id() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return std::uniform_int_distribution<int>(1, 10000)(rng);
}

// This loop's pool. Deliberately never destroyed: thread-local destructors run after the server's loops
// are gone, when closing connections would touch a dead loop; the process is ending then anyway.
PgPool& loop_pool() {
  thread_local PgPool* pool =
      new PgPool([c = conninfo()] { return pg::Connection::connect(c); }, {.min = 4, .max = 32});
  return *pool;
}

// Appends {"id":N,"randomNumber":N} for the one row of `r`; false if the query failed.
bool append_world(std::string& out, const Result<pg::Rows>& r) {
  if (!r || r->size() != 1) return false;
  const pg::Row row = r.value()[0];
  auto id = row.get<int64_t>(0);
  auto number = row.get<int64_t>(1);
  if (!id || !number) return false;
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "{\"id\":%lld,\"randomNumber\":%lld}",
                              static_cast<long long>(*id), static_cast<long long>(*number));
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

int query_count(web::Request& req) {
  auto v = req.query("n");
  if (!v) v = req.query("queries");
  int n = 1;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return std::clamp(n, 1, 500);
}

int setup() {
  Loop loop;
  int rc = 1;
  auto body = [&]() -> Task<> {
    auto conn = co_await pg::Connection::connect(conninfo());
    if (!conn) {
      std::fprintf(stderr, "db_http_bench: cannot connect: %s\n", conn.error().message().c_str());
      co_return;
    }
    for (const char* sql :
         {"DROP TABLE IF EXISTS world", "CREATE TABLE world (id int PRIMARY KEY, randomnumber int NOT NULL)",
          "INSERT INTO world SELECT g, (random() * 9999)::int + 1 FROM generate_series(1, 10000) g",
          "ANALYZE world"}) {
      if (!co_await (*conn)->query_unprepared(sql)) {
        std::fprintf(stderr, "db_http_bench: setup failed: %s\n", (*conn)->last_error_message().c_str());
        co_return;
      }
    }
    rc = 0;
  };
  run(body(), loop);
  loop.run();
  return rc;
}

int serve(uint16_t port, unsigned threads) {
  web::App app;
  app.get("/plaintext", [](web::Request&, web::Response& res) { res.send("Hello, World!"); });
  app.get("/db", [](web::Request&, web::Response& res) -> Task<> {
    auto db = co_await loop_pool().acquire();
    if (!db) {
      res.status(503).send(db.error().message());
      co_return;
    }
    std::string body;
    if (!append_world(body, co_await (*db)->query(kQuery, random_id()))) {
      res.status(500).send("query failed");
      co_return;
    }
    res.type("application/json").send(body);
  });
  app.get("/queries", [](web::Request& req, web::Response& res) -> Task<> {
    const int n = query_count(req);
    auto db = co_await loop_pool().acquire();
    if (!db) {
      res.status(503).send(db.error().message());
      co_return;
    }
    std::vector<Task<Result<pg::Rows>>> queries;
    queries.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) queries.push_back((*db)->query(kQuery, random_id()));
    std::vector<Result<pg::Rows>> rows = co_await when_all(std::move(queries));
    std::string body = "[";
    for (const auto& r : rows) {
      if (body.size() > 1) body.push_back(',');
      if (!append_world(body, r)) {
        res.status(500).send("query failed");
        co_return;
      }
    }
    body.push_back(']');
    res.type("application/json").send(body);
  });
  return app.listen(port, {.threads = threads});
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (conninfo().empty()) {
    std::fprintf(stderr,
                 "db_http_bench: WAITLESS_PG (conninfo) is not set: bench/db_http_bench.sh sets it\n");
    return 2;
  }
  if (mode == "setup") return setup();
  if (mode == "serve" && argc == 4)
    return serve(static_cast<uint16_t>(std::atoi(argv[2])), static_cast<unsigned>(std::atoi(argv[3])));
  std::fprintf(stderr, "usage: db_http_bench setup | serve PORT THREADS\n");
  return 2;
}
