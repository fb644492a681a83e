// The SQLite Store: waitless/data/sqlite.hpp's Database (a writer thread and reader threads, WAL).
#include <filesystem>
#include <system_error>
#include <utility>

#include "apps/demo/store.hpp"
#include "waitless/data/sqlite.hpp"

namespace waitless::demo {
namespace {

using data::sqlite::Database;
namespace sq = data::sqlite;

sq::Value to_sqlite(const Param& p) {
  return std::visit(
      [](const auto& v) -> sq::Value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return std::monostate{};
        } else {
          return v;
        }
      },
      p);
}

sq::Statement sqlite_statement(std::string sql, const std::vector<Param>& params) {
  sq::Statement st{std::move(sql), {}};
  st.params.reserve(params.size());
  for (const auto& p : params) st.params.push_back(to_sqlite(p));
  return st;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::string_view backend() const noexcept override { return "sqlite"; }
  std::string location() const override { return db_->options().path; }

  Task<Result<web::Json>> rows(std::string sql, std::vector<Param> params,
                               std::span<const Column> columns) override {
    Counted counted(metrics_);
    auto r = co_await db_->run(sqlite_statement(std::move(sql), params));
    if (!r) co_return counted.fail(r.error());
    auto json = rows_to_json(*r, columns);
    if (!json) co_return counted.fail(json.error());
    co_return std::move(*json);
  }

  Task<Result<uint64_t>> exec(std::string sql, std::vector<Param> params) override {
    Counted counted(metrics_);
    auto r = co_await db_->run(sqlite_statement(std::move(sql), params));
    if (!r) co_return counted.fail(r.error());
    co_return r->affected();
  }

  Task<Result<void>> batch(std::vector<std::pair<std::string, std::vector<Param>>> statements) override {
    for (auto& [sql, params] : statements) {
      auto r = co_await db_->run(sqlite_statement(std::move(sql), params));
      if (!r) co_return r.error();
    }
    co_return Result<void>{};
  }

  Task<bool> ping() override {
    auto r = co_await db_->query("SELECT 1");
    co_return r.ok();
  }

  std::vector<std::string> schema() const override {
    return {
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL "
        "UNIQUE, city TEXT NOT NULL, joined_at TEXT NOT NULL, password_hash TEXT)",
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT "
        "NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1, "
        "updated_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES "
        "users(id), created_at TEXT NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS order_lines (order_id INTEGER NOT NULL REFERENCES orders(id), item_id "
        "INTEGER NOT NULL, quantity INTEGER NOT NULL, price_cents INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS recommendations (user_id INTEGER NOT NULL REFERENCES users(id), item_id "
        "INTEGER NOT NULL, score REAL NOT NULL, reason TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS orders_by_user ON orders(user_id, created_at)",
        "CREATE INDEX IF NOT EXISTS lines_by_order ON order_lines(order_id)",
        "CREATE INDEX IF NOT EXISTS recs_by_user ON recommendations(user_id, score)",
    };
  }

 private:
  // Counts a statement in the metrics while it runs.
  struct Counted {
    explicit Counted(StoreMetrics& m) : m_(m) {
      ++m_.queries;
      ++m_.in_flight;
    }
    ~Counted() { --m_.in_flight; }
    std::error_code fail(std::error_code ec) {
      ++m_.errors;
      return ec;
    }
    StoreMetrics& m_;
  };

  std::unique_ptr<Database> db_;
};

}  // namespace

Task<Result<std::unique_ptr<Store>>> open_sqlite_store(std::string path) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) co_return ec;
  auto db = co_await Database::open({.path = path});
  if (!db) co_return db.error();
  co_return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(*db)));
}

}  // namespace waitless::demo
