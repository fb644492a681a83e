// RedisTopics: WebSocket topics across processes through Redis pub/sub (Socket.IO's Redis adapter, for
// http::publish / web::App::publish).
//
//   data::RedisTopics topics(loop, {.host = "127.0.0.1", .port = 6379});
//   co_await topics.start();               // from now on, app.publish("room", m) on any process that runs
//                                          // a RedisTopics on the same Redis reaches every process's "room"
//
// How: start() installs the process's publish forwarder (http::set_publish_forwarder). Every message
// published in this process goes to its local subscribers at once (as without Redis) and, on the adapter's
// loop, out as one PUBLISH on channel `prefix + topic`. One PSUBSCRIBE `prefix*` on a connection of its own
// (RedisSubscriber) brings in every process's messages; each is delivered with http::publish_local() (to
// every loop of this process, never forwarded again).
//
// Exactly once: each message carries the origin id of the adapter that sent it (64 random bits, drawn per
// adapter), and an adapter drops its own messages coming back from Redis: its process delivered them
// locally already. Order: one publishing thread's messages reach every process in the order published
// (one Redis connection carries them; Redis delivers a connection's messages in order).
//
// Wire format of a Redis message: 16 hex digits of origin, 't' (text) or 'b' (binary), then the payload.
//
// Losses (as Redis pub/sub itself): a message published while the adapter's Redis connection is down is
// delivered locally but not forwarded (counted in stats().unsent); messages from other processes during an
// outage are lost. Both connections reconnect by themselves (RedisClient); the subscription is renewed.
//
// Threads: publish() may run on any thread; the adapter lives on its loop (start, stop, destruction there).
// One adapter per process (a second start() fails with Error::invalid_argument).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/redis_client.hpp"
#include "waitless/data/redis_subscriber.hpp"

namespace waitless::data {

struct RedisTopicsStats {
  uint64_t sent = 0;       // local publishes forwarded to Redis
  uint64_t unsent = 0;     // local publishes not forwarded (no Redis connection at the time)
  uint64_t received = 0;   // other processes' messages delivered here
  uint64_t own = 0;        // this adapter's messages back from Redis (dropped: delivered already)
  uint64_t malformed = 0;  // messages on the channels without the header (dropped, logged once)
};

class RedisTopics {
 public:
  // `prefix` names the Redis channels (prefix + topic); processes that share topics use the same prefix.
  RedisTopics(Loop& loop, RedisOptions options, std::string prefix = "waitless:topic:");
  ~RedisTopics();
  RedisTopics(const RedisTopics&) = delete;
  RedisTopics& operator=(const RedisTopics&) = delete;

  // Connects the publishing connection, subscribes to `prefix*` and installs the forwarder; completes
  // once Redis confirmed the subscription (messages published by others from then on arrive). Errors: the
  // connections' (RedisErrc, Error::timed_out...), Error::invalid_argument if another forwarder is already
  // installed in this process (one adapter per process).
  Task<Result<void>> start();
  // Uninstalls the forwarder and closes both connections (the loop can end). Idempotent.
  void stop() noexcept;

  const std::string& origin() const noexcept { return origin_; }
  const RedisTopicsStats& stats() const noexcept { return stats_; }

 private:
  struct Link;
  void forward(std::string_view topic, std::string_view message, bool binary);
  void on_message(std::string_view channel, std::string_view message);

  Loop& loop_;
  std::string prefix_;
  std::string origin_;
  RedisClient publisher_;
  RedisSubscriber subscriber_;
  std::shared_ptr<Link> link_;  // shared with the installed forwarder
  bool installed_ = false;
  RedisTopicsStats stats_;
};

}  // namespace waitless::data
