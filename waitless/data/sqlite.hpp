// sqlite::Database: the embedded default database, off the loop. The same query interface as PostgreSQL
// where it makes sense: parameterised statements only, typed rows, RAII transactions.
//
//   auto db = co_await sqlite::Database::open({.path = "app.db"});
//   Result<sqlite::Rows> r = co_await (*db)->query("SELECT name FROM users WHERE id = ?", id);
//   auto tx = co_await sqlite::Transaction::begin(**db);   // BEGIN IMMEDIATE ... ROLLBACK unless commit()
//
// How it runs: SQLite's calls block (disk, locks), so none runs on the loop. One writer thread with one
// read-write connection, and a pool of reader threads, each with its own read-only connection; the
// database is in WAL mode, so readers never wait for the writer and see the last committed state.
// Each connection has busy_timeout and its own prepared-statement cache (statements are prepared once
// per thread and reused). A statement goes to a reader unless it writes: the first run of each SQL
// text on a reader asks SQLite (sqlite3_stmt_readonly); a statement that writes is handed to the writer,
// and the database remembers it, so later runs go there straight away.
// Writes are serialised on the loop by a mutex, which a Transaction holds from BEGIN to COMMIT/ROLLBACK:
// other writers wait (without blocking the loop), readers go on. Inside a transaction every statement
// runs on the writer (it must see its own writes).
// Errors are values: SQLite's extended result codes as sqlite_code(rc) (db_error.hpp: `ec ==
// DbCondition::constraint`), the message in last_error_message(). Cancellation: a statement still queued
// is withdrawn (Error::cancelled); one already running on its thread finishes first.
// ":memory:" is refused: each thread's connection would see a different, empty database.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "waitless/async/sync.hpp"
#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/db_error.hpp"
#include "waitless/data/sqlite_rows.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless::data::sqlite {

struct Options {
  std::string path;
  std::size_t readers = 2;
  Duration busy_timeout = std::chrono::seconds(5);
  std::size_t statement_cache = 64;  // prepared statements kept per connection (thread)
};

template <typename T>
Value to_value(const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, std::nullopt_t> || std::is_same_v<D, std::nullptr_t>) {
    return std::monostate{};
  } else if constexpr (detail::IsOptional<D>::value) {
    if (!v) return std::monostate{};
    return to_value(*v);
  } else if constexpr (std::is_same_v<D, bool>) {
    return int64_t{v ? 1 : 0};
  } else if constexpr (std::is_integral_v<D>) {
    static_assert(sizeof(D) < 8 || std::is_signed_v<D>, "uint64_t does not fit SQLite's integer");
    return static_cast<int64_t>(v);
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<double>(v);
  } else if constexpr (std::is_same_v<D, Blob>) {
    return v;
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(v));
  } else {
    static_assert(sizeof(D) == 0, "no SQLite value for this type");
  }
}

struct Statement {
  std::string sql;
  std::vector<Value> params;
};

// What the worker threads share: the options (read-only once open).
struct Shared {
  Options options;
};

class Database {
 public:
  static Task<Result<std::unique_ptr<Database>>> open(Options options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  template <typename... A>
  Task<Result<Rows>> query(std::string_view sql, const A&... args) {
    return run(Statement{std::string(sql), {to_value(args)...}});
  }
  Task<Result<Rows>> run(Statement statement);

  const std::string& last_error_message() const noexcept { return last_error_; }
  const Options& options() const noexcept { return shared_->options; }

 private:
  friend class Transaction;
  explicit Database(Options options);
  // On the writer thread, without taking the write lock (the caller holds it, or is a transaction).
  Task<Result<Rows>> run_on_writer(Statement statement);
  void note_error(const Result<Rows>& r, const std::string& message);

  std::shared_ptr<const Shared> shared_;
  std::unique_ptr<ThreadPool> writer_;
  std::unique_ptr<ThreadPool> readers_;
  Mutex write_lock_;
  std::unordered_map<std::string, bool> writes_;  // SQL text -> it writes (learned on first run)
  std::string last_error_;
};

// BEGIN IMMEDIATE on the writer, holding the database's write lock until commit() / rollback() or the
// destructor (which sends ROLLBACK without waiting: the writer thread runs it before any later write).
class Transaction {
 public:
  static Task<Result<Transaction>> begin(Database& db);
  Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)), lock_(std::move(o.lock_)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  template <typename... A>
  Task<Result<Rows>> query(std::string_view sql, const A&... args) {
    return run(db_, Statement{std::string(sql), {to_value(args)...}});
  }
  Task<Result<void>> commit();
  Task<Result<void>> rollback();

 private:
  Transaction(Database& db, Mutex::Guard lock) noexcept : db_(&db), lock_(std::move(lock)) {}
  Task<Result<void>> finish(std::string sql);
  static Task<Result<Rows>> run(Database* db, Statement statement);
  Database* db_;  // null once finished or moved from
  Mutex::Guard lock_;
};

}  // namespace waitless::data::sqlite
