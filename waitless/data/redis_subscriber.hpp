// RedisSubscriber: pub/sub on a connection of its own (a subscribed RESP2 connection can run nothing but
// (un)subscribe commands, so it is never shared with ordinary commands).
//
//   data::RedisSubscriber sub(loop, {.port = port});
//   co_await sub.subscribe("news", [](std::string_view channel, std::string_view message) { ... });
//   co_await sub.psubscribe("news.*", [](std::string_view channel, std::string_view message) { ... });
//
// One callback per channel and per pattern; a message matching both a channel and a pattern calls both
// (Redis delivers it once per subscription). Callbacks run on the loop; one may unsubscribe, subscribe, or
// destroy the subscriber.
//
// Reconnects as RedisClient does (it is one); after each reconnect every channel and pattern is subscribed
// again before anything else goes out. Messages published while the connection was down are lost
// (Redis pub/sub keeps nothing).
//
// Each (un)subscribe command names one channel, so its confirmation is the one reply the client's FIFO
// expects; subscribe() completes once Redis confirmed it (or with the error: RedisErrc::error_reply for a
// refusal, the client's connection errors otherwise).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/redis_client.hpp"

namespace waitless::data {

class RedisSubscriber {
 public:
  using Callback = std::function<void(std::string_view channel, std::string_view message)>;

  RedisSubscriber(Loop& loop, RedisOptions options);
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  Task<Result<void>> subscribe(std::string channel, Callback cb);
  Task<Result<void>> psubscribe(std::string pattern, Callback cb);
  Task<Result<void>> unsubscribe(std::string channel);
  Task<Result<void>> punsubscribe(std::string pattern);

  std::size_t channels() const noexcept { return channels_.size(); }
  std::size_t patterns() const noexcept { return patterns_.size(); }
  uint64_t messages() const noexcept { return messages_; }
  RedisClient& client() noexcept { return client_; }
  void close() noexcept { client_.close(); }

 private:
  Task<Result<void>> run(std::string_view verb, std::string name);
  void on_message(const Reply& r);
  void resubscribe();

  RedisClient client_;
  std::map<std::string, Callback, std::less<>> channels_;
  std::map<std::string, Callback, std::less<>> patterns_;
  uint64_t messages_ = 0;
};

}  // namespace waitless::data
