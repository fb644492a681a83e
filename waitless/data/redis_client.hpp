// RedisClient: one multiplexed, pipelined connection to a Redis server on a loop, as Node's ioredis.
//
//   data::RedisClient redis(loop, {.host = "127.0.0.1", .port = 6379});
//   Result<Reply> r = co_await redis.command({"SET", "k", "v"});     // the Reply, or a connection error
//   auto v = co_await redis.get("k");                               // Result<std::optional<std::string>>
//   auto [a, b] = co_await when_all(redis.command({"INCR", "a"}), redis.command({"INCR", "b"}));
//
// Pipelining: every command issued in one loop turn goes out in one write (an immediate flushes the
// buffer), and replies are matched to commands in FIFO order, as RESP guarantees on one connection. So
// `when_all` of N commands costs one round trip.
//
// The connection is kept by a supervisor coroutine owned by the client: connect (connect_timeout), an
// optional handshake (HELLO 3 for RESP3, AUTH, SELECT), then serve until the connection breaks; then
// reconnect after an exponential backoff with jitter (reconnect_initial doubling up to reconnect_max).
// Commands issued while there is no connection wait in a queue (bounded by max_queued: beyond it they fail
// at once with RedisErrc::not_connected) and go out once connected. Commands already written when the
// connection breaks fail with RedisErrc::connection_lost: whether the server ran them is unknown, so they
// are not retried.
//
// Errors (redis_reply.hpp): a server error reply is a Reply of type error (the connection is fine);
// everything else is the Result's error_code: RedisErrc::connection_lost, not_connected, protocol_error /
// reply_too_large (the server's bytes broke RESP or RespLimits: the connection is closed and re-opened),
// Error::timed_out (command_timeout), Error::cancelled (the awaiting task's token), Error::closed (the
// client was closed or destroyed).
//
// Timeouts and cancellation never desynchronise the connection: a command that gives up while its request
// is already written stays in the FIFO without a waiter, and its reply is read and dropped when it comes.
// One that gives up before it was written is never sent.
//
// Memory: replies are bounded by RespLimits (a hostile server cannot make the client allocate beyond
// them); the write buffer and the queue by the commands the application issues.
//
// Pub/sub belongs to RedisSubscriber (its own connection): a SUBSCRIBE sent through command() would put
// this connection in subscriber mode, whose messages answer no command; the client then sees replies
// nobody asked for and re-opens the connection (RESP2), or drops them (RESP3 pushes).
//
// Lifetime: the client keeps the loop alive while it holds or seeks a connection; close() (or the
// destructor) stops it and fails whatever is pending with Error::closed. One loop, one thread.
#pragma once
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/async/sync.hpp"
#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/redis_parser.hpp"
#include "waitless/data/redis_reply.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/tcp_stream.hpp"

namespace waitless::data {

using namespace std::chrono_literals;

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  Duration connect_timeout = 2s;                // DNS + TCP connect + handshake
  Duration command_timeout = Duration::zero();  // from issue to reply; 0: none
  Duration reconnect_initial = 50ms;            // first backoff; doubles after each failure
  Duration reconnect_max = 2s;
  int protocol = 2;                 // 3: HELLO 3 on connect (RESP3 replies: maps, doubles, pushes...)
  std::string username;             // AUTH (with password); empty: "default"
  std::string password;             // empty: no AUTH
  int database = 0;                 // SELECT when non-zero
  std::size_t max_queued = 100000;  // commands waiting for a connection
  RespLimits limits;
};

class RedisClient;

// The awaitable of one command. Holds the encoded request until it is handed to the client.
class RedisCommand {
 public:
  RedisCommand(RedisClient& client, std::string request, bool handshake = false) noexcept
      : client_(&client), request_(std::move(request)), handshake_(handshake) {}
  RedisCommand(RedisCommand&&) = delete;
  ~RedisCommand();

  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return suspend(h, waitless::detail::loop_of(h), waitless::detail::token_of(h));
  }
  Result<Reply> await_resume() { return std::move(*result_); }

 private:
  friend class RedisClient;
  bool suspend(std::coroutine_handle<> h, Loop& loop, const CancelToken& token);
  void complete(Result<Reply> r) noexcept;
  void give_up(std::error_code ec) noexcept;

  RedisClient* client_;
  std::string request_;
  bool handshake_;
  struct Slot* slot_ = nullptr;
  Loop* loop_ = nullptr;
  std::coroutine_handle<> awaiting_;
  std::optional<Result<Reply>> result_;
  CancelCallback cancel_;
  std::optional<Timer> timer_;
};

// A command in the client's queues. `waiter` is null once its awaiter gave up (or for a reply nobody
// awaits): the reply is then read and dropped.
struct Slot {
  RedisCommand* waiter;
  std::string request;  // only while waiting for a connection
};

struct RedisStats {
  uint64_t commands = 0;  // written to a connection
  uint64_t writes = 0;    // socket writes (one per loop turn with commands to send)
  uint64_t replies = 0;   // read (including dropped ones)
  uint64_t connects = 0;  // successful connections (1 + reconnects)
  uint64_t connect_failures = 0;
};

class RedisClient {
 public:
  RedisClient(Loop& loop, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Any command, its arguments sent as bulk strings (binary-safe). No arguments: Error::invalid_argument.
  RedisCommand command(std::initializer_list<std::string_view> args);
  RedisCommand command(const std::vector<std::string>& args);

  // The same as a Task, for when_all and with_timeout (the arguments are copied in).
  Task<Result<Reply>> exec(std::vector<std::string> args);

  // Typed helpers: a server error reply is RedisErrc::error_reply here (use command() for its text).
  Task<Result<std::optional<std::string>>> get(std::string key);
  Task<Result<void>> set(std::string key, std::string value, Duration ttl = Duration::zero());
  Task<Result<int64_t>> del(std::string key);
  Task<Result<int64_t>> incr(std::string key);
  Task<Result<int64_t>> publish(std::string channel, std::string message);

  // Stops for good: the connection closes, pending and queued commands fail with Error::closed, later
  // ones at once. Idempotent.
  void close() noexcept;
  bool closed() const noexcept { return closed_; }
  bool connected() const noexcept { return ready_; }
  std::size_t in_flight() const noexcept { return pending_.size(); }
  std::size_t queued() const noexcept { return waiting_.size(); }
  const RedisStats& stats() const noexcept { return stats_; }
  const RedisOptions& options() const noexcept { return options_; }
  Loop& loop() const noexcept { return loop_; }

  // ---- for RedisSubscriber ----
  // Pub/sub messages ("message", "pmessage", "smessage" arrays or pushes) go to `fn` instead of the FIFO.
  void set_message_handler(std::function<void(const Reply&)> fn) { on_message_ = std::move(fn); }
  // Called after each successful (re)connect and handshake, before queued commands go out.
  void set_ready_handler(std::function<void()> fn) { on_ready_ = std::move(fn); }
  // Sends a command whose reply is read and dropped (re-subscribing after a reconnect). Needs a connection.
  void send_detached(std::initializer_list<std::string_view> args);

 private:
  friend class RedisCommand;
  Task<> supervise();
  Task<bool> handshake();
  // Hands a command to the connection or the queue; false if it completed at once (its result is set).
  bool submit(RedisCommand& c);
  void enqueue_now(RedisCommand* c, std::string_view request);
  // Drops the commands at either end of the connection queue that gave up (never to be sent).
  void trim_waiting() noexcept;
  void schedule_flush();
  void flush() noexcept;
  void on_bytes(std::string_view data);
  void dispatch(Reply&& r);
  void lose(std::error_code why) noexcept;
  void fail_pending(std::error_code ec) noexcept;
  void fail_waiting(std::error_code ec) noexcept;
  Duration next_backoff(Duration& backoff) noexcept;

  Loop& loop_;
  RedisOptions options_;
  RespParser parser_;
  std::unique_ptr<net::TcpStream> stream_;
  bool ready_ = false;  // connected and handshaken: user commands go straight out
  bool closed_ = false;
  bool broken_ = false;       // the current connection failed; the supervisor is tearing it down
  std::deque<Slot> pending_;  // written (or in out_), awaiting replies, in order
  std::deque<Slot> waiting_;  // issued while not ready
  std::string out_;           // requests of this loop turn, flushed by one write
  uint64_t flush_immediate_ = 0;
  Event lost_;
  std::function<void(const Reply&)> on_message_;
  std::function<void()> on_ready_;
  RedisStats stats_;
  uint64_t jitter_state_;
  bool* alive_ = nullptr;  // set while callbacks run; cleared by the destructor
  Task<> supervisor_;      // owned: destroyed (mid-wait) by close()
};

}  // namespace waitless::data
