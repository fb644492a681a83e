#include "waitless/data/sqlite.hpp"

#include <sqlite3.h>

#include "waitless/async/pool_run.hpp"
#include "waitless/base/log.hpp"

namespace waitless::data::sqlite {
namespace {

enum class Role : uint8_t { writer, reader };

// One thread's connection with its statement cache. Each worker thread belongs to one Database (the
// database owns its thread pools), so a thread_local is that database's connection on this thread,
// closed when the thread exits (the pools join their threads in the database's destructor).
class ThreadConnection {
 public:
  ThreadConnection() = default;
  ThreadConnection(const ThreadConnection&) = delete;
  ThreadConnection& operator=(const ThreadConnection&) = delete;
  ~ThreadConnection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
  }

  int open(const Options& o, Role role, std::string& message) {
    const int flags =
        (role == Role::writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
        SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(o.path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) return fail(rc, message);
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(
        db_, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(o.busy_timeout).count()));
    const char* setup = role == Role::writer
                            ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                            : "PRAGMA foreign_keys=ON;";
    rc = sqlite3_exec(db_, setup, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(rc, message);
    cache_limit_ = o.statement_cache;
    return SQLITE_OK;
  }
  sqlite3* db() const noexcept { return db_; }

  // The cached statement for `sql`, reset and unbound, or a new one (cached if there is room).
  int prepare(const std::string& sql, sqlite3_stmt*& out, bool& owned, std::string& message) {
    if (auto it = cache_.find(sql); it != cache_.end()) {
      out = it->second;
      owned = false;
      return SQLITE_OK;
    }
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &out, &tail);
    if (rc != SQLITE_OK) return fail(rc, message);
    if (!out) {  // only whitespace or a comment
      message = "empty statement";
      return SQLITE_MISUSE;
    }
    if (tail && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos) {
      sqlite3_finalize(out);
      out = nullptr;
      message = "one statement at a time (text follows the first statement)";
      return SQLITE_MISUSE;
    }
    owned = cache_.size() >= cache_limit_;
    if (!owned) cache_.emplace(sql, out);
    return SQLITE_OK;
  }

  int fail(int rc, std::string& message) {
    message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    return rc;
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  std::size_t cache_limit_ = 64;
};

thread_local std::unique_ptr<ThreadConnection> t_connection;

struct Outcome {
  Result<Rows> rows = make_error_code(DbError::bad_statement);
  std::string message;
  bool needs_writer = false;  // a reader refused a statement that writes
};

int bind_all(sqlite3_stmt* stmt, const std::vector<Value>& params) {
  if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) return SQLITE_RANGE;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i) + 1;
    const Value& v = params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(v)) {
      rc = sqlite3_bind_null(stmt, at);
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, at, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, at, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      rc = sqlite3_bind_text(stmt, at, s->data(), static_cast<int>(s->size()), SQLITE_STATIC);
    } else if (const auto* b = std::get_if<Blob>(&v)) {
      rc = sqlite3_bind_blob(stmt, at, b->bytes.data(), static_cast<int>(b->bytes.size()), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

Value column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return int64_t{sqlite3_column_int64(stmt, i)};
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt, i));
      Blob b;
      b.bytes.assign(p, p + sqlite3_column_bytes(stmt, i));
      return b;
    }
    default:
      return std::monostate{};
  }
}

// On a worker thread: runs one statement on this thread's connection.
Outcome execute(const Shared& shared, const Statement& st, Role role) {
  Outcome out;
  if (!t_connection) {
    auto conn = std::make_unique<ThreadConnection>();
    if (int rc = conn->open(shared.options, role, out.message); rc != SQLITE_OK) {
      out.rows = sqlite_code(rc);
      return out;
    }
    t_connection = std::move(conn);
  }
  ThreadConnection& c = *t_connection;
  sqlite3_stmt* stmt = nullptr;
  bool owned = false;
  if (int rc = c.prepare(st.sql, stmt, owned, out.message); rc != SQLITE_OK) {
    out.rows = sqlite_code(rc);
    return out;
  }
  struct Finish {  // reset (cached) or finalize (uncached) on every path
    sqlite3_stmt* s;
    bool owned;
    ~Finish() {
      if (owned) {
        sqlite3_finalize(s);
      } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    }
  } finish{stmt, owned};
  if (role == Role::reader && !sqlite3_stmt_readonly(stmt)) {
    out.needs_writer = true;
    return out;
  }
  if (int rc = bind_all(stmt, st.params); rc != SQLITE_OK) {
    out.message = rc == SQLITE_RANGE ? "wrong number of parameters" : sqlite3_errstr(rc);
    out.rows = sqlite_code(rc);
    return out;
  }
  Rows rows;
  const int n = sqlite3_column_count(stmt);
  rows.columns_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) rows.columns_.emplace_back(sqlite3_column_name(stmt, i));
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    for (int i = 0; i < n; ++i) rows.values_.push_back(column_value(stmt, i));
  }
  if (rc != SQLITE_DONE) {
    out.message = sqlite3_errmsg(c.db());
    out.rows = sqlite_code(sqlite3_extended_errcode(c.db()));
    return out;
  }
  rows.affected_ = static_cast<uint64_t>(sqlite3_changes64(c.db()));
  rows.last_insert_id_ = sqlite3_last_insert_rowid(c.db());
  out.rows = std::move(rows);
  return out;
}

}  // namespace

Database::Database(Options options)
    : shared_(std::make_shared<const Shared>(Shared{std::move(options)})),
      writer_(std::make_unique<ThreadPool>("sqlite-w", 1)),
      readers_(std::make_unique<ThreadPool>("sqlite-r", std::max<std::size_t>(shared_->options.readers, 1))) {
}

Database::~Database() {
  // Joining the threads closes their connections (thread_local destructors): readers first, writer last
  // (it checkpoints the WAL when the last connection closes).
  readers_.reset();
  writer_.reset();
}

Task<Result<std::unique_ptr<Database>>> Database::open(Options options) {
  if (options.path.empty() || options.path == ":memory:" || options.path.starts_with("file::memory:"))
    co_return make_error_code(Error::invalid_argument);
  std::unique_ptr<Database> db(new Database(std::move(options)));
  // The writer opens (creating the file, switching to WAL) before any reader opens it read-only.
  auto r = co_await db->run_on_writer(Statement{"SELECT 1", {}});
  if (!r) co_return r.error();
  co_return db;
}

void Database::note_error(const Result<Rows>& r, const std::string& message) {
  if (r) return;
  last_error_ = message.empty() ? r.error().message() : message;
  log::debug("sqlite: {} ({})", last_error_, r.error().message());
}

Task<Result<Rows>> Database::run_on_writer(Statement statement) {
  auto job = [shared = shared_, st = std::move(statement)] { return execute(*shared, st, Role::writer); };
  Result<Outcome> r = co_await writer_->run(std::move(job));
  if (!r) co_return r.error();
  note_error(r->rows, r->message);
  co_return std::move(r->rows);
}

Task<Result<Rows>> Database::run(Statement statement) {
  constexpr std::size_t kMaxRemembered = 4096;  // distinct SQL texts whose read/write nature is kept
  auto known = writes_.find(statement.sql);
  if (known == writes_.end() || !known->second) {
    auto job = [shared = shared_, st = statement] { return execute(*shared, st, Role::reader); };
    Result<Outcome> r = co_await readers_->run(std::move(job));
    if (!r) co_return r.error();
    if (!r->needs_writer) {
      if (r->rows && known == writes_.end() && writes_.size() < kMaxRemembered)
        writes_.emplace(statement.sql, false);
      note_error(r->rows, r->message);
      co_return std::move(r->rows);
    }
    if (writes_.size() < kMaxRemembered) writes_[statement.sql] = true;
  }
  auto lock = co_await write_lock_.lock();
  if (!lock) co_return lock.error();
  co_return co_await run_on_writer(std::move(statement));
}

// ---- Transaction ----

Task<Result<Transaction>> Transaction::begin(Database& db) {
  auto lock = co_await db.write_lock_.lock();
  if (!lock) co_return lock.error();
  auto r = co_await db.run_on_writer(Statement{"BEGIN IMMEDIATE", {}});
  if (!r) co_return r.error();
  co_return Transaction(db, std::move(*lock));
}

Transaction::~Transaction() {
  if (!db_) return;
  // Queued on the single writer thread before the lock is released: it runs before any later write.
  auto job = [shared = db_->shared_] { return execute(*shared, Statement{"ROLLBACK", {}}, Role::writer); };
  auto done = [](Result<Outcome> r, std::exception_ptr) {
    if (!r || !r->rows) log::warn("sqlite: rollback failed");
  };
  Loop& loop = waitless::detail::loop_here();
  if (std::error_code ec = db_->writer_->submit(loop, std::move(job), std::move(done)))
    log::error("sqlite: rollback not queued: {}", ec.message());
}

Task<Result<Rows>> Transaction::run(Database* db, Statement statement) {
  if (!db) co_return make_error_code(Error::closed);
  co_return co_await db->run_on_writer(std::move(statement));
}

Task<Result<void>> Transaction::finish(std::string sql) {
  if (!db_) co_return make_error_code(Error::closed);
  Database* db = db_;
  auto r = co_await db->run_on_writer(Statement{std::move(sql), {}});
  if (!r) co_return r.error();  // still open: the destructor rolls back
  db_ = nullptr;
  lock_.unlock();
  co_return Result<void>{};
}

Task<Result<void>> Transaction::commit() { return finish("COMMIT"); }
Task<Result<void>> Transaction::rollback() { return finish("ROLLBACK"); }

}  // namespace waitless::data::sqlite
