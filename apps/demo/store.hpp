// Store: the demo's database behind one small interface, so the routes are written once for SQLite (the
// embedded default, a file under ./var/) and PostgreSQL (`--db postgres://...`).
//
//   Json users = co_await store.rows("SELECT id, name FROM users WHERE id = $1", {id}, kUserColumns);
//
// SQL is written with $1, $2... placeholders, each used once and in order: PostgreSQL's own form, and in
// SQLite a named parameter bound by position (SQLite numbers named parameters in order of first
// appearance), so one text serves both. Rows come back as a JSON array of objects whose members are the
// listed columns, each read with its declared kind (strict: a NULL is a JSON null, a value of another
// kind is DbError::bad_value). Errors are values (DbError / sqlite / pg codes).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/web/json.hpp"

namespace waitless::demo {

using Param = std::variant<std::nullptr_t, int64_t, double, std::string>;

struct Column {
  enum class Kind { integer, real, text };
  std::string_view name;
  Kind kind;
};

struct StoreMetrics {
  uint64_t queries = 0;
  uint64_t errors = 0;
  uint64_t in_flight = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // "sqlite" or "postgres".
  virtual std::string_view backend() const noexcept = 0;
  // Where the data lives (the file path, or the host/database part of the URL without credentials).
  virtual std::string location() const = 0;
  // A statement's rows as a JSON array of objects with `columns`.
  virtual Task<Result<web::Json>> rows(std::string sql, std::vector<Param> params,
                                       std::span<const Column> columns) = 0;
  // A statement run for its effect: the number of rows it changed.
  virtual Task<Result<uint64_t>> exec(std::string sql, std::vector<Param> params) = 0;
  // Statements run one after the other (schema, seed batches; each is atomic on its own); stops at the
  // first error.
  virtual Task<Result<void>> batch(std::vector<std::pair<std::string, std::vector<Param>>> statements) = 0;
  // Whether the database answers now (for /readyz).
  virtual Task<bool> ping() = 0;
  // CREATE TABLE ... for this backend's types.
  virtual std::vector<std::string> schema() const = 0;
  // Statements run once the seed is written (PostgreSQL moves its identity sequences past the seed's ids).
  virtual std::vector<std::string> after_seed() const { return {}; }
  const StoreMetrics& metrics() const noexcept { return metrics_; }

 protected:
  StoreMetrics metrics_;
};

// Rows of either backend (pg::Rows, sqlite::Rows: each row offers get<std::optional<T>>(name)) as the
// JSON array Store::rows returns.
template <typename Rows>
Result<web::Json> rows_to_json(const Rows& rows, std::span<const Column> columns) {
  web::json::array out;
  out.reserve(rows.size());
  for (const auto row : rows) {
    web::json::object obj;
    for (const Column& c : columns) {
      web::Json v;
      switch (c.kind) {
        case Column::Kind::integer: {
          auto x = row.template get<std::optional<int64_t>>(c.name);
          if (!x) return x.error();
          if (*x) v = **x;
          break;
        }
        case Column::Kind::real: {
          auto x = row.template get<std::optional<double>>(c.name);
          if (!x) return x.error();
          if (*x) v = **x;
          break;
        }
        case Column::Kind::text: {
          auto x = row.template get<std::optional<std::string>>(c.name);
          if (!x) return x.error();
          if (*x) v = web::json::string(**x);
          break;
        }
      }
      obj.emplace(c.name, std::move(v));
    }
    out.emplace_back(std::move(obj));
  }
  return web::Json(std::move(out));
}

// Opens the SQLite file at `path` (its directory is created), WAL mode. Runs on the current loop.
Task<Result<std::unique_ptr<Store>>> open_sqlite_store(std::string path);
// Connects a pool to the PostgreSQL server of `url` (postgres://user:pass@host:port/db).
Task<Result<std::unique_ptr<Store>>> open_postgres_store(std::string url);

// The first row of a rows() result, or null when there is none.
const web::Json* first_row(const web::Json& rows) noexcept;

}  // namespace waitless::demo
