#include "waitless/data/postgres.hpp"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <coroutine>

#include "waitless/async/timeout.hpp"
#include "waitless/base/log.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless::data::pg {
namespace detail {

// One pipeline segment: a statement (or a batch's statements) and its Sync. Owned by the connection until
// the Sync's result arrives, whoever waits.
struct Request {
  // Per statement, its own result (the last non-error one of its entries), owned.
  std::vector<PGresult*> results;
  // Per libpq entry (a Parse, a Bind/Execute: each ends with a NULL result), the statement it belongs to.
  std::vector<uint32_t> entry_statement;
  // The entries that Parse a statement new to the cache, with its SQL. The cache takes the name when the
  // Parse's own result arrives; until then only this segment uses it (Connection::submit says why).
  std::vector<std::pair<uint32_t, std::string>> prepares;
  std::error_code error;  // the first error in this segment
  std::string message;    // the server's message for `error`
  QueryAwaiter* waiter = nullptr;
  uint32_t entry = 0;  // entries finished
  bool cancel_when_running = false;
  ~Request() {
    for (PGresult* r : results) PQclear(r);
  }
};

// co_await of one pipeline segment (a statement, or a batch). Lives in Connection::run's (or batch's)
// frame; the Request it points to lives in the connection. Either side that goes first unlinks the other.
class QueryAwaiter {
 public:
  QueryAwaiter(Connection& conn, std::span<Statement> statements) noexcept
      : conn_(&conn), statements_(statements) {}
  QueryAwaiter(const QueryAwaiter&) = delete;
  QueryAwaiter& operator=(const QueryAwaiter&) = delete;
  ~QueryAwaiter() {
    if (request_) conn_->abandon(*request_);
  }

  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    CancelToken token = waitless::detail::token_of(awaiting);
    if (token.cancelled()) {
      result_ = Error::cancelled;
      return false;
    }
    Result<Request*> r = conn_->submit(statements_);
    if (!r) {
      result_ = r.error();
      return false;
    }
    request_ = *r;
    request_->waiter = this;
    handle_ = awaiting;
    cancel_.attach(token, [this] { on_cancel(); });
    return true;
  }
  Result<std::vector<Rows>> await_resume() { return std::move(result_); }

  // From the connection: the request finished (or the connection broke / went away).
  void complete(Result<std::vector<Rows>> result) noexcept {
    request_ = nullptr;
    cancel_.detach();
    result_ = std::move(result);
    conn_->loop().queue_resume(handle_);
  }
  void detach_connection() noexcept { request_ = nullptr; }

 private:
  void on_cancel() {
    Request* r = std::exchange(request_, nullptr);
    conn_->abandon(*r);
    result_ = Error::cancelled;
    conn_->loop().queue_resume(handle_);
  }

  Connection* conn_;
  std::span<Statement> statements_;
  Request* request_ = nullptr;
  std::coroutine_handle<> handle_;
  Result<std::vector<Rows>> result_ = make_error_code(Error::cancelled);
  CancelCallback cancel_;
};

namespace {

// Waits once for `fd` to be ready for `events` (the connect handshake's waits).
class FdReady {
 public:
  FdReady(int fd, unsigned events) noexcept : fd_(fd), events_(events) {}
  FdReady(const FdReady&) = delete;
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    Loop& loop = waitless::detail::loop_of(awaiting);
    CancelToken token = waitless::detail::token_of(awaiting);
    if (token.cancelled()) {
      result_ = Error::cancelled;
      return false;
    }
    handle_ = awaiting;
    // Resumed as a microtask, not inside the callback: the resumed coroutine destroys this watcher.
    watcher_.emplace(loop, fd_, [this, lp = &loop](unsigned) {
      watcher_->stop();
      cancel_.detach();
      lp->queue_resume(handle_);
    });
    if (std::error_code ec = watcher_->start(events_)) {
      result_ = ec;
      return false;
    }
    cancel_.attach(token, [this, &loop] {
      watcher_->stop();
      result_ = Error::cancelled;
      loop.queue_resume(handle_);
    });
    return true;
  }
  std::error_code await_resume() noexcept { return result_; }

 private:
  int fd_;
  unsigned events_;
  std::error_code result_;
  std::coroutine_handle<> handle_;
  std::optional<IoWatcher> watcher_;
  CancelCallback cancel_;
};

void log_notice(void*, const char* message) { log::debug("postgres: {}", message); }

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace
}  // namespace detail

using detail::Request;

Connection::Connection(Loop& loop, pg_conn* conn, const ConnectOptions& options) noexcept
    : loop_(&loop), conn_(conn), options_(options), alive_(std::make_shared<bool>(true)) {}

Connection::~Connection() {
  *alive_ = false;
  for (auto& r : requests_) {
    if (r->waiter) {
      r->waiter->detach_connection();
      r->waiter->complete(make_error_code(DbError::connection_lost));
    }
  }
  requests_.clear();
  watcher_.reset();  // before PQfinish closes the fd
  PQfinish(conn_);
}

Task<Result<std::unique_ptr<Connection>>> Connection::connect(std::string conninfo, ConnectOptions options) {
  Loop& loop = waitless::detail::loop_here();
  PGconn* raw = PQconnectStart(conninfo.c_str());
  if (!raw) co_return make_error_code(DbError::connect_failed);
  std::unique_ptr<Connection> conn(new Connection(loop, raw, options));
  if (PQstatus(raw) == CONNECTION_BAD) {
    conn->last_error_ = detail::trimmed(PQerrorMessage(raw));
    log::debug("postgres: connect failed: {}", conn->last_error_);
    co_return make_error_code(DbError::connect_failed);
  }
  std::error_code ec = co_await with_timeout(conn->handshake(), options.timeout);
  if (ec == Error::timed_out) {
    log::debug("postgres: connect timed out");
    co_return make_error_code(DbError::connect_failed);
  }
  if (ec) co_return ec;
  if (std::error_code setup_error = conn->setup()) co_return setup_error;
  co_return conn;
}

Task<std::error_code> Connection::handshake() {
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;  // as libpq says to start
  while (true) {
    if (status == PGRES_POLLING_OK) co_return std::error_code{};
    if (status == PGRES_POLLING_FAILED) {
      last_error_ = detail::trimmed(PQerrorMessage(conn_));
      log::debug("postgres: connect failed: {}", last_error_);
      co_return make_error_code(DbError::connect_failed);
    }
    // The socket may change between polls (libpq tries the next host or address): watch it afresh.
    const int fd = PQsocket(conn_);
    if (fd < 0) co_return make_error_code(DbError::connect_failed);
    std::error_code ec =
        co_await detail::FdReady(fd, status == PGRES_POLLING_READING ? io::readable : io::writable);
    if (ec) co_return ec;
    status = PQconnectPoll(conn_);
  }
}

std::error_code Connection::setup() {
  PQsetNoticeProcessor(conn_, &detail::log_notice, nullptr);
  if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) {
    last_error_ = detail::trimmed(PQerrorMessage(conn_));
    return DbError::connect_failed;
  }
  cancel_ = std::shared_ptr<pg_cancel>(PQgetCancel(conn_), [](PGcancel* c) { PQfreeCancel(c); });
  backend_pid_ = PQbackendPID(conn_);
  watcher_.emplace(*loop_, PQsocket(conn_), IoWatcher::method<&Connection::on_io>(this));
  watcher_->mark_internal();
  if (std::error_code ec = watcher_->start(io::readable)) return ec;
  usable_ = true;
  update_watch();
  return {};
}

Result<Request*> Connection::submit(std::span<Statement> statements) {
  if (!usable_) return make_error_code(DbError::connection_lost);
  for (const Statement& st : statements)
    if (st.params.size() > 65535) return make_error_code(DbError::bad_statement);
  auto req = std::make_unique<Request>();
  req->results.assign(statements.size(), nullptr);
  std::vector<const char*> values;
  // Queues each statement's Parse (for a new cached statement) and Bind/Execute, then one Sync; false if
  // libpq refused a message.
  auto send_one = [&](Statement& st, uint32_t index) -> bool {
    values.resize(st.params.size());
    for (std::size_t i = 0; i < st.params.size(); ++i)
      values[i] = st.params[i] ? st.params[i]->c_str() : nullptr;
    const int n = static_cast<int>(values.size());
    if (st.prepare) {
      const std::string* name = nullptr;
      if (auto it = statements_.find(st.sql); it != statements_.end()) {
        name = &it->second;
      } else if (auto p = pending_prepares_.find(st.sql); p != pending_prepares_.end()) {
        // Prepared by a segment whose Parse has not been answered yet. Only that segment may use the name:
        // if its Parse is skipped (an earlier statement of the segment failed), so are its own later uses,
        // but another segment's would fail with 26000 (no such prepared statement). Others go unprepared.
        if (p->second.owner == req.get()) name = &p->second.name;
      } else if (statements_.size() + pending_prepares_.size() < options_.statement_cache) {
        std::string fresh = "w" + std::to_string(++statement_seq_);
        if (!PQsendPrepare(conn_, fresh.c_str(), st.sql.c_str(), n, nullptr)) return false;
        req->prepares.emplace_back(static_cast<uint32_t>(req->entry_statement.size()), st.sql);
        req->entry_statement.push_back(index);
        name = &pending_prepares_.emplace(st.sql, PendingPrepare{std::move(fresh), req.get()})
                    .first->second.name;
      }
      if (name) {
        req->entry_statement.push_back(index);
        return PQsendQueryPrepared(conn_, name->c_str(), n, values.data(), nullptr, nullptr, 0) == 1;
      }
    }
    req->entry_statement.push_back(index);
    return PQsendQueryParams(conn_, st.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0) == 1;
  };
  auto send = [&]() -> bool {
    batch_statement();  // once per Sync: a batch's statements already leave together, with its flush
    for (uint32_t i = 0; i < statements.size(); ++i)
      if (!send_one(statements[i], i)) return false;
    return PQpipelineSync(conn_) == 1;
  };
  if (!send()) {
    // A message partly queued cannot be taken back: the pipeline's state is unknown, so the connection
    // is done for (a pool replaces it).
    last_error_ = detail::trimmed(PQerrorMessage(conn_));
    log::warn("postgres: sending a statement failed: {}", last_error_);
    fail_all(DbError::connection_lost);
    return make_error_code(DbError::connection_lost);
  }
  requests_.push_back(std::move(req));
  flush();
  update_watch();
  return requests_.back().get();
}

// libpq flushes at every Sync, so N statements sent together (when_all) would leave as N small segments,
// each waking the server. From the second statement sent within one callback, the socket is corked
// (TCP_CORK) until the microtask checkpoint after it: the rest leave as one segment. A lone statement is
// sent at once, uncorked, with no extra system call.
void Connection::batch_statement() noexcept {
  if (tick_statements_++ == 0) {
    loop_->queue_microtask([this, alive = alive_] {
      if (!*alive) return;
      tick_statements_ = 0;
      if (corked_) {
        corked_ = false;
        int off = 0;
        (void)::setsockopt(PQsocket(conn_), IPPROTO_TCP, TCP_CORK, &off, sizeof off);
      }
    });
  } else if (!corked_) {
    int on = 1;
    corked_ =
        ::setsockopt(PQsocket(conn_), IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;  // not on Unix sockets
  }
}

void Connection::send_detached(std::string sql) {
  Statement st{std::move(sql), {}, false};
  (void)submit(std::span<Statement>(&st, 1));
}

void Connection::flush() noexcept {
  const int r = PQflush(conn_);
  if (r < 0) {
    last_error_ = detail::trimmed(PQerrorMessage(conn_));
    fail_all(DbError::connection_lost);
    return;
  }
  want_write_ = r == 1;
}

void Connection::update_watch() noexcept {
  if (!watcher_) return;
  if (!usable_) {
    watcher_->stop();
    return;
  }
  (void)watcher_->start(io::readable | (want_write_ ? io::writable : 0u));
  // Idle: nothing awaited, so the loop may end; a notification listener needs something else alive.
  if (requests_.empty()) {
    watcher_->unref();
  } else {
    watcher_->ref();
  }
}

void Connection::on_io(unsigned events) {
  if (!usable_) return;
  auto alive = alive_;  // a completion may resume a task that destroys this connection: checked below
  if (events & (io::readable | io::error | io::hangup)) {
    if (!PQconsumeInput(conn_)) {
      last_error_ = detail::trimmed(PQerrorMessage(conn_));
      log::debug("postgres: connection lost: {}", last_error_);
      fail_all(DbError::connection_lost);
      return;
    }
  }
  if (want_write_ || (events & io::writable)) flush();
  if (!usable_) return;
  read_results();
  if (!*alive || !usable_) return;
  read_notifications();
  if (!*alive || !usable_) return;
  if (PQstatus(conn_) == CONNECTION_BAD) {
    last_error_ = detail::trimmed(PQerrorMessage(conn_));
    fail_all(DbError::connection_lost);
    return;
  }
  update_watch();
}

void Connection::read_results() noexcept {
  int nulls = 0;
  while (!requests_.empty() && usable_ && !PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    Request& req = *requests_.front();
    if (!r) {
      // The end of one pipeline entry. Two in a row means nothing more is ready (guard against spinning).
      ++req.entry;
      if (++nulls >= 2) break;
      continue;
    }
    nulls = 0;
    switch (PQresultStatus(r)) {
      case PGRES_PIPELINE_SYNC:
        PQclear(r);
        complete_front();
        break;
      case PGRES_FATAL_ERROR:
      case PGRES_NONFATAL_ERROR:
        if (!req.error) {
          const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
          req.error = state ? sqlstate_code(state) : make_error_code(DbError::server_error);
          req.message = detail::trimmed(PQresultErrorMessage(r));
        }
        settle_prepare(req, false);
        PQclear(r);
        break;
      case PGRES_PIPELINE_ABORTED:  // skipped: an earlier entry of the segment failed
        if (!req.error) req.error = DbError::server_error;
        settle_prepare(req, false);
        PQclear(r);
        break;
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
      case PGRES_EMPTY_QUERY: {
        settle_prepare(req, true);
        PGresult*& slot = req.results[req.entry < req.entry_statement.size() ? req.entry_statement[req.entry]
                                                                             : req.results.size() - 1];
        PQclear(slot);
        slot = r;
        break;
      }
      default:  // COPY and the like: not something a parameterised statement starts
        if (!req.error) req.error = DbError::bad_statement;
        PQclear(r);
        break;
    }
  }
}

void Connection::complete_front() noexcept {
  std::unique_ptr<Request> req = std::move(requests_.front());
  requests_.pop_front();
  if (req.get() == cancelling_) {
    cancelling_ = nullptr;
    if (cancel_retry_) (void)cancel_retry_->stop();
  }
  if (req->error) {
    last_error_ = req->message;
    log::debug("postgres: statement failed: {} ({})", req->message, req->error.message());
  }
  if (req->waiter) {
    if (req->error) {
      req->waiter->complete(req->error);
    } else {
      std::vector<Rows> rows;
      rows.reserve(req->results.size());
      for (PGresult*& r : req->results) rows.emplace_back(std::exchange(r, nullptr));
      req->waiter->complete(std::move(rows));
    }
  }
  // A statement cancelled before it reached the server's attention is now the one running.
  if (!requests_.empty() && requests_.front()->cancel_when_running) {
    requests_.front()->cancel_when_running = false;
    cancel_running();
  }
}

// The entry being read has its result: if it is the Parse of a statement new to the cache, the name joins
// the cache when the Parse succeeded; when it failed or was skipped the server has no such statement, and
// the next use prepares again.
void Connection::settle_prepare(const Request& req, bool prepared) noexcept {
  for (const auto& [entry, sql] : req.prepares) {
    if (entry != req.entry) continue;
    auto p = pending_prepares_.find(sql);
    if (p == pending_prepares_.end() || p->second.owner != &req) return;
    if (prepared) statements_.emplace(sql, std::move(p->second.name));
    pending_prepares_.erase(p);
    return;
  }
}

void Connection::read_notifications() noexcept {
  while (PGnotify* n = PQnotifies(conn_)) {
    Notification note{n->relname ? n->relname : "", n->extra ? n->extra : "", n->be_pid};
    PQfreemem(n);
    auto alive = alive_;
    notifications_.emit<NotifyEvent>(note);
    if (!*alive) return;
  }
}

void Connection::fail_all(std::error_code ec) noexcept {
  usable_ = false;
  cancelling_ = nullptr;
  if (cancel_retry_) (void)cancel_retry_->stop();
  if (watcher_) watcher_->stop();
  auto requests = std::move(requests_);
  requests_.clear();
  pending_prepares_.clear();  // their segments are gone with the connection
  for (auto& r : requests) {
    // A statement the server already failed (57P01 when it was terminated) keeps its own error.
    if (r->waiter) r->waiter->complete(r->error ? r->error : ec);
  }
}

void Connection::abandon(Request& request) noexcept {
  request.waiter = nullptr;
  if (!usable_) return;
  if (!requests_.empty() && requests_.front().get() == &request) {
    cancel_running();
  } else {
    request.cancel_when_running = true;
  }
}

// The statement in progress (the head of the pipeline) was cancelled: ask the server now, and again every
// 200 ms (at most 10 times) while it is still the one in progress. PostgreSQL ignores a cancel request
// that arrives before the statement starts; a repeat is what stops a statement sent just before it.
void Connection::cancel_running() noexcept {
  send_cancel();
  if (requests_.empty()) return;
  cancelling_ = requests_.front().get();
  cancel_retries_ = 0;
  if (!cancel_retry_) {
    cancel_retry_.emplace(*loop_);
    cancel_retry_->mark_internal();
  }
  (void)cancel_retry_->start(
      std::chrono::milliseconds(200),
      [this] {
        if (usable_ && cancelling_ && !requests_.empty() && requests_.front().get() == cancelling_ &&
            ++cancel_retries_ <= 10) {
          send_cancel();
        } else {
          cancelling_ = nullptr;
          (void)cancel_retry_->stop();
        }
      },
      std::chrono::milliseconds(200));
  cancel_retry_->unref();
}

void Connection::send_cancel() noexcept {
  if (!cancel_) return;
  auto job = [cancel = cancel_]() -> std::string {
    char err[256] = {};
    if (PQcancel(cancel.get(), err, sizeof err)) return {};
    return err;
  };
  auto done = [](Result<std::string> r, std::exception_ptr) {
    if (r && !r->empty()) log::warn("postgres: cancel request failed: {}", *r);
  };
  if (std::error_code ec = pools::blocking().submit(*loop_, std::move(job), std::move(done)))
    log::warn("postgres: cancel request not sent: {}", ec.message());
}

Task<Result<Rows>> Connection::run(Statement statement) {
  Result<std::vector<Rows>> r = co_await detail::QueryAwaiter(*this, std::span<Statement>(&statement, 1));
  if (!r) co_return r.error();
  co_return std::move(r->front());
}

Task<Result<std::vector<Rows>>> Connection::batch(std::vector<Statement> statements) {
  if (statements.empty()) co_return std::vector<Rows>{};
  co_return co_await detail::QueryAwaiter(*this, statements);
}

Task<Result<void>> Connection::listen(std::string_view channel) {
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (!quoted) co_return make_error_code(DbError::bad_statement);
  std::string sql = "LISTEN " + std::string(quoted);
  PQfreemem(quoted);
  auto r = co_await run(Statement{std::move(sql), {}, false});
  if (!r) co_return r.error();
  co_return Result<void>{};
}

Task<Result<void>> Connection::unlisten(std::string_view channel) {
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (!quoted) co_return make_error_code(DbError::bad_statement);
  std::string sql = "UNLISTEN " + std::string(quoted);
  PQfreemem(quoted);
  auto r = co_await run(Statement{std::move(sql), {}, false});
  if (!r) co_return r.error();
  co_return Result<void>{};
}

// ---- Transaction ----

Task<Result<Transaction>> Transaction::begin(Connection& conn, std::string_view begin_sql) {
  auto r = co_await conn.run(Statement{std::string(begin_sql), {}, false});
  if (!r) co_return r.error();
  co_return Transaction(conn);
}

Transaction::~Transaction() {
  if (conn_ && conn_->is_usable()) conn_->send_detached("ROLLBACK");
}

Task<Result<void>> Transaction::finish(std::string_view sql) {
  if (!conn_) co_return make_error_code(Error::closed);
  Connection* conn = std::exchange(conn_, nullptr);
  auto r = co_await conn->run(Statement{std::string(sql), {}, false});
  if (!r) {
    // A COMMIT that failed (or was cancelled) leaves the state unknown: roll back what may be left.
    if (conn->is_usable()) conn->send_detached("ROLLBACK");
    co_return r.error();
  }
  co_return Result<void>{};
}

Task<Result<void>> Transaction::commit() { return finish("COMMIT"); }
Task<Result<void>> Transaction::rollback() { return finish("ROLLBACK"); }

}  // namespace waitless::data::pg
