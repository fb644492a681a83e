// pg::Connection: one PostgreSQL connection on the loop, through libpq in non-blocking pipeline mode.
//
//   auto conn = co_await pg::Connection::connect("host=127.0.0.1 port=5432 dbname=app user=app");
//   if (!conn) co_return conn.error();
//   Result<pg::Rows> rows = co_await (*conn)->query("SELECT id, name FROM users WHERE id = $1", id);
//   auto [a, b] = co_await when_all(c.query(q1, x), c.query(q2, y));    // one round trip, not two
//
// How it runs:
// - Connect: PQconnectStart + PQconnectPoll, the socket awaited on the loop's poller (no thread blocks).
//   Host names are resolved by libpq itself, synchronously: give an address (host=127.0.0.1) or a Unix
//   socket directory to keep the loop free of DNS.
// - Then the connection is non-blocking (PQsetnonblocking) and in pipeline mode (libpq >= 14) for good:
//   every statement is sent at once, followed by its own Sync, and the results come back in order. So N
//   statements issued together (when_all) travel in one go and cost one round trip; each still fails or
//   succeeds on its own (an error aborts the pipeline only up to its Sync). Inside BEGIN..COMMIT a Sync
//   does not commit: transactions work unchanged. batch() sends N statements with one Sync: one implicit
//   transaction, all or nothing, and the server's cheapest way to run them.
// - Only parameterised statements ($1, $2... with values sent apart from the SQL text, in text format:
//   postgres_value.hpp). query() prepares each distinct SQL text once per connection (the Parse travels
//   in the same pipeline as its first execution) and reuses it; query_unprepared() does not prepare.
// - Errors are values: the server's SQLSTATE as an error_code (db_error.hpp: `ec == DbCondition::
//   constraint`), DbError::connection_lost when the connection broke (then every statement in flight
//   fails with it and is_usable() is false). The server's message is last_error_message().
// - Cancellation: when the awaiting task is cancelled, its query() ends at once with Error::cancelled;
//   if the statement is the one the server is running (or once it becomes so), a cancel request
//   (PQcancel, blocking, so on the `blocking` thread pool; repeated while it still runs) asks the server
//   to stop it. The connection
//   stays usable: the statement's late result is consumed and dropped. PostgreSQL's cancel names a
//   backend, not a statement: if the statement ends just as the request arrives, the one after it in
//   this connection's pipeline may be the one cancelled (57014).
// - LISTEN/NOTIFY: listen(channel) then notifications().on<pg::NotifyEvent>(...). The socket is always
//   watched, so notifications arrive while the connection is idle.
// - An idle connection does not keep the loop alive (its watcher is unreferenced while nothing is in
//   flight), as Node's pg with allowExitOnIdle.
// One connection belongs to the loop it was made on; it is used by one task at a time or by many at once
// (they share the pipeline; a transaction needs the connection to itself: borrow it from a Pool).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "waitless/async/event_emitter.hpp"
#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/db_error.hpp"
#include "waitless/data/postgres_rows.hpp"
#include "waitless/data/postgres_value.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/timer.hpp"

struct pg_conn;    // libpq's PGconn
struct pg_cancel;  // libpq's PGcancel

namespace waitless::data::pg {

struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;  // the sender's
};
struct NotifyEvent {
  using args = std::tuple<const Notification&>;
  static constexpr std::string_view name = "notification";
};

struct ConnectOptions {
  Duration timeout = std::chrono::seconds(5);
  std::size_t statement_cache = 256;  // prepared statements kept per connection; beyond, unprepared
};

// One statement with its parameters, owned (nothing refers to the caller's temporaries).
struct Statement {
  std::string sql;
  std::vector<Param> params;
  bool prepare = true;
};

// A statement for Connection::batch: the arguments are encoded at the call, as query() does.
template <typename... A>
Statement statement(std::string_view sql, const A&... args) {
  return Statement{std::string(sql), {encode(args)...}, true};
}

class Connection;

namespace detail {
class QueryAwaiter;
struct Request;
}  // namespace detail

class Connection {
 public:
  static Task<Result<std::unique_ptr<Connection>>> connect(std::string conninfo, ConnectOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A parameterised statement, prepared once per connection. The arguments are encoded at the call.
  template <typename... A>
  Task<Result<Rows>> query(std::string_view sql, const A&... args) {
    return run(Statement{std::string(sql), {encode(args)...}, true});
  }
  template <typename... A>
  Task<Result<Rows>> query_unprepared(std::string_view sql, const A&... args) {
    return run(Statement{std::string(sql), {encode(args)...}, false});
  }
  Task<Result<Rows>> run(Statement statement);

  // Several statements as one unit (pgx's SendBatch): sent together with a single Sync, so they cost one
  // round trip and the server runs them in one implicit transaction, saving a commit and a flush per
  // statement over when_all (which Syncs each). All succeed and the results come back in order, or the
  // batch fails with the first statement's error (SQLSTATE), the statements after it are not run and none
  // of the batch's writes stays. Inside BEGIN..COMMIT it runs in that transaction instead. Empty: {}.
  Task<Result<std::vector<Rows>>> batch(std::vector<Statement> statements);

  // LISTEN / UNLISTEN (the channel is quoted as an identifier).
  Task<Result<void>> listen(std::string_view channel);
  Task<Result<void>> unlisten(std::string_view channel);
  EventEmitter<NotifyEvent>& notifications() noexcept { return notifications_; }

  // False once the connection broke (or the server closed it): a pool then discards it.
  bool is_usable() const noexcept { return usable_; }
  int backend_pid() const noexcept { return backend_pid_; }
  const std::string& last_error_message() const noexcept { return last_error_; }
  std::size_t in_flight() const noexcept { return requests_.size(); }
  std::size_t prepared_count() const noexcept { return statements_.size(); }
  Loop& loop() const noexcept { return *loop_; }

  // Sends a statement nobody awaits (a transaction's rollback from its destructor). It still takes its
  // place in the pipeline, so what is sent later runs after it.
  void send_detached(std::string sql);

 private:
  friend class detail::QueryAwaiter;
  Connection(Loop& loop, pg_conn* conn, const ConnectOptions& options) noexcept;

  Task<std::error_code> handshake();
  std::error_code setup();
  // Queues the statements' messages, then one Sync; returns the request or the error that prevented
  // sending.
  Result<detail::Request*> submit(std::span<Statement> statements);
  void on_io(unsigned events);
  void flush() noexcept;
  void read_results() noexcept;
  void read_notifications() noexcept;
  void complete_front() noexcept;
  void settle_prepare(const detail::Request& request, bool prepared) noexcept;
  void fail_all(std::error_code ec) noexcept;
  void abandon(detail::Request& request) noexcept;
  void send_cancel() noexcept;
  void cancel_running() noexcept;
  void update_watch() noexcept;
  void batch_statement() noexcept;

  Loop* loop_;
  pg_conn* conn_;
  std::shared_ptr<pg_cancel> cancel_;
  std::optional<IoWatcher> watcher_;
  // While a cancelled statement is the one in progress, the cancel request is repeated (a request that
  // reaches the server before the statement starts is ignored by it).
  std::optional<Timer> cancel_retry_;
  const detail::Request* cancelling_ = nullptr;
  int cancel_retries_ = 0;
  ConnectOptions options_;
  bool usable_ = false;
  bool want_write_ = false;
  bool corked_ = false;           // TCP_CORK set for the statements sent in this callback
  unsigned tick_statements_ = 0;  // statements sent since the last microtask checkpoint
  int backend_pid_ = 0;
  uint64_t statement_seq_ = 0;
  std::string last_error_;
  std::unordered_map<std::string, std::string> statements_;  // SQL text -> prepared statement name
  // Parses sent and not yet answered: SQL text -> the name and the segment that prepares it.
  struct PendingPrepare {
    std::string name;
    const detail::Request* owner;
  };
  std::unordered_map<std::string, PendingPrepare> pending_prepares_;
  std::deque<std::unique_ptr<detail::Request>> requests_;  // in pipeline order
  EventEmitter<NotifyEvent> notifications_;
  std::shared_ptr<bool> alive_;  // false once destroyed: a cancel completing later touches nothing
};

// A transaction on one connection: BEGIN at begin(), ROLLBACK unless commit() succeeded (sent from the
// destructor without waiting: the connection's pipeline runs it before anything sent later).
class Transaction {
 public:
  static Task<Result<Transaction>> begin(Connection& conn, std::string_view begin_sql = "BEGIN");
  Transaction(Transaction&& o) noexcept : conn_(std::exchange(o.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  template <typename... A>
  Task<Result<Rows>> query(std::string_view sql, const A&... args) {
    return conn_->query(sql, args...);
  }
  Task<Result<void>> commit();
  Task<Result<void>> rollback();
  Connection& connection() const noexcept { return *conn_; }

 private:
  explicit Transaction(Connection& conn) noexcept : conn_(&conn) {}
  Task<Result<void>> finish(std::string_view sql);
  Connection* conn_;  // null once committed, rolled back or moved from
};

}  // namespace waitless::data::pg
