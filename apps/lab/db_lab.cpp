#include "apps/lab/db_lab.hpp"

#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

#include "waitless/base/clock.hpp"

namespace waitless::lab {
namespace {

constexpr int kUsers = 100, kOrdersPerUser = 20, kItemsPerOrder = 3;

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtCloser {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtCloser>;

std::string last_error(sqlite3* db) { return db ? sqlite3_errmsg(db) : "out of memory"; }

// Opens `path`; errors as a message in `error`.
Db open_db(const std::string& path, int flags, std::string& error) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    error = "open " + path + ": " + last_error(raw);
    return nullptr;
  }
  return db;
}

Stmt prepare(sqlite3* db, const char* sql, std::string& error) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    error = std::string("prepare: ") + last_error(db);
    return nullptr;
  }
  return Stmt(raw);
}

// Steps `s` to its end after binding ?1 = key; returns the rows seen, -1 on error.
int run_query(sqlite3_stmt* s, int64_t key, int64_t& sink) {
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, key);
  int rows = 0, rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    sink += sqlite3_column_int64(s, 0);
    ++rows;
  }
  return rc == SQLITE_DONE ? rows : -1;
}

bool create(const std::string& path, std::string& error) {
  Db db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
  if (!db) return false;
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
      "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, total_cents INTEGER NOT NULL);"
      "CREATE INDEX orders_user ON orders(user_id);"
      "CREATE TABLE order_items(order_id INTEGER NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL);"
      "CREATE INDEX order_items_order ON order_items(order_id);"
      "BEGIN;"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
      "  INSERT INTO users SELECT i, 'user ' || i FROM n;"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
      "  INSERT INTO orders SELECT i, (i - 1) / 20 + 1, (i * 7919) % 100000 FROM n;"
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5999)"
      "  INSERT INTO order_items SELECT i / 3 + 1, 'sku-' || (i % 97), i % 5 + 1 FROM n;"
      "COMMIT;";
  static_assert(kUsers == 100 && kOrdersPerUser == 20 && kItemsPerOrder == 3, "the schema's literals");
  char* msg = nullptr;
  if (sqlite3_exec(db.get(), schema, nullptr, nullptr, &msg) != SQLITE_OK) {
    error = std::string("create: ") + (msg ? msg : "?");
    sqlite3_free(msg);
    return false;
  }
  return true;
}

// Runs `request(i)` `count` times, timing each; a false return stops it with `error` set.
void measure(DbRow& row, uint64_t count, const std::function<bool(uint64_t)>& request) {
  const int64_t start = monotonic_ns();
  for (uint64_t i = 0; i < count; ++i) {
    const int64_t t0 = monotonic_ns();
    if (!request(i)) break;
    row.latency.record(static_cast<uint64_t>(monotonic_ns() - t0));
    ++row.requests;
  }
  row.seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
}

}  // namespace

std::size_t db_steps(const LabContext&) { return 1; }

std::vector<DbRow> run_db(const LabContext& ctx) {
  ctx.progress->begin("database: SQLite open-per-request vs cached handle, N+1 vs batched");
  std::vector<DbRow> rows(4);
  rows[0].name = "open per request";
  rows[0].how = "sqlite3_open + prepare + query + close, per request";
  rows[1].name = "cached handle";
  rows[1].how = "one open handle, statement prepared once (a pool's borrow)";
  rows[2].name = "N+1 queries";
  rows[2].how = "a user's 20 orders, then one query per order for its items";
  rows[3].name = "batched";
  rows[3].how = "the same data in one join";

  char dir_template[] = "/tmp/waitless-lab-XXXXXX";
  if (!mkdtemp(dir_template)) {
    for (auto& r : rows) r.error = "cannot create a temporary directory";
    ctx.progress->end();
    return rows;
  }
  const std::filesystem::path dir = dir_template;
  const std::string path = (dir / "lab.db").string();
  std::string error;
  const uint64_t lookups = ctx.options.quick ? 2000 : 20000;
  const uint64_t joins = ctx.options.quick ? 500 : 5000;
  int64_t sink = 0;

  if (create(path, error)) {
    const char* by_id = "SELECT length(name) FROM users WHERE id = ?1";
    measure(rows[0], lookups, [&](uint64_t i) {
      Db db = open_db(path, SQLITE_OPEN_READONLY, rows[0].error);
      if (!db) return false;
      Stmt s = prepare(db.get(), by_id, rows[0].error);
      if (!s || run_query(s.get(), static_cast<int64_t>(i % kUsers) + 1, sink) != 1) {
        if (rows[0].error.empty()) rows[0].error = "query: " + last_error(db.get());
        return false;
      }
      ++rows[0].queries;
      ctx.progress->update(static_cast<double>(i) / static_cast<double>(lookups * 4));
      return true;
    });

    Db db = open_db(path, SQLITE_OPEN_READONLY, error);
    Stmt lookup = db ? prepare(db.get(), by_id, error) : nullptr;
    Stmt orders = db ? prepare(db.get(), "SELECT id FROM orders WHERE user_id = ?1", error) : nullptr;
    Stmt items = db ? prepare(db.get(), "SELECT qty FROM order_items WHERE order_id = ?1", error) : nullptr;
    Stmt joined = db ? prepare(db.get(),
                               "SELECT i.qty FROM orders o JOIN order_items i ON i.order_id = o.id "
                               "WHERE o.user_id = ?1",
                               error)
                     : nullptr;
    if (lookup && orders && items && joined) {
      measure(rows[1], lookups, [&](uint64_t i) {
        if (run_query(lookup.get(), static_cast<int64_t>(i % kUsers) + 1, sink) != 1) {
          rows[1].error = "query: " + last_error(db.get());
          return false;
        }
        ++rows[1].queries;
        return true;
      });
      ctx.progress->update(0.5);
      measure(rows[2], joins, [&](uint64_t i) {
        // The N+1 shape: the ids first, then a query per id.
        const int64_t user = static_cast<int64_t>(i % kUsers) + 1;
        sqlite3_reset(orders.get());
        sqlite3_bind_int64(orders.get(), 1, user);
        std::vector<int64_t> ids;
        while (sqlite3_step(orders.get()) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(orders.get(), 0));
        ++rows[2].queries;
        int items_seen = 0;
        for (int64_t id : ids) {
          const int n = run_query(items.get(), id, sink);
          if (n < 0) {
            rows[2].error = "query: " + last_error(db.get());
            return false;
          }
          items_seen += n;
          ++rows[2].queries;
        }
        if (items_seen != kOrdersPerUser * kItemsPerOrder) {
          rows[2].error = "expected " + std::to_string(kOrdersPerUser * kItemsPerOrder) + " items, saw " +
                          std::to_string(items_seen);
          return false;
        }
        return true;
      });
      ctx.progress->update(0.75);
      measure(rows[3], joins, [&](uint64_t i) {
        const int n = run_query(joined.get(), static_cast<int64_t>(i % kUsers) + 1, sink);
        ++rows[3].queries;
        if (n != kOrdersPerUser * kItemsPerOrder) {
          rows[3].error = "expected " + std::to_string(kOrdersPerUser * kItemsPerOrder) + " rows, saw " +
                          std::to_string(n);
          return false;
        }
        return true;
      });
    } else {
      for (std::size_t i = 1; i < rows.size(); ++i) rows[i].error = error;
    }
  } else {
    for (auto& r : rows) r.error = error;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  for (auto& r : rows) {
    if (r.error.empty() && r.requests == 0) r.error = "nothing measured";
  }
  ctx.progress->end();
  return rows;
}

}  // namespace waitless::lab
