#include "waitless/data/redis_topics.hpp"

#include <cstdio>
#include <random>

#include "waitless/base/log.hpp"
#include "waitless/http/websocket_topics.hpp"

namespace waitless::data {

namespace {

constexpr std::size_t kOriginLength = 16;
constexpr std::size_t kHeaderLength = kOriginLength + 1;  // origin + 't' | 'b'

std::string random_origin() {
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[kOriginLength + 1];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, kOriginLength);
}

// A PSUBSCRIBE pattern matching every channel that starts with `prefix` (glob characters escaped).
std::string prefix_pattern(std::string_view prefix) {
  std::string p;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') p.push_back('\\');
    p.push_back(c);
  }
  p.push_back('*');
  return p;
}

}  // namespace

// What the installed forwarder holds: a way to the adapter's loop, and the adapter itself, read and cleared
// only on that loop's thread (so a forward posted before the adapter went away finds null there).
struct RedisTopics::Link {
  Loop* loop;
  LoopRemote remote;
  RedisTopics* owner;
};

RedisTopics::RedisTopics(Loop& loop, RedisOptions options, std::string prefix)
    : loop_(loop),
      prefix_(std::move(prefix)),
      origin_(random_origin()),
      publisher_(loop, options),
      subscriber_(loop, std::move(options)) {}

RedisTopics::~RedisTopics() { stop(); }

Task<Result<void>> RedisTopics::start() {
  // The publishing connection first: forwards need it (a PING proves it is up).
  Result<Reply> ping = co_await publisher_.command({"PING"});
  if (!ping) co_return ping.error();
  Result<void> sub = co_await subscriber_.psubscribe(
      prefix_pattern(prefix_),
      [this](std::string_view channel, std::string_view m) { on_message(channel, m); });
  if (!sub) co_return sub.error();
  link_ = std::make_shared<Link>(Link{&loop_, loop_.remote(), this});
  auto forwarder = std::make_shared<const http::PublishForwarder>(
      [link = link_](std::string_view topic, std::string_view message, bool binary) {
        if (Loop::running() == link->loop) {
          if (link->owner) link->owner->forward(topic, message, binary);
          return;
        }
        (void)link->remote.post([link, topic = std::string(topic), message = std::string(message), binary] {
          if (link->owner) link->owner->forward(topic, message, binary);
        });
      });
  if (!http::set_publish_forwarder(std::move(forwarder))) {
    link_->owner = nullptr;
    link_.reset();
    co_return make_error_code(Error::invalid_argument);
  }
  installed_ = true;
  co_return Result<void>();
}

void RedisTopics::stop() noexcept {
  if (installed_) {
    (void)http::set_publish_forwarder(nullptr);
    installed_ = false;
  }
  if (link_) {
    link_->owner = nullptr;
    link_.reset();
  }
  subscriber_.close();
  publisher_.close();
}

void RedisTopics::forward(std::string_view topic, std::string_view message, bool binary) {
  if (!publisher_.connected()) {
    ++stats_.unsent;
    return;
  }
  std::string channel;
  channel.reserve(prefix_.size() + topic.size());
  channel.append(prefix_).append(topic);
  std::string payload;
  payload.reserve(kHeaderLength + message.size());
  payload.append(origin_).push_back(binary ? 'b' : 't');
  payload.append(message);
  // Pipelined with this loop turn's other forwards; the reply (receiver count) is read and dropped.
  publisher_.send_detached({"PUBLISH", channel, payload});
  ++stats_.sent;
}

void RedisTopics::on_message(std::string_view channel, std::string_view message) {
  if (channel.size() < prefix_.size() || message.size() < kHeaderLength ||
      (message[kOriginLength] != 't' && message[kOriginLength] != 'b')) {
    if (stats_.malformed++ == 0)
      log::warn("redis topics: dropped a message without the adapter's header on {}", channel);
    return;
  }
  if (message.substr(0, kOriginLength) == origin_) {
    ++stats_.own;
    return;
  }
  ++stats_.received;
  (void)http::publish_local(channel.substr(prefix_.size()), message.substr(kHeaderLength),
                            message[kOriginLength] == 'b');
}

}  // namespace waitless::data
